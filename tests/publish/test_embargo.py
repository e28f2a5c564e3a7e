"""The release calendar and embargo (spec "Release calendar and embargo"): embargoed
releases are invisible (LATEST, the API, the visible report) until their instant, then
released atomically; the clock is the test's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corridor.api.app import create_app
from corridor.api.consumers import ConsumerStore
from corridor.publish.calendar import (
    CalendarError,
    calendar_lines,
    embargo_for,
    next_embargo,
    read_calendar,
    release_due,
)
from corridor.publish.release import latest_release, sha256_file, write_release
from tests.publish.test_release import COVERAGE, FIRST, INPUTS, QUALITY, SECOND

PLUS5 = timezone(timedelta(hours=5))
#: an embargo a day ahead of the releases written now (the test's clock moves past it)
INSTANT = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).astimezone(PLUS5)


def publish(published: Path, observations: dict, embargo_until=None) -> Path:
    return write_release(published, observations, inputs=INPUTS, quality=QUALITY,
                         coverage=COVERAGE, embargo_until=embargo_until)


def test_the_calendar_file(tmp_path):
    path = tmp_path / "calendar.csv"
    path.write_text("last_period,embargo_until\n2024-12,2025-02-20T10:00:00+05:00\n"
                    "2025-01,2025-03-20T05:00:00Z\n", encoding="utf-8")
    assert read_calendar(path) == {"2024-12": datetime(2025, 2, 20, 10, tzinfo=PLUS5),
                                   "2025-01": datetime(2025, 3, 20, 5, tzinfo=UTC)}
    for body, message in [
        ("period,when\n", "header"),
        ("last_period,embargo_until\n2024-13,2025-02-20T10:00:00+05:00\n",
         "line 2: last_period '2024-13'"),
        ("last_period,embargo_until\n2024-12,2025-02-20T10:00:00\n",
         "line 2: embargo_until .* with an offset"),
        ("last_period,embargo_until\n2024-12,2025-02-20T10:00:00Z\n"
         "2024-12,2025-02-21T10:00:00Z\n", "line 3: 2024-12 is in the calendar twice"),
    ]:
        path.write_text(body, encoding="utf-8")
        with pytest.raises(CalendarError, match=message):
            read_calendar(path)


def test_embargo_applies_only_to_a_listed_period_still_ahead():
    calendar = {"2024-12": INSTANT}
    assert embargo_for(calendar, "2024-12", INSTANT - timedelta(seconds=1)) == INSTANT
    assert embargo_for(calendar, "2024-12", INSTANT) is None  # late: released at once
    assert embargo_for(calendar, "2025-01", INSTANT - timedelta(days=9)) is None


def test_an_embargoed_release_is_invisible_until_its_instant_then_released(tmp_path):
    published = tmp_path / "published"
    first = publish(published, FIRST)
    embargoed = publish(published, SECOND, embargo_until=INSTANT)
    assert embargoed.parent == published / "embargoed"
    manifest = json.loads((embargoed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embargo_until"] == INSTANT.isoformat()
    assert manifest["embargo_until"].endswith("+05:00")
    assert manifest["released_at"] is None
    # nothing outside embargoed/ shows it
    assert latest_release(published) == first
    assert sorted(p.name for p in (published / "releases").iterdir()) == [first.name]
    for report in first.glob("report*.html"):
        assert embargoed.name not in report.read_text(encoding="utf-8")
    consumers = ConsumerStore(tmp_path / "consumers.json")
    key = consumers.add("ministry")
    now = [datetime.now(UTC)]
    api = TestClient(create_app(published, consumers, clock=lambda: now[0]),
                     headers={"Authorization": f"Bearer {key}"})
    data = "/sdmx/2.1/data/dataflow/CORRIDOR/DF_BILATERAL_TRADE/1.0.0/*"
    assert [r["release_id"] for r in api.get("/releases").json()] == [first.name]
    assert api.get(f"/releases/{embargoed.name}/manifest.json").status_code == 404
    assert api.get(data).text == (first / "bilateral_trade.sdmx.csv").read_text("utf-8")
    assert next_embargo(published) == INSTANT

    assert release_due(published, now=INSTANT - timedelta(seconds=1)) == []
    assert latest_release(published) == first
    released_at = INSTANT + timedelta(seconds=7)
    assert release_due(published, now=released_at) == [embargoed.name]
    release = published / "releases" / embargoed.name
    assert latest_release(published) == release and not embargoed.exists()
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["released_at"] == released_at.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert manifest["embargo_until"] == INSTANT.isoformat()
    assert all(sha256_file(release / f["name"]) == f["sha256"] for f in manifest["files"])
    assert manifest["previous_release_id"] == first.name
    assert release_due(published, now=released_at + timedelta(hours=1)) == []  # idempotent
    now[0] = released_at
    assert [r["release_id"] for r in api.get("/releases").json()] == [first.name,
                                                                      embargoed.name]
    assert api.get(data).text == (release / "bilateral_trade.sdmx.csv").read_text("utf-8")
    assert api.get(f"/releases/{embargoed.name}/manifest.json").json()["released_at"]


def test_a_newer_embargoed_release_replaces_one_waiting_for_the_same_period(tmp_path):
    published = tmp_path / "published"
    publish(published, FIRST)
    older = publish(published, SECOND, embargo_until=INSTANT)
    revised = {**SECOND, "corridor_logistics": [
        (*SECOND["corridor_logistics"][0][:6], "1600.000", "T", "A"),
        *SECOND["corridor_logistics"][1:]]}
    assert publish(published, SECOND, embargo_until=INSTANT) == older  # nothing changed
    newer = publish(published, revised, embargo_until=INSTANT)
    assert newer != older and not older.exists()
    assert [p.name for p in (published / "embargoed").iterdir()] == [newer.name]
    assert release_due(published, now=INSTANT) == [newer.name]


def test_the_calendar_says_on_time_late_and_waiting(tmp_path):
    published = tmp_path / "published"
    calendar = {"2024-12": INSTANT}
    assert [line.state for line in calendar_lines(calendar, published)] == ["not released"]
    write_release(published, FIRST, inputs=INPUTS, quality=QUALITY,  # an earlier period
                  coverage={**COVERAGE, "last_period": "2024-11"})
    waiting = publish(published, SECOND, embargo_until=INSTANT)
    [line] = calendar_lines(calendar, published)
    assert (line.state, line.release_id) == ("embargoed", waiting.name)
    release_due(published, now=INSTANT + timedelta(seconds=40))
    [line] = calendar_lines(calendar, published)
    assert (line.state, line.release_id) == ("on time", waiting.name)
    assert [line.state for line in calendar_lines(
        {"2024-12": INSTANT - timedelta(minutes=5)}, published)] == ["late"]
