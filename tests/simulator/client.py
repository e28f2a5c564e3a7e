"""How the simulator tests call it as a feed client would: the feeds' auth headers (the
simulator's fixed credentials) and paging."""

from __future__ import annotations

import requests

from corridor.simulator import SIM_CREDENTIALS

KZ_AUTH = {"Authorization": f"Bearer {SIM_CREDENTIALS['kz_customs'][1]}"}
COMTRADE_AUTH = {"Ocp-Apim-Subscription-Key": SIM_CREDENTIALS["comtrade"][1]}
PORTS_AUTH = {"X-API-Key": SIM_CREDENTIALS["ports"][1]}
RAIL_AUTH = SIM_CREDENTIALS["rail"]


def ports_records(handle, **params) -> list[dict]:
    """Every vessel-call record of a ports query, following ``next_page_token``."""
    records, token = [], None
    while True:
        query = dict(params)
        if token:
            query["page_token"] = token
        response = requests.get(handle.base_url + "/ports/v1/vessel-calls", params=query,
                                headers=PORTS_AUTH, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body["data"])
        token = body["next_page_token"]
        if token is None:
            return records
