"""report.html: published numbers as formatted, flags, provisional counts, offline, stable.

Unit tests render synthetic rows; the browser test opens the written page in headless
Chromium and checks that it paints, that every chart is drawn and that nothing is
logged to the console.
"""

from __future__ import annotations

import fnmatch
import json
import os
import random
import re
import shutil
import struct
import subprocess
import tomllib
import zlib
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from corridor.config import PROJECT_DIR
from corridor.publish import report
from corridor.publish.report import (
    format_published,
    render_report,
    write_report,
)


def bil(freq, ref, partner, indicator, period, value, status="A", commodity="_T"):
    unit = indicator.rsplit("_", 1)[-1] if indicator.endswith(("_USD", "_PCT")) else "IDX"
    return (freq, ref, partner, indicator, commodity, period, value, unit, status)


def log(freq, node, indicator, period, value, status="A", direction="_T", cargo="_T"):
    return (freq, node, indicator, direction, cargo, period, value, "T", status)


def bilateral_rows() -> list[tuple[str, ...]]:
    rows = [
        # the headline: both reporters' views, latest month and year
        bil("M", "RUS", "KAZ", "TURNOVER_USD", "2024-12", "2544819418.04", "P"),
        bil("M", "RUS", "KAZ", "BALANCE_USD", "2024-12", "1265750580.66", "P"),
        bil("M", "RUS", "KAZ", "X_USD", "2024-12", "1905284999.35", "P"),
        bil("M", "RUS", "KAZ", "M_USD", "2024-12", "639534418.69", "P"),
        bil("M", "RUS", "KAZ", "TURNOVER_YOY_PCT", "2024-12", "-1.9919", "P"),
        bil("M", "RUS", "KAZ", "TURNOVER_USD", "2024-11", "2314594634.39"),
        bil("A", "RUS", "KAZ", "TURNOVER_USD", "2024", "27417849410.17", "P"),
        bil("A", "RUS", "KAZ", "BALANCE_USD", "2024", "11482046228.63", "P"),
        bil("A", "RUS", "KAZ", "TURNOVER_YOY_PCT", "2024", "3.2500", "P"),
        bil("A", "RUS", "KAZ", "TURNOVER_USD", "2023", "26900000000.00"),
        bil("M", "KAZ", "RUS", "TURNOVER_USD", "2024-12", "2513253779.00"),
        bil("M", "KAZ", "RUS", "BALANCE_USD", "2024-12", "-1069531633.00"),
        bil("M", "KAZ", "RUS", "TURNOVER_YOY_PCT", "2024-12", "-3.6209"),
        bil("M", "KAZ", "RUS", "TURNOVER_USD", "2024-11", "2363757188.00"),
        bil("A", "KAZ", "RUS", "TURNOVER_USD", "2024", "27180553908.00"),
        bil("A", "KAZ", "RUS", "BALANCE_USD", "2024", "-10756541208.00"),
        # RUS's partners in 2024 (plus W00)
        bil("A", "RUS", "W00", "TURNOVER_USD", "2024", "722813475798.74"),
        bil("A", "RUS", "CHN", "TURNOVER_USD", "2024", "151604380414.43"),
        bil("A", "RUS", "CHN", "PARTNER_SHARE_PCT", "2024", "20.9742"),
        bil("A", "RUS", "TUR", "TURNOVER_USD", "2024", "36235512000.00"),
        bil("A", "RUS", "ARM", "TURNOVER_USD", "2024", "5000000.00"),
        bil("A", "RUS", "GEO", "TURNOVER_USD", "2024", "10000000.00"),
        bil("A", "RUS", "AZE", "TURNOVER_USD", "2024", "90000000.00"),
        # asymmetries (partner-months): only TUR's is both beyond ±30 % and above the
        # turnover threshold
        bil("M", "RUS", "TUR", "TURNOVER_USD", "2024-12", "3000000000.00"),
        bil("M", "RUS", "CHN", "TURNOVER_USD", "2024-12", "13000000000.00"),
        bil("M", "RUS", "ARM", "TURNOVER_USD", "2024-12", "5000000.00"),
        bil("M", "RUS", "GEO", "TURNOVER_USD", "2024-12", "10000000.00"),
        bil("M", "RUS", "AZE", "TURNOVER_USD", "2024-12", "90000000.00"),
        bil("M", "RUS", "TUR", "ASYM_M_PCT", "2024-12", "-45.5000"),
        bil("M", "RUS", "TUR", "M_USD", "2024-12", "1000000000.00"),
        bil("M", "RUS", "TUR", "MIRROR_M_USD", "2024-12", "1588000000.00"),
        bil("M", "RUS", "CHN", "ASYM_X_PCT", "2024-12", "12.0000"),
        bil("M", "RUS", "ARM", "ASYM_X_PCT", "2024-12", "80.0000"),  # turnover below
        bil("M", "RUS", "GEO", "ASYM_X_PCT", "2024-12", "150.0000"),  # turnover == threshold
        bil("M", "RUS", "AZE", "ASYM_M_PCT", "2024-12", "30.0000"),  # not beyond 30
        # an annual asymmetry: like the gate's warning, the page assesses months only
        bil("A", "RUS", "TUR", "ASYM_M_PCT", "2024", "-45.5000"),
        # KAZ's partners
        bil("A", "KAZ", "CHN", "TURNOVER_USD", "2024", "28926000000.00", "P"),
        bil("M", "KAZ", "CHN", "TURNOVER_USD", "2024-12", "2900000000.00", "P"),
        bil("M", "KAZ", "CHN", "TURNOVER_USD", "2024-11", "2800000000.00", "P"),
        bil("M", "KAZ", "UZB", "TURNOVER_USD", "2024-12", "420000000.00"),
        # a chapter row that must not be taken for the total
        bil("M", "RUS", "KAZ", "X_USD", "2024-12", "100.00", commodity="27"),
    ]
    return sorted(rows)


def logistics_rows() -> list[tuple[str, ...]]:
    rows = []
    for month in range(1, 13):
        period = f"2024-{month:02d}"
        status = "P" if month == 12 else "A"
        rows.append(log("M", "KZAAU", "PORT_T", period, f"{400000 + month * 1000}.100", status))
        rows.append(log("M", "KZKUR", "PORT_T", period, f"{140000 + month * 500}.500"))
        rows.append(log("M", "DOSTYK", "RAIL_T", period, f"{1500000 + month}.101"))
        rows.append(log("M", "ALTYNKOL", "RAIL_T", period, f"{660000 + month}.968"))
        rows.append(log("M", "TITR", "CORRIDOR_NODE_T", period, f"{1270000 + month}.168",
                        status))
        rows.append(log("M", "DOSTYK", "RAIL_T", period, f"{700000 + month}.000",
                        direction="IN"))
    rows += [
        log("A", "KZAAU", "PORT_T", "2024", "4748557.300", "P"),
        log("A", "DOSTYK", "RAIL_T", "2024", "15255229.624"),
        log("A", "TITR", "CORRIDOR_NODE_T", "2024", "12881308.919", "P"),
    ]
    return sorted(rows)


def feed_status() -> list[dict]:
    """The grid of 2023-11..2024-12 as of the release (2025-01-05): rail 2024-12 late,
    comtrade 2024-09 partly late, RU 2024-11 and the newest months not due yet."""
    from corridor.config import DUE_DAYS_DEFAULT, MIRROR_REPORTERS_M49
    from corridor.status import LoadedUnit, Snapshot, expected_units

    months = [f"2023-{m}" for m in ("11", "12")] + [f"2024-{m:02d}" for m in range(1, 13)]
    done = LoadedUnit(2, "final", datetime(2024, 12, 20, 6, 0, tzinfo=UTC))
    units = {feed: {} for feed in ("ru_customs", "kz_customs", "comtrade", "rail")}
    for month in months:
        for feed in ("ru_customs", "kz_customs"):
            if (feed, month) != ("ru_customs", "2024-11") and month != "2024-12":
                units[feed][month] = done
        if month <= "2024-09":
            units["comtrade"].update({f"{r}:{month}": done for r in MIRROR_REPORTERS_M49
                                      if (r, month) != (795, "2024-09")})
        if month != "2024-12":  # no December rail report: due 2025-01-03, late
            units["rail"].update({day: done for day in expected_units("rail", month)})
    synced = datetime(2025, 1, 5, 6, 0, tzinfo=UTC)
    snapshot = Snapshot(months, dict(DUE_DAYS_DEFAULT), units=units,
                        port_calls={("KZAAU", "2024-12"): 41, ("KZKUR", "2024-12"): 12},
                        port_synced={"KZAAU": synced, "KZKUR": synced},
                        port_offsets={"KZAAU": timezone(timedelta(hours=5)),
                                      "KZKUR": timezone(timedelta(hours=5))})
    now = datetime(2025, 1, 5, 10, 15, tzinfo=UTC)
    return [cell.as_dict() for cell in snapshot.grid(now)]


def manifest() -> dict:
    return {
        "release_id": "20250105T101500Z-0a1b2c3d",
        "created_at": "2025-01-05T10:15:00Z",
        "code_version": "0.1.0+gabcdef123456",
        "coverage": {"first_period": "2023-01", "last_period": "2024-12"},
        "files": [{"name": "bilateral_trade.csv", "sha256": "ab" * 32, "rows": 34},
                  {"name": "corridor_logistics.csv", "sha256": "cd" * 32, "rows": 75}],
        "inputs": [{"feed": "ru_customs", "unit": "2024-12", "revision": 1,
                    "status": "preliminary"},
                   {"feed": "ru_customs", "unit": "2024-11", "revision": 2, "status": "final"}],
        "revisions": {"bilateral_trade": {"appeared": 120, "disappeared": 3, "changed": 47},
                      "corridor_logistics": {"appeared": 9, "disappeared": 0, "changed": 2}},
        "quality": {
            "success": True, "evaluated": 57, "failed": 0, "failed_warnings": 2,
            "data_docs": "../../gx/data_docs/index.html",
            "checks": [
                {"name": "bilateral_trade: value not null", "suite": "bilateral_trade",
                 "severity": "critical", "success": True, "observed": "unexpected_count=0"},
                {"name": "bilateral_trade: ASYM within ±200", "suite": "bilateral_trade",
                 "severity": "warning", "success": False, "observed": "unexpected_count=4"},
                {"name": "corridor_logistics: <b>stay</b> hours plausible",
                 "suite": "corridor_logistics", "severity": "warning", "success": False,
                 "observed": "unexpected_count=1"},
                {"name": "corridor_logistics: rail tonnes >= 0", "suite": "corridor_logistics",
                 "severity": "warning", "success": True, "observed": "unexpected_count=0"},
            ],
        },
        "feed_status": feed_status(),
    }


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(bilateral_rows(), logistics_rows(), manifest())


def section(page: str, name: str) -> str:
    """The HTML of one ``<section id=name>`` of the page."""
    start = page.index(f'<section id="{name}">')
    return page[start:page.index("</section>", start)]


def table_rows(html: str) -> list[list[str]]:
    """Each ``<tr>``'s cell texts (tags stripped, entities kept)."""
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)]


class Tags(HTMLParser):
    """Every start tag with its attributes (script content is not parsed as tags)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


# --- formatting ---------------------------------------------------------------------

def test_numbers_are_shown_digit_for_digit_as_published():
    assert format_published("2544819418.04") == "2,544,819,418.04"
    assert format_published("-1069531633.00") == "-1,069,531,633.00"
    assert format_published("0.00") == "0.00"
    assert format_published("3.2500", signed=True) == "+3.2500"
    assert format_published("-1.9919", signed=True) == "-1.9919"
    assert format_published("0.0000", signed=True) == "0.0000"
    assert format_published("20.9742") == "20.9742"
    assert format_published("459749.500") == "459,749.500"
    assert format_published("12") == "12"


# --- content ------------------------------------------------------------------------

def test_headline_shows_both_views_latest_month_and_year_as_published(page):
    rows = table_rows(section(page, "headline"))
    by_view = {(r[0], r[1]): r[2:] for r in rows[1:]}
    # (view, period) -> (turnover, turnover YoY, balance), in the page's order
    expected = {
        ("RUS customs: RUS–KAZ", "month 2024-12"):
            ("2,544,819,418.04P", "-1.9919P", "1,265,750,580.66P"),
        ("RUS customs: RUS–KAZ", "year 2024"):
            ("27,417,849,410.17P", "+3.2500P", "11,482,046,228.63P"),
        ("KAZ customs: KAZ–RUS", "month 2024-12"):
            ("2,513,253,779.00", "-3.6209", "-1,069,531,633.00"),
        ("KAZ customs: KAZ–RUS", "year 2024"):
            ("27,180,553,908.00", "—", "-10,756,541,208.00"),
    }
    assert list(by_view) == list(expected)
    header = rows[0]
    turnover = header.index("TURNOVER_USDUSD") - 2
    yoy = header.index("TURNOVER_YOY_PCT%") - 2
    balance = header.index("BALANCE_USDUSD") - 2
    for view, figures in expected.items():
        cells = by_view[view]
        assert (cells[turnover], cells[yoy], cells[balance]) == figures, view
    # traceable: the exact published value, indicator and period are in the cell
    assert ('title="TURNOVER_USD M RUS→KAZ _T 2024-12 = 2544819418.04 USD (obs_status P)"'
            in page)
    # the HS-27 row is not the total
    assert 'X_USD M RUS→KAZ _T 2024-12 = 1905284999.35 USD' in page


def test_top_partners_rank_the_latest_year(page):
    partners = section(page, "partners")
    rus = table_rows(partners[partners.index("<h3>Russia (<code>RUS</code>): year 2024</h3>"):
                              partners.index("<h3>Kazakhstan (<code>KAZ</code>): year 2024</h3>")])
    assert [r[1] for r in rus[1:]] == ["W00 World (all partners)", "CHN", "TUR", "KAZ", "AZE",
                                       "GEO", "ARM"]
    assert rus[1][2] == "722,813,475,798.74"
    assert rus[2][:4] == ["1", "CHN", "151,604,380,414.43", "20.9742"]
    kaz = table_rows(partners[partners.index("<h3>Kazakhstan (<code>KAZ</code>): year 2024</h3>"):])
    assert [r[1] for r in kaz[2:]] == ["CHN", "RUS"]


def test_top_partners_without_a_complete_year_rank_the_latest_month():
    monthly = [r for r in bilateral_rows() if not (r[0] == "A" and r[1] == "KAZ")]
    partners = section(render_report(monthly, [], manifest()), "partners")
    assert "<h3>Russia (<code>RUS</code>): year 2024</h3>" in partners
    kaz = table_rows(
        partners[partners.index("<h3>Kazakhstan (<code>KAZ</code>): month 2024-12</h3>"):])
    assert [r[1] for r in kaz[2:]] == ["CHN", "RUS", "UZB"]
    assert kaz[2][:3] == ["1", "CHN", "2,900,000,000.00P"]


def test_asymmetry_beyond_30_pct_above_threshold_is_flagged_and_others_are_not(page):
    asym = section(page, "asymmetries")
    assert "USD 10,000,000" in asym and "±30 %" in asym
    flagged = table_rows(asym)[1:]
    assert flagged == [["RUS", "TUR", "month 2024-12", "ASYM_M_PCT", "-45.5000",
                        "1,000,000,000.00", "1,588,000,000.00", "3,000,000,000.00"]]
    # CHN (12 %) and AZE (exactly 30 %) were assessed; ARM and GEO are not above the threshold
    assert "3 asymmetry observations assessed, <strong>1 flagged</strong>" in asym
    assert "2 not assessed" in asym


def test_asymmetry_threshold_is_the_named_constant(monkeypatch):
    monkeypatch.setattr(report, "ASYM_MIN_TURNOVER_USD", report.Decimal("1000000"))
    asym = section(render_report(bilateral_rows(), logistics_rows(), manifest()), "asymmetries")
    assert [r[1] for r in table_rows(asym)[1:]] == ["ARM", "GEO", "TUR"]
    assert "USD 1,000,000" in asym


def test_provisional_counts_and_where(page):
    bilateral, logistics = bilateral_rows(), logistics_rows()
    provisional = section(page, "provisional")
    counts = {r[0]: r[1:] for r in table_rows(provisional) if r[0] in (
        "bilateral_trade", "corridor_logistics")}
    assert counts["bilateral_trade"] == [str(len(bilateral)), "11"]
    assert counts["corridor_logistics"] == [str(len(logistics)), "4"]
    assert sum(r[8] == "P" for r in bilateral) == 11
    groups = {r[0]: r[1:] for r in table_rows(provisional)}
    assert groups["RUS"] == ["8", "month 2024-12; year 2024"]
    assert groups["KAZ"] == ["3", "months 2024-11, 2024-12; year 2024"]
    assert groups["KZAAU"] == ["2", "month 2024-12; year 2024"]
    assert groups["TITR"] == ["2", "month 2024-12; year 2024"]
    assert "DOSTYK" not in groups
    assert "<code>ru_customs 2024-12</code>" in page  # the preliminary input unit


def test_quality_revisions_and_release_metadata(page):
    quality = section(page, "quality")
    assert "57 checks evaluated, 0 critical failed, 2 warnings failed" in quality
    warnings = table_rows(quality[quality.index("Failed warnings"):])
    assert [w[1] for w in warnings[1:3]] == [
        "bilateral_trade: ASYM within ±200",
        "corridor_logistics: &lt;b&gt;stay&lt;/b&gt; hours plausible"]
    assert "rail tonnes" not in quality
    assert '<a href="../../gx/data_docs/index.html">' in quality
    hostile = manifest()
    hostile["quality"]["data_docs"] = "javascript:alert(1)"
    assert "<a href" not in section(render_report([], [], hostile), "quality")
    assert ["bilateral_trade", "120", "3", "47"] in table_rows(quality)
    header = page[:page.index('<section id="headline">')]
    for text in ("20250105T101500Z-0a1b2c3d", "2025-01-05T10:15:00Z", "0.1.0+gabcdef123456",
                 "2023-01 to 2024-12"):
        assert text in header
    sources = section(page, "sources")
    for name in ("bilateral_trade.csv", "corridor_logistics.csv", "manifest.json",
                 "marts.ind_bilateral_trade", "marts.ind_corridor_logistics"):
        assert f"<code>{name}</code>" in sources


def test_feed_status_is_a_feed_by_month_table(page):
    status = section(page, "feed-status")
    assert "<h2>Due, late and missing</h2>" in status
    assert "as of the release (2025-01-05T10:15:00Z UTC)" in status
    rows = table_rows(status)
    assert rows[0] == ["Feed", "Year", *(f"{m:02d}" for m in range(1, 13))]
    by_row = {(r[0], r[1]): r[2:] for r in rows[1:]}
    assert list(by_row) == [(feed, year) for feed in ("ru_customs", "kz_customs", "comtrade",
                                                      "ports", "rail")
                            for year in ("2023", "2024")]
    assert by_row[("ru_customs", "2023")] == [""] * 10 + ["✓", "✓"]  # before the window
    # 2024-11 was due 2025-01-14: not yet; 2024-12 neither
    assert by_row[("ru_customs", "2024")] == ["✓"] * 10 + ["·", "·"]
    assert by_row[("comtrade", "2024")] == ["✓"] * 8 + ["8/9", "·", "·", "·"]
    assert by_row[("ports", "2024")] == ["✓"] * 12
    assert by_row[("rail", "2024")] == ["✓"] * 11 + ["late"]
    assert ('<td class="st st-partial" title="comtrade 2024-09: partly late; 8/9 units; '
            'due 2024-12-29; revision 2; final; fetched 2024-12-20T06:00:00Z; '
            'missing 795:2024-09">8/9</td>') in status
    assert ('title="comtrade 2024-10: not due yet; 0/9 units; due 2025-01-29; '
            'missing 156:2024-10, ' in status)
    assert '<td class="st st-late" title="rail 2024-12: late; 0/31 units; due 2025-01-03;' \
        in status
    assert "(+21)" in status  # 31 missing days, 10 named
    assert 'title="ports 2024-12: loaded; 2/2 units; due 2025-01-05; calls KZAAU 41, KZKUR 12;' \
        in status
    assert ("<code>comtrade</code>: 0 late, 1 partly late;" in status
            and "<code>ru_customs</code>: 0 late, 0 partly late;" in status
            and "<code>rail</code>: 1 late, 0 partly late." in status)
    empty = section(render_report([], [], {**manifest(), "feed_status": []}), "feed-status")
    assert "The manifest has no feed status." in empty and "<table" not in empty


def test_logistics_tables_show_latest_month_and_year(page):
    rows = {r[0]: r[1:] for r in table_rows(section(page, "logistics"))}
    assert rows["Aktau (KZAAU)"] == ["2024-12", "412,000.100P", "2024", "4,748,557.300P"]
    assert rows["Kuryk (KZKUR)"] == ["2024-12", "146,000.500", "—", "—"]
    assert rows["Dostyk – Alashankou (DOSTYK)"] == [
        "2024-12", "1,500,012.101", "2024", "15,255,229.624"]
    assert rows["Trans-Caspian International Transport Route (TITR)"] == [
        "2024-12", "1,270,012.168P", "2024", "12,881,308.919P"]


def test_page_is_self_contained_and_escapes_data():
    rows = logistics_rows() + [log("M", "<script>alert(1)</script>", "RAIL_T", "2024-12", "1.000")]
    page = render_report(bilateral_rows(), sorted(rows), manifest())
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for tag, attrs in tags(page):
        for name in ("src", "href"):
            target = (attrs.get(name) or "").strip().lower()
            assert not target.startswith(("http:", "https:", "//")), (tag, attrs)
        assert tag != "link" and not (tag == "script" and "src" in attrs), (tag, attrs)
    assert page.count(get_plotlyjs()[:500]) == 1  # plotly.js embedded once, not per chart
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    chart_ids = [a["id"] for t, a in tags(page) if "plotly-graph-div" in (a.get("class") or "")]
    assert chart_ids == ["chart-rus-kaz-turnover", "chart-port-throughput",
                         "chart-rail-crossings", "chart-corridor-totals"]


def test_same_input_gives_same_bytes(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    write_report(first, bilateral_rows(), logistics_rows(), manifest())
    shuffled_bilateral, shuffled_logistics = bilateral_rows(), logistics_rows()
    random.Random(7).shuffle(shuffled_bilateral)
    random.Random(7).shuffle(shuffled_logistics)
    write_report(second, shuffled_bilateral, shuffled_logistics, manifest())
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().decode("utf-8") == render_report(
        bilateral_rows(), logistics_rows(), manifest())


def test_empty_release_renders_without_charts():
    page = render_report([], [], {**manifest(), "revisions": None})
    assert "plotly-graph-div" not in page
    assert get_plotlyjs()[:500] not in page
    assert "No RU–KZ turnover is published in this release." in page
    assert "No port throughput is published in this release." in page


def test_template_is_shipped_as_package_data():
    config = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["corridor"]
    assert any(fnmatch.fnmatch("publish/templates/report.html.j2", p) for p in patterns)
    for language in ("ru", "kk"):
        assert any(fnmatch.fnmatch(f"publish/translations/{language}.po", p)
                   for p in patterns)


# --- in a browser -------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
#: A laptop without Chromium skips; CI (which installs it) fails instead of skipping.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="headless Chromium not installed (Debian package `chromium`)")


def run_chromium(page: Path, work: Path) -> tuple[bytes, str, str]:
    """Open ``page`` headless: its screenshot, its DOM after scripts ran, the log."""
    assert CHROMIUM, "headless Chromium is not installed (.ci/run installs Debian's chromium)"
    screenshot = work / "report.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run",
               f"--user-data-dir={work / 'profile'}", "--window-size=1280,3000",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
               f"--screenshot={screenshot}", "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-3000:]
    png = screenshot.read_bytes() if screenshot.exists() else b""
    return png, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def console_messages(log_text: str) -> list[str]:
    """The page's console output (Chromium logs every level as ``INFO:CONSOLE``)."""
    return [line for line in log_text.splitlines() if ":CONSOLE" in line
            or "Uncaught" in line]


def png_size_and_variety(png: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the image data."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    data, position = b"", 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        if kind == b"IDAT":
            data += png[position + 8:position + 8 + length]
        position += 12 + length
    return width, height, len(set(zlib.decompress(data)))


@needs_chromium
def test_console_capture_sees_script_errors(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();"
                      "</script></body></html>", encoding="utf-8")
    _, _, log_text = run_chromium(broken, tmp_path)
    assert any("Uncaught ReferenceError" in m for m in console_messages(log_text))


@needs_chromium
def test_page_renders_in_chromium_with_every_chart_and_no_console_errors(tmp_path):
    path = tmp_path / "report.html"
    write_report(path, bilateral_rows(), logistics_rows(), manifest())
    chart_ids = [a["id"] for t, a in tags(path.read_text(encoding="utf-8"))
                 if "plotly-graph-div" in (a.get("class") or "")]
    assert len(chart_ids) == 4

    png, dom, log_text = run_chromium(path, tmp_path)

    assert console_messages(log_text) == []
    width, height, variety = png_size_and_variety(png)
    assert (width, height) == (1280, 3000)
    assert len(png) > 50_000 and variety > 100, (len(png), variety)
    # plotly draws each chart as <svg class="main-svg"> inside the chart's div; a chart
    # that failed leaves its div empty. Each div's part of the DOM runs to the next one.
    starts = [dom.index(f'id="{chart_id}"') for chart_id in chart_ids]
    for chart_id, start, end in zip(chart_ids, starts, [*starts[1:], len(dom)], strict=True):
        assert 'class="main-svg"' in dom[start:end], f"{chart_id} was not drawn"
    assert "2,544,819,418.04" in dom


# --- languages (spec/indicators.md "Languages") -------------------------------------

LANGUAGE_PAGES = {"en": "report.html", "ru": "report.ru.html", "kk": "report.kk.html"}


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return {language: render_report(bilateral_rows(), logistics_rows(), manifest(), language)
            for language in LANGUAGE_PAGES}


def text_outside_code(html: str) -> str:
    """The text of ``html`` without tags and without what ``<code>`` holds (codes:
    indicator IDs, file names, release IDs are the same in every language) or a link (a
    path)."""
    html = re.sub(r"<code[^>]*>.*?</code>|<a [^>]*>.*?</a>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def labels_of(page: str) -> list[str]:
    """The texts of the page's title, headings, table headers, notes, empty notes and
    definitions: its labels, as opposed to its data."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.S)
    return [text_outside_code(m).strip() for m in re.findall(
        r"<(?:title|h1|h2|h3|th|dt|p)\b[^>]*>(.*?)</(?:title|h1|h2|h3|th|dt|p)>", body, re.S)]


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_no_english_label_is_left_in_the_russian_and_kazakh_pages(pages, language):
    english = {label for label in labels_of(pages["en"]) if re.search(r"[a-z]{2}", label)}
    assert len(english) > 60  # the check looks at the page's labels, not at nothing
    left = [label for label in labels_of(pages[language])
            if label in english or re.search(r"\b(?!Corridor\b|Great\b|Expectations\b|Data\b|"
                                              r"Docs\b|dbt\b)[A-Za-z]*[a-z]{2}", label)]
    assert not left, left


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_each_page_sets_its_language_and_links_to_the_other_two(pages, language):
    page = pages[language]
    assert f'<html lang="{language}">' in page
    links = {a["href"] for t, a in tags(page) if t == "a" and a.get("hreflang")}
    assert links == {name for other, name in LANGUAGE_PAGES.items() if other != language}


def test_the_pages_show_the_same_observations_in_the_languages_number_format(pages):
    nbsp = "\u00a0"
    assert "2,544,819,418.04" in pages["en"] and "+3.2500" in pages["en"]
    for language in ("ru", "kk"):
        assert f"2{nbsp}544{nbsp}819{nbsp}418,04" in pages[language]
        assert "+3,2500" in pages[language] and "-1,9919" in pages[language]
        assert "2,544,819,418.04" not in pages[language]
    # every page has a cell for the same observations, with the exact published text in
    # its tooltip
    traces = {language: re.findall(r'title="([A-Z_]+ [AM] [^"=:]*?) = ([-0-9.]+) ', page)
              for language, page in pages.items()}
    assert traces["en"] and traces["en"] == traces["ru"] == traces["kk"]
    assert ("TURNOVER_USD M RUS→KAZ _T 2024-12 = 2544819418.04 USD (obs_status P)"
            in pages["ru"])


def test_country_and_node_names_are_in_the_pages_language(pages):
    assert "Россия (<code>RUS</code>)" in pages["ru"]
    assert "Ресей (<code>RUS</code>)" in pages["kk"]
    assert "Ақтау (<code>KZAAU</code>)" in pages["kk"]
    # the charts' legends and titles (plotly's JSON escapes them)
    assert f'"name":{json.dumps("Актау")}' in pages["ru"]
    assert json.dumps("Грузооборот портов (PORT_T, _T")[:-1] in pages["ru"]


def test_every_message_of_the_page_is_in_each_catalogue():
    """The msgids the template and report.py use (Babel's extractors) are exactly the
    catalogues': a new English text cannot ship untranslated, a stale one is noticed."""
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    publish = Path(report.__file__).parent
    used = {message for path, method, options in (
                (publish / "report.py", "python", {}),
                (publish / "templates" / "report.html.j2", "jinja2.ext:babel_extract",
                 {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                  "lstrip_blocks": "true"}))
            for _, message, _, _ in extract_from_file(method, str(path), options=options)}
    assert len(used) > 90
    for language in ("ru", "kk"):
        with (publish / "translations" / f"{language}.po").open("rb") as handle:
            catalogue = {m.id: m.string for m in read_po(handle) if m.id}
        assert sorted(used - set(catalogue)) == [], f"{language}.po lacks these"
        assert sorted(set(catalogue) - used) == [], f"{language}.po has stale messages"
        assert [m for m, text in catalogue.items() if not text.strip()] == []


def test_a_message_without_translation_fails_the_page_naming_it(monkeypatch):
    catalogue = dict(report._catalogue("kk"))
    del catalogue["Top partners"]
    monkeypatch.setattr(report, "_catalogue", lambda language: catalogue)
    report._environment.cache_clear()
    try:
        with pytest.raises(KeyError, match="translations/kk.po has no translation of "
                                           "'Top partners'"):
            render_report(bilateral_rows(), logistics_rows(), manifest(), "kk")
    finally:
        report._environment.cache_clear()


@needs_chromium
@pytest.mark.parametrize("language", ["ru", "kk"])
def test_the_translated_pages_render_in_chromium_with_no_console_messages(tmp_path,
                                                                         language):
    [path] = [p for p in report.write_reports(tmp_path, bilateral_rows(), logistics_rows(),
                                              manifest())
              if p.name == LANGUAGE_PAGES[language]]
    png, dom, log_text = run_chromium(path, tmp_path)
    assert console_messages(log_text) == []
    assert dom.count('class="main-svg"') >= 4
    assert "2&nbsp;544&nbsp;819&nbsp;418,04" in dom


def test_the_pages_link_each_dataset_on_the_api_when_one_is_configured():
    url = "https://stats.example/corridor/"
    for language in LANGUAGE_PAGES:
        page = render_report(bilateral_rows(), logistics_rows(), manifest(), language, url)
        links = {a["href"] for t, a in tags(page) if t == "a" and "/sdmx/2.1/" in a["href"]}
        assert links == {
            "https://stats.example/corridor/sdmx/2.1/data/dataflow/CORRIDOR/"
            "DF_BILATERAL_TRADE/1.0.0/*",
            "https://stats.example/corridor/sdmx/2.1/data/dataflow/CORRIDOR/"
            "DF_CORRIDOR_LOGISTICS/1.0.0/*"}
    for unset in (None, "", "javascript:alert(1)"):
        page = render_report(bilateral_rows(), logistics_rows(), manifest(), "en", unset)
        assert "/sdmx/2.1/" not in page
