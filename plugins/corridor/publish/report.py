"""``report.html``: the release summarised for a ministry reader, on one offline page.

Every number on the page is a published observation of the release (its plain-CSV
text), only scaled and rounded for display; the exact published value, its indicator
code, key and period are in each cell's tooltip. Nothing is summed or recomputed here:
a figure the datasets do not publish is not shown. The page loads nothing from the
network (plotly.js is embedded once, and a Content-Security-Policy forbids any fetch),
and it is byte-identical for the same input (no clock, fixed chart ids).

The page is written in each of ``LANGUAGES`` (``report.html``, ``report.ru.html``,
``report.kk.html``; spec/indicators.md "Languages"): one template, its English text
translated by gettext catalogues (``translations/<lang>.po``, read with Babel), numbers
in the language's CLDR digit grouping and decimal sign, names of countries (CLDR) and
nodes (seed ``ref_labels``) in the language. A message with no translation fails the
page rather than leave English in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from corridor.quality.suites import (
    MIRROR_ASYMMETRY_LIMIT_PCT,
    MIRROR_ASYMMETRY_MIN_TURNOVER_USD,
)
from corridor.reference import LANGUAGES, country_names, indicators, labels, reporters

# A mirror asymmetry is flagged when |ASYM_*_PCT| exceeds this many percent and the
# reporter's TURNOVER_USD with that partner in that period is above this: small flows
# give large percentages from a few shipments booked in another month. The same limits
# as the gate's warning (corridor.quality.suites), so page and manifest agree.
ASYM_FLAG_PCT = Decimal(MIRROR_ASYMMETRY_LIMIT_PCT)
ASYM_MIN_TURNOVER_USD = Decimal(MIRROR_ASYMMETRY_MIN_TURNOVER_USD)
TOP_PARTNERS = 10

ALL_PARTNERS = "W00"
ALL_COMMODITIES = "_T"
TOTAL = "_T"
USD_PER_MILLION = Decimal(1_000_000)

SOURCE_FILES = ("bilateral_trade.csv", "corridor_logistics.csv", "manifest.json")
SOURCE_MARTS = ("marts.ind_bilateral_trade", "marts.ind_corridor_logistics")

_HEADLINE_INDICATORS = ("TURNOVER_USD", "TURNOVER_YOY_PCT", "X_USD", "X_YOY_PCT",
                        "M_USD", "M_YOY_PCT", "BALANCE_USD")
_PARTNER_INDICATORS = ("TURNOVER_USD", "PARTNER_SHARE_PCT", "TURNOVER_YOY_PCT",
                       "X_USD", "M_USD", "BALANCE_USD")
_ASYM_FLOWS = {"ASYM_X_PCT": ("X_USD", "MIRROR_X_USD"),
               "ASYM_M_PCT": ("M_USD", "MIRROR_M_USD")}
#: plotly's tool bar is English only (its locales are not in the Python package); the
#: pages have none, so every language shows the same chart.
_PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}
_CHART_COLORS = ("#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#6a4c93",
                 "#3a9ca8", "#8c6d31", "#5c6670", "#c2549d", "#7d9b2f")


def _reporter_pairs() -> list[tuple[str, str]]:
    """Each reporter's own customs view of the other (the RUS-KAZ pair both ways)."""
    return [(reporter, partner) for reporter in reporters() for partner in reporters()
            if partner != reporter]


# --- languages ----------------------------------------------------------------------

#: Each language's page and the language's own name (the links between the pages).
PAGES = {"en": ("report.html", "English"), "ru": ("report.ru.html", "Русский"),
         "kk": ("report.kk.html", "Қазақша")}
TRANSLATIONS = Path(__file__).parent / "translations"

Gettext = Callable[[str], str]


@cache
def _catalogue(language: str) -> dict[str, str]:
    """The translations of ``translations/<language>.po``: English text -> translation."""
    with (TRANSLATIONS / f"{language}.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    return {message.id: message.string for message in catalogue
            if message.id and message.string and not message.fuzzy}


def gettext(language: str) -> Gettext:
    """The page's translation function; English is the source text. A message the
    catalogue lacks raises, naming it: a page is never half translated."""
    if language == "en":
        return lambda message: message
    catalogue = _catalogue(language)

    def translate(message: str) -> str:
        try:
            return catalogue[message]
        except KeyError:
            raise KeyError(f"translations/{language}.po has no translation of "
                           f"{message!r}") from None
    return translate


# --- number formatting --------------------------------------------------------------

def format_published(value: str, *, signed: bool = False, language: str = "en") -> str:
    """A published value with the language's digit grouping and decimal sign, every
    digit kept: ``"2544819418.04"`` -> ``"2,544,819,418.04"`` (ru, kk: ``"2 544 819
    418,04"``); signed (changes, asymmetries): ``"3.2500"`` -> ``"+3.2500"``. Nothing is
    rounded again: the page shows the release's numbers, not approximations of them."""
    number = Decimal(value)
    places = max(0, -number.as_tuple().exponent)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    text = format_decimal(number, format=pattern, locale=language)
    return f"+{text}" if signed and number > 0 else text


def format_count(count: int, language: str) -> str:
    """A count with the language's digit grouping."""
    return format_decimal(count, format="#,##0", locale=language)


class Words:
    """One language's words of the page: its translations, numbers and names."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._ = gettext(language)
        names = {**country_names(), **labels().scheme("CL_AREA"),
                 **labels().scheme("CL_NODE")}
        self.names = {code: by_language[language] for code, by_language in names.items()}
        self.indicators = {code: indicator.names[language]
                           for code, indicator in indicators().items()}

    def name(self, code: str) -> str:
        """A country's or node's name in the language (the code itself if unnamed)."""
        return self.names.get(code, code)

    def freq(self, freq: str) -> str:
        _ = self._
        return {"M": _("month"), "A": _("year")}[freq]

    def value(self, obs: Obs, indicator: str) -> str:
        return format_value(obs.value, obs.unit, indicator, self.language)

    def count(self, count: int) -> str:
        return format_count(count, self.language)


def format_value(value: str, unit: str, indicator: str = "", language: str = "en") -> str:
    """A published value for display (changes and gaps with a sign)."""
    return format_published(value, signed=unit == "PCT" and _is_change(indicator),
                            language=language)


def _is_change(indicator: str) -> bool:
    return indicator.endswith("_YOY_PCT") or indicator.startswith("ASYM_")


# --- the release's observations -----------------------------------------------------

@dataclass(frozen=True)
class Obs:
    """One published observation: its key columns, value text, unit and status."""

    key: tuple[str, ...]
    value: str
    unit: str
    status: str

    @property
    def freq(self) -> str:
        return self.key[0]

    @property
    def period(self) -> str:
        return self.key[-1]


@dataclass(frozen=True)
class Cell:
    """A table cell: the display text and, for traceability, where it comes from."""

    text: str
    trace: str = ""
    status: str = ""
    numeric: bool = True


def _index(rows: Iterable[Sequence[str]]) -> dict[tuple[str, ...], Obs]:
    index = {}
    for row in rows:
        key = tuple(row[:6])
        index[key] = Obs(key, row[6], row[7], row[8])
    return index


def _cell(words: Words, obs: Obs | None, indicator: str, label: str) -> Cell:
    """``label`` names the observation (indicator, key, period) in the tooltip, which
    gives the exact published text."""
    _ = words._
    if obs is None:
        return Cell("—", _("{label}: not published").format(label=label))
    return Cell(words.value(obs, indicator),
                _("{label} = {value} {unit} (obs_status {status})").format(
                    label=label, value=obs.value, unit=obs.unit, status=obs.status),
                obs.status)


def _bilateral_cell(words: Words, index: dict, freq: str, reporter: str, partner: str,
                    indicator: str, period: str) -> Cell:
    obs = index.get((freq, reporter, partner, indicator, ALL_COMMODITIES, period))
    label = f"{indicator} {freq} {reporter}→{partner} {ALL_COMMODITIES} {period}"
    return _cell(words, obs, indicator, label)


def _view(words: Words, reporter: str, partner: str) -> str:
    """A reporter's customs view of a partner (the RU–KZ pair's two lines), by codes."""
    return words._("{reporter} customs: {reporter}–{partner}").format(
        reporter=reporter, partner=partner)


def _latest(periods: Iterable[str]) -> str | None:
    return max(periods, default=None)


# --- sections -----------------------------------------------------------------------

@dataclass
class HeadlineRow:
    view: str
    freq: str
    period: str
    cells: list[Cell]


def _headline(words: Words, index: dict) -> list[HeadlineRow]:
    """RU–KZ turnover and balance in both reporters' views: latest month and year."""
    rows = []
    for reporter, partner in _reporter_pairs():
        for freq in ("M", "A"):
            period = _latest(k[5] for k in index
                             if k[:5] == (freq, reporter, partner, "TURNOVER_USD",
                                          ALL_COMMODITIES))
            if period is None:
                continue
            rows.append(HeadlineRow(
                _view(words, reporter, partner), words.freq(freq), period,
                [_bilateral_cell(words, index, freq, reporter, partner, indicator, period)
                 for indicator in _HEADLINE_INDICATORS]))
    return rows


@dataclass
class PartnerTable:
    reporter: str
    freq: str
    period: str
    total: list[Cell]
    rows: list[tuple[int, str, list[Cell]]]


def _top_partners(words: Words, index: dict) -> list[PartnerTable]:
    """The reporter's largest partners by TURNOVER_USD in its latest year, else month.

    No total over the window is published, so without a complete year the latest month
    is ranked rather than summing rounded monthly values.
    """
    tables = []
    for reporter in reporters():
        turnover = {k: o for k, o in index.items()
                    if k[1] == reporter and k[3] == "TURNOVER_USD"
                    and k[4] == ALL_COMMODITIES and k[2] != ALL_PARTNERS}
        for freq in ("A", "M"):
            period = _latest(k[5] for k in turnover if k[0] == freq)
            if period is not None:
                break
        else:
            continue
        ranked = sorted((o for k, o in turnover.items() if k[0] == freq and k[5] == period),
                        key=lambda o: (-Decimal(o.value), o.key[2]))[:TOP_PARTNERS]
        rows = [(rank, o.key[2],
                 [_bilateral_cell(words, index, freq, reporter, o.key[2], indicator, period)
                  for indicator in _PARTNER_INDICATORS])
                for rank, o in enumerate(ranked, start=1)]
        total = [_bilateral_cell(words, index, freq, reporter, ALL_PARTNERS, indicator,
                                 period)
                 for indicator in _PARTNER_INDICATORS]
        tables.append(PartnerTable(reporter, words.freq(freq), period, total, rows))
    return tables


@dataclass
class Asymmetries:
    assessed: int = 0
    below_threshold: int = 0
    flagged: list[dict] = field(default_factory=list)


def _asymmetries(words: Words, index: dict) -> Asymmetries:
    """Monthly ASYM_*_PCT beyond ±ASYM_FLAG_PCT where the partner's turnover is material."""
    result = Asymmetries()
    for key, obs in sorted(index.items()):
        freq, reporter, partner, indicator, commodity, period = key
        # partner-months, like the gate's warning (corridor.quality.suites)
        if indicator not in _ASYM_FLOWS or commodity != ALL_COMMODITIES or freq != "M":
            continue
        turnover = index.get((freq, reporter, partner, "TURNOVER_USD", commodity, period))
        if turnover is None or Decimal(turnover.value) <= ASYM_MIN_TURNOVER_USD:
            result.below_threshold += 1
            continue
        result.assessed += 1
        if abs(Decimal(obs.value)) <= ASYM_FLAG_PCT:
            continue
        flow, mirror = _ASYM_FLOWS[indicator]
        result.flagged.append({
            "reporter": reporter, "partner": partner, "freq": words.freq(freq),
            "period": period, "indicator": indicator,
            "cells": [_bilateral_cell(words, index, freq, reporter, partner, name, period)
                      for name in (indicator, flow, mirror, "TURNOVER_USD")],
            "flow": flow, "mirror": mirror,
        })
    return result


@dataclass
class Series:
    """One chart line: a node's monthly values of one indicator."""

    node: str
    observations: list[Obs]


def _node_series(words: Words, index: dict, indicator: str) -> list[Series]:
    """Monthly ``_T``/``_T`` observations of ``indicator`` per node (named in the
    language), in period order."""
    by_node: dict[str, list[Obs]] = defaultdict(list)
    for key, obs in index.items():
        if key[0] == "M" and key[2] == indicator and key[3] == TOTAL and key[4] == TOTAL:
            by_node[key[1]].append(obs)
    return [Series(words.name(node), sorted(obs, key=lambda o: o.period))
            for node, obs in sorted(by_node.items())]


def _node_latest(words: Words, index: dict, indicator: str) -> list[dict]:
    """Per node: the latest month's and latest year's published value."""
    nodes = sorted({k[1] for k in index if k[2] == indicator and k[3] == TOTAL
                    and k[4] == TOTAL})
    table = []
    for node in nodes:
        row = {"node": node, "cells": []}
        for freq in ("M", "A"):
            period = _latest(k[5] for k in index
                             if k[:5] == (freq, node, indicator, TOTAL, TOTAL))
            if period is None:
                row["cells"] += [Cell("—", numeric=False),
                                 Cell("—", words._("not published"))]
                continue
            obs = index[(freq, node, indicator, TOTAL, TOTAL, period)]
            label = f"{indicator} {freq} {node} {TOTAL} {TOTAL} {period}"
            row["cells"] += [Cell(period, numeric=False),
                             _cell(words, obs, indicator, label)]
        table.append(row)
    return table


def _chart(words: Words, div_id: str, title: str, series: list[Series], unit_label: str,
           scale: Decimal) -> Markup:
    """A line chart of published monthly values; open markers are provisional.

    The plotted value is the published one divided by ``scale`` (display units, like
    the tables); the hover shows the exact published text. Axis numbers use the
    language's decimal sign and digit grouping.
    """
    fig = go.Figure()
    for position, line in enumerate(series):
        fig.add_trace(go.Scatter(
            x=[o.period for o in line.observations],
            y=[float(Decimal(o.value) / scale) for o in line.observations],
            customdata=[[o.value, o.unit, o.status] for o in line.observations],
            name=line.node, mode="lines+markers",
            line={"color": _CHART_COLORS[position % len(_CHART_COLORS)], "width": 2},
            marker={"size": 6, "symbol": ["circle-open" if o.status == "P" else "circle"
                                          for o in line.observations]},
            hovertemplate=(f"{line.node} %{{x|%Y-%m}}<br>%{{customdata[0]}} "
                           "%{customdata[1]} (obs_status %{customdata[2]})<extra></extra>"),
        ))
    fig.update_layout(
        template=go.layout.Template(), title={"text": title, "x": 0}, height=420,
        margin={"l": 70, "r": 20, "t": 50, "b": 50}, paper_bgcolor="white",
        plot_bgcolor="white", font={"family": "system-ui, sans-serif", "size": 13},
        legend={"orientation": "h", "y": -0.15}, hovermode="closest",
        separators=get_decimal_symbol(words.language) + get_group_symbol(words.language),
        xaxis={"type": "date", "tickformat": "%Y-%m", "gridcolor": "#e5e8ec"},
        yaxis={"title": {"text": unit_label}, "gridcolor": "#e5e8ec",
               "separatethousands": True, "rangemode": "tozero"},
    )
    return Markup(pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                              config=_PLOTLY_CONFIG, default_height="420px", validate=True))


def _provisional(index: dict, group_column: int) -> list[dict]:
    """Which groups (reporter or node) have provisional observations, and when."""
    groups: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    counts: dict[str, int] = defaultdict(int)
    for key, obs in index.items():
        if obs.status == "P":
            groups[key[group_column]][key[0]].add(key[5])
            counts[key[group_column]] += 1
    return [{"group": group, "count": counts[group],
             "months": sorted(groups[group].get("M", ())),
             "years": sorted(groups[group].get("A", ()))}
            for group in sorted(groups)]


def _quality(manifest: dict) -> dict:
    quality = manifest.get("quality") or {}
    checks = [{"name": c.get("name", ""), "suite": c.get("suite", ""),
               "severity": c.get("severity", ""), "success": c.get("success"),
               "observed": c.get("observed", "")}
              for c in quality.get("checks") or []]
    return {
        "success": quality.get("success"),
        "evaluated": quality.get("evaluated"),
        "failed": quality.get("failed"),
        "failed_warnings": quality.get("failed_warnings"),
        "warnings": [c for c in checks if not c.get("success")
                     and c.get("severity") != "critical"],
        "criticals": [c for c in checks if not c.get("success")
                      and c.get("severity") == "critical"],
        "data_docs": quality.get("data_docs"),
        # linked only as a relative path: a scheme (javascript:, http:) is shown, not linked
        "data_docs_linked": ":" not in str(quality.get("data_docs") or ":"),
    }


@dataclass(frozen=True)
class StatusMark:
    """One feed × month of the manifest's ``feed_status`` on the page."""

    text: str
    state: str
    trace: str


def _status_mark(words: Words, c: dict) -> StatusMark:
    _ = words._
    state = c.get("state", "")
    units = f"{c.get('units_loaded')}/{c.get('units_expected')}"
    text = {"loaded": "✓", "late": _("late"), "not_due": "·"}.get(state) or units
    state_name = {"loaded": _("loaded"), "not_due": _("not due yet"), "late": _("late"),
                  "partial": _("partly late")}.get(state, state)
    trace = [f"{c.get('feed')} {c.get('month')}: {state_name}",
             _("{units} units").format(units=units),
             _("due {date}").format(date=c.get("due_date"))]
    if c.get("revisions"):
        trace.append(_("revision {revisions}").format(
            revisions=", ".join(str(r) for r in c["revisions"])))
    if c.get("statuses"):
        trace.append(", ".join(c["statuses"]))
    if c.get("calls"):
        trace.append(_("calls {calls}").format(
            calls=", ".join(f"{p} {n}" for p, n in c["calls"].items())))
    if c.get("fetched_at"):
        trace.append(_("fetched {at}").format(at=c["fetched_at"]))
    if c.get("missing") and state != "loaded":
        missing = c["missing"]
        trace.append(_("missing {codes}").format(
            codes=", ".join(missing[:10])
            + (f" (+{len(missing) - 10})" if len(missing) > 10 else "")))
    return StatusMark(text, state, "; ".join(trace))


def _feed_status(words: Words, manifest: dict) -> dict:
    """The manifest's feed × month grid as rows of feed × year, a column per month."""
    cells = manifest.get("feed_status") or []
    grid = {(c.get("feed"), c.get("month")): c for c in cells}
    feeds = list(dict.fromkeys(c.get("feed") for c in cells))
    years = sorted({str(c.get("month"))[:4] for c in cells})
    rows = [{"feed": feed, "year": year,
             "cells": [_status_mark(words, grid[(feed, f"{year}-{m:02d}")])
                       if (feed, f"{year}-{m:02d}") in grid else None for m in range(1, 13)]}
            for feed in feeds for year in years]
    counts = {feed: {state: sum(1 for c in cells if c.get("feed") == feed
                                and c.get("state") == state)
                     for state in ("late", "partial")} for feed in feeds}
    return {"rows": rows, "counts": counts, "as_of": manifest.get("created_at")}


# --- page ---------------------------------------------------------------------------

@cache
def _environment(language: str) -> Environment:
    environment = Environment(loader=PackageLoader("corridor.publish", "templates"),
                              autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              extensions=["jinja2.ext.i18n"])
    translate = gettext(language)
    environment.install_gettext_callables(
        translate, lambda one, many, n: translate(one if n == 1 else many), newstyle=True)
    environment.filters["count"] = lambda count: format_count(count, language)
    return environment


def api_links(api_url: str | None) -> dict[str, str]:
    """Each dataset's data query on the consumer API at ``api_url`` (``CORRIDOR_API_URL``);
    none unless it is an http(s) URL."""
    from corridor.publish.sdmx import AGENCY_ID, DATAFLOWS, VERSION

    if not api_url or not api_url.lower().startswith(("https://", "http://")):
        return {}
    base = api_url.rstrip("/")
    return {name: f"{base}/sdmx/2.1/data/dataflow/{AGENCY_ID}/{flow}/{VERSION}/*"
            for name, flow in DATAFLOWS.items()}


def render_report(bilateral: list[tuple[str, ...]], logistics: list[tuple[str, ...]],
                  manifest: dict, language: str = "en", api_url: str | None = None) -> str:
    """The release's report page in ``language`` as HTML text (self-contained,
    deterministic); with ``api_url``, it links each dataset's query on the API."""
    words = Words(language)
    _ = words._
    trade = _index(bilateral)
    nodes = _index(logistics)
    pair = [Series(_view(words, reporter, partner),
                   sorted((o for k, o in trade.items()
                           if k[:5] == ("M", reporter, partner, "TURNOVER_USD",
                                        ALL_COMMODITIES)),
                          key=lambda o: o.period))
            for reporter, partner in _reporter_pairs()]
    pair = [s for s in pair if s.observations]
    tonnes = Decimal(1)
    charts = {
        "pair": (pair, "chart-rus-kaz-turnover", _("RU–KZ turnover (TURNOVER_USD), monthly"),
                 _("USD million"), USD_PER_MILLION),
        "ports": (_node_series(words, nodes, "PORT_T"), "chart-port-throughput",
                  _("Port throughput (PORT_T, _T/_T), monthly"), _("tonnes"), tonnes),
        "rail": (_node_series(words, nodes, "RAIL_T"), "chart-rail-crossings",
                 _("Rail crossings (RAIL_T, _T), monthly"), _("tonnes"), tonnes),
        "corridors": (_node_series(words, nodes, "CORRIDOR_NODE_T"), "chart-corridor-totals",
                      _("Corridor node throughput (CORRIDOR_NODE_T), monthly"), _("tonnes"),
                      tonnes),
    }
    rendered = {name: (_chart(words, div_id, title, series, unit, scale) if series else None)
                for name, (series, div_id, title, unit, scale) in charts.items()}
    inputs = manifest.get("inputs") or []
    context = {
        "language": language,
        "pages": PAGES,
        "words": words,
        "manifest": manifest,
        "coverage": {"first_period": (manifest.get("coverage") or {}).get("first_period"),
                     "last_period": (manifest.get("coverage") or {}).get("last_period")},
        "previous_release_id": manifest.get("previous_release_id"),
        "revisions": manifest.get("revisions"),
        "files": [f for f in manifest.get("files") or [] if "rows" in f],
        "inputs_total": len(inputs),
        "inputs_preliminary": [i for i in inputs if i.get("status") == "preliminary"],
        "indicator_units": {code: i.unit_measure for code, i in indicators().items()},
        "headline_indicators": _HEADLINE_INDICATORS,
        "headline": _headline(words, trade),
        "partner_indicators": _PARTNER_INDICATORS,
        "partners": _top_partners(words, trade),
        "top_n": TOP_PARTNERS,
        "asym": _asymmetries(words, trade),
        "asym_flag_pct": format_published(format(ASYM_FLAG_PCT, "f"), language=language),
        "asym_min_turnover_usd": format_published(f"{ASYM_MIN_TURNOVER_USD:.0f}",
                                                  language=language),
        "charts": rendered,
        "ports": _node_latest(words, nodes, "PORT_T"),
        "rail": _node_latest(words, nodes, "RAIL_T"),
        "corridors": _node_latest(words, nodes, "CORRIDOR_NODE_T"),
        "quality": _quality(manifest),
        "feed_status": _feed_status(words, manifest),
        "provisional_counts": {
            "bilateral_trade": (sum(o.status == "P" for o in trade.values()), len(trade)),
            "corridor_logistics": (sum(o.status == "P" for o in nodes.values()), len(nodes)),
        },
        "provisional_reporters": _provisional(trade, 1),
        "provisional_nodes": _provisional(nodes, 1),
        "source_files": SOURCE_FILES,
        "source_marts": SOURCE_MARTS,
        "api_links": api_links(api_url),
        "plotlyjs": Markup(get_plotlyjs()) if any(rendered.values()) else None,
    }
    return _environment(language).get_template("report.html.j2").render(context)


def write_report(path: Path, bilateral: list[tuple[str, ...]],
                 logistics: list[tuple[str, ...]], manifest: dict,
                 language: str = "en", api_url: str | None = None) -> None:
    """Write one language's page (UTF-8)."""
    path.write_bytes(render_report(bilateral, logistics, manifest, language,
                                   api_url).encode("utf-8"))


def write_reports(folder: Path, bilateral: list[tuple[str, ...]],
                  logistics: list[tuple[str, ...]], manifest: dict,
                  api_url: str | None = None) -> list[Path]:
    """Write every language's page into ``folder`` (``PAGES``); their paths."""
    paths = []
    for language in LANGUAGES:
        path = folder / PAGES[language][0]
        write_report(path, bilateral, logistics, manifest, language, api_url)
        paths.append(path)
    return paths
