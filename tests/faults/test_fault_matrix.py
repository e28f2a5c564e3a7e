"""The fault matrix: every fault the feeds may throw at us, one ingest each.

For each fault kind the simulator serves the same world with that fault injected,
the real clients ingest all of it over loopback into a fresh PostgreSQL database,
and the raw schema (every table, every row; see ``fingerprint.py``) is compared with
what the fault predicts:

* transient faults, unknown extra fields, duplicated deliveries, out-of-order
  versions → identical to the fault-free run;
* a period re-published mid-pagination → identical to a clean run of the final world;
* malformed / duplicated rows → the fault-free raw minus exactly those rows, which sit
  in ``raw.rejected_rows`` with their reason;
* a shrinking revision over an older one → identical to a fresh ingest of the new world;
* an unpublished unit → absent, not an error.

Every case also checks that its fault actually happened (statuses the simulator sent,
retries the clients logged, payloads that differ, rows rejected), so a fault that the
simulator does not inject cannot pass unnoticed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from corridor.config import FEED_PORTS, MIRROR_REPORTERS_M49, month_range
from corridor.feeds import kz_customs as kz_client
from corridor.feeds import ports as ports_client
from corridor.simulator import SimConfig, World
from corridor.simulator import world as sim_world
from tests.databases import temporary_database
from tests.faults.harness import (
    ALL_FEEDS,
    Run,
    Snapshot,
    assert_same_raw,
    run_world,
)

#: The one world every case serves (faults aside): small, two months, the first
#: final (revision 2), the second preliminary (revision 1).
WORLD = dict(seed=20240101, scale=0.05, first_month="2024-01", last_month="2024-02",
             preliminary_months=1)
MONTHS = month_range(WORLD["first_month"], WORLD["last_month"])
M1, M2 = MONTHS

#: ``kz_revision_change`` needs a period of more than one page (the client asks for
#: ``kz_customs.PAGE_SIZE`` = 1000 items a page). At scale 0.05 a KZ month has ~110
#: items: one page, no "next page" to answer 409. That one case runs at scale 1
#: (~2 100 items, 3 pages), for KZ and one month only.
KZ_PAGING_SCALE = 1.0
#: Likewise the ports client pages by 500 records: at scale 3 both ports need 2+ pages.
PORTS_PAGING_SCALE = 3.0

#: The bookkeeping of a unit whose payload bytes legitimately differ (extra columns,
#: rejected rows): its sha256 and counts are checked separately.
LOADED_UNIT_PAYLOAD_COLUMNS = {"raw.loaded_units": {"sha256"}}


# ------------------------------------------------------------------------- fixtures

def config(faults: dict[str, Any] | None = None, **overrides: Any) -> SimConfig:
    return SimConfig(**{**WORLD, **overrides}, faults=faults or {})


@pytest.fixture(scope="module")
def baseline(warehouse_server, landing) -> Run:
    """The fault-free world, all five feeds, both months, in its own database."""
    with temporary_database(warehouse_server, "tf") as dsn:
        run = run_world(config(), dsn, landing)
        run.their_fingerprint = _their_fingerprint(dsn)
        yield run


@pytest.fixture()
def ingest_into(database, landing) -> Callable[..., Run]:
    """``ingest_into(faults, dsn=None, **kw)``: serve a world with ``faults`` and ingest
    it (into a new database unless ``dsn`` is given)."""
    def run(faults: dict[str, Any] | None = None, *, dsn=None, feeds=ALL_FEEDS,
            months=None, **overrides: Any) -> Run:
        target = dsn or database()
        result = run_world(config(faults, **overrides), target, landing, feeds=feeds,
                           months=months)
        result.their_fingerprint = _their_fingerprint(target)
        return result
    return run


def _their_fingerprint(dsn) -> dict:
    """The platform's own ``corridor.load.fingerprint.raw_fingerprint`` of the raw schema."""
    import psycopg

    from corridor.load.fingerprint import raw_fingerprint

    with psycopg.connect(dsn.conninfo) as conn:
        return raw_fingerprint(conn)


def assert_identical(run: Run, expected: Run, what: str, *, strict: bool = True) -> None:
    """Raw schema identical; ``strict`` also holds the platform's own fingerprint to it."""
    assert_same_raw(run.snapshot, expected.snapshot, what)
    theirs, want = run.their_fingerprint, expected.their_fingerprint
    if strict:
        assert theirs == want, (f"{what}: corridor.load.fingerprint.raw_fingerprint differs "
                                f"although every raw row is equal: {theirs} vs {want}")


# ------------------------------------------------------------------------- baseline

def test_baseline_is_complete(baseline: Run) -> None:
    """The reference run loads every feed and rejects nothing (so later diffs mean faults)."""
    counts = {table: len(rows) for table, rows in baseline.snapshot.rows.items()}
    for table in ("raw.ru_customs_rows", "raw.kz_customs_rows", "raw.comtrade_rows",
                  "raw.comtrade_reporting", "raw.port_calls", "raw.port_cargo_lines",
                  "raw.rail_consignments", "raw.loaded_units", "raw.port_sync_state"):
        assert counts.get(table), f"baseline loaded nothing into {table}: {counts}"
    assert counts["raw.rejected_rows"] == 0, baseline.snapshot.dicts("raw.rejected_rows")[:5]
    assert not any(baseline.wire.statuses[s] for s in (429, 500, 502, 503, 504, 409))
    statuses = {u["unit"]: (u["revision"], u["status"])
                for u in baseline.snapshot.dicts("raw.loaded_units")}
    assert statuses[M1] == ("2", "final") and statuses[M2] == ("1", "preliminary")
    assert len(baseline.world.kz_items(M2)) < kz_client.PAGE_SIZE  # see KZ_PAGING_SCALE


def test_rerun_changes_nothing(baseline: Run, ingest_into) -> None:
    """Control: two fault-free runs (fresh databases) give identical raw schemas."""
    again = ingest_into()
    assert_identical(again, baseline, "fault-free rerun")


# ------------------------------------------------------------------------- transport faults

#: fault key -> (statuses the simulator must have sent, client exceptions it may show)
TRANSPORT = {
    "transient": ((429, 503), ()),
    "http_errors": ((500, 502, 504), ()),
    "drop_connection": ((), ("ConnectionError", "ChunkedEncodingError", "ProtocolError",
                             "RemoteDisconnected", "connection broken", "Connection aborted")),
    "truncated_body": ((), ("IncompleteBody", "ChunkedEncodingError", "IncompleteRead",
                            "ProtocolError", "Content-Length")),
}


def _assert_transport_faults_met(run: Run, kinds: list[str]) -> None:
    """The faults happened: the simulator sent the statuses, the clients logged retries."""
    for kind in kinds:
        statuses, evidence = TRANSPORT[kind]
        if statuses:
            sent = {status: run.wire.statuses[status] for status in statuses}
            assert sum(sent.values()) > 0, f"{kind}: the simulator sent none of {statuses}"
        if evidence:
            retried = [m for m in run.wire.messages() if any(word in m for word in evidence)]
            assert retried, (f"{kind}: no client retry logged an error like {evidence}; "
                             f"log: {run.wire.messages()[:10]}")
    assert run.wire.client_retries > 0, f"{kinds}: the clients never retried"


@pytest.mark.parametrize("kind", list(TRANSPORT))
def test_transport_fault_leaves_raw_identical(kind: str, baseline: Run, ingest_into) -> None:
    run = ingest_into({kind: {"rate": 0.15}})
    _assert_transport_faults_met(run, [kind])
    assert_identical(run, baseline, kind)


def test_all_transport_faults_at_once(baseline: Run, ingest_into) -> None:
    run = ingest_into({kind: {"rate": 0.07} for kind in TRANSPORT})
    _assert_transport_faults_met(run, list(TRANSPORT))
    assert_identical(run, baseline, "all transport faults at once")


# ------------------------------------------------------------------------- same data, other bytes

def test_extra_columns_are_ignored(baseline: Run, ingest_into) -> None:
    run = ingest_into({"extra_columns": {feed: True for feed in ALL_FEEDS}})
    for feed in ALL_FEEDS:  # every feed really delivered other bytes
        assert run.landed_sha256(feed) != baseline.landed_sha256(feed), feed
        assert not run.landed_sha256(feed) <= baseline.landed_sha256(feed), feed
    # The unit checksums are of the payload bytes, which differ by design: compared apart.
    assert_same_raw(run.snapshot.without_columns(LOADED_UNIT_PAYLOAD_COLUMNS),
                    baseline.snapshot.without_columns(LOADED_UNIT_PAYLOAD_COLUMNS),
                    "extra_columns")
    base_sha = {(u["feed"], u["unit"]): u["sha256"]
                for u in baseline.snapshot.dicts("raw.loaded_units")}
    same = [(u["feed"], u["unit"]) for u in run.snapshot.dicts("raw.loaded_units")
            if u["sha256"] == base_sha[(u["feed"], u["unit"])]
            and not (u["feed"] == "comtrade" and u["rows_loaded"] == "0")]
    assert not same, f"units whose payload did not change under extra_columns: {same[:5]}"


def test_duplicate_deliveries_are_deduplicated(ingest_into) -> None:
    """Overlapping ports pages (the next page repeats the tail of the previous one).
    The simulator overlaps only pages after the first, and the client asks for 500
    records a page: at scale 0.05 a port has ~20 versions (one page), so this case runs
    the ports feed alone at ``PORTS_PAGING_SCALE`` against a clean run at that scale."""
    scale = {"scale": PORTS_PAGING_SCALE}
    versions = {port: len(World(config(**scale)).port_versions(port)) for port in FEED_PORTS}
    assert all(n > ports_client.PAGE_LIMIT for n in versions.values()), versions
    run = ingest_into({"duplicate_deliveries": {"rate": 1.0}}, feeds=("ports",), **scale)
    clean = ingest_into({}, feeds=("ports",), **scale)
    got = {p["port"]: p["records"] for s in run.summary("ports") for p in s["ports"]}
    want = {p["port"]: p["records"] for s in clean.summary("ports") for p in s["ports"]}
    assert want == versions
    assert all(got[port] > want[port] for port in FEED_PORTS), (
        f"duplicate_deliveries: no port received a version twice ({got} vs {want})")
    assert_identical(run, clean, "duplicate_deliveries")


def test_ports_out_of_order_highest_version_wins(baseline: Run, ingest_into) -> None:
    """The fault moves a call's next-to-last version *after* its newest one (later
    ``updated_at``); the newest version itself is unchanged. Its fault-free equivalent
    is therefore the fault-free world itself: same calls, same highest versions. Only
    the high-water mark may move, to the latest ``updated_at`` actually delivered."""
    run = ingest_into({"ports_out_of_order": True})
    moved = {port: [pair for month in run.world.port_months()
                    for pair in run.world.out_of_order_versions(port, month)]
             for port in FEED_PORTS}
    assert any(moved.values()), "ports_out_of_order moved no version"
    for port in FEED_PORTS:
        served = run.world.port_versions(port)
        position = {(r["call_id"], r["version"]): n for n, r in enumerate(served)}
        for call_id, version in moved[port]:
            assert position[(call_id, version)] > position[(call_id, version + 1)], (
                f"{call_id} v{version} is not served after v{version + 1}")
    drop = {"raw.port_sync_state": {"high_water_mark"}}
    assert_same_raw(run.snapshot.without_columns(drop), baseline.snapshot.without_columns(drop),
                    "ports_out_of_order")
    marks = {row["port"]: row["high_water_mark"]
             for row in run.snapshot.dicts("raw.port_sync_state")}
    for port in FEED_PORTS:
        latest = max(datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00"))
                     for r in run.world.port_versions(port))
        assert datetime.fromisoformat(marks[port].replace("Z", "+00:00")) == latest, port


# ------------------------------------------------------------------------- kz mid-pagination

def test_kz_revision_change_restarts_the_period(ingest_into) -> None:
    period = M2
    scale = {"scale": KZ_PAGING_SCALE}
    items = len(World(config(**scale)).kz_items(period))
    assert items > kz_client.PAGE_SIZE, f"{items} items: one page, no mid-pagination 409"
    run = ingest_into({"kz_revision_change": {"periods": [period], "after_pages": 1}},
                      feeds=("kz_customs",), months=[period], **scale)
    final = ingest_into({"kz_republished": {"periods": [period]}},
                        feeds=("kz_customs",), months=[period], **scale)
    assert run.wire.statuses[409] >= 1, f"no 409 served: {dict(run.wire.statuses)}"
    assert any("revision changed" in m for m in run.wire.messages("corridor.feeds.kz")), \
        "the client did not log a restart"
    (summary,) = run.summary("kz_customs")
    assert summary["revision"] == final.summary("kz_customs")[0]["revision"] == (
        World(config(**scale)).status(period)[0] + 1)
    assert_identical(run, final, "kz_revision_change vs kz_republished")


# ------------------------------------------------------------------------- rejected rows

def _rail_days(world: World) -> list[str]:
    return [day for day in world.rail_days() if day[:7] in MONTHS]


def _units(world: World, feed: str) -> list[str]:
    if feed in ("ru_customs", "kz_customs"):
        return list(MONTHS)
    if feed == "comtrade":
        return [f"{j}:{m}" for j in MIRROR_REPORTERS_M49 for m in MONTHS]
    if feed == "ports":
        return [f"{port}:{m}" for port in FEED_PORTS for m in world.port_months()]
    return _rail_days(world)


def _comtrade_data_rows(world: World, unit: str) -> list[dict[str, Any]]:
    """The rows of the data query the client sends, in the order served."""
    reporter, _, month = unit.partition(":")
    return world.comtrade_query({"reporterCode": reporter, "period": month.replace("-", ""),
                                 "motCode": "0", "customsCode": "C00", "partner2Code": "0",
                                 "partnerCode": "398,643", "flowCode": "M,X"})


def _comtrade_key_text(key: tuple) -> str:
    return "/".join(str(part) for part in key)


def _actual_rejections(snapshot: Snapshot) -> Counter:
    out = Counter()
    for row in snapshot.dicts("raw.rejected_rows"):
        ref = row["row_ref"]
        if row["feed"] == "comtrade":
            ref = ref.split(" ", 1)[1]  # "<row number> <key>": compare by key
        out[(row["feed"], row["unit"], ref, row["reason"])] += 1
        assert row["detail"] and row["raw_record"], row
    return out


def test_malformed_rows_rejected_exactly(baseline: Run, ingest_into) -> None:
    counts = {"ru_customs": 6, "kz_customs": 5, "comtrade": 3, "ports": 2, "rail": 5}
    run = ingest_into({"malformed_rows": counts})
    world = run.world
    newest = {call["call_id"]: call["version"] for call in world.port_calls()}

    expected: Counter = Counter()
    drop: dict[str, set] = {"ru": set(), "kz": set(), "comtrade": set(), "cargo": set()}
    per_unit: Counter = Counter()
    rail_broken = 0
    for feed in ALL_FEEDS:
        for unit in _units(world, feed):
            for item in world.malformed_keys(feed, unit):
                # ports: (call_id, cargo index, reason); other feeds: (row ref, reason)
                *ref, reason = item
                ref = tuple(ref) if len(ref) > 1 else ref[0]
                if feed == "ru_customs":
                    expected[(feed, unit, str(ref), reason)] += 1
                    drop["ru"].add((unit, str(ref)))
                elif feed == "kz_customs":
                    expected[(feed, unit, str(ref + 1), reason)] += 1
                    drop["kz"].add((unit, str(ref + 1)))
                elif feed == "comtrade":
                    expected[(feed, unit, _comtrade_key_text(ref), reason)] += 1
                    rows = _comtrade_data_rows(world, unit)
                    numbers = [n for n, row in enumerate(rows, start=1)
                               if sim_world._row_key("comtrade", row) == ref]
                    assert len(numbers) == 1, (unit, ref, numbers)
                    drop["comtrade"].add((unit, str(numbers[0])))
                elif feed == "ports":
                    call_id, index = ref
                    row_ref = f"{call_id} v{newest[call_id]} line {index + 1}"
                    expected[(feed, call_id, row_ref, reason)] += 1
                    drop["cargo"].add((call_id, str(index + 1)))
                    unit = call_id
                else:
                    expected[(feed, unit, str(ref + 1), reason)] += 1
                    rail_broken += 1
                per_unit[(feed, unit)] += 1
    assert {feed for feed, *_ in expected} == set(ALL_FEEDS), "some feed broke no row"
    reasons = {reason for *_, reason in expected}
    assert {"negative_value", "missing_field", "bad_code_length", "unknown_partner",
            "self_partner", "period_mismatch", "unknown_point"} <= reasons, reasons

    # raw.rejected_rows holds exactly the malformed rows, with the spec's reasons.
    actual = _actual_rejections(run.snapshot)
    assert actual == expected, (f"rejections differ: unexpected {dict(actual - expected)}, "
                                f"missing {dict(expected - actual)}")

    # Every other row is the fault-free row, to the byte.
    want = baseline.snapshot
    want = want.without_rows("raw.ru_customs_rows",
                             lambda r: (r["period_month"], r["row_number"]) in drop["ru"])
    want = want.without_rows("raw.kz_customs_rows",
                             lambda r: (r["period_month"], r["row_number"]) in drop["kz"])
    want = want.without_rows(
        "raw.comtrade_rows",
        lambda r: (f"{r['reporter_code']}:{r['period_month']}", r["row_number"])
        in drop["comtrade"])
    want = want.without_rows("raw.port_cargo_lines",
                             lambda r: (r["call_id"], r["line_number"]) in drop["cargo"])
    # Rail: the simulator moves an unknown-point consignment to a crossing of its own at
    # the end of the report, so row numbers after it shift: rail rows compare without
    # row_number, as a multiset, fault-free minus exactly the broken count.
    no_row_number = {"raw.rail_consignments": {"row_number"}}
    got_rail = Counter(run.snapshot.without_columns(no_row_number).rows["raw.rail_consignments"])
    base_rail = Counter(want.without_columns(no_row_number).rows["raw.rail_consignments"])
    extra_rail = got_rail - base_rail
    assert not extra_rail, f"rail rows not in the fault-free run: {extra_rail}"
    assert sum((base_rail - got_rail).values()) == rail_broken
    # Bookkeeping: counts move by the rejected rows; the payload checksum differs.
    loaded = []
    for row in want.dicts("raw.loaded_units"):
        k = per_unit[(row["feed"], row["unit"])]
        row = dict(row, rows_loaded=str(int(row["rows_loaded"]) - k), rows_rejected=str(k))
        loaded.append(tuple(row[c] for c in want.columns["raw.loaded_units"]))
    want = want.replace_rows("raw.loaded_units", loaded)
    drop_cols = {**LOADED_UNIT_PAYLOAD_COLUMNS, **no_row_number, "raw.rejected_rows":
                 {"feed", "unit", "row_ref", "reason", "detail", "raw_record"}}
    got = run.snapshot.without_columns(drop_cols)
    want = want.without_columns(drop_cols)
    got.rows["raw.rail_consignments"] = want.rows["raw.rail_consignments"] = []  # checked above
    got.rows["raw.rejected_rows"] = want.rows["raw.rejected_rows"] = []  # checked above
    assert_same_raw(got, want, "malformed_rows")


DUPLICATE_KEY_COLUMNS = {
    "ru_customs": ("raw.ru_customs_rows", "period_month", ("napr", "strana", "tnved", "region")),
    "kz_customs": ("raw.kz_customs_rows", "period_month",
                   ("flow", "tn_ved", "partner_m49", "transport_mode", "customs_regime")),
    "comtrade": ("raw.comtrade_rows", None,
                 ("reporter_code", "period_month", "flow_code", "partner_code", "partner2_code",
                  "cmd_code", "mot_code", "customs_code")),
    "rail": ("raw.rail_consignments", "report_date",
             ("point", "direction", "transit", "gng", "wagons", "teu", "tonnes", "origin",
              "destination")),
}


def _norm_key(feed: str, unit: str, key: tuple) -> tuple:
    """A simulator duplicate key in the raw tables' text form."""
    if feed == "ru_customs":
        napr, strana, tnved, region = key
        return (unit, napr, strana, tnved, region or None)
    if feed == "kz_customs":
        return (unit, *(str(part) for part in key))
    if feed == "comtrade":
        reporter, period, flow, partner, partner2, cmd, mot, customs = key
        return (str(reporter), f"{period[:4]}-{period[4:]}", flow, str(partner), str(partner2),
                cmd, str(mot), customs)
    point, direction, transit, *rest = key
    return (unit, point, direction, "true" if transit else "false",
            *(None if v is None else str(v) for v in rest))


def _raw_key(feed: str, row: dict[str, Any]) -> tuple:
    table, unit_column, columns = DUPLICATE_KEY_COLUMNS[feed]
    values = tuple(row[c] for c in columns)
    return values if unit_column is None else (row[unit_column], *values)


@pytest.mark.parametrize("feeds", [
    pytest.param(("ru_customs", "kz_customs", "comtrade"), id="keyed-feeds"),
])
def test_duplicate_rows_all_copies_rejected(feeds, baseline: Run, ingest_into) -> None:
    run = ingest_into({"duplicate_rows": {feed: 2 for feed in feeds}})
    world = run.world
    dup: dict[str, set] = {feed: set() for feed in feeds}
    expected_units: Counter = Counter()
    for feed in feeds:
        for unit in _units(world, feed):
            for key in world.duplicate_keys(feed, unit):
                dup[feed].add(_norm_key(feed, unit, key))
                expected_units[(feed, unit)] += 2  # the row and its copy
    assert all(dup.values()), f"duplicate_rows duplicated nothing: {dup}"

    rejected = run.snapshot.dicts("raw.rejected_rows")
    assert {r["reason"] for r in rejected} == {"duplicate_key"}, Counter(
        r["reason"] for r in rejected)
    assert Counter((r["feed"], r["unit"]) for r in rejected) == expected_units

    want, got = baseline.snapshot, run.snapshot
    drop_cols = dict(LOADED_UNIT_PAYLOAD_COLUMNS)
    for feed in feeds:
        table = DUPLICATE_KEY_COLUMNS[feed][0]
        keys = dup[feed]
        removed = [r for r in want.dicts(table) if _raw_key(feed, r) in keys]
        assert len(removed) == len(keys), (feed, len(removed), len(keys))
        want = want.without_rows(table, lambda r, f=feed, k=keys: _raw_key(f, r) in k)
        # Copies are appended after other rows: positions after them shift.
        drop_cols[table] = {"row_number"}
    loaded = []
    for row in want.dicts("raw.loaded_units"):
        k = expected_units[(row["feed"], row["unit"])]
        row = dict(row, rows_loaded=str(int(row["rows_loaded"]) - k // 2), rows_rejected=str(k))
        loaded.append(tuple(row[c] for c in want.columns["raw.loaded_units"]))
    want = want.replace_rows("raw.loaded_units", loaded)
    got, want = got.without_columns(drop_cols), want.without_columns(drop_cols)
    got.rows["raw.rejected_rows"] = want.rows["raw.rejected_rows"] = []  # checked above
    assert_same_raw(got, want, "duplicate_rows")


# ------------------------------------------------------------------------- revisions

def test_shrinking_revision_replaces_the_unit(ingest_into, database) -> None:
    shrink = {"ru_customs": [M1], "kz_customs": [M2], "rail": [f"{M1}-10", f"{M2}-03"]}
    faults = {"shrinking_revision": shrink}
    dsn = database()
    first = ingest_into({}, dsn=dsn)
    second = ingest_into(faults, dsn=dsn)
    fresh = ingest_into(faults)
    assert_identical(second, fresh, "shrinking_revision over the old revision")

    before = {(u["feed"], u["unit"]): u for u in first.snapshot.dicts("raw.loaded_units")}
    after = {(u["feed"], u["unit"]): u for u in second.snapshot.dicts("raw.loaded_units")}
    for feed, units in shrink.items():
        for unit in units:
            old, new = before[(feed, unit)], after[(feed, unit)]
            assert int(new["revision"]) == int(old["revision"]) + 1, (feed, unit, old, new)
            assert int(new["rows_loaded"]) < int(old["rows_loaded"]), (feed, unit, old, new)
    unchanged = set(before) - {(f, u) for f, units in shrink.items() for u in units}
    assert all(before[k]["revision"] == after[k]["revision"] for k in unchanged)


def test_unpublished_units_are_absent_not_errors(baseline: Run, ingest_into) -> None:
    day = f"{M1}-15"
    reporter = 156
    unpublished = {"ru_customs": [M2], "kz_customs": [M1], "comtrade": [f"{reporter}:{M1}"],
                   "rail": [day]}
    assert any(r["reporter_code"] == str(reporter) and r["period_month"] == M1
               and r["has_reported"] == "true"
               for r in baseline.snapshot.dicts("raw.comtrade_reporting"))
    run = ingest_into({"unpublished": unpublished})

    skipped = {(s["feed"], s["unit"]): s["skipped"] for s in run.summaries if "skipped" in s}
    assert skipped[("ru_customs", M2)] == "not_released"
    assert skipped[("kz_customs", M1)] == "not_published"
    rail_days = {d["unit"]: d.get("skipped") for s in run.summary("rail") for d in s["days"]}
    assert rail_days[day] == "not_out"
    units = {u["unit"]: u for s in run.summary("comtrade") for u in s["units"]}
    assert units[f"{reporter}:{M1}"]["has_reported"] is False

    want = baseline.snapshot
    want = want.without_rows("raw.ru_customs_rows", lambda r: r["period_month"] == M2)
    want = want.without_rows("raw.kz_customs_rows", lambda r: r["period_month"] == M1)
    want = want.without_rows("raw.rail_consignments", lambda r: r["report_date"] == day)
    want = want.without_rows("raw.comtrade_rows", lambda r: (r["reporter_code"], r[
        "period_month"]) == (str(reporter), M1))
    gone = {("ru_customs", M2), ("kz_customs", M1), ("rail", day)}
    want = want.without_rows("raw.loaded_units", lambda r: (r["feed"], r["unit"]) in gone)
    reporting = [tuple({**r, "has_reported": "false", "probe_rows": "0"}[c]
                       for c in want.columns["raw.comtrade_reporting"])
                 if (r["reporter_code"], r["period_month"]) == (str(reporter), M1)
                 else tuple(r.values())
                 for r in want.dicts("raw.comtrade_reporting")]
    want = want.replace_rows("raw.comtrade_reporting", reporting)
    loaded = [tuple({**r, "rows_loaded": "0"}[c] for c in want.columns["raw.loaded_units"])
              if (r["feed"], r["unit"]) == ("comtrade", f"{reporter}:{M1}")
              else tuple(r.values())
              for r in want.dicts("raw.loaded_units")]
    want = want.replace_rows("raw.loaded_units", loaded)
    # The not-reported unit's checksum is of the empty probe: compared without sha256.
    assert_same_raw(run.snapshot.without_columns(LOADED_UNIT_PAYLOAD_COLUMNS),
                    want.without_columns(LOADED_UNIT_PAYLOAD_COLUMNS), "unpublished")


def test_identical_rail_consignments_are_both_counted(baseline: Run, ingest_into) -> None:
    """spec/feeds.md gives rail no row key, so the duplicate_key rule cannot apply: two
    identical consignments on one day (two trains with the same load) both count."""
    run = ingest_into({"duplicate_rows": {"rail": 2}})
    copies = Counter()
    for unit in _units(run.world, "rail"):
        for key in run.world.duplicate_keys("rail", unit):
            copies[_norm_key("rail", unit, key)] += 1
    assert copies, "duplicate_rows duplicated nothing"
    assert run.snapshot.dicts("raw.rejected_rows") == []
    got = Counter(_raw_key("rail", r) for r in run.snapshot.dicts("raw.rail_consignments"))
    want = Counter(_raw_key("rail", r) for r in baseline.snapshot.dicts("raw.rail_consignments"))
    assert got - want == copies
