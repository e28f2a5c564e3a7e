"""``dbt source freshness`` as the publish runs it (corridor.transform.source_freshness):
every source passes on fresh loads, a feed past warn_after is a warning for the
manifest, one past error_after fails the gate."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from corridor.config import PROJECT_DIR, Settings, WarehouseDsn
from corridor.quality.gate import QualityGateFailed
from corridor.transform import SourcesStale, source_freshness

RAW_SCHEMA = PROJECT_DIR / "plugins" / "corridor" / "load" / "raw_schema.sql"
RAW_FIXTURE = Path(__file__).with_name("raw_fixture.sql")
SOURCES = ["comtrade.comtrade_reporting", "comtrade.comtrade_rows",
           "kz_customs.kz_customs_rows", "ports.port_calls", "ports.port_cargo_lines",
           "rail.rail_consignments", "raw.loaded_units", "ru_customs.ru_customs_rows"]


@pytest.fixture()
def loaded(fresh_database: WarehouseDsn, tmp_path: Path) -> tuple[Settings, WarehouseDsn]:
    """The dbt tests' raw fixture loaded just now, every port synced just now."""
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        conn.execute(RAW_SCHEMA.read_text())
        conn.execute(RAW_FIXTURE.read_text())
        conn.execute("insert into raw.port_sync_state (port, high_water_mark) "
                     "values ('KZAAU', null)")
    settings = Settings(home_dir=tmp_path / "home", period_from="2024-01", period_to="2024-12")
    return settings, fresh_database


def _age_loads(dsn: WarehouseDsn, feed: str, days: int) -> None:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        conn.execute("update raw.loaded_units set loaded_at = now() - make_interval(days => %s) "
                     "where feed = %s", (days, feed))


def test_fresh_loads_pass_every_source(loaded):
    freshness = source_freshness(*loaded)
    assert [f["source"] for f in freshness] == SOURCES
    assert {f["status"] for f in freshness} == {"pass"}
    assert all(f["max_loaded_at"] for f in freshness)


def test_a_feed_past_warn_after_is_a_warning(loaded):
    settings, dsn = loaded
    _age_loads(dsn, "ru_customs", 40)
    status = {f["source"]: f["status"] for f in source_freshness(settings, dsn)}
    assert status.pop("ru_customs.ru_customs_rows") == "warn"
    assert set(status.values()) == {"pass"}


def test_a_feed_past_error_after_fails_the_gate(loaded):
    settings, dsn = loaded
    _age_loads(dsn, "kz_customs", 70)
    with pytest.raises(SourcesStale, match="kz_customs.kz_customs_rows: error") as failed:
        source_freshness(settings, dsn)
    assert isinstance(failed.value, QualityGateFailed)
    assert failed.value.summary["success"] is False
