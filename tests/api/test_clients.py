"""Real SDMX clients, unchanged, read the API: sdmx1 and pysdmx (spec "Consumer API")."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import pysdmx.api.qb as qb
import pysdmx.io
import sdmx
from pysdmx.api.dc.query import LogicalOperator, MultiFilter, Operator, TextFilter

from tests.api.conftest import Api

PARTNERS, INDICATORS, FIRST, LAST = ("RUS", "CHN"), ("X_USD", "M_USD"), "2024-01", "2024-06"


def expected(api: Api) -> set[tuple[str, ...]]:
    """The plain CSV's observations the query selects: key, period, value, unit, status."""
    path = api.published / "releases" / api.release_ids[-1] / "bilateral_trade.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    selected = {tuple(row) for row in rows
                if row[0] == "M" and row[1] == "KAZ" and row[2] in PARTNERS
                and row[3] in INDICATORS and row[4] == "_T" and FIRST <= row[5] <= LAST}
    assert len(selected) == 24
    return selected


def test_sdmx1_reads_a_filtered_key_and_a_period_range(api: Api):
    sdmx.add_source({"id": "CORRIDOR", "url": f"{api.url}/sdmx/2.1", "name": "Corridor",
                     "versions": ["3.0.0"]}, override=True)
    client = sdmx.Client("CORRIDOR")
    headers = {"Authorization": f"Bearer {api.key}"}
    structure = client.dataflow("DF_BILATERAL_TRADE", headers=headers)
    dsd = structure.dataflow["DF_BILATERAL_TRADE"].structure
    message = client.data(
        "DF_BILATERAL_TRADE", dsd=dsd, headers=headers,
        key={"FREQ": "M", "REF_AREA": "KAZ", "COUNTERPART_AREA": list(PARTNERS),
             "INDICATOR": list(INDICATORS), "COMMODITY": "_T"},
        params={"c": f"TIME_PERIOD:ge:{FIRST}+le:{LAST}"})
    [data] = message.data
    got = {(*(obs.dimension.values[d.id].value for d in dsd.dimensions.components),
            str(obs.value), *(obs.attached_attribute[a].value
                              for a in ("UNIT_MEASURE", "OBS_STATUS")))
           for obs in data.obs}
    assert got == expected(api)


def test_sdmx1_reads_every_name_in_english_russian_and_kazakh(api: Api):
    sdmx.add_source({"id": "CORRIDOR", "url": f"{api.url}/sdmx/2.1", "name": "Corridor",
                     "versions": ["3.0.0"]}, override=True)
    structure = sdmx.Client("CORRIDOR").dataflow(
        "DF_CORRIDOR_LOGISTICS", headers={"Authorization": f"Bearer {api.key}"})
    codes = [code for codelist in structure.codelist.values() for code in codelist]
    assert len(codes) > 400
    assert all(set(code.name.localizations) == {"en", "ru", "kk"} for code in codes)
    assert structure.codelist["CL_NODE"]["KZAAU"].name.localizations["kk"] == "Ақтау"


def test_pysdmx_reads_a_filtered_key_and_a_period_range(api: Api):
    # pysdmx builds the URL (SDMX REST 2.1.0) and reads the SDMX-CSV; its RestService
    # has no way to send a key, so httpx fetches the URL it built
    query = qb.DataQuery(
        context=qb.DataContext.DATAFLOW, agency_id="CORRIDOR",
        resource_id="DF_BILATERAL_TRADE", version="1.0.0",
        key=f"M.KAZ.{'+'.join(PARTNERS)}.{'+'.join(INDICATORS)}._T",
        components=MultiFilter([
            TextFilter("TIME_PERIOD", Operator.GREATER_THAN_OR_EQUAL, FIRST),
            TextFilter("TIME_PERIOD", Operator.LESS_THAN_OR_EQUAL, LAST)],
            LogicalOperator.AND))
    url = f"{api.url}/sdmx/2.1{query.get_url(qb.ApiVersion.V2_1_0, True)}"
    response = httpx.get(url, headers={"Authorization": f"Bearer {api.key}",
                                       "Accept": "application/vnd.sdmx.data+csv;"
                                                 "version=2.0.0"}, timeout=30)
    assert response.status_code == 200, response.text
    message = pysdmx.io.read_sdmx(io.BytesIO(response.content))
    [dataset] = message.data
    frame = dataset.data
    columns = ["FREQ", "REF_AREA", "COUNTERPART_AREA", "INDICATOR", "COMMODITY",
               "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "OBS_STATUS"]
    # pysdmx reads OBS_VALUE as a float (pandas): values compare as numbers here
    got = {(*row[:6], Decimal(str(row[6])), *row[7:])
           for row in frame[columns].itertuples(index=False)}
    assert got == {(*row[:6], Decimal(row[6]), *row[7:]) for row in expected(api)}
