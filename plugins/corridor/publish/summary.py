"""The one-screen summary ``corridor run`` prints after publishing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer

from corridor.publish.release import latest_release


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _headline(rows: list[dict[str, str]], match: dict[str, str]) -> dict[str, str] | None:
    """The latest monthly observation matching ``match``."""
    found = [r for r in rows if r["freq"] == "M" and all(r[k] == v for k, v in match.items())]
    return max(found, key=lambda r: r["time_period"]) if found else None


def print_summary(published: Path) -> None:
    release = latest_release(published)
    if release is None:
        typer.echo("no release published")
        return
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    quality = manifest["quality"]
    typer.echo(f"\nRelease {manifest['release_id']}  ->  {release}")
    coverage = manifest["coverage"]
    typer.echo(f"coverage {coverage['first_period']}..{coverage['last_period']}"
               f", {len(manifest['inputs'])} input units, code {manifest['code_version']}")
    for item in manifest["files"]:
        rows = f"{item['rows']:>8} rows" if "rows" in item else ""
        typer.echo(f"  {item['name']:<34} {rows}")
    for name, counts in manifest.get("revisions", {}).items():
        typer.echo(f"revisions {name}: " + ", ".join(f"{n} {change}"
                                                     for change, n in counts.items()))
    typer.echo(f"quality: {quality['evaluated']} checks, {quality['failed']} critical failed, "
               f"{quality['failed_warnings']} warnings")
    bilateral = _rows(release / "bilateral_trade.csv")
    logistics = _rows(release / "corridor_logistics.csv")
    lines = [
        ("RUS-KAZ turnover (RU customs)", bilateral,
         {"ref_area": "RUS", "counterpart_area": "KAZ", "indicator": "TURNOVER_USD",
          "commodity": "_T"}),
        ("KAZ total turnover", bilateral,
         {"ref_area": "KAZ", "counterpart_area": "W00", "indicator": "TURNOVER_USD",
          "commodity": "_T"}),
        ("Aktau port tonnes", logistics,
         {"node": "KZAAU", "indicator": "PORT_T", "direction": "_T", "cargo": "_T"}),
        ("Dostyk rail tonnes", logistics,
         {"node": "DOSTYK", "indicator": "RAIL_T", "direction": "_T", "cargo": "_T"}),
    ]
    for label, rows, match in lines:
        row = _headline(rows, match)
        if row:
            typer.echo(f"  {label:<32} {row['time_period']}  {row['obs_value']:>20} "
                       f"{row['unit_measure']} ({row['obs_status']})")
    typer.echo(f"report: {release / 'report.html'}")
