"""SDMX part of a release: the structure message and one SDMX-CSV 2.0 file per dataset.

The structure (``structure.xml``, SDMX-ML 2.1) and the data files are both derived from
the DSDs built here with sdmx1, so the column IDs of the data can never drift from the
structure consumers validate against. Code lists are read from the dbt seeds at call
time: a new partner country, port or crossing point needs no code change.
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import sdmx
from sdmx.message import Header, StructureMessage
from sdmx.model import common, v21

from corridor.config import PROJECT_DIR
from corridor.feeds.ports import CARGO_TYPES
from corridor.publish.datasets import Dataset, write_csv

AGENCY_ID = "CORRIDOR"
VERSION = "1.0.0"
#: Dataflow ID of each published dataset (``Dataset.name``).
DATAFLOWS: dict[str, str] = {
    "bilateral_trade": "DF_BILATERAL_TRADE",
    "corridor_logistics": "DF_CORRIDOR_LOGISTICS",
}
#: The structure belongs to dataflow version 1.0.0, not to a run: a fixed ``Prepared``
#: keeps structure.xml byte-identical between releases with the same code lists.
PREPARED = datetime(2025, 1, 1, tzinfo=timezone.utc)

TRADE_INDICATORS = {
    "X_USD": "Exports reported by the reporter (FOB)",
    "M_USD": "Imports reported by the reporter (CIF)",
    "TURNOVER_USD": "Trade turnover (exports + imports)",
    "BALANCE_USD": "Trade balance (exports - imports)",
    "X_YOY_PCT": "Exports, change on the same period a year earlier",
    "M_YOY_PCT": "Imports, change on the same period a year earlier",
    "TURNOVER_YOY_PCT": "Turnover, change on the same period a year earlier",
    "PARTNER_SHARE_PCT": "Partner share of the reporter's turnover",
    "MIRROR_X_USD": "Partner's reported imports from the reporter",
    "MIRROR_M_USD": "Partner's reported exports to the reporter",
    "ASYM_X_PCT": "Exports mirror asymmetry",
    "ASYM_M_PCT": "Imports mirror asymmetry",
    "HHI_X": "Herfindahl-Hirschman index of exports over HS chapters",
    "GL_IIT": "Grubel-Lloyd intra-industry trade index over HS 6-digit codes",
}
LOGISTICS_INDICATORS = {
    "PORT_T": "Port cargo handled, tonnes",
    "PORT_TEU": "Port container cargo, TEU",
    "PORT_CALLS": "Port calls",
    "PORT_STAY_H": "Mean port stay, hours",
    "RAIL_T": "Rail border crossings, tonnes",
    "RAIL_WAGONS": "Rail border crossings, wagons",
    "RAIL_TEU": "Rail border crossings, TEU",
    "RAIL_TRANSIT_T": "Rail transit through the crossing point, tonnes",
    "CORRIDOR_NODE_T": "Tonnes handled at the corridor's nodes",
}
FREQUENCIES = {"M": "Monthly", "A": "Annual"}
UNITS = {
    "USD": "US dollars", "PCT": "Percent", "IDX": "Index", "T": "Tonnes", "H": "Hours",
    "NUM": "Number", "TEU": "Twenty-foot equivalent units",
}
STATUSES = {"A": "Normal value", "P": "Provisional value"}
DIRECTIONS = {
    "LOAD": "Loaded", "DISCH": "Discharged", "IN": "Inbound", "OUT": "Outbound",
    "_T": "All directions",
}
WORLD = {"W00": "World (all partners)"}
TOTAL = {"_T": "Total"}


def _seed(name: str) -> list[dict[str, str]]:
    path = PROJECT_DIR / "dbt_project" / "seeds" / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _codelist(cl_id: str, name: str, codes: dict[str, str]) -> common.Codelist:
    codelist = common.Codelist(id=cl_id, name=name, **_maintained())
    for code_id, code_name in codes.items():
        codelist.append(common.Code(id=code_id, name=code_name))
    return codelist


def _maintained() -> dict:
    return {"maintainer": common.Agency(id=AGENCY_ID), "version": VERSION, "is_final": True}


def build_codelists() -> dict[str, common.Codelist]:
    """Every code list of both DSDs, keyed by the component ID it represents."""
    countries = {row["iso3"]: row["name_en"] for row in _seed("ref_countries")}
    chapter_names = {row["hs_code"]: row["description"]
                     for row in _seed("ref_hs_products") if row["level"] == "2"}
    chapters = {f"{n:02d}": chapter_names.get(f"{n:02d}", f"HS chapter {n:02d}")
                for n in range(1, 100)}
    nodes = {
        **{row["locode"]: row["name"] for row in _seed("ref_caspian_ports")},
        **{row["point"]: row["name"] for row in _seed("ref_rail_crossings")},
        **{row["corridor"]: row["name"] for row in _seed("ref_corridors")},
    }
    area = _codelist("CL_AREA", "Countries (ISO 3166-1 alpha-3) and world",
                     {**countries, **WORLD})
    return {
        "FREQ": _codelist("CL_FREQ", "Frequency", FREQUENCIES),
        "REF_AREA": area,
        "COUNTERPART_AREA": area,
        "TRADE_INDICATOR": _codelist("CL_TRADE_INDICATOR", "Bilateral trade indicators",
                                     TRADE_INDICATORS),
        "COMMODITY": _codelist("CL_COMMODITY", "HS chapters", {**chapters, **TOTAL}),
        "NODE": _codelist("CL_NODE", "Ports, rail crossing points and corridors", nodes),
        "LOGISTICS_INDICATOR": _codelist("CL_LOGISTICS_INDICATOR",
                                         "Corridor logistics indicators", LOGISTICS_INDICATORS),
        "DIRECTION": _codelist("CL_DIRECTION", "Direction", DIRECTIONS),
        "CARGO": _codelist("CL_CARGO", "Cargo type",
                           {**{cargo: cargo.replace("_", " ").capitalize()
                               for cargo in CARGO_TYPES}, **TOTAL}),
        "UNIT_MEASURE": _codelist("CL_UNIT_MEASURE", "Unit of measure", UNITS),
        "OBS_STATUS": _codelist("CL_OBS_STATUS", "Observation status", STATUSES),
    }


CONCEPTS = {
    "FREQ": "Frequency", "REF_AREA": "Reporting country", "COUNTERPART_AREA": "Partner area",
    "INDICATOR": "Indicator", "COMMODITY": "Commodity (HS chapter)", "NODE": "Transport node",
    "DIRECTION": "Direction", "CARGO": "Cargo type", "TIME_PERIOD": "Time period",
    "OBS_VALUE": "Observation value", "UNIT_MEASURE": "Unit of measure",
    "OBS_STATUS": "Observation status",
}
#: Text formats of the uncoded components.
UNCODED = {"TIME_PERIOD": common.FacetValueType.observationalTimePeriod,
           "OBS_VALUE": common.FacetValueType.decimal}


def _dsd(dsd_id: str, name: str, concepts: common.ConceptScheme,
         coded: dict[str, common.Codelist]) -> v21.DataStructureDefinition:
    """A DSD: the coded dimensions in order, TIME_PERIOD, OBS_VALUE, observation attributes."""
    dsd = v21.DataStructureDefinition(id=dsd_id, name=name, **_maintained())
    # SDMX-ML 2.1 fixes these IDs; sdmx1 would otherwise write an empty one
    dsd.dimensions.id = "DimensionDescriptor"
    dsd.attributes.id = "AttributeDescriptor"
    dsd.measures.id = "MeasureDescriptor"

    def component(cls, component_id: str, **kwargs):
        if component_id in coded:
            representation = common.Representation(enumerated=coded[component_id])
        else:
            representation = common.Representation(
                non_enumerated=[common.Facet(value_type=UNCODED[component_id])])
        return cls(id=component_id, concept_identity=concepts[component_id],
                   local_representation=representation, **kwargs)

    for dimension_id in coded:
        if dimension_id not in ("UNIT_MEASURE", "OBS_STATUS"):
            dsd.dimensions.append(component(common.Dimension, dimension_id))
    dsd.dimensions.append(component(common.TimeDimension, "TIME_PERIOD"))
    dsd.measures.append(component(v21.PrimaryMeasure, "OBS_VALUE"))
    for attribute_id in ("UNIT_MEASURE", "OBS_STATUS"):
        dsd.attributes.append(component(
            common.DataAttribute, attribute_id, related_to=v21.PrimaryMeasureRelationship(),
            usage_status=common.UsageStatus.mandatory))
    return dsd


def build_structure() -> StructureMessage:
    """The SDMX-ML 2.1 structure message: dataflows, DSDs, concepts and code lists."""
    codelists = build_codelists()
    concepts = common.ConceptScheme(id="CS_CORRIDOR", name="Corridor concepts", **_maintained())
    for concept_id, concept_name in CONCEPTS.items():
        concepts.append(common.Concept(id=concept_id, name=concept_name))
    attributes = {key: codelists[key] for key in ("UNIT_MEASURE", "OBS_STATUS")}
    structures = {
        "DF_BILATERAL_TRADE": _dsd("DSD_BILATERAL_TRADE", "Bilateral trade", concepts, {
            **{key: codelists[key] for key in ("FREQ", "REF_AREA", "COUNTERPART_AREA")},
            "INDICATOR": codelists["TRADE_INDICATOR"], "COMMODITY": codelists["COMMODITY"],
            **attributes}),
        "DF_CORRIDOR_LOGISTICS": _dsd("DSD_CORRIDOR_LOGISTICS", "Corridor logistics", concepts, {
            "FREQ": codelists["FREQ"], "NODE": codelists["NODE"],
            "INDICATOR": codelists["LOGISTICS_INDICATOR"],
            **{key: codelists[key] for key in ("DIRECTION", "CARGO")}, **attributes}),
    }
    message = StructureMessage(header=Header(id="CORRIDOR_STRUCTURE", prepared=PREPARED,
                                             sender=common.Agency(id=AGENCY_ID)))
    for dataflow_id, dsd in structures.items():
        message.add(v21.DataflowDefinition(id=dataflow_id, name=dsd.name, structure=dsd,
                                           **_maintained()))
        message.add(dsd)
    for codelist in {id(c): c for c in codelists.values()}.values():
        message.add(codelist)
    message.add(concepts)
    return message


def write_structure(path: Path) -> None:
    """Write structure.xml; the same code lists always give the same bytes."""
    path.write_bytes(sdmx.to_xml(build_structure(), pretty_print=True))
