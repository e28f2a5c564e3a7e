"""Report each DAG file's parse time at the end of the run."""

from __future__ import annotations

PARSE_SECONDS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter):
    if PARSE_SECONDS:
        terminalreporter.write_sep("-", "DAG file parse times")
        for name, seconds in sorted(PARSE_SECONDS.items()):
            terminalreporter.write_line(f"{name:<28} {seconds:.3f} s")
