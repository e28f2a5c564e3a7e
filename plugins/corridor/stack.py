"""``corridor up`` / ``make up``: Corridor as it is deployed, on this machine.

The same warehouse and feeds as ``corridor run`` (the configured connections, or the
embedded PostgreSQL and the feed simulator), but the DAGs are run by real Airflow
services instead of ``dag.test()``: ``airflow scheduler`` (LocalExecutor),
``dag-processor``, ``triggerer`` and ``api-server`` (the UI, on 127.0.0.1 only), each
its own process group logging to ``<home>/airflow-up/logs/<service>.log``. The DAGs
are unpaused at creation, so the ingest schedule (CORRIDOR_INGEST_SCHEDULE) and the
asset chain ingest -> transform -> publish run with nobody triggering anything.

    with local_stack(get_settings(), ui_port=8080) as stack:
        print(stack.base_url, stack.password_file)

Airflow's metadata is SQLite under ``<home>/airflow-up`` (what ``airflow standalone``
uses with the LocalExecutor), separate from the one ``corridor run`` uses. Secrets
(connection URIs, the UI password, Airflow's JWT/Fernet keys in ``airflow.cfg``) go
through the environment or files readable by the owner only, never a command line.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from corridor.config import (
    FEED_CONN_IDS,
    PROJECT_DIR,
    WAREHOUSE_CONN_ID,
    WAREHOUSE_ROLES,
    Settings,
    connection_env_name,
    get_warehouse_dsn,
    warehouse_conn_id,
)

log = logging.getLogger(__name__)

#: Airflow services, in start order; the api-server serves the UI and the execution API.
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
#: services whose heartbeat the api-server's health endpoint reports
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
UI_USER = "admin"
UI_HOST = "127.0.0.1"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


class StackError(RuntimeError):
    """A service did not start, or stopped while the stack was up."""


@dataclass
class Stack:
    """A running local deployment: where its UI is, how to log in, where its logs are."""

    base_url: str
    airflow_home: Path
    password_file: Path
    logs: dict[str, Path]
    warehouse: str = ""
    simulator_url: str | None = None
    username: str = UI_USER
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)
    #: the services' environment (to run ``airflow`` commands against this deployment)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def password(self) -> str:
        return json.loads(self.password_file.read_text(encoding="utf-8"))[self.username]

    def check_alive(self) -> None:
        """Raise StackError naming the first service that exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StackError(f"{name} exited with code {process.returncode}; "
                                 f"see {self.logs[name]}\n{_tail(self.logs[name])}")

    def wait(self, poll_seconds: float = 2.0) -> None:
        """Block until a service exits (StackError) or the caller is interrupted."""
        while True:
            self.check_alive()
            time.sleep(poll_seconds)


def free_port(host: str = UI_HOST) -> int:
    """A TCP port nobody listens on right now (the caller binds it shortly after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """``CORRIDOR_*`` variables that give the services (and their tasks) ``settings``."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, dict) else str(value)
        env[f"CORRIDOR_{name.upper()}"] = text
    return env


def airflow_up_env(settings: Settings, *, ui_port: int) -> dict[str, str]:
    """Airflow configuration of the local deployment (everything but the connections)."""
    home = settings.home_dir / "airflow-up"
    ui_url = f"http://{UI_HOST}:{ui_port}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{ui_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": UI_HOST,
        "AIRFLOW__API__PORT": str(ui_port),
        "AIRFLOW__API__BASE_URL": ui_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS_FILE),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs" / "tasks"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL",
                                                          "INFO"),
    }


def ensure_password(password_file: Path) -> Path:
    """Write a generated password for the UI user unless the file already has one.

    The simple auth manager reads this file and only adds users it lacks, so the
    password stays the same across ``corridor up`` runs on one home.
    """
    passwords: dict[str, str] = {}
    if password_file.exists():
        try:
            passwords = json.loads(password_file.read_text(encoding="utf-8") or "{}")
        except ValueError:
            passwords = {}
    if not passwords.get(UI_USER):
        passwords[UI_USER] = secrets.token_urlsafe(18)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(passwords) + "\n")
    os.chmod(password_file, 0o600)
    return password_file


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _spawn(argv: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``argv`` in its own process group (so a stop reaches its children too)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=PROJECT_DIR)


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it if it has not exited after ``timeout``."""
    if process.poll() is not None:
        _kill_group(process.pid, signal.SIGKILL)  # leftovers of an exited leader
        return
    _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("pid %s did not stop in %.0f s: SIGKILL", process.pid, timeout)
        _kill_group(process.pid, signal.SIGKILL)
        process.wait()
    _kill_group(process.pid, signal.SIGKILL)  # children that outlived their parent


def _kill_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass




def start_simulator_process(settings: Settings, env: Mapping[str, str], log_path: Path,
                            stack: ExitStack, timeout: float = 60.0) -> str:
    """``python -m corridor.simulator`` as its own process; return its base URL.

    ``--port 0 --port-file FILE`` lets the simulator pick a port and write its base URL
    once it listens.
    """
    port_file = log_path.with_suffix(".url")
    port_file.unlink(missing_ok=True)
    common = [sys.executable, "-m", "corridor.simulator", "--host", UI_HOST, "--port", "0",
              "--seed", str(settings.sim_seed), "--scale", str(settings.sim_scale),
              *(("--logistics-scale", str(settings.sim_logistics_scale))
                if settings.sim_logistics_scale is not None else ()),
              *(arg for name, month in settings.simulator_months().items()
                for arg in (f"--{name.replace('_', '-')}", month)),
              "--cache-dir", str(settings.sim_cache_root),
              "--faults", json.dumps(settings.sim_faults)]
    process = _spawn([*common, "--port-file", str(port_file)], env, log_path)
    stack.callback(stop_process, process, 10.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return port_file.read_text().strip()
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise StackError(f"the feed simulator did not start; see {log_path}\n{_tail(log_path)}")


def ensure_feed_connections(settings: Settings, env: dict[str, str], log_path: Path,
                            stack: ExitStack) -> tuple[str, str | None]:
    """Use the five configured feed connections, or start the simulator and point them at it.

    Returns a description and the simulator's base URL (None when configured).
    """
    names = [connection_env_name(conn_id) for conn_id in FEED_CONN_IDS.values()]
    configured = [name for name in names if env.get(name)]
    if len(configured) == len(names):
        return "configured feed connections", None
    if configured:
        missing = sorted(set(names) - set(configured))
        raise StackError(f"some feed connections are set and others not (missing: "
                         f"{', '.join(missing)}); set all five or none (none starts the simulator)")
    from corridor.simulator import connection_uris

    base_url = start_simulator_process(settings, env, log_path, stack)
    env.update(connection_uris(base_url))
    faults = f", faults {json.dumps(settings.sim_faults)}" if settings.sim_faults else ""
    return (f"feed simulator at {base_url} (seed {settings.sim_seed}, "
            f"scale {settings.sim_scale}{faults})", base_url)


def role_connections_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for services whose tasks connect as the stages' roles: the four role
    connections (``env``'s, else those :func:`corridor.config.get_warehouse_dsn`
    derives), and not the admin one, which is ``corridor warehouse init``'s alone."""
    from corridor.warehouse import embedded_uri

    result = dict(env)
    for role in WAREHOUSE_ROLES:
        name = connection_env_name(warehouse_conn_id(role))
        result[name] = result.get(name) or embedded_uri(get_warehouse_dsn(role))
    result.pop(connection_env_name(WAREHOUSE_CONN_ID), None)
    return result


def health(base_url: str, timeout: float = 5.0) -> dict | None:
    """The api-server's ``/api/v2/monitor/health`` (no login needed), or None."""
    try:
        with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=timeout) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _wait_healthy(stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status: dict | None = None
    while time.monotonic() < deadline:
        stack.check_alive()
        status = health(stack.base_url)
        if status and all((status.get(c) or {}).get("status") == "healthy"
                          for c in HEALTH_COMPONENTS):
            return
        time.sleep(1.0)
    raise StackError(f"Airflow not healthy after {timeout:.0f} s: {status}; "
                     f"logs in {stack.airflow_home / 'logs'}")


@contextmanager
def local_stack(settings: Settings, *, ui_port: int | None = None,
                env_extra: Mapping[str, str] | None = None,
                startup_timeout: float = 300.0, stop_timeout: float = 20.0) -> Iterator[Stack]:
    """Warehouse, feeds and the four Airflow services, up until the ``with`` block ends.

    ``ui_port`` defaults to ``settings.ui_port``; ``env_extra`` is added to the services'
    environment last (e.g. ``AIRFLOW__CORE__PARALLELISM``). The warehouse comes from
    the caller's ``AIRFLOW_CONN_CORRIDOR_WAREHOUSE`` or is the embedded one under the
    home, initialised as ``corridor run`` does (:func:`corridor.cli.ensure_warehouse`);
    the services get the four role connections (``AIRFLOW_CONN_CORRIDOR_WAREHOUSE_<ROLE>``,
    the caller's or those :func:`corridor.config.get_warehouse_dsn` derives), never the
    admin one. Feeds likewise from ``AIRFLOW_CONN_CORRIDOR_*``.
    """
    from corridor.cli import ensure_warehouse

    ui_port = ui_port or settings.ui_port
    env = airflow_up_env(settings, ui_port=ui_port)
    home = Path(env["AIRFLOW_HOME"])
    logs_dir = home / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    base_url = f"http://{UI_HOST}:{ui_port}"
    with socket.socket() as probe:
        if probe.connect_ex((UI_HOST, ui_port)) == 0:
            raise StackError(f"{UI_HOST}:{ui_port} is in use (set CORRIDOR_UI_PORT)")

    with ExitStack() as stack:
        warehouse = ensure_warehouse(settings)  # sets os.environ's URI if embedded
        service_env = {**os.environ, **settings_env(settings), **env, **(env_extra or {})}
        # the caller's interpreter and package, for the services and the tasks they start
        service_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                               service_env.get("PATH", os.defpath)])
        service_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_DIR / "plugins"), service_env.get("PYTHONPATH")) if p)
        service_env = role_connections_env(service_env)
        feeds, simulator_url = ensure_feed_connections(settings, service_env,
                                                       logs_dir / "simulator.log", stack)
        log.info("warehouse: %s; feeds: %s", warehouse, feeds)

        password_file = ensure_password(home / PASSWORDS_FILE)
        migrate_log = logs_dir / "db-migrate.log"
        with migrate_log.open("ab") as handle:
            migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"],
                                      env=service_env, stdout=handle, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=PROJECT_DIR)
        if migrated.returncode:
            raise StackError(f"airflow db migrate failed; see {migrate_log}\n{_tail(migrate_log)}")

        result = Stack(base_url=base_url, airflow_home=home, password_file=password_file,
                       logs={name: logs_dir / f"{name}.log" for name in SERVICES},
                       warehouse=warehouse, simulator_url=simulator_url, env=service_env)
        result.logs["simulator"] = logs_dir / "simulator.log"
        for name in SERVICES:
            argv = [sys.executable, "-m", "airflow", name]
            if name == "api-server":
                argv += ["--host", UI_HOST, "--port", str(ui_port)]
            if name in ("scheduler", "triggerer"):
                # task and trigger logs are files under the home that the api-server
                # reads itself; serve-logs would listen on every interface
                argv.append("--skip-serve-logs")
            process = _spawn(argv, service_env, result.logs[name])
            result.processes[name] = process
            stack.callback(stop_process, process, stop_timeout)
        _wait_healthy(result, startup_timeout)
        yield result
