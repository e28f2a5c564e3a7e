"""``corridor serve``: the published root over HTTP, SDMX REST style (spec/indicators.md
"Consumer API"), read-only.

Every request needs a live consumer key (``Authorization: Bearer <key>``). Answers come
from the files of a visible release, never from the warehouse: the structure is the
release's ``structure.xml``; data are the release's ``<dataset>.sdmx.csv`` rows, read and
filtered as a stream (a request holds one row at a time, never the dataset). A release
is immutable, so an answer's ``ETag`` is a digest of the release and the request, known
before any data are read; ``If-None-Match`` with it is ``304`` without touching the
data.

Query parameters are read as the spec spells them and as clients do: ``updatedAfter``
or ``updateAfter`` (sdmx1), ``c[TIME_PERIOD]=ge:..`` or ``c=TIME_PERIOD:ge:..`` (sdmx1)
or ``startPeriod``/``endPeriod``, ``asOf``. The access log (logger
``corridor.api.access``) names the consumer, never the key.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from corridor.api.consumers import ConsumerStore
from corridor.api.query import (
    BadQuery,
    RowFilter,
    one_of,
    parse_instant,
    parse_key,
    period_filter,
)
from corridor.api.releases import (
    Release,
    as_of,
    changed_keys,
    sdmx_rows,
    select,
    visible_releases,
)
from corridor.publish.datasets import DATASETS, Dataset
from corridor.publish.sdmx import AGENCY_ID, DATAFLOWS, VERSION

access_log = logging.getLogger("corridor.api.access")

STRUCTURE_TYPE = "application/vnd.sdmx.structure+xml;version=2.1"
DATA_TYPE = "application/vnd.sdmx.data+csv;version=2.0.0"
#: How a version may be asked for: the only one, or any of SDMX's wildcards.
VERSIONS = {VERSION, "+", "*", "~", "latest"}
#: Rows written per chunk of a streamed answer.
CHUNK_ROWS = 2000
_FILE_TYPES = {".csv": "text/csv; charset=utf-8", ".xml": "application/xml",
               ".json": "application/json", ".html": "text/html; charset=utf-8"}

Clock = Callable[[], datetime]


def _dataset(flow: str, version: str, agency: str = AGENCY_ID) -> Dataset:
    by_flow = {flow_id: dataset for dataset in DATASETS
               for name, flow_id in DATAFLOWS.items() if name == dataset.name}
    if agency != AGENCY_ID or flow not in by_flow or version not in VERSIONS:
        raise HTTPException(404, f"no dataflow {agency}:{flow}({version})")
    return by_flow[flow]


def _etag(*parts: str) -> str:
    return '"' + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in given.split(","))


def _csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    """Rows as CSV text in chunks (LF line ends, as the release's files)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count == CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    if buffer.tell():
        yield buffer.getvalue()


def create_app(published: Path, consumers: ConsumerStore,
               clock: Clock = lambda: datetime.now(UTC)) -> FastAPI:
    """The API over ``published``; ``clock`` says what "now" is (tests move it)."""
    app = FastAPI(title="Corridor consumer API", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.middleware("http")
    async def authenticate_and_log(request: Request, call_next):
        started = time.perf_counter()
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        consumer = consumers.check(key.strip()) if scheme.lower() == "bearer" else None
        if consumer is None:
            response: Response = JSONResponse(
                {"detail": "a consumer key is needed: Authorization: Bearer <key>"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        else:
            response = await call_next(request)
        query = f"?{request.url.query}" if request.url.query else ""
        access_log.info("%s %s %s%s %d %.1fms", consumer or "-", request.method,
                        request.url.path, query, response.status_code,
                        (time.perf_counter() - started) * 1000)
        return response

    def releases_now() -> list[Release]:
        return visible_releases(published, clock())

    def release_at(params) -> Release:
        text = one_of(params, "asOf", "as_of")
        release = as_of(releases_now(), parse_instant(text, "asOf") if text else None)
        if release is None:
            raise HTTPException(404, "no release" + (f" before {text}" if text else ""))
        return release

    @app.exception_handler(BadQuery)
    async def bad_query(request: Request, error: BadQuery) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.get("/sdmx/2.1/structure/dataflow/{agency}/{flow}/{version}")
    def structure(request: Request, agency: str, flow: str, version: str) -> Response:
        _dataset(flow, version, agency)
        release = release_at(request.query_params)
        etag = _etag(release.release_id, "structure")
        if _not_modified(request, etag):
            return Response(status_code=304, headers={"ETag": etag})
        return FileResponse(release.path / "structure.xml", media_type=STRUCTURE_TYPE,
                            headers={"ETag": etag})

    @app.get("/sdmx/2.1/data/{context}/{agency}/{flow}/{version}")
    @app.get("/sdmx/2.1/data/{context}/{agency}/{flow}/{version}/{key}")
    def data(request: Request, context: str, agency: str, flow: str, version: str,
             key: str = "*") -> Response:
        if context not in ("dataflow", "*"):
            raise HTTPException(404, f"context {context!r}: dataflow or *")
        dataset = _dataset(flow, version, agency)
        params = request.query_params
        rows_filter = RowFilter(parse_key(key, dataset.key[:-1]), period_filter(params))
        release = release_at(params)
        updated_text = one_of(params, "updatedAfter", "updateAfter", "updated_after")
        since: list[Release] = []
        if updated_text is not None:
            after = parse_instant(updated_text, "updatedAfter")
            since = [r for r in releases_now()
                     if after < r.released_at <= release.released_at]
        etag = _etag(release.release_id, request.url.path,
                     "&".join(sorted(f"{k}={v}" for k, v in params.multi_items())),
                     ",".join(r.release_id for r in since))
        if _not_modified(request, etag):
            return Response(status_code=304, headers={"ETag": etag})

        rows = sdmx_rows(release, dataset)
        header = next(rows)
        keys = changed_keys(since, dataset) if updated_text is not None else None
        if keys is None:
            selected = select(rows, dataset, rows_filter)
        else:
            selected = _updates(header, rows, dataset, rows_filter, keys)
        first = next(selected, None)
        if first is None:
            rows.close()
            return Response(status_code=204, headers={"ETag": etag})

        def body() -> Iterator[str]:
            yield from _csv_lines(iter([header, first]))
            yield from _csv_lines(selected)
        return StreamingResponse(body(), media_type=DATA_TYPE, headers={"ETag": etag})

    @app.get("/releases")
    def releases() -> list[dict]:
        return [release.summary() for release in releases_now()]

    @app.get("/releases/{release_id}/{name}")
    def release_file(release_id: str, name: str) -> Response:
        release = next((r for r in releases_now() if r.release_id == release_id), None)
        if release is None or name not in release.files():
            raise HTTPException(404, f"no file {name} in a visible release {release_id}")
        return FileResponse(release.path / name, headers={"ETag": _etag(release_id, name)},
                            media_type=_FILE_TYPES.get(Path(name).suffix,
                                                       "application/octet-stream"))

    return app


def _updates(header: list[str], rows: Iterator[list[str]], dataset: Dataset,
             rows_filter: RowFilter, keys: set[tuple[str, ...]]) -> Iterator[list[str]]:
    """The release's rows whose key changed (with their ACTION, I), then a row with
    ACTION ``D`` and no values for each changed key the release no longer has."""
    width = len(dataset.key)
    seen: set[tuple[str, ...]] = set()
    for row in select(rows, dataset, rows_filter, keys):
        seen.add(tuple(row[3:3 + width]))
        yield row
    structure = ["dataflow", f"{AGENCY_ID}:{DATAFLOWS[dataset.name]}({VERSION})"]
    for key in sorted(keys - seen):
        if rows_filter.admits(list(key[:-1]), key[-1]):
            yield [*structure, "D", *key, *([""] * (len(header) - 3 - width))]
