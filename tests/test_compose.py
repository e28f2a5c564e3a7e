"""docker-compose.yml cannot run here (no Docker engine): check it statically."""

from __future__ import annotations

import yaml

from corridor.config import PROJECT_DIR

COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer")


def test_services_present():
    services = COMPOSE["services"]
    for name in ("postgres", "simulator", "airflow-init", *AIRFLOW_SERVICES):
        assert name in services, name
    assert [services[name]["command"][0] for name in AIRFLOW_SERVICES] == [
        "api-server", "scheduler", "dag-processor", "triggerer"]


def test_bind_mounts_reference_real_paths():
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            # ./published is an output folder: Docker creates it on first start
            if source.startswith(".") and source != "./published":
                assert (PROJECT_DIR / source).exists(), f"{name}: {source} does not exist"
    if "build" in COMPOSE["services"]["airflow-scheduler"]:
        assert (PROJECT_DIR / "Dockerfile").exists()


def test_airflow_points_at_the_mounted_project():
    env = COMPOSE["services"]["airflow-scheduler"]["environment"]
    mounts = {v.split(":")[1]: v.split(":")[0]
              for v in COMPOSE["services"]["airflow-scheduler"]["volumes"]}
    assert mounts[env["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags"
    assert mounts[env["AIRFLOW__CORE__PLUGINS_FOLDER"]] == "./plugins"
    assert mounts[env["CORRIDOR_DBT_PROJECT_DIR"]] == "./dbt_project"
    assert mounts[env["CORRIDOR_GX_CONTEXT_DIR"]] == "./expectations"
    for conn in ("WAREHOUSE_LOADER", "WAREHOUSE_TRANSFORMER", "WAREHOUSE_GATE",
                 "WAREHOUSE_PUBLISHER", "RU_CUSTOMS", "KZ_CUSTOMS", "COMTRADE", "PORTS", "RAIL"):
        assert f"AIRFLOW_CONN_CORRIDOR_{conn}" in env


def test_only_airflow_init_has_the_admin_connection_and_initialises_the_roles():
    services = COMPOSE["services"]
    init = services["airflow-init"]
    assert "AIRFLOW_CONN_CORRIDOR_WAREHOUSE" in init["environment"]
    assert "corridor warehouse init" in init["command"][-1]
    for name in AIRFLOW_SERVICES:
        assert "AIRFLOW_CONN_CORRIDOR_WAREHOUSE" not in services[name]["environment"], name
    for role in ("loader", "transformer", "gate", "publisher"):
        uri = services["airflow-scheduler"]["environment"][
            f"AIRFLOW_CONN_CORRIDOR_WAREHOUSE_{role.upper()}"]
        assert uri.startswith(f"postgresql://corridor_{role}:${{")  # no password in the file


def test_simulator_command_is_a_real_cli_command():
    from typer.testing import CliRunner

    from corridor.cli import app

    command = COMPOSE["services"]["simulator"]["command"]
    assert command[0] == "corridor"
    result = CliRunner().invoke(app, [*command[1:2], "--help"])
    assert result.exit_code == 0, result.output
    for option in command[2:]:
        if option.startswith("--"):
            assert option in result.output


def test_the_consumer_api_serves_the_published_root_read_only():
    api = COMPOSE["services"]["corridor-api"]
    assert api["command"][:2] == ["corridor", "serve"]
    assert "./published:/opt/corridor/published:ro" in api["volumes"]
    assert api["environment"]["CORRIDOR_PUBLISH_DIR"] == "/opt/corridor/published"
    assert all(port.startswith("127.0.0.1:") for port in api["ports"])
    from typer.testing import CliRunner

    from corridor.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--host" in result.output and "--port" in result.output
