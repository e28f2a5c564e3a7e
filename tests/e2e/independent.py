"""Indicators recomputed from the simulator's raw payloads, independently of Corridor.

Nothing here imports Corridor's parsers, loaders or SQL: it fetches the five feeds over
HTTP like an outside analyst would, parses them with the standard library, and applies
spec/indicators.md with Decimal arithmetic. The end-to-end tests compare the published
CSVs with what this module computes: every indicator of both dataflows, monthly and
annual, with its obs_status.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import requests

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
EAEU = {"RUS", "KAZ", "BLR", "ARM", "KGZ"}
DECIMALS = {"USD": 2, "PCT": 4, "IDX": 4, "T": 3, "H": 2, "NUM": 0, "TEU": 0}
COMTRADE_REPORTERS = (156, 860, 417, 792, 31, 364, 795, 112, 51)
UNDISCLOSED = "_X"
REPORTERS = ("RUS", "KAZ")
# the unit of every published indicator (spec/indicators.md tables)
UNITS = {
    "X_USD": "USD", "M_USD": "USD", "TURNOVER_USD": "USD", "BALANCE_USD": "USD",
    "X_YOY_PCT": "PCT", "M_YOY_PCT": "PCT", "TURNOVER_YOY_PCT": "PCT",
    "PARTNER_SHARE_PCT": "PCT", "MIRROR_X_USD": "USD", "MIRROR_M_USD": "USD",
    "ASYM_X_PCT": "PCT", "ASYM_M_PCT": "PCT", "HHI_X": "IDX", "GL_IIT": "IDX",
    "PORT_T": "T", "PORT_TEU": "TEU", "PORT_CALLS": "NUM", "PORT_STAY_H": "H",
    "RAIL_T": "T", "RAIL_WAGONS": "NUM", "RAIL_TEU": "TEU", "RAIL_TRANSIT_T": "T",
    "CORRIDOR_NODE_T": "T",
}
ZERO = Decimal(0)
# plenty of digits: every value is rounded once, at output
CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


def rounded(value: Decimal, unit: str) -> str:
    quantum = Decimal(1).scaleb(-DECIMALS[unit])
    result = value.quantize(quantum, rounding=ROUND_HALF_UP, context=CONTEXT)
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


def _shift_year(month: str) -> str:
    return f"{int(month[:4]) - 1:04d}{month[4:]}"


def _periods(publish_months: list[str]) -> list[tuple[str, str, list[str]]]:
    """(freq, time_period, months): every published month, and every complete year."""
    years = sorted({m[:4] for m in publish_months
                    if all(f"{m[:4]}-{k:02d}" in publish_months for k in range(1, 13))})
    return [("M", m, [m]) for m in publish_months] + [
        ("A", y, [f"{y}-{k:02d}" for k in range(1, 13)]) for y in years]


def _dec(text) -> Decimal | None:
    """A required number, or None when missing or unparsable (the row is rejected)."""
    if text is None:
        return None
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


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
        self.session = requests.Session()

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
            try:
                response = self.session.get(self.base[feed] + path, params=params,
                                            headers=headers, auth=auth, timeout=30)
            except requests.ConnectionError:
                continue
            if response.status_code not in (429, 500, 502, 503, 504):
                return response
        response.raise_for_status()
        return response


class World:
    """Accepted rows of each feed, as the spec defines them, for the ingest window.

    ``rows[(reporter, counterpart, month)][hs6_or_code10][flow]``: the reporter's own
    customs rows summed per commodity code; counterpart is a disclosed partner,
    ``_X`` (undisclosed) or ``W00`` (everything). ``comtrade[(j, i, month, flow)]`` holds
    j's leaf rows for i as (value, came_from_cif) sums.
    """

    def __init__(self, feeds: Feeds, ingest_months: list[str]):
        self.feeds = feeds
        self.months = ingest_months
        self.iso2, self.m49 = _countries()
        # (reporter, counterpart, month) -> {10-digit code: {"X": usd, "M": usd}}
        self.rows: dict[tuple[str, str, str], dict[str, dict[str, Decimal]]] = defaultdict(
            lambda: defaultdict(lambda: {"X": ZERO, "M": ZERO}))
        self.status: dict[tuple[str, str], str] = {}  # (reporter, month) -> newest status
        self.revision: dict[tuple[str, str], int] = {}  # (reporter, month) -> revision
        self.loaded: set[tuple[str, str]] = set()
        self.rejected: dict[str, int] = defaultdict(int)
        self._load_ru()
        self._load_kz()
        self.mirror_rows: dict[tuple[str, str, str], dict[str, Decimal]] | None = None
        self.comtrade_reported: set[tuple[str, str]] = set()

    def _add(self, reporter: str, partner: str, month: str, code: str, flow: str,
             value: Decimal) -> None:
        self.rows[(reporter, partner, month)][code][flow] += value
        self.rows[(reporter, "W00", month)][code][flow] += value

    def _load_ru(self) -> None:
        releases = self.feeds.get("ru_customs", "/ru-customs/v1/releases").json()["releases"]
        newest: dict[str, dict] = {}
        for release in releases:
            held = newest.get(release["period"])
            if held is None or release["revision"] > held["revision"]:
                newest[release["period"]] = release
        for month, release in sorted(newest.items()):
            if month not in self.months:
                continue
            text = self.feeds.get("ru_customs", release["path"]).content.decode("cp1251")
            rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
            self.status[("RUS", month)] = release["status"]
            self.revision[("RUS", month)] = release["revision"]
            self.loaded.add(("RUS", month))
            keys = defaultdict(int)
            for row in rows:
                keys[(row.get("napr"), row.get("strana"), row.get("tnved"),
                      row.get("region"))] += 1
            for row in rows:
                if keys[(row.get("napr"), row.get("strana"), row.get("tnved"),
                         row.get("region"))] > 1:
                    self.rejected["ru_duplicate_key"] += 1
                    continue
                strana, tnved = row.get("strana") or "", row.get("tnved") or ""
                partner = UNDISCLOSED if strana == "XX" else self.iso2.get(strana)
                value, weight = _dec(row.get("stoim")), _dec(row.get("netto"))
                flow = {"ЭК": "X", "ИМ": "M"}.get(row.get("napr") or "")
                period = (row.get("period") or "").split("/")
                if (value is None or weight is None or flow is None or len(period) != 2
                        or partner is None or partner == "RUS" or value < 0 or weight < 0
                        or len(tnved) != 10 or not tnved.isdigit()
                        or f"{period[1]}-{period[0]}" != month):
                    self.rejected["ru_other"] += 1
                    continue
                self._add("RUS", partner, month, tnved, flow, value)

    def _load_kz(self) -> None:
        periods = self.feeds.get("kz_customs", "/kz-customs/api/v2/periods").json()["periods"]
        for entry in periods:
            month = entry["period"]
            if month not in self.months:
                continue
            while True:  # restart the period when it is re-published while paging
                items, cursor, restart = [], None, False
                while True:
                    params = {"period": month, "page_size": 1000}
                    if cursor:
                        params["cursor"] = cursor
                    response = self.feeds.get("kz_customs", "/kz-customs/api/v2/trade",
                                              **params)
                    if response.status_code == 409:
                        restart = True
                        break
                    page = json.loads(response.content, parse_float=Decimal)
                    items += page["items"]
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                if not restart:
                    break
            self.status[("KAZ", month)] = page["status"]
            self.revision[("KAZ", month)] = page["revision"]
            self.loaded.add(("KAZ", month))
            key = lambda i: (i.get("flow"), i.get("tn_ved"), i.get("partner_m49"),  # noqa: E731
                             i.get("transport_mode"), i.get("customs_regime"))
            counts = defaultdict(int)
            for item in items:
                counts[key(item)] += 1
            required = ("flow", "tn_ved", "partner_m49", "value_thousand_usd",
                        "net_weight_t", "transport_mode", "customs_regime")
            for item in items:
                if counts[key(item)] > 1 or any(item.get(f) is None for f in required):
                    self.rejected["kz_duplicate_or_missing"] += 1
                    continue
                try:
                    code = int(item["partner_m49"])
                except ValueError:
                    code = -1
                partner = UNDISCLOSED if code == 0 else self.m49.get(code)
                thousands, weight = _dec(item["value_thousand_usd"]), _dec(item["net_weight_t"])
                flow = {"export": "X", "import": "M"}.get(item["flow"])
                tn_ved = str(item["tn_ved"])
                if (thousands is None or weight is None or flow is None or partner is None
                        or partner == "KAZ" or thousands < 0 or weight < 0
                        or len(tn_ved) != 10 or not tn_ved.isdigit()):
                    self.rejected["kz_other"] += 1
                    continue
                self._add("KAZ", partner, month, tn_ved, flow, thousands * 1000)

    # -- reporter side ----------------------------------------------------------------
    def partners(self, reporter: str, period: list[str]) -> set[str]:
        """Disclosed j with X > 0 or M > 0 over the period (spec: partners of (i, t))."""
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for (r, p, m), codes in self.rows.items():
            if r != reporter or m not in period or p in ("W00", UNDISCLOSED):
                continue
            for flows in codes.values():
                sums[p] += flows["X"] + flows["M"]
        return {p for p, v in sums.items() if v > 0}

    def codes(self, reporter: str, counterpart: str, period: list[str]
              ) -> dict[str, dict[str, Decimal]]:
        """10-digit code -> {"X", "M"} summed over the period's months."""
        out: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"X": ZERO, "M": ZERO})
        for month in period:
            for code, flows in self.rows.get((reporter, counterpart, month), {}).items():
                out[code]["X"] += flows["X"]
                out[code]["M"] += flows["M"]
        return out

    def flow(self, reporter: str, partner: str, period: list[str], flow: str) -> Decimal:
        return sum((f[flow] for f in self.codes(reporter, partner, period).values()), ZERO)

    # -- mirror side ------------------------------------------------------------------
    def comtrade_mirror(self) -> tuple[dict, set]:
        """Comtrade leaf rows of the partner reporters with RUS and KAZ.

        Returns ``{(i, j, month): {"MX": imports of j from i as reported (cif, or fob
        where cif is null), "MX_FOB": the same converted per row to FOB, "MM": exports
        of j to i (fob)}}`` and the set of (j, month) that j has reported.
        """
        if self.mirror_rows is not None:
            return self.mirror_rows, self.comtrade_reported
        mirror: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
            lambda: {"MX": ZERO, "MX_FOB": ZERO, "MM": ZERO})
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
                assert len(data) < 100_000
                fields = ("reporterCode", "period", "flowCode", "partnerCode",
                          "partner2Code", "cmdCode", "motCode", "customsCode")
                counts = defaultdict(int)
                for row in data:
                    counts[tuple(row.get(f) for f in fields)] += 1
                for row in data:
                    if not (row["motCode"] == 0 and row["customsCode"] == "C00"
                            and row["partner2Code"] == 0 and row["aggrLevel"] == 6):
                        continue
                    if counts[tuple(row.get(f) for f in fields)] > 1:
                        self.rejected["comtrade_duplicate_key"] += 1
                        continue
                    i = self.m49.get(int(row["partnerCode"]))
                    if i not in REPORTERS:
                        continue
                    f = Decimal("1.00") if (i in EAEU and j in EAEU) else Decimal("1.06")
                    cell = mirror[(i, j, month)]
                    if row["flowCode"] == "M":
                        if row["cifvalue"] is not None:
                            value = Decimal(row["cifvalue"])
                            fob = CONTEXT.divide(value, f)
                        else:
                            value = fob = Decimal(row["fobvalue"])
                        if value < 0:
                            continue
                        cell["MX"] += value
                        cell["MX_FOB"] += fob
                    elif row["flowCode"] == "X" and row["fobvalue"] is not None:
                        if Decimal(row["fobvalue"]) < 0:
                            continue
                        cell["MM"] += Decimal(row["fobvalue"])
        self.mirror_rows, self.comtrade_reported = mirror, reported
        return mirror, reported

    def mirror(self, reporter: str, partner: str, period: list[str]
               ) -> tuple[dict[str, Decimal], bool] | None:
        """Mirror sums of (i, j) over the period, and whether their source is provisional;
        None when j has not reported every month of the period."""
        if partner in REPORTERS:  # the RUS-KAZ pair: the other national feed, as it is
            if not all((partner, m) in self.loaded for m in period):
                return None
            codes = self.codes(partner, reporter, period)
            mx = sum((f["M"] for f in codes.values()), ZERO)
            mm = sum((f["X"] for f in codes.values()), ZERO)
            provisional = any(self.status.get((partner, m)) == "preliminary" for m in period)
            return {"MX": mx, "MX_FOB": mx, "MM": mm}, provisional
        rows, reported = self.comtrade_mirror()
        if not all((partner, m) in reported for m in period):
            return None
        out = {"MX": ZERO, "MX_FOB": ZERO, "MM": ZERO}
        for m in period:
            for k, v in rows.get((reporter, partner, m), {}).items():
                out[k] += v
        return out, False  # Comtrade units count as final


def _div(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.divide(a, b)


def bilateral_expected(world: World, publish_months: list[str]) -> dict[tuple, tuple[str, str]]:
    """key -> (obs_value, obs_status) for every observation of DF_BILATERAL_TRADE.

    key = (freq, ref_area, counterpart_area, indicator, commodity, time_period).
    """
    expected: dict[tuple, tuple[str, str]] = {}

    def provisional(reporter: str, period: list[str]) -> bool:
        return any(world.status.get((reporter, m)) == "preliminary" for m in period)

    def put(freq, reporter, counterpart, indicator, commodity, label, value, is_p):
        expected[(freq, reporter, counterpart, indicator, commodity, label)] = (
            rounded(value, UNITS[indicator]), "P" if is_p else "A")

    for reporter in REPORTERS:
        for freq, label, period in _periods(publish_months):
            if not all((reporter, m) in world.loaded for m in period):
                continue
            base_period = [_shift_year(m) for m in period]
            base_loaded = all((reporter, m) in world.loaded for m in base_period)
            st = provisional(reporter, period)
            st_yoy = st or provisional(reporter, base_period)
            world_codes = world.codes(reporter, "W00", period)
            world_turnover = sum((f["X"] + f["M"] for f in world_codes.values()), ZERO)
            partners = world.partners(reporter, period)
            for counterpart in sorted(partners) + ["W00"]:
                codes = world_codes if counterpart == "W00" else world.codes(
                    reporter, counterpart, period)
                x = sum((f["X"] for f in codes.values()), ZERO)
                m = sum((f["M"] for f in codes.values()), ZERO)
                for indicator, value in (("X_USD", x), ("M_USD", m), ("TURNOVER_USD", x + m),
                                         ("BALANCE_USD", x - m)):
                    put(freq, reporter, counterpart, indicator, "_T", label, value, st)
                # by HS chapter (first 2 digits of the code): only where the flow is > 0
                chapters: dict[str, dict[str, Decimal]] = defaultdict(
                    lambda: {"X": ZERO, "M": ZERO})
                hs6: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"X": ZERO, "M": ZERO})
                for code, flows in codes.items():
                    for fl in ("X", "M"):
                        chapters[code[:2]][fl] += flows[fl]
                        hs6[code[:6]][fl] += flows[fl]
                for chapter, flows in chapters.items():
                    if flows["X"] > 0:
                        put(freq, reporter, counterpart, "X_USD", chapter, label, flows["X"], st)
                    if flows["M"] > 0:
                        put(freq, reporter, counterpart, "M_USD", chapter, label, flows["M"], st)
                # year on year: base = same cell a year earlier; omitted when the base is 0
                if base_loaded:
                    base = world.codes(reporter, counterpart, base_period)
                    bx = sum((f["X"] for f in base.values()), ZERO)
                    bm = sum((f["M"] for f in base.values()), ZERO)
                    for indicator, value, b in (("X_YOY_PCT", x, bx), ("M_YOY_PCT", m, bm),
                                                ("TURNOVER_YOY_PCT", x + m, bx + bm)):
                        if b != 0:
                            put(freq, reporter, counterpart, indicator, "_T", label,
                                100 * (_div(value, b) - 1), st_yoy)
                # concentration over HS chapters with X_k > 0; omitted when X = 0
                if x != 0:
                    hhi = sum((_div(f["X"], x) ** 2 for f in chapters.values() if f["X"] > 0),
                              ZERO)
                    put(freq, reporter, counterpart, "HHI_X", "_T", label, hhi, st)
                # Grubel-Lloyd over 6-digit codes; undefined (omitted) when sum(X+M) = 0
                gl_den = sum((f["X"] + f["M"] for f in hs6.values()), ZERO)
                if gl_den != 0:
                    gl_num = sum((f["X"] + f["M"] - abs(f["X"] - f["M"]) for f in hs6.values()),
                                 ZERO)
                    put(freq, reporter, counterpart, "GL_IIT", "_T", label,
                        _div(gl_num, gl_den), st)
                if counterpart == "W00":
                    continue
                if world_turnover != 0:
                    put(freq, reporter, counterpart, "PARTNER_SHARE_PCT", "_T", label,
                        100 * _div(x + m, world_turnover), st)
                found = world.mirror(reporter, counterpart, period)
                if found is None:  # j has not reported (every month of) the period
                    continue
                mirror, mirror_p = found
                put(freq, reporter, counterpart, "MIRROR_X_USD", "_T", label, mirror["MX"],
                    mirror_p)
                put(freq, reporter, counterpart, "MIRROR_M_USD", "_T", label, mirror["MM"],
                    mirror_p)
                f = (Decimal("1.00") if reporter in EAEU and counterpart in EAEU
                     else Decimal("1.06"))
                mx = mirror["MX_FOB"]
                if x + mx != 0:
                    put(freq, reporter, counterpart, "ASYM_X_PCT", "_T", label,
                        _div(100 * (x - mx), (x + mx) / 2), st or mirror_p)
                m_fob = _div(m, f)
                mm = mirror["MM"]
                if m_fob + mm != 0:
                    put(freq, reporter, counterpart, "ASYM_M_PCT", "_T", label,
                        _div(100 * (m_fob - mm), (m_fob + mm) / 2), st or mirror_p)
    return expected


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(delta: timedelta) -> Decimal:
    """Exact length of a timedelta in seconds."""
    return (Decimal(delta.days) * 86400 + delta.seconds
            + Decimal(delta.microseconds) / 1_000_000)


def _local(offset: str) -> timezone:
    sign = 1 if offset[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))


def _port_calls(feeds: Feeds, port: str) -> dict[str, dict]:
    """Highest version of every call of the port."""
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
    return newest


def logistics_expected(feeds: Feeds, publish_months: list[str], ingest_first: str,
                       ingest_last: str, facts: dict | None = None
                       ) -> dict[tuple, tuple[str, str]]:
    """key -> (obs_value, obs_status) for every observation of DF_CORRIDOR_LOGISTICS.

    key = (freq, node, indicator, direction, cargo, time_period). ``facts``, when given,
    receives what the world contains (for the tests that guard this guard).
    """
    facts = facts if facts is not None else {}
    with (SEEDS / "ref_caspian_ports.csv").open(encoding="utf-8") as handle:
        port_rows = [r for r in csv.DictReader(handle) if r["role"] == "feed_port"]
    ports = {r["locode"]: r["utc_offset"] for r in port_rows}
    port_corridor = {r["locode"]: r["corridor"] for r in port_rows}
    with (SEEDS / "ref_rail_crossings.csv").open(encoding="utf-8") as handle:
        crossing_rows = list(csv.DictReader(handle))
    points = [r["point"] for r in crossing_rows]
    point_corridor = {r["point"]: r["corridor"] for r in crossing_rows}
    with (SEEDS / "ref_corridors.csv").open(encoding="utf-8") as handle:
        corridors = [r["corridor"] for r in csv.DictReader(handle)]
    periods = _periods(publish_months)
    expected: dict[tuple, tuple[str, str]] = {}

    def put(freq, node, indicator, direction, cargo, label, value, is_p):
        expected[(freq, node, indicator, direction, cargo, label)] = (
            rounded(Decimal(value), UNITS[indicator]), "P" if is_p else "A")

    # ports ---------------------------------------------------------------------------
    port_tonnes: dict[tuple[str, str], Decimal] = {}  # (port, label) -> PORT_T(_T, _T)
    port_p: dict[tuple[str, str], bool] = {}
    facts.setdefault("offset_month_calls", [])
    facts.setdefault("month_end_calls", [])
    facts.setdefault("port_versions", 0)
    facts.setdefault("call_statuses", set())
    for port, offset in ports.items():
        local = _local(offset)
        counted_by_month: dict[str, list[dict]] = defaultdict(list)
        for call in _port_calls(feeds, port).values():
            facts["port_versions"] = max(facts["port_versions"], call["version"])
            facts["call_statuses"].add(call["status"])
            if call["status"] not in ("at_berth", "departed") or not call.get("arrived_at"):
                continue
            arrived = _instant(call["arrived_at"])
            month = arrived.astimezone(local).strftime("%Y-%m")
            counted_by_month[month].append(call)
            if arrived.strftime("%Y-%m") != month:  # the timestamp's own offset disagrees
                facts["offset_month_calls"].append((month, call["call_id"], call["arrived_at"]))
            if call["status"] == "departed" and call.get("departed_at"):
                departed = _instant(call["departed_at"]).astimezone(local)
                if departed.strftime("%Y-%m") != month:  # stays across midnight at month end
                    facts["month_end_calls"].append(
                        (month, call["call_id"], call["arrived_at"], call["departed_at"]))
        for freq, label, period in periods:
            calls = [c for m in period for c in counted_by_month.get(m, [])]
            is_p = any(c["status"] == "at_berth" for c in calls)
            cells: dict[tuple[str, str], dict[str, Decimal]] = {}
            for call in calls:
                for line in call.get("cargo") or []:
                    tonnes = line.get("tonnes")
                    if tonnes is None or Decimal(tonnes) < 0:
                        continue  # a cargo line without tonnes is rejected on its own
                    direction = {"load": "LOAD", "discharge": "DISCH"}.get(line.get("operation"))
                    cargo = line.get("cargo_type")
                    if direction is None or cargo is None:
                        continue
                    teu = Decimal(line.get("teu") or 0)
                    for d in (direction, "_T"):
                        for c in (cargo, "_T"):
                            cell = cells.setdefault((d, c), {"t": ZERO, "teu": ZERO})
                            cell["t"] += Decimal(tonnes)
                            cell["teu"] += teu
            total = cells.get(("_T", "_T"), {"t": ZERO})["t"]
            port_tonnes[(port, label)] = total
            port_p[(port, label)] = is_p
            put(freq, port, "PORT_CALLS", "_T", "_T", label, len(calls), is_p)
            put(freq, port, "PORT_T", "_T", "_T", label, total, is_p)
            for (d, c), cell in cells.items():
                if (d, c) != ("_T", "_T"):
                    put(freq, port, "PORT_T", d, c, label, cell["t"], is_p)
                if c == "container":
                    put(freq, port, "PORT_TEU", d, c, label, cell["teu"], is_p)
            stays = [_seconds(_instant(c["departed_at"]) - _instant(c["arrived_at"]))
                     for c in calls if c["status"] == "departed" and c.get("departed_at")]
            if stays:
                hours = _div(sum(stays, ZERO), Decimal(3600 * len(stays)))
                put(freq, port, "PORT_STAY_H", "_T", "_T", label, hours, is_p)

    # rail ----------------------------------------------------------------------------
    ns = "{urn:corridor:rail:crossing:1}"
    # (point, month, direction) -> [tonnes, wagons, teu, transit tonnes, consignments]
    rail: dict[tuple[str, str, str], list] = {}
    missing_days: set[str] = set()
    facts.setdefault("rail_revisions", 0)
    facts.setdefault("rail_transit_t", ZERO)
    day = date.fromisoformat(f"{ingest_first}-01")
    while day.strftime("%Y-%m") <= ingest_last:
        month = day.strftime("%Y-%m")
        response = feeds.get("rail", f"/rail/v1/crossings/{day.isoformat()}.xml")
        root = None
        if response.status_code == 200:
            try:
                root = ET.fromstring(response.content)
            except ET.ParseError:
                root = None
        if root is None or root.get("date") != day.isoformat():
            missing_days.add(month)  # not out yet, or rejected whole
        else:
            facts["rail_revisions"] = max(facts["rail_revisions"], int(root.get("revision")))
            for crossing in root.findall(f"{ns}crossing"):
                point = crossing.get("point")
                if point not in points:
                    continue
                for movement in crossing.findall(f"{ns}movement"):
                    direction = {"inbound": "IN", "outbound": "OUT"}.get(
                        movement.get("direction"))
                    transit = movement.get("transit") == "true"
                    for c in movement.findall(f"{ns}consignment"):
                        tonnes, wagons, teu = (_dec(c.get(k)) for k in ("tonnes", "wagons", "teu"))
                        if direction is None or None in (tonnes, wagons, teu) or min(
                                tonnes, wagons, teu) < 0:
                            continue
                        if transit:
                            facts["rail_transit_t"] += tonnes
                        for d in (direction, "_T"):
                            cell = rail.setdefault((point, month, d), [ZERO, ZERO, ZERO, ZERO, 0])
                            cell[0] += tonnes
                            cell[1] += wagons
                            cell[2] += teu
                            cell[3] += tonnes if transit else ZERO
                            cell[4] += 1
        day += timedelta(days=1)
    facts["rail_provisional_months"] = sorted(missing_days)
    rail_tonnes: dict[tuple[str, str], Decimal] = {}
    rail_p: dict[str, bool] = {}
    for freq, label, period in periods:
        is_p = any(m in missing_days for m in period)
        rail_p[label] = is_p
        for point in points:
            for d in ("IN", "OUT", "_T"):
                cells = [rail[(point, m, d)] for m in period if (point, m, d) in rail]
                if d != "_T" and not cells:
                    continue  # direction cells only where a consignment falls
                sums = [sum((c[k] for c in cells), ZERO) for k in range(4)]
                put(freq, point, "RAIL_T", d, "_T", label, sums[0], is_p)
                put(freq, point, "RAIL_WAGONS", d, "_T", label, sums[1], is_p)
                put(freq, point, "RAIL_TEU", d, "_T", label, sums[2], is_p)
                if d == "_T":
                    put(freq, point, "RAIL_TRANSIT_T", "_T", "_T", label, sums[3], is_p)
                    rail_tonnes[(point, label)] = sums[0]

    # corridors: node throughput of their crossing points and feed ports ----------------
    for freq, label, _ in periods:
        for corridor in corridors:
            rail_nodes = [p for p in points if point_corridor[p] == corridor]
            port_nodes = [p for p in ports if port_corridor[p] == corridor]
            tonnes = (sum((rail_tonnes[(p, label)] for p in rail_nodes), ZERO)
                      + sum((port_tonnes[(p, label)] for p in port_nodes), ZERO))
            is_p = (bool(rail_nodes) and rail_p[label]) or any(
                port_p[(p, label)] for p in port_nodes)
            put(freq, corridor, "CORRIDOR_NODE_T", "_T", "_T", label, tonnes, is_p)
    return expected
