"""Indicators recomputed from the simulator's raw payloads, independently of Corridor.

Nothing here imports Corridor's parsers, loaders or SQL: it fetches the five feeds over
HTTP like an outside analyst would, parses them with the standard library, and applies
spec/indicators.md with Decimal arithmetic. The end-to-end tests compare the published
CSVs with what this module computes.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import requests

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
EAEU = {"RUS", "KAZ", "BLR", "ARM", "KGZ"}
DECIMALS = {"USD": 2, "PCT": 4, "IDX": 4, "T": 3, "H": 2, "NUM": 0, "TEU": 0}
COMTRADE_REPORTERS = (156, 860, 417, 792, 31, 364, 795, 112, 51)
UNDISCLOSED = "_X"


def rounded(value: Decimal, unit: str) -> str:
    quantum = Decimal(1).scaleb(-DECIMALS[unit])
    result = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if result == 0:
        result = abs(result)
    return format(result, "f")


def _countries() -> tuple[dict[str, str], dict[int, str]]:
    with (SEEDS / "ref_countries.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return ({r["iso2"]: r["iso3"] for r in rows}, {int(r["m49"]): r["iso3"] for r in rows})


def months(first: str, last: str) -> list[str]:
    out, year, month = [], int(first[:4]), int(first[5:])
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


class Feeds:
    """Plain HTTP access to the five feeds, credentials from the connection URIs."""

    def __init__(self, connection_uris: dict[str, str]):
        from urllib.parse import unquote, urlsplit

        self.base: dict[str, str] = {}
        self.auth: dict[str, tuple[str | None, str | None]] = {}
        for name, uri in connection_uris.items():
            feed = name.removeprefix("AIRFLOW_CONN_CORRIDOR_").lower()
            parts = urlsplit(uri)
            self.base[feed] = f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path}"
            self.auth[feed] = (unquote(parts.username) if parts.username else None,
                               unquote(parts.password) if parts.password else None)

    def get(self, feed: str, path: str, **params) -> requests.Response:
        login, password = self.auth[feed]
        headers, auth = {}, None
        if feed == "kz_customs":
            headers["Authorization"] = f"Bearer {password}"
        elif feed == "comtrade":
            headers["Ocp-Apim-Subscription-Key"] = password
        elif feed == "ports":
            headers["X-API-Key"] = password
        elif feed == "rail":
            auth = (login, password)
        for _ in range(20):  # the simulator may inject transient faults
            response = requests.get(self.base[feed] + path, params=params, headers=headers,
                                    auth=auth, timeout=30)
            if response.status_code not in (429, 500, 502, 503, 504):
                return response
        response.raise_for_status()
        return response


class World:
    """Accepted rows of each feed, as the spec defines them, for the ingest window."""

    def __init__(self, feeds: Feeds, ingest_months: list[str]):
        self.feeds = feeds
        self.months = ingest_months
        self.iso2, self.m49 = _countries()
        # (reporter, partner, month, flow) -> USD ; flow in X/M
        self.flows: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
        self.status: dict[tuple[str, str], str] = {}  # (reporter, month) -> status
        self.loaded: set[tuple[str, str]] = set()
        self._load_ru()
        self._load_kz()

    def _load_ru(self) -> None:
        releases = self.feeds.get("ru_customs", "/ru-customs/v1/releases").json()["releases"]
        for release in releases:
            month = release["period"]
            if month not in self.months:
                continue
            text = self.feeds.get("ru_customs", release["path"]).content.decode("cp1251")
            rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
            self.status[("RUS", month)] = release["status"]
            self.loaded.add(("RUS", month))
            keys = defaultdict(int)
            for row in rows:
                keys[(row["napr"], row["strana"], row["tnved"], row["region"])] += 1
            for row in rows:
                if keys[(row["napr"], row["strana"], row["tnved"], row["region"])] > 1:
                    continue
                partner = UNDISCLOSED if row["strana"] == "XX" else self.iso2.get(row["strana"])
                value = Decimal(row["stoim"].replace(",", "."))
                mm, yyyy = row["period"].split("/")
                if (partner is None or partner == "RUS" or value < 0 or len(row["tnved"]) != 10
                        or f"{yyyy}-{mm}" != month):
                    continue
                flow = {"ЭК": "X", "ИМ": "M"}[row["napr"]]
                self.flows[("RUS", partner, month, flow)] += value

    def _load_kz(self) -> None:
        periods = self.feeds.get("kz_customs", "/kz-customs/api/v2/periods").json()["periods"]
        for entry in periods:
            month = entry["period"]
            if month not in self.months:
                continue
            items, cursor = [], None
            while True:
                params = {"period": month, "page_size": 1000}
                if cursor:
                    params["cursor"] = cursor
                page = json.loads(self.feeds.get("kz_customs", "/kz-customs/api/v2/trade",
                                                 **params).content, parse_float=Decimal)
                items += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            self.status[("KAZ", month)] = page["status"]
            self.loaded.add(("KAZ", month))
            key = lambda i: (i.get("flow"), i.get("tn_ved"), i.get("partner_m49"),  # noqa: E731
                             i.get("transport_mode"), i.get("customs_regime"))
            counts = defaultdict(int)
            for item in items:
                counts[key(item)] += 1
            for item in items:
                required = ("flow", "tn_ved", "partner_m49", "value_thousand_usd",
                            "net_weight_t", "transport_mode", "customs_regime")
                if counts[key(item)] > 1 or any(item.get(f) is None for f in required):
                    continue
                code = int(item["partner_m49"])
                partner = UNDISCLOSED if code == 0 else self.m49.get(code)
                value = Decimal(item["value_thousand_usd"]) * 1000
                if (partner is None or partner == "KAZ" or value < 0
                        or len(item["tn_ved"]) != 10):
                    continue
                flow = {"export": "X", "import": "M"}[item["flow"]]
                self.flows[("KAZ", partner, month, flow)] += value

    # -- bilateral -------------------------------------------------------------------
    def partners(self, reporter: str, month: str) -> set[str]:
        return {p for (r, p, m, _), v in self.flows.items()
                if r == reporter and m == month and p != UNDISCLOSED and v > 0}

    def flow(self, reporter: str, partner: str, period: list[str], flow: str) -> Decimal:
        return sum((v for (r, p, m, f), v in self.flows.items()
                    if r == reporter and m in period and f == flow
                    and (partner == "W00" or p == partner)), Decimal(0))

    def comtrade_mirror(self) -> tuple[dict, set]:
        """(reporter iso3, partner iso3, month) -> j's imports from i; and reported months."""
        imports: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        reported: set[tuple[str, str]] = set()
        for code in COMTRADE_REPORTERS:
            j = self.m49[code]
            for month in self.months:
                period = month.replace("-", "")
                probe = self.feeds.get("comtrade", "/data/v1/get/C/M/HS", reporterCode=code,
                                       period=period, partnerCode=0, cmdCode="TOTAL").json()
                if not probe["data"]:
                    continue
                reported.add((j, month))
                data = json.loads(self.feeds.get(
                    "comtrade", "/data/v1/get/C/M/HS", reporterCode=code, period=period,
                    partnerCode="398,643", flowCode="M,X", motCode=0, customsCode="C00",
                    partner2Code=0).content, parse_float=Decimal)["data"]
                for row in data:
                    if not (row["motCode"] == 0 and row["customsCode"] == "C00"
                            and row["partner2Code"] == 0 and row["aggrLevel"] == 6
                            and row["flowCode"] == "M"):
                        continue
                    value = row["cifvalue"] if row["cifvalue"] is not None else row["fobvalue"]
                    imports[(self.m49[row["partnerCode"]], j, month)] += Decimal(value)
        return imports, reported


def bilateral_expected(world: World, publish_months: list[str]) -> dict[tuple, tuple[str, str]]:
    """key -> (obs_value, obs_status) for X/M/TURNOVER/BALANCE and MIRROR_X_USD."""
    expected: dict[tuple, tuple[str, str]] = {}
    mirror_imports, reported = world.comtrade_mirror()

    def status(reporter: str, period: list[str]) -> str:
        return "P" if any(world.status.get((reporter, m)) == "preliminary" for m in period) else "A"

    years = sorted({m[:4] for m in publish_months
                    if all(f"{m[:4]}-{k:02d}" in publish_months for k in range(1, 13))})
    periods = [("M", m, [m]) for m in publish_months] + [
        ("A", y, [f"{y}-{k:02d}" for k in range(1, 13)]) for y in years]
    for reporter in ("RUS", "KAZ"):
        other = "KAZ" if reporter == "RUS" else "RUS"
        for freq, label, period in periods:
            partners = set().union(*(world.partners(reporter, m) for m in period))
            for partner in sorted(partners) + ["W00"]:
                x = world.flow(reporter, partner, period, "X")
                m = world.flow(reporter, partner, period, "M")
                st = status(reporter, period)
                for indicator, value in (("X_USD", x), ("M_USD", m), ("TURNOVER_USD", x + m),
                                         ("BALANCE_USD", x - m)):
                    expected[(freq, reporter, partner, indicator, "_T", label)] = (
                        rounded(value, "USD"), st)
                if partner == "W00":
                    continue
                if partner == other:
                    if all((other, mm) in world.loaded for mm in period):
                        mirror = world.flow(other, reporter, period, "M")
                        expected[(freq, reporter, partner, "MIRROR_X_USD", "_T", label)] = (
                            rounded(mirror, "USD"), status(other, period))
                elif all((partner, mm) in reported for mm in period):
                    mirror = sum((mirror_imports.get((reporter, partner, mm), Decimal(0))
                                  for mm in period), Decimal(0))
                    expected[(freq, reporter, partner, "MIRROR_X_USD", "_T", label)] = (
                        rounded(mirror, "USD"), "A")
    return expected


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def logistics_expected(feeds: Feeds, publish_months: list[str], ingest_first: str,
                       ingest_last: str) -> dict[tuple, tuple[str, str]]:
    """key -> (obs_value, obs_status) for PORT_T, PORT_CALLS and RAIL_T (_T, _T)."""
    with (SEEDS / "ref_caspian_ports.csv").open(encoding="utf-8") as handle:
        ports = {r["locode"]: r["utc_offset"] for r in csv.DictReader(handle)
                 if r["role"] == "feed_port"}
    with (SEEDS / "ref_rail_crossings.csv").open(encoding="utf-8") as handle:
        points = [r["point"] for r in csv.DictReader(handle)]

    expected: dict[tuple, tuple[str, str]] = {}
    for port, offset in ports.items():
        sign = 1 if offset[0] == "+" else -1
        local = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        newest: dict[str, dict] = {}
        token = None
        while True:
            params = {"port": port, "updated_since": "1970-01-01T00:00:00+00:00", "limit": 500}
            if token:
                params["page_token"] = token
            page = json.loads(feeds.get("ports", "/ports/v1/vessel-calls", **params).content,
                              parse_float=Decimal)
            for call in page["data"]:
                held = newest.get(call["call_id"])
                if held is None or call["version"] > held["version"]:
                    newest[call["call_id"]] = call
            token = page["next_page_token"]
            if not token:
                break
        tonnes, calls, at_berth = defaultdict(Decimal), defaultdict(int), set()
        for call in newest.values():
            if call["status"] not in ("at_berth", "departed") or not call.get("arrived_at"):
                continue
            month = _instant(call["arrived_at"]).astimezone(local).strftime("%Y-%m")
            calls[month] += 1
            if call["status"] == "at_berth":
                at_berth.add(month)
            for line in call.get("cargo") or []:
                if line.get("tonnes") is not None and line["tonnes"] >= 0:
                    tonnes[month] += Decimal(line["tonnes"])
        for month in publish_months:
            status = "P" if month in at_berth else "A"
            expected[("M", port, "PORT_T", "_T", "_T", month)] = (rounded(tonnes[month], "T"),
                                                                  status)
            expected[("M", port, "PORT_CALLS", "_T", "_T", month)] = (
                rounded(Decimal(calls[month]), "NUM"), status)

    ns = {"c": "urn:corridor:rail:crossing:1"}
    rail: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    missing_days: set[str] = set()
    day = date.fromisoformat(f"{ingest_first}-01")
    while day.strftime("%Y-%m") <= ingest_last:
        response = feeds.get("rail", f"/rail/v1/crossings/{day.isoformat()}.xml")
        if response.status_code == 404:
            missing_days.add(day.strftime("%Y-%m"))
        else:
            root = ET.fromstring(response.content)
            if root.get("date") != day.isoformat():
                missing_days.add(day.strftime("%Y-%m"))
            else:
                for crossing in root.findall("c:crossing", ns):
                    if crossing.get("point") not in points:
                        continue
                    for consignment in crossing.iterfind("c:movement/c:consignment", ns):
                        rail[(crossing.get("point"), day.strftime("%Y-%m"))] += Decimal(
                            consignment.get("tonnes"))
        day += timedelta(days=1)
    for point in points:
        for month in publish_months:
            expected[("M", point, "RAIL_T", "_T", "_T", month)] = (
                rounded(rail[(point, month)], "T"), "P" if month in missing_days else "A")
    return expected
