"""The two published datasets: their marts, key columns and plain CSV text format.

Shared by the release writer, the SDMX writer, the revisions diff and the report, so
that every file of a release renders an observation the same way.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True)
class Dataset:
    """A published dataset: its indicator mart and its plain CSV columns."""

    name: str
    mart: str
    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key, "obs_value", "unit_measure", "obs_status")


DATASETS = (
    Dataset("bilateral_trade", "marts.ind_bilateral_trade",
            ("freq", "ref_area", "counterpart_area", "indicator", "commodity", "time_period")),
    Dataset("corridor_logistics", "marts.ind_corridor_logistics",
            ("freq", "node", "indicator", "direction", "cargo", "time_period")),
)


def format_value(value: Decimal) -> str:
    """Fixed point, no exponent, never ``-0``; the mart has already rounded it once."""
    if value == 0:
        value = abs(value)
    return format(value, "f")


def read_observations(conn, dataset: Dataset) -> list[tuple[str, ...]]:
    """The dataset's rows as published text, sorted by the key columns in byte order."""
    columns = ", ".join(dataset.columns)
    rows = [
        tuple(format_value(v) if isinstance(v, Decimal) else str(v) for v in row)
        for row in conn.execute(f"select {columns} from {dataset.mart}")
    ]
    key_width = len(dataset.key)
    rows.sort(key=lambda row: tuple(part.encode("utf-8") for part in row[:key_width]))
    return rows


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """UTF-8 without BOM, LF line ends, RFC 4180 quoting only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def read_csv(path: Path) -> list[tuple[str, ...]]:
    """A plain CSV's data rows as text tuples (the header line is skipped)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return [tuple(row) for row in reader]
