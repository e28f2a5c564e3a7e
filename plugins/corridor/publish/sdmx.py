"""SDMX part of a release: the structure message and one SDMX-CSV 2.0 file per dataset.

The structure (``structure.xml``, SDMX-ML 2.1) and the data files are both derived from
the DSDs built here with sdmx1, so the column IDs of the data can never drift from the
structure consumers validate against. Code lists are read from the dbt seeds at call
time: a new partner country, port or crossing point needs no code change, and the
indicator code lists are the indicator catalogue (seed ``ref_indicators``).

Every name is given in each of ``LANGUAGES`` (en, ru, kk; spec/indicators.md
"Languages"): countries by CLDR (``corridor.reference.country_names``), indicators by
their catalogue, everything else by the label seed ``ref_labels``. A code with no label
row fails the release with a message naming it, instead of publishing it unnamed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sdmx
from sdmx.format.csv import v2 as sdmx_csv_v2
from sdmx.message import Header, StructureMessage
from sdmx.model import common, v21

from corridor.config import PROJECT_DIR
from corridor.feeds.ports import CARGO_TYPES
from corridor.publish.datasets import Dataset
from corridor.reference import Labels, country_names, indicator_codes, indicators, labels, read_seed

AGENCY_ID = "CORRIDOR"
CONCEPT_SCHEME = "CS_CORRIDOR"
VERSION = "1.0.0"
#: SDMX fixes an agency scheme's ID and version.
AGENCY_SCHEME, AGENCY_SCHEME_VERSION = "AGENCIES", "1.0"
#: Dataflow ID of each published dataset (``Dataset.name``).
DATAFLOWS: dict[str, str] = {
    "bilateral_trade": "DF_BILATERAL_TRADE",
    "corridor_logistics": "DF_CORRIDOR_LOGISTICS",
}
#: The structure belongs to dataflow version 1.0.0, not to a run: a fixed ``Prepared``
#: keeps structure.xml byte-identical between releases with the same code lists.
PREPARED = datetime(2025, 1, 1, tzinfo=UTC)

#: Codes that are not rows of a seed of their own: the world partner and the totals.
WORLD = "W00"
TOTAL = "_T"


def _seed(name: str) -> list[dict[str, str]]:
    return read_seed(name, PROJECT_DIR)


def _indicator_names(dataset: str) -> dict[str, dict[str, str]]:
    """The dataset's indicator codes and names, from the indicator catalogue."""
    return {code: indicators()[code].names for code in indicator_codes(dataset)}


def _codelist(cl_id: str, name: dict[str, str],
              codes: dict[str, dict[str, str]]) -> common.Codelist:
    codelist = common.Codelist(id=cl_id, name=name, **_maintained())
    for code_id, names in codes.items():
        codelist.append(common.Code(id=code_id, name=names))
    return codelist


def _maintained() -> dict:
    return {"maintainer": common.Agency(id=AGENCY_ID), "version": VERSION, "is_final": True}


def build_codelists(label: Labels | None = None) -> dict[str, common.Codelist]:
    """Every code list of both DSDs, by code list ID, named in every language; the seeds
    are read now. Countries are CLDR's names; every other name is a row of ref_labels
    (the indicators': ref_indicators)."""
    label = label or labels(PROJECT_DIR)
    nodes = [*(row["locode"] for row in _seed("ref_caspian_ports")),
             *(row["point"] for row in _seed("ref_rail_crossings")),
             *(row["corridor"] for row in _seed("ref_corridors"))]
    chapters = [f"{n:02d}" for n in range(1, 100)]

    def named(scheme: str, codes: list[str]) -> dict[str, dict[str, str]]:
        return {code: label(scheme, code) for code in codes}

    codes = {
        "CL_FREQ": label.scheme("CL_FREQ"),
        "CL_AREA": {**country_names(PROJECT_DIR), **named("CL_AREA", [WORLD])},
        "CL_TRADE_INDICATOR": _indicator_names("bilateral_trade"),
        "CL_COMMODITY": named("CL_COMMODITY", [*chapters, TOTAL]),
        "CL_NODE": named("CL_NODE", nodes),
        "CL_LOGISTICS_INDICATOR": _indicator_names("corridor_logistics"),
        "CL_DIRECTION": label.scheme("CL_DIRECTION"),
        "CL_CARGO": named("CL_CARGO", [*CARGO_TYPES, TOTAL]),
        "CL_UNIT_MEASURE": label.scheme("CL_UNIT_MEASURE"),
        "CL_OBS_STATUS": label.scheme("CL_OBS_STATUS"),
    }
    return {cl_id: _codelist(cl_id, label("CODELIST", cl_id), names)
            for cl_id, names in codes.items()}


#: The concepts of both DSDs (their names: ref_labels, scheme CONCEPT).
CONCEPTS = ("FREQ", "REF_AREA", "COUNTERPART_AREA", "INDICATOR", "COMMODITY", "NODE",
            "DIRECTION", "CARGO", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "OBS_STATUS")
#: Per dataflow: its DSD ID and coded dimensions (ID -> code list ID), in key order;
#: TIME_PERIOD always comes last.
STRUCTURES = {
    "DF_BILATERAL_TRADE": ("DSD_BILATERAL_TRADE", {
        "FREQ": "CL_FREQ", "REF_AREA": "CL_AREA", "COUNTERPART_AREA": "CL_AREA",
        "INDICATOR": "CL_TRADE_INDICATOR", "COMMODITY": "CL_COMMODITY"}),
    "DF_CORRIDOR_LOGISTICS": ("DSD_CORRIDOR_LOGISTICS", {
        "FREQ": "CL_FREQ", "NODE": "CL_NODE", "INDICATOR": "CL_LOGISTICS_INDICATOR",
        "DIRECTION": "CL_DIRECTION", "CARGO": "CL_CARGO"}),
}
#: Observation-level attributes of both DSDs.
ATTRIBUTES = {"UNIT_MEASURE": "CL_UNIT_MEASURE", "OBS_STATUS": "CL_OBS_STATUS"}
#: Text formats of the uncoded components.
UNCODED = {"TIME_PERIOD": common.FacetValueType.observationalTimePeriod,
           "OBS_VALUE": common.FacetValueType.decimal}


def _dsd(dsd_id: str, name: dict[str, str], dimensions: dict[str, str],
         codelists: dict[str, common.Codelist],
         concepts: common.ConceptScheme) -> v21.DataStructureDefinition:
    """A DSD: the coded dimensions, TIME_PERIOD, OBS_VALUE, the observation attributes."""
    dsd = v21.DataStructureDefinition(id=dsd_id, name=name, **_maintained())
    # SDMX-ML 2.1 fixes these IDs; sdmx1 would otherwise write empty ones
    dsd.dimensions.id = "DimensionDescriptor"
    dsd.attributes.id = "AttributeDescriptor"
    dsd.measures.id = "MeasureDescriptor"
    coded = {**dimensions, **ATTRIBUTES}

    def component(cls: type, component_id: str, **kwargs) -> common.Component:
        if component_id in coded:
            representation = common.Representation(enumerated=codelists[coded[component_id]])
        else:
            representation = common.Representation(
                non_enumerated=[common.Facet(value_type=UNCODED[component_id])])
        return cls(id=component_id, concept_identity=concepts[component_id],
                   local_representation=representation, **kwargs)

    for dimension_id in dimensions:
        dsd.dimensions.append(component(common.Dimension, dimension_id))
    dsd.dimensions.append(component(common.TimeDimension, "TIME_PERIOD"))
    dsd.measures.append(component(v21.PrimaryMeasure, "OBS_VALUE"))
    for attribute_id in ATTRIBUTES:
        dsd.attributes.append(component(
            common.DataAttribute, attribute_id, related_to=v21.PrimaryMeasureRelationship(),
            usage_status=common.UsageStatus.mandatory))
    return dsd


def build_structure() -> StructureMessage:
    """The SDMX-ML 2.1 structure message: dataflows, DSDs, concepts and code lists."""
    label = labels(PROJECT_DIR)
    codelists = build_codelists(label)
    concepts = common.ConceptScheme(id=CONCEPT_SCHEME,
                                    name=label("CONCEPT_SCHEME", CONCEPT_SCHEME),
                                    **_maintained())
    for concept_id in CONCEPTS:
        concepts.append(common.Concept(id=concept_id, name=label("CONCEPT", concept_id)))
    message = StructureMessage(header=Header(id="CORRIDOR_STRUCTURE", prepared=PREPARED,
                                             sender=common.Agency(id=AGENCY_ID)))
    for dataflow_id, (dsd_id, dimensions) in STRUCTURES.items():
        dsd = _dsd(dsd_id, label("DSD", dsd_id), dimensions, codelists, concepts)
        message.add(dsd)
        message.add(v21.DataflowDefinition(id=dataflow_id, name=label("DATAFLOW", dataflow_id),
                                           structure=dsd, **_maintained()))
    for codelist in codelists.values():
        message.add(codelist)
    message.add(concepts)
    message.add(_agencies(label))
    return message


def _agencies(label: Labels) -> common.AgencyScheme:
    """The agency scheme that names the agency (SDMX-ML references a maintainer by ID
    only; its names live here)."""
    scheme = common.AgencyScheme(id=AGENCY_SCHEME, name=label("AGENCY_SCHEME", AGENCY_SCHEME),
                                 maintainer=common.Agency(id=AGENCY_ID),
                                 version=AGENCY_SCHEME_VERSION, is_final=True)
    scheme.append(common.Agency(id=AGENCY_ID, name=label("AGENCY", AGENCY_ID)))
    return scheme


def write_structure(path: Path) -> None:
    """Write structure.xml; the same code lists always give the same bytes."""
    path.write_bytes(sdmx.to_xml(build_structure(), pretty_print=True))


def _check_rows(dataset: Dataset, dsd: v21.DataStructureDefinition,
                rows: list[tuple[str, ...]]) -> None:
    """Raise ValueError on a malformed row or a value missing from its code list.

    sdmx1's SDMX-CSV reader does not check codes, so a consumer would read such a value
    without complaint; refusing it here keeps structure and data consistent.
    """
    width = len(dataset.columns)
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(f"{dataset.name}: row {number} has {len(row)} values, not {width}")
    for component in (*dsd.dimensions.components, *dsd.attributes.components):
        codelist = component.local_representation.enumerated
        if codelist is None:
            continue
        column = dataset.columns.index(component.id.lower())
        codes = {code.id for code in codelist}
        for number, row in enumerate(rows, start=1):
            if row[column] not in codes:
                raise ValueError(
                    f"{dataset.name}: row {number}: {component.id} value {row[column]!r} "
                    f"is not in code list {codelist.id}")


def write_sdmx_csv(path: Path, dataset: Dataset, rows: list[tuple[str, ...]]) -> None:
    """Write the plain rows as SDMX-CSV 2.0: same order, every value the same text.

    Columns are the DSD's components; each maps to the plain column of the same name in
    lower case (``REF_AREA`` ↔ ``ref_area``).
    """
    dataflow = build_structure().dataflow[DATAFLOWS[dataset.name]]
    dsd = dataflow.structure
    sdmx_columns = [c.id.lower() for c in (*dsd.dimensions.components,
                                           *dsd.measures.components,
                                           *dsd.attributes.components)]
    if sdmx_columns != list(dataset.columns):
        raise ValueError(f"{dataset.name}: columns {dataset.columns} do not match {dsd.id}")
    _check_rows(dataset, dsd, rows)

    key_width = len(dataset.key)
    dimension_ids = [dimension.id for dimension in dsd.dimensions.components]
    attributes = dsd.attributes.components
    observations = [
        v21.Observation(
            dimension=v21.Key(dict(zip(dimension_ids, row[:key_width], strict=True)),
                              described_by=dsd.dimensions),
            value=row[key_width],
            attached_attribute={
                attribute.id: v21.AttributeValue(value=value, value_for=attribute)
                for attribute, value in zip(attributes, row[key_width + 1:], strict=True)})
        for row in rows
    ]
    data = v21.DataSet(described_by=dataflow, structured_by=dsd, obs=observations)
    # dtype=None keeps OBS_VALUE as the published text instead of a float64
    frame = sdmx.to_csv(data, rtype=pd.DataFrame,
                        format_options=sdmx_csv_v2.FormatOptions(), attributes="o", dtype=None)
    # sdmx1's own path= output uses the platform line end; the release uses LF
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
