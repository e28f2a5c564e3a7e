from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import sdmx

from corridor.config import PROJECT_DIR
from corridor.publish import sdmx as publish_sdmx
from corridor.publish.datasets import DATASETS, Dataset

SEEDS = PROJECT_DIR / "dbt_project" / "seeds"
BILATERAL, LOGISTICS = DATASETS

BILATERAL_ROWS = [
    ("A", "KAZ", "W00", "X_USD", "_T", "2024", "123456789012.34", "USD", "A"),
    ("A", "KAZ", "W00", "X_YOY_PCT", "_T", "2024", "-0.0400", "PCT", "P"),
    ("M", "KAZ", "CHN", "BALANCE_USD", "_T", "2024-01", "-1500000.00", "USD", "P"),
    ("M", "KAZ", "CHN", "X_USD", "01", "2024-01", "0.00", "USD", "A"),
    ("M", "KAZ", "CHN", "X_USD", "99", "2024-01", "0.10", "USD", "A"),
    ("M", "KAZ", "RUS", "PARTNER_SHARE_PCT", "_T", "2024-01", "12.3457", "PCT", "A"),
    ("M", "RUS", "KAZ", "ASYM_X_PCT", "_T", "2024-12", "-200.0000", "PCT", "A"),
    ("M", "RUS", "TUR", "HHI_X", "_T", "2024-12", "0.1234", "IDX", "A"),
    ("M", "RUS", "W00", "GL_IIT", "_T", "2024-12", "1.0000", "IDX", "P"),
    ("M", "RUS", "W00", "M_USD", "27", "2024-12", "0.01", "USD", "P"),
]
LOGISTICS_ROWS = [
    ("A", "KZAAU", "PORT_T", "_T", "_T", "2024", "150.001", "T", "P"),
    ("M", "KZAAU", "PORT_T", "LOAD", "container", "2024-01", "0.000", "T", "A"),
    ("M", "KZAAU", "PORT_TEU", "DISCH", "container", "2024-01", "38", "TEU", "A"),
    ("M", "KZAAU", "PORT_CALLS", "_T", "_T", "2024-01", "0", "NUM", "A"),
    ("M", "KZKUR", "PORT_T", "DISCH", "ro_ro", "2024-02", "12.500", "T", "P"),
    ("M", "KZKUR", "PORT_T", "_T", "liquid_bulk", "2024-02", "98765432.125", "T", "P"),
    ("M", "KZKUR", "PORT_STAY_H", "_T", "_T", "2024-02", "30.13", "H", "P"),
    ("M", "DOSTYK", "RAIL_WAGONS", "IN", "_T", "2024-01", "0", "NUM", "A"),
    ("M", "DOSTYK", "RAIL_TEU", "OUT", "_T", "2024-01", "4", "TEU", "A"),
    ("M", "DOSTYK", "RAIL_TRANSIT_T", "_T", "_T", "2024-01", "-0.001", "T", "A"),
    ("M", "TITR", "CORRIDOR_NODE_T", "_T", "_T", "2024-01", "1234.000", "T", "P"),
]
CASES = [pytest.param(BILATERAL, BILATERAL_ROWS, id="bilateral_trade"),
         pytest.param(LOGISTICS, LOGISTICS_ROWS, id="corridor_logistics")]


@pytest.fixture(scope="module")
def structure_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("release") / "structure.xml"
    publish_sdmx.write_structure(path)
    return path


def seed_column(name: str, column: str) -> set[str]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle)}


def codes(structure_path: Path, dataflow_id: str, component_id: str) -> set[str]:
    dsd = sdmx.read_sdmx(structure_path).dataflow[dataflow_id].structure
    component = (dsd.dimensions.get(component_id) if component_id in dsd.dimensions
                 else dsd.attributes.get(component_id))
    return {code.id for code in component.local_representation.enumerated}


def read_back(structure_path: Path, csv_path: Path, dataflow_id: str) -> list[tuple[str, ...]]:
    """The spec's check, as a consumer runs it; observations as plain-CSV tuples."""
    dataflow = sdmx.read_sdmx(structure_path).dataflow[dataflow_id]
    message = sdmx.read_sdmx(csv_path, structure=dataflow)
    dsd = dataflow.structure
    [data] = message.data
    return [(*(obs.dimension.values[d.id].value for d in dsd.dimensions.components),
             obs.value,
             *(obs.attached_attribute[a.id].value for a in dsd.attributes.components))
            for obs in data.obs]


@pytest.mark.parametrize(("dataset", "rows"), CASES)
def test_sdmx_csv_reads_back_as_the_plain_rows(
        structure_path: Path, tmp_path: Path, dataset: Dataset, rows: list) -> None:
    path = tmp_path / f"{dataset.name}.sdmx.csv"
    publish_sdmx.write_sdmx_csv(path, dataset, rows)
    dataflow_id = publish_sdmx.DATAFLOWS[dataset.name]
    assert read_back(structure_path, path, dataflow_id) == rows


@pytest.mark.parametrize(("dataset", "rows", "columns"), [
    (BILATERAL, BILATERAL_ROWS, "FREQ,REF_AREA,COUNTERPART_AREA,INDICATOR,COMMODITY,"
                                "TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS"),
    (LOGISTICS, LOGISTICS_ROWS, "FREQ,NODE,INDICATOR,DIRECTION,CARGO,"
                                "TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS"),
], ids=["bilateral_trade", "corridor_logistics"])
def test_sdmx_csv_header_fixed_columns_and_encoding(
        tmp_path: Path, dataset: Dataset, rows: list, columns: str) -> None:
    path = tmp_path / f"{dataset.name}.sdmx.csv"
    publish_sdmx.write_sdmx_csv(path, dataset, rows)
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in raw and raw.endswith(b"\n")
    header, *lines = raw.decode("utf-8").splitlines()
    assert header == f"STRUCTURE,STRUCTURE_ID,ACTION,{columns}"
    prefix = f"dataflow,CORRIDOR:{publish_sdmx.DATAFLOWS[dataset.name]}(1.0.0),I,"
    assert [line.removeprefix(prefix) for line in lines] == [",".join(row) for row in rows]


def test_empty_dataset_is_the_header_alone(tmp_path: Path) -> None:
    path = tmp_path / "corridor_logistics.sdmx.csv"
    publish_sdmx.write_sdmx_csv(path, LOGISTICS, [])
    assert path.read_text(encoding="utf-8") == (
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,NODE,INDICATOR,DIRECTION,CARGO,"
        "TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS\n")


def test_structure_ids_match_the_spec(structure_path: Path) -> None:
    message = sdmx.read_sdmx(structure_path)
    expected = {
        "DF_BILATERAL_TRADE": ("DSD_BILATERAL_TRADE", ["FREQ", "REF_AREA", "COUNTERPART_AREA",
                                                       "INDICATOR", "COMMODITY", "TIME_PERIOD"]),
        "DF_CORRIDOR_LOGISTICS": ("DSD_CORRIDOR_LOGISTICS", ["FREQ", "NODE", "INDICATOR",
                                                             "DIRECTION", "CARGO",
                                                             "TIME_PERIOD"]),
    }
    assert sorted(message.dataflow) == sorted(expected)
    for dataflow_id, (dsd_id, dimensions) in expected.items():
        dataflow = message.dataflow[dataflow_id]
        dsd = dataflow.structure
        assert (dataflow.maintainer.id, dataflow.version) == ("CORRIDOR", "1.0.0")
        assert (dsd.id, dsd.maintainer.id, dsd.version) == (dsd_id, "CORRIDOR", "1.0.0")
        assert [d.id for d in dsd.dimensions.components] == dimensions
        assert [m.id for m in dsd.measures.components] == ["OBS_VALUE"]
        assert [a.id for a in dsd.attributes.components] == ["UNIT_MEASURE", "OBS_STATUS"]
        assert dsd.dimensions.get("TIME_PERIOD").local_representation.enumerated is None


def test_codelists_are_complete(structure_path: Path) -> None:
    areas = seed_column("ref_countries", "iso3") | {"W00"}
    assert codes(structure_path, "DF_BILATERAL_TRADE", "REF_AREA") >= areas
    assert codes(structure_path, "DF_BILATERAL_TRADE", "COUNTERPART_AREA") >= areas
    assert codes(structure_path, "DF_BILATERAL_TRADE", "COMMODITY") == (
        {f"{chapter:02d}" for chapter in range(1, 100)} | {"_T"})
    nodes = (seed_column("ref_caspian_ports", "locode")
             | seed_column("ref_rail_crossings", "point")
             | seed_column("ref_corridors", "corridor"))
    assert codes(structure_path, "DF_CORRIDOR_LOGISTICS", "NODE") == nodes
    assert codes(structure_path, "DF_CORRIDOR_LOGISTICS", "DIRECTION") == {
        "LOAD", "DISCH", "IN", "OUT", "_T"}
    assert codes(structure_path, "DF_CORRIDOR_LOGISTICS", "CARGO") == {
        "container", "dry_bulk", "liquid_bulk", "general", "ro_ro", "_T"}
    for dataflow_id in publish_sdmx.DATAFLOWS.values():
        assert codes(structure_path, dataflow_id, "FREQ") == {"M", "A"}
        assert codes(structure_path, dataflow_id, "UNIT_MEASURE") == {
            "USD", "PCT", "IDX", "T", "H", "NUM", "TEU"}
        assert codes(structure_path, dataflow_id, "OBS_STATUS") == {"A", "P"}


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda dataset: dataset.name)
def test_every_code_the_mart_writes_is_in_a_codelist(structure_path: Path,
                                                     dataset: Dataset) -> None:
    # Upper-case literals of the mart SQL are its indicators, units, statuses, FREQ, _T.
    sql = (PROJECT_DIR / "dbt_project" / "models" / "marts"
           / f"{dataset.mart.split('.')[1]}.sql").read_text(encoding="utf-8")
    literals = set(re.findall(r"'([A-Z_][A-Z0-9_]*)'", sql))
    dataflow_id = publish_sdmx.DATAFLOWS[dataset.name]
    known = set().union(*(codes(structure_path, dataflow_id, column.upper())
                          for column in (*dataset.key[:-1], *dataset.columns[-2:])))
    assert literals and literals <= known, literals - known


def copy_of_the_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seeds = tmp_path / "dbt_project" / "seeds"
    shutil.copytree(SEEDS, seeds)
    monkeypatch.setattr(publish_sdmx, "PROJECT_DIR", tmp_path)
    return seeds


def append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def test_codelists_follow_the_seeds_without_code_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = copy_of_the_seeds(tmp_path, monkeypatch)
    append(seeds / "ref_countries.csv", "XK,XKX,999,Kosovo,Косово,false")
    append(seeds / "ref_rail_crossings.csv", "NEWPOINT,New – Crossing,New,CN,CR,TITR")
    append(seeds / "ref_labels.csv", "CL_NODE,NEWPOINT,New – Crossing,Новый,Жаңа")
    codelists = publish_sdmx.build_codelists()
    assert codelists["CL_AREA"]["XKX"].name.localizations == {
        "en": "Kosovo", "ru": "Косово", "kk": "Косово"}
    assert codelists["CL_NODE"]["NEWPOINT"].name.localizations == {
        "en": "New – Crossing", "ru": "Новый", "kk": "Жаңа"}


def test_a_code_without_names_is_refused_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = copy_of_the_seeds(tmp_path, monkeypatch)
    append(seeds / "ref_rail_crossings.csv", "NEWPOINT,New – Crossing,New,CN,CR,TITR")
    with pytest.raises(KeyError, match="ref_labels has no names for CL_NODE 'NEWPOINT'"):
        publish_sdmx.build_codelists()


def test_every_name_is_in_english_russian_and_kazakh(structure_path: Path) -> None:
    """The spec's "Languages", read back as a consumer does (sdmx1)."""
    message = sdmx.read_sdmx(structure_path)
    named = [*message.organisation_scheme.values(), *message.dataflow.values(),
             *message.structure.values(), *message.concept_scheme.values(),
             *message.codelist.values()]
    named += [item for scheme in (*message.organisation_scheme.values(),
                                  *message.concept_scheme.values(),
                                  *message.codelist.values())
              for item in scheme]
    assert {"AGENCIES", "CORRIDOR", "CS_CORRIDOR", "DSD_BILATERAL_TRADE"} <= {
        item.id for item in named}
    unnamed = [(item.id, language) for item in named for language in ("en", "ru", "kk")
               if not (item.name.localizations.get(language) or "").strip()]
    assert not unnamed
    # nothing left in English: no Russian or Kazakh name is the English one
    untranslated = [item.id for item in named
                    if item.name.localizations["en"] in (item.name.localizations["ru"],
                                                         item.name.localizations["kk"])]
    assert not untranslated


def test_country_names_are_cldrs(structure_path: Path) -> None:
    areas = sdmx.read_sdmx(structure_path).codelist["CL_AREA"]
    assert areas["KAZ"].name.localizations == {
        "en": "Kazakhstan", "ru": "Казахстан", "kk": "Қазақстан"}
    assert areas["RUS"].name.localizations == {"en": "Russia", "ru": "Россия", "kk": "Ресей"}
    assert areas["CHN"].name.localizations["kk"] == "Қытай"


def test_structure_is_byte_identical_on_two_writes(tmp_path: Path) -> None:
    first, second = tmp_path / "first.xml", tmp_path / "second.xml"
    publish_sdmx.write_structure(first)
    publish_sdmx.write_structure(second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(("dataset", "column", "value"), [
    (BILATERAL, "COUNTERPART_AREA", "XXX"),
    (BILATERAL, "COMMODITY", "1"),
    (BILATERAL, "INDICATOR", "PORT_T"),
    (LOGISTICS, "NODE", "KZXXX"),
    (LOGISTICS, "CARGO", "bulk"),
    (LOGISTICS, "OBS_STATUS", "F"),
], ids=lambda value: value.name if isinstance(value, Dataset) else value)
def test_code_missing_from_a_codelist_is_refused(
        tmp_path: Path, dataset: Dataset, column: str, value: str) -> None:
    rows = BILATERAL_ROWS if dataset is BILATERAL else LOGISTICS_ROWS
    index = dataset.columns.index(column.lower())
    bad = [*rows[:2], (*rows[2][:index], value, *rows[2][index + 1:]), *rows[3:]]
    path = tmp_path / f"{dataset.name}.sdmx.csv"
    with pytest.raises(ValueError, match=rf"{dataset.name}: row 3: {column} value '{value}'"):
        publish_sdmx.write_sdmx_csv(path, dataset, bad)
    assert not path.exists()


def test_row_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bilateral_trade: row 1 has 8 values, not 9"):
        publish_sdmx.write_sdmx_csv(tmp_path / "x.sdmx.csv", BILATERAL,
                                    [BILATERAL_ROWS[0][:-1]])
