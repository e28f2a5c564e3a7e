"""One typed settings object for Corridor, read from the environment.

Feed and warehouse endpoints are Airflow Connections (``AIRFLOW_CONN_*`` or any
secrets backend); everything else is a ``CORRIDOR_*`` environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import yaml
from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

PROJECT_DIR = Path(__file__).resolve().parents[2]

FEED_IDS = ("ru_customs", "kz_customs", "comtrade", "ports", "rail")
FEED_CONN_IDS = {feed: f"corridor_{feed}" for feed in FEED_IDS}
WAREHOUSE_CONN_ID = "corridor_warehouse"
#: The login roles the stages connect as (corridor.roles), each through its own connection
#: ``corridor_warehouse_<role>``; ``corridor_warehouse`` is the admin one, for
#: ``corridor warehouse init`` alone.
WAREHOUSE_ROLES = ("loader", "transformer", "gate", "publisher")

#: Partner reporters of the mirror (comtrade) feed, M49 codes (spec/feeds.md).
MIRROR_REPORTERS_M49 = (156, 860, 417, 792, 31, 364, 795, 112, 51)
#: Feed ports (role feed_port in caspian_ports.csv).
FEED_PORTS = ("KZAAU", "KZKUR")

#: Days after the end of month M by which a feed's unit of M is due (corridor.status);
#: CORRIDOR_DUE_DAYS='{"comtrade": 120}' overrides some feeds, the others keep these.
DUE_DAYS_DEFAULT = {
    "ru_customs": 45,  # the monthly CSV comes out early in the second month after M
    "kz_customs": 45,  # the preliminary period is published about six weeks after M
    "comtrade": 90,    # per reporter-month: partners report to Comtrade one to three months late
    "ports": 5,        # calls are synced hourly; a few days let late-month calls settle
    "rail": 3,         # a day's report is out next morning, re-issues within days
}

GiB, MiB = 1 << 30, 1 << 20
#: Decoded bytes one response body may have, per feed (corridor.feeds.http): a RU month
#: CSV, or one JSON page / one XML day of the others. CORRIDOR_MAX_BODY_BYTES='{"rail":
#: 1048576}' overrides some feeds, the others keep these.
MAX_BODY_BYTES_DEFAULT = {"ru_customs": 4 * GiB, "kz_customs": 256 * MiB,
                          "comtrade": 256 * MiB, "ports": 256 * MiB, "rail": 256 * MiB}
#: Seconds one HTTP request may take, connect to the last body byte, per feed (one attempt;
#: retries get their own). RU months are GiBs: an hour. CORRIDOR_HTTP_DEADLINE_S overrides.
HTTP_DEADLINE_S_DEFAULT = {"ru_customs": 3600.0, "kz_customs": 300.0, "comtrade": 300.0,
                           "ports": 300.0, "rail": 300.0}


def month_add(period_month: str, months: int) -> str:
    """Shift a ``YYYY-MM`` period by ``months`` (may be negative)."""
    year, month = (int(part) for part in period_month.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@cache
def yoy_base_months() -> int:
    """How many months before the first published one are ingested as YoY bases (12).

    The rule's one home is the dbt project's var ``yoy_base_months`` (its macro
    ``ingest_from`` reads it too), read here when first needed, not at import.
    """
    project = yaml.safe_load((PROJECT_DIR / "dbt_project" / "dbt_project.yml")
                             .read_text(encoding="utf-8"))
    return int(project["vars"]["yoy_base_months"])


def month_range(first: str, last: str) -> list[str]:
    """Inclusive list of ``YYYY-MM`` periods from ``first`` to ``last``."""
    months: list[str] = []
    current = first
    while current <= last:
        months.append(current)
        current = month_add(current, 1)
    return months


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``CORRIDOR_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    #: months to publish; both unset: the window rolls with the publishers
    #: (corridor.window; ``window_months`` long, ending at the newest month both
    #: customs feeds have released)
    period_from: str | None = None
    period_to: str | None = None
    window_months: int = 24
    home_dir: Path = PROJECT_DIR / ".corridor"
    #: the published root and the landing zone, as URLs (corridor.storage): file:// by
    #: default, s3://, gs://... on a deployment whose workers share no disk. Unset, they
    #: are file:// URLs of publish_dir and landing_dir (the older settings, kept as such)
    publish_url: str | None = None
    landing_url: str | None = None
    publish_dir: Path = PROJECT_DIR / "published"
    landing_dir: Path | None = None
    dbt_project_dir: Path = PROJECT_DIR / "dbt_project"
    gx_context_dir: Path = PROJECT_DIR / "expectations"
    sim_seed: int = 20240101
    sim_scale: float = 1.0
    #: the simulator's rail and port traffic scale (unset: sim_scale)
    sim_logistics_scale: float | None = None
    #: simulator faults (JSON in CORRIDOR_SIM_FAULTS, keys of simulator/faults.py), e.g.
    #: '{"shrinking_revision": {"ru_customs": ["2024-03"]}}' re-publishes a month
    sim_faults: dict = {}
    #: where the simulator keeps the bodies it generated (simulator/bodies.py); unset:
    #: ``home_dir/simulator-cache``. A world's bodies are generated once, then read.
    sim_cache_dir: Path | None = None
    #: when the poll DAGs ask the publishers what changed (cron)
    ingest_schedule: str = "@daily"
    #: calls a day the Comtrade key allows (the free plan's 500); Corridor never exceeds it
    comtrade_daily_budget: int = 500
    #: records one Comtrade call returns at most (the free plan's cap; paid plans allow more)
    comtrade_record_cap: int = 100_000
    #: days after a month's end by which each feed's units of that month are due
    #: (JSON in CORRIDOR_DUE_DAYS; feeds not named keep DUE_DAYS_DEFAULT)
    due_days: dict[str, int] = DUE_DAYS_DEFAULT
    #: decoded bytes a response body may have, per feed (JSON in CORRIDOR_MAX_BODY_BYTES;
    #: feeds not named keep MAX_BODY_BYTES_DEFAULT); over it a fetch fails, not retried
    max_body_bytes: dict[str, int] = MAX_BODY_BYTES_DEFAULT
    #: seconds one request may take, connect to last body byte, per feed (JSON in
    #: CORRIDOR_HTTP_DEADLINE_S; feeds not named keep HTTP_DEADLINE_S_DEFAULT); past it the
    #: attempt fails as a transient fault (retried)
    http_deadline_s: dict[str, float] = HTTP_DEADLINE_S_DEFAULT
    #: where ``corridor up`` serves the Airflow UI, on 127.0.0.1
    ui_port: int = 8080
    #: the release calendar (spec "Release calendar and embargo"): a CSV
    #: ``last_period,embargo_until``; a release ending at a listed period waits, embargoed,
    #: for its instant
    release_calendar: Path | None = None
    #: the consumer API's keys (salted hashes; corridor.api.consumers); unset:
    #: ``home_dir/consumers.json``
    consumers_file: Path | None = None
    #: the consumer API's public base URL (``https://stats.example/corridor``); when set,
    #: each report links every dataset's data query there
    api_url: str | None = None

    @field_validator("period_from", "period_to")
    @classmethod
    def _check_period(cls, value: str | None) -> str | None:
        if value in (None, ""):  # unset, or set empty (compose's ${VAR:-}): rolling
            return None
        year, _, month = value.partition("-")
        if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()
                and 1 <= int(month) <= 12):
            raise ValueError(f"period must be YYYY-MM, got {value!r}")
        return value

    @field_validator("due_days")
    @classmethod
    def _check_due_days(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(FEED_IDS))
        if unknown:
            raise ValueError(f"due_days: unknown feed(s) {', '.join(unknown)}")
        if any(days < 0 for days in value.values()):
            raise ValueError("due_days: days must be >= 0")
        return {**DUE_DAYS_DEFAULT, **value}

    @field_validator("max_body_bytes", "http_deadline_s")
    @classmethod
    def _check_per_feed_limit(cls, value: dict, info) -> dict:
        unknown = sorted(set(value) - set(FEED_IDS))
        if unknown:
            raise ValueError(f"{info.field_name}: unknown feed(s) {', '.join(unknown)}")
        if any(not limit > 0 for limit in value.values()):
            raise ValueError(f"{info.field_name}: limits must be > 0")
        defaults = (MAX_BODY_BYTES_DEFAULT if info.field_name == "max_body_bytes"
                    else HTTP_DEADLINE_S_DEFAULT)
        return {**defaults, **value}

    @model_validator(mode="after")
    def _check_window(self) -> Settings:
        if (self.period_from is None) != (self.period_to is None):
            raise ValueError("set both CORRIDOR_PERIOD_FROM and CORRIDOR_PERIOD_TO, or "
                             "neither (a rolling window)")
        if self.period_from is not None and self.period_from > self.period_to:
            raise ValueError(f"CORRIDOR_PERIOD_FROM {self.period_from} is after "
                             f"CORRIDOR_PERIOD_TO {self.period_to}")
        if self.window_months < 1:
            raise ValueError("CORRIDOR_WINDOW_MONTHS must be at least 1")
        return self

    @property
    def rolling(self) -> bool:
        """No fixed window: corridor.window.resolve() reads it from the publishers."""
        return self.period_from is None

    def _window(self) -> tuple[str, str]:
        if self.period_from is None or self.period_to is None:
            raise RuntimeError("the rolling window is not resolved here: "
                               "corridor.window.resolve(settings) first")
        return self.period_from, self.period_to

    @property
    def ingest_from(self) -> str:
        """First ingested month: :func:`yoy_base_months` before the first published one."""
        return month_add(self._window()[0], -yoy_base_months())

    @property
    def ingest_months(self) -> list[str]:
        return month_range(self.ingest_from, self._window()[1])

    @property
    def publish_months(self) -> list[str]:
        return month_range(*self._window())

    def simulator_months(self) -> dict[str, str]:
        """The simulator world's months: the ingest window when fixed, else its own."""
        return {} if self.rolling else {"first_month": self.ingest_from,
                                        "last_month": self.period_to}

    @property
    def sim_cache_root(self) -> Path:
        return self.sim_cache_dir or self.home_dir / "simulator-cache"

    @property
    def landing_root(self) -> Path | ObjectStoragePath:
        """The landing zone: CORRIDOR_LANDING_URL, else the folder CORRIDOR_LANDING_DIR
        (default ``home_dir/landing``)."""
        from corridor import storage

        return storage.resolve(self.landing_url or self.landing_dir or self.home_dir / "landing")

    @property
    def consumers_path(self) -> Path:
        return self.consumers_file or self.home_dir / "consumers.json"

    @property
    def publish_root(self) -> Path | ObjectStoragePath:
        """The published root: CORRIDOR_PUBLISH_URL, else the folder CORRIDOR_PUBLISH_DIR."""
        from corridor import storage

        return storage.resolve(self.publish_url or self.publish_dir)


def get_settings() -> Settings:
    return Settings()


def _masked_repr(self) -> str:
    """A dataclass repr with the password shown as ``'***'`` (None when unset): reprs
    end up in logs, tracebacks and Airflow's rendered fields."""
    shown = []
    for spec in fields(self):
        value = getattr(self, spec.name)
        if spec.name == "password" and value:
            value = "***"
        shown.append(f"{spec.name}={value!r}")
    return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class Endpoint:
    """What a client needs from an Airflow Connection (its repr masks the password)."""

    conn_id: str
    conn_type: str
    host: str
    port: int | None
    schema: str | None
    login: str | None
    password: str | None

    __repr__ = __str__ = _masked_repr

    @property
    def base_url(self) -> str:
        """``{conn_type}://{host}[:{port}]`` then ``/{schema}`` if set (spec/feeds.md)."""
        url = f"{self.conn_type}://{self.host}"
        if self.port:
            url += f":{self.port}"
        if self.schema:
            url += "/" + self.schema.strip("/")
        return url


def get_endpoint(conn_id: str) -> Endpoint:
    """Resolve a connection through Airflow (env vars, secrets backends, metadata DB)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return Endpoint(
        conn_id=conn_id,
        conn_type=conn.conn_type or "http",
        host=conn.host or "",
        port=conn.port,
        schema=conn.schema or None,
        login=conn.login or None,
        password=conn.password or None,
    )


def connection_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_is_set(conn_id: str) -> bool:
    """True when the connection comes from the environment (a real deployment plugs in so)."""
    return bool(os.environ.get(connection_env_name(conn_id)))


def http_connection_uri(base_url: str, login: str | None = None,
                        password: str | None = None) -> str:
    """An Airflow connection URI for an HTTP feed at ``base_url``."""
    parts = urlsplit(base_url)
    auth = ""
    if login or password:
        auth = f"{quote(login or '', safe='')}:{quote(password or '', safe='')}@"
    return f"{parts.scheme}://{auth}{parts.netloc}{parts.path}"


@dataclass(frozen=True, repr=False)
class WarehouseDsn:
    """The PostgreSQL warehouse, as libpq parameters (host may be a unix socket dir; the
    repr masks the password)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    __repr__ = __str__ = _masked_repr

    @classmethod
    def from_uri(cls, uri: str) -> WarehouseDsn:
        parts = urlsplit(uri)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        host = unquote(query.get("host", parts.hostname or "localhost"))
        return cls(
            host=host,
            port=int(query.get("port", parts.port or 5432)),
            user=unquote(parts.username or query.get("user", "postgres")),
            password=unquote(parts.password or query.get("password", "")),
            dbname=unquote(parts.path.lstrip("/") or "postgres"),
        )

    @property
    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=self.port, user=self.user,
                             password=self.password, dbname=self.dbname)

    @property
    def sqlalchemy_url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            return (f"postgresql+psycopg2://{auth}@/{self.dbname}"
                    f"?host={quote(self.host, safe='/')}&port={self.port}")
        return f"postgresql+psycopg2://{auth}@{self.host}:{self.port}/{self.dbname}"

    def dbt_env(self) -> dict[str, str]:
        """Environment read by ``dbt_project/profiles.yml``."""
        return {
            "CORRIDOR_PG_HOST": self.host,
            "CORRIDOR_PG_PORT": str(self.port),
            "CORRIDOR_PG_USER": self.user,
            "CORRIDOR_PG_PASSWORD": self.password,
            "CORRIDOR_PG_DBNAME": self.dbname,
        }


def warehouse_conn_id(role: str) -> str:
    """``corridor_warehouse`` for ``admin``, ``corridor_warehouse_<role>`` for a role."""
    if role == "admin":
        return WAREHOUSE_CONN_ID
    if role not in WAREHOUSE_ROLES:
        raise ValueError(f"unknown warehouse role {role!r}; roles are admin, "
                         f"{', '.join(WAREHOUSE_ROLES)}")
    return f"{WAREHOUSE_CONN_ID}_{role}"


def role_name(role: str) -> str:
    """The PostgreSQL role of a stage: ``corridor_<role>``."""
    return f"corridor_{role}"


def configured_warehouse_dsn(role: str) -> WarehouseDsn | None:
    """The warehouse connection of ``role`` (``admin`` or a stage's) from its
    environment variable (``AIRFLOW_CONN_CORRIDOR_WAREHOUSE[_<ROLE>]``); None when unset."""
    uri = os.environ.get(connection_env_name(warehouse_conn_id(role)))
    return WarehouseDsn.from_uri(uri) if uri else None


def _airflow_warehouse_dsn(conn_id: str) -> WarehouseDsn | None:
    """A warehouse connection from Airflow (secrets backends, metadata DB), or None."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return WarehouseDsn(host=conn.host or "localhost", port=conn.port or 5432,
                        user=conn.login or "postgres", password=conn.password or "",
                        dbname=conn.schema or "postgres")


def _as_role(admin: WarehouseDsn, role: str) -> WarehouseDsn:
    return WarehouseDsn(admin.host, admin.port, role_name(role), "", admin.dbname)


def get_warehouse_dsn(role: str) -> WarehouseDsn:
    """Where ``role`` connects: ``admin`` (``corridor_warehouse``, what ``corridor
    warehouse init`` uses, and nothing else) or a stage's role (``loader``,
    ``transformer``, ``gate``, ``publisher``).

    A stage's connection ``corridor_warehouse_<role>`` (its environment variable, else
    Airflow's connection). Where it is not set but the admin connection is, the
    admin's server and database as the role ``corridor_<role>``, without a password:
    enough where the server trusts local connections (the embedded pgserver of
    ``corridor run``, whose admin variable is set) or a ``.pgpass`` holds it; never the
    admin's own login.
    """
    dsn = configured_warehouse_dsn(role)
    if dsn is not None:
        return dsn
    admin = configured_warehouse_dsn("admin")
    if role != "admin" and admin is not None:
        return _as_role(admin, role)
    dsn = _airflow_warehouse_dsn(warehouse_conn_id(role))
    if dsn is not None:
        return dsn
    admin = _airflow_warehouse_dsn(WAREHOUSE_CONN_ID) if role != "admin" else None
    if admin is not None:
        return _as_role(admin, role)
    raise LookupError(f"no {warehouse_conn_id(role)} connection: set "
                      f"{connection_env_name(warehouse_conn_id(role))}")
