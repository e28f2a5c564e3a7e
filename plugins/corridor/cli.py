"""``corridor``: every step of the pipeline runnable without an Airflow deployment."""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import ExitStack
from datetime import UTC
from pathlib import Path

import typer

from corridor.config import (
    FEED_CONN_IDS,
    WAREHOUSE_CONN_ID,
    Settings,
    connection_env_name,
    connection_is_set,
    get_settings,
)

app = typer.Typer(help="Corridor: trade and logistics indicators for the Eurasian corridors.",
                  no_args_is_help=True, add_completion=False)
gx_app = typer.Typer(help="The Great Expectations file context.", no_args_is_help=True)
warehouse_app = typer.Typer(help="The warehouse: its roles, the embedded server.",
                             no_args_is_help=True)
releases_app = typer.Typer(help="Published releases.", no_args_is_help=True)
app.add_typer(gx_app, name="gx")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(releases_app, name="releases")
consumers_app = typer.Typer(help="Keys of the consumer API (corridor serve).",
                            no_args_is_help=True)
app.add_typer(consumers_app, name="consumers")

log = logging.getLogger("corridor")


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _window_text(settings: Settings) -> str:
    if settings.rolling:
        return (f"rolling, {settings.window_months} months to the newest month both customs "
                "feeds have released")
    return (f"publish {settings.period_from}..{settings.period_to}, ingest from "
            f"{settings.ingest_from}")


def ensure_warehouse(settings: Settings) -> str:
    """The warehouse the stages use, with its roles (:mod:`corridor.roles`); return how.

    All four role connections configured: those (the deployment ran ``corridor warehouse
    init``). Else the admin ``corridor_warehouse`` connection, or the embedded server
    started under the home, which is initialised here; a stage whose connection is not
    set connects to it as its role (:func:`corridor.config.get_warehouse_dsn`).
    """
    from corridor.config import WAREHOUSE_ROLES, get_warehouse_dsn, warehouse_conn_id
    from corridor.roles import init_warehouse

    if all(connection_is_set(warehouse_conn_id(role)) for role in WAREHOUSE_ROLES):
        return "configured corridor_warehouse_* role connections"
    if connection_is_set(WAREHOUSE_CONN_ID):
        how = "configured corridor_warehouse connection"
    else:
        from corridor.warehouse import embedded_uri, start_embedded

        dsn = start_embedded(settings.home_dir / "pgdata")
        os.environ[connection_env_name(WAREHOUSE_CONN_ID)] = embedded_uri(dsn)
        how = f"embedded PostgreSQL (pgserver) in {settings.home_dir / 'pgdata'}"
    init_warehouse(get_warehouse_dsn("admin"))
    return how + ", roles initialised"


def ensure_feeds(settings: Settings, stack: ExitStack) -> str:
    """Use the configured feed connections, or start the simulator and point them at it."""
    configured = [conn_id for conn_id in FEED_CONN_IDS.values() if connection_is_set(conn_id)]
    if len(configured) == len(FEED_CONN_IDS):
        return "configured feed connections"
    if configured:
        missing = sorted(set(FEED_CONN_IDS.values()) - set(configured))
        raise typer.BadParameter(
            f"some feed connections are set and others not (missing: {', '.join(missing)}); "
            "set all five or none (none starts the simulator)")
    from corridor.simulator import connection_uris
    from corridor.stack import StackError, start_simulator_process

    # Its own process, not a thread of this one: generating and serving national volume
    # would compete with the loaders for this interpreter. Stopped when ``stack`` closes.
    log_path = settings.home_dir / "logs" / "simulator.log"
    try:
        base_url = start_simulator_process(settings, os.environ, log_path, stack)
    except StackError as error:
        raise typer.BadParameter(str(error)) from error
    os.environ.update(connection_uris(base_url))
    faults = f", faults {json.dumps(settings.sim_faults)}" if settings.sim_faults else ""
    return (f"feed simulator at {base_url} (seed {settings.sim_seed}, "
            f"scale {settings.sim_scale}{faults}; its own process, bodies cached in "
            f"{settings.sim_cache_root}, log {log_path})")


@app.command()
def run() -> None:
    """Run the whole pipeline (ingest, transform, gate, publish) through the Airflow DAGs."""
    from corridor.publish.summary import print_summary
    from corridor.runner import PipelineError, run_pipeline

    _setup_logging()
    settings = get_settings()
    with ExitStack() as stack:
        typer.echo(f"warehouse: {ensure_warehouse(settings)}")
        typer.echo(f"feeds:     {ensure_feeds(settings, stack)}")
        typer.echo(f"window:    {_window_text(settings)}")
        try:
            run_pipeline(settings)
        except PipelineError as error:
            typer.echo(f"\nFAILED: {error}", err=True)
            typer.echo(f"Airflow task logs: {settings.home_dir / 'airflow' / 'logs'}", err=True)
            raise typer.Exit(1) from error
        _print_feed_progress(settings)
    print_summary(settings.publish_root)


def _print_feed_progress(settings: Settings) -> None:
    """Per feed: units done / due (the `corridor status` lines)."""
    from datetime import datetime

    from corridor.config import get_warehouse_dsn
    from corridor.status import build_grid, summarise
    from corridor.warehouse import connect
    from corridor.window import resolve

    settings = resolve(settings, role="publisher")
    now = datetime.now(UTC)
    with connect(get_warehouse_dsn("publisher")) as conn:
        grid = build_grid(conn, settings, now)
    for summary in summarise(grid, now):
        typer.echo(summary.line())


@app.command()
def up() -> None:
    """Run it as deployed: Airflow scheduler, dag-processor, api-server, triggerer, until Ctrl-C."""
    import signal

    from corridor.stack import StackError, local_stack

    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    _setup_logging()
    settings = get_settings()
    signal.signal(signal.SIGTERM, interrupt)
    try:
        with local_stack(settings) as stack:
            typer.echo(f"warehouse: {stack.warehouse}")
            typer.echo(f"feeds:     {stack.simulator_url or 'configured feed connections'}")
            typer.echo(f"window:    {_window_text(settings)}, "
                       f"schedule {settings.ingest_schedule}")
            typer.echo(f"logs:      {stack.airflow_home / 'logs'}")
            typer.echo(f"UI: {stack.base_url}  user {stack.username}, "
                       f"password in {stack.password_file}")
            typer.echo("Ctrl-C stops everything.")
            stack.wait()
    except KeyboardInterrupt:
        typer.echo("stopped.")
    except StackError as error:
        typer.echo(f"FAILED: {error}", err=True)
        raise typer.Exit(1) from error


@app.command()
def simulator(host: str = "127.0.0.1", port: int = 8765,
              port_file: Path | None = typer.Option(
                  None, help="write the bound base URL here once listening (atomically; "
                             "removed on exit); --port 0 picks a free port")) -> None:
    """Serve the five feed contracts in the foreground (prints the connection URIs)."""
    import signal
    import threading

    from corridor.simulator import SimConfig, connection_uris, start_simulator
    from corridor.simulator.server import write_port_file

    settings = get_settings()
    config = SimConfig(seed=settings.sim_seed, scale=settings.sim_scale,
                       faults=settings.sim_faults, **settings.simulator_months())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with start_simulator(config, host=host, port=port,
                         cache_dir=settings.sim_cache_root) as handle:
        typer.echo(f"simulator serving at {handle.base_url}")
        for name, uri in connection_uris(handle.base_url).items():
            typer.echo(f"export {name}='{uri}'")
        if port_file is not None:
            write_port_file(port_file, handle.base_url)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if port_file is not None:
                port_file.unlink(missing_ok=True)


@app.command()
def transform(
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="rebuild the incremental facts from scratch"),
) -> None:
    """Seed and build the dbt project against the warehouse."""
    from corridor.transform import run_dbt

    _setup_logging()
    ensure_warehouse(get_settings())
    run_dbt(["seed"])
    run_dbt(["build", "--exclude", "resource_type:seed",
             *(["--full-refresh"] if full_refresh else [])])


@app.command()
def docs() -> None:
    """Write the dbt documentation site (one static HTML file) for the warehouse."""
    from corridor.transform import run_dbt

    _setup_logging()
    settings = get_settings()
    ensure_warehouse(settings)
    run_dbt(["docs", "generate", "--static"], target_dir=settings.home_dir / "dbt")
    typer.echo(f"dbt docs: {settings.home_dir / 'dbt' / 'target' / 'static_index.html'}")


@app.command()
def publish() -> None:
    """Run the quality gate and publish a release from one warehouse snapshot (the
    publish DAG's code path, corridor.publish.run)."""
    from corridor.publish import run
    from corridor.quality.gate import QualityGateFailed
    from corridor.transform import MartsNotBuilt

    _setup_logging()
    ensure_warehouse(get_settings())
    try:
        release = run()
    except (MartsNotBuilt, QualityGateFailed) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(release)


@app.command()
def status(as_of: str = typer.Option(
        None, "--as-of", help="ISO date-time to judge due dates at (default: now, UTC).")
           ) -> None:
    """Due, late and missing: the feed × month grid of the ingest window, then per feed
    the units done / due."""
    from datetime import datetime

    from corridor.config import get_warehouse_dsn
    from corridor.status import build_grid, cell_text, grid_table, summarise
    from corridor.warehouse import connect
    from corridor.window import resolve

    settings = get_settings()
    ensure_warehouse(settings)
    settings = resolve(settings, role="publisher")
    now = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    with connect(get_warehouse_dsn("publisher")) as conn:
        grid = build_grid(conn, settings, now)
    header, rows = grid_table(grid)
    texts = [[c if isinstance(c, str) else cell_text(c) for c in row] for row in rows]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        styles = {"loaded": "green", "not_due": "dim", "late": "bold red", "partial": "yellow"}
        table = Table(*header, title=f"feed status as of {now.isoformat(timespec='seconds')}")
        for row, text in zip(rows, texts, strict=True):
            table.add_row(*(Text(t, style="" if isinstance(c, str) else styles[c.state])
                            for c, t in zip(row, text, strict=True)))
        Console().print(table)
    else:
        typer.echo(f"feed status as of {now.isoformat(timespec='seconds')}")
        widths = [max(len(r[i]) for r in [header, *texts]) for i in range(len(header))]
        for line in [header, *texts]:
            typer.echo("  ".join(t.ljust(w) for t, w in zip(line, widths, strict=True)).rstrip())
    typer.echo("")
    for summary in summarise(grid, now):
        typer.echo(summary.line())


@gx_app.command("sync")
def gx_sync() -> None:
    """Write the suites defined in corridor.quality.suites into expectations/.

    Needs a built warehouse (``corridor run`` first): GX checks each table exists.
    """
    from corridor.config import get_warehouse_dsn
    from corridor.quality.context import sync_context

    settings = get_settings()
    ensure_warehouse(settings)
    names = sync_context(settings.gx_context_dir, get_warehouse_dsn("gate").sqlalchemy_url)
    typer.echo(f"synced suites: {', '.join(names)}")


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded warehouse and leave it running; print its connection URI."""
    from corridor.warehouse import embedded_uri, start_embedded

    dsn = start_embedded(get_settings().home_dir / "pgdata", keep_running=True)
    typer.echo(f"export {connection_env_name(WAREHOUSE_CONN_ID)}='{embedded_uri(dsn)}'")
    typer.echo(f"psql -h {dsn.host} -p {dsn.port} -U {dsn.user} {dsn.dbname}")


@warehouse_app.command("init")
def warehouse_init(admin_uri: str = typer.Option(
        ..., "--admin-uri", envvar=connection_env_name(WAREHOUSE_CONN_ID), show_default=False,
        help="PostgreSQL URI of a role that may create roles (a superuser); default: the "
             "corridor_warehouse connection's environment variable, which keeps the "
             "password off the command line")) -> None:
    """Create the least-privilege roles, schemas and grants (idempotent; corridor.roles).

    Login roles get the password of their connection
    (AIRFLOW_CONN_CORRIDOR_WAREHOUSE_<ROLE>) when it is set."""
    from corridor.config import WarehouseDsn
    from corridor.roles import init_warehouse

    _setup_logging()
    try:
        init_warehouse(WarehouseDsn.from_uri(admin_uri))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


@releases_app.command("list")
def releases_list() -> None:
    """Releases under the published root, newest last; LATEST is marked."""
    from corridor.publish.release import latest_release, list_releases

    published = get_settings().publish_root
    latest = latest_release(published)
    for path in list_releases(published):
        typer.echo(f"{'*' if latest and path.name == latest.name else ' '} {path.name}")


@releases_app.command("calendar")
def releases_calendar() -> None:
    """Each entry of the release calendar: planned instant, the release that met it,
    when it was released, and on time or late."""
    from corridor.publish.calendar import calendar_lines, read_calendar

    settings = get_settings()
    if not settings.release_calendar:
        raise typer.BadParameter("no release calendar: set CORRIDOR_RELEASE_CALENDAR")
    for line in calendar_lines(read_calendar(settings.release_calendar),
                               settings.publish_root):
        typer.echo(f"{line.last_period}  planned {line.planned.isoformat()}  "
                   f"{line.release_id or '-':<26} released {line.released_at or '-':<20} "
                   f"{line.state}")


@releases_app.command("release-due")
def releases_release_due() -> None:
    """Release the embargoed releases whose embargo_until has come (what the
    corridor_embargo DAG does at the instant)."""
    from corridor.config import get_warehouse_dsn
    from corridor.publish.calendar import release_due
    from corridor.publish.release import publish_lock

    settings = get_settings()
    lock = publish_lock(get_warehouse_dsn("publisher"))
    for release_id in release_due(settings.publish_root, lock=lock):
        typer.echo(f"released {release_id}")


@releases_app.command("show")
def releases_show(release_id: str = typer.Argument("LATEST")) -> None:
    """Print a release's manifest (files, inputs count, quality)."""
    from corridor.publish.release import latest_release

    published = get_settings().publish_root
    path = (latest_release(published) if release_id == "LATEST"
            else published / "releases" / release_id)
    if path is None or not (path / "manifest.json").exists():
        raise typer.BadParameter(f"no release {release_id} under {published}")
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    manifest["inputs"] = f"{len(manifest['inputs'])} loaded units"
    typer.echo(json.dumps(manifest, indent=2, ensure_ascii=False))


@app.command("load")
def load(from_landing: bool = typer.Option(False, "--from-landing",
                                           help="Rebuild raw from the landed files."),
         feed: list[str] = typer.Option(None, "--feed", help="Only this feed (repeatable).")
         ) -> None:
    """Rebuild the raw schema from the landing zone (no network): ``--from-landing``."""
    from corridor.config import get_warehouse_dsn
    from corridor.landing.replay import LandingError, rebuild_raw_from_landing

    if not from_landing:
        raise typer.BadParameter("only `corridor load --from-landing` is supported")
    _setup_logging()
    settings = get_settings()
    typer.echo(f"warehouse: {ensure_warehouse(settings)}")
    typer.echo(f"landing:   {settings.landing_root}")
    try:
        result = rebuild_raw_from_landing(get_warehouse_dsn("loader"), settings.landing_root,
                                          feeds=feed or None)
    except (LandingError, ValueError) as error:
        typer.echo(f"FAILED: {error}", err=True)
        raise typer.Exit(1) from error
    for name, summary in result["feeds"].items():
        typer.echo(f"{name:<11} {summary['units']:>5} units {summary['rows_loaded']:>9} rows "
                   f"{summary['rows_rejected']:>6} rejected  ({summary['files']} files, "
                   f"{summary['superseded']} superseded, {summary['incomplete']} incomplete)")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8700, help="Port to listen on.")) -> None:
    """Serve the published releases as an SDMX REST API (keys: corridor consumers)."""
    import uvicorn

    from corridor.api.app import create_app
    from corridor.api.consumers import ConsumerStore

    _setup_logging()
    settings = get_settings()
    application = create_app(settings.publish_dir, ConsumerStore(settings.consumers_path))
    log.info("serving %s on http://%s:%d/sdmx/2.1", settings.publish_dir, host, port)
    # uvicorn's own access log is off: corridor.api.access logs each request, by consumer
    uvicorn.run(application, host=host, port=port, access_log=False, log_config=None)


@consumers_app.command("add")
def consumers_add(name: str) -> None:
    """Create a key for NAME and print it (once: only its hash is kept)."""
    from corridor.api.consumers import ConsumerStore

    try:
        key = ConsumerStore(get_settings().consumers_path).add(name)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(key)


@consumers_app.command("revoke")
def consumers_revoke(name: str) -> None:
    """End NAME's key."""
    from corridor.api.consumers import ConsumerStore

    if not ConsumerStore(get_settings().consumers_path).revoke(name):
        raise typer.BadParameter(f"no live key for consumer {name!r}")
    typer.echo(f"revoked {name}")


@consumers_app.command("list")
def consumers_list() -> None:
    """Consumers, when their key was created, and revoked ones."""
    from corridor.api.consumers import ConsumerStore

    for consumer in ConsumerStore(get_settings().consumers_path).list():
        revoked = f"  revoked {consumer.revoked_at}" if consumer.revoked_at else ""
        typer.echo(f"{consumer.name}\t{consumer.created_at}{revoked}")


if __name__ == "__main__":
    app()
