"""The duplicate-key rule finds exactly the duplicate keys that grouping the keys finds,
whichever way each row is read (a plain row, a row the rules normalise, a record of
another width), over any mix of regions."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from corridor.feeds import ru_customs

PERIOD = "01/2024"
HEADER = "napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s"
REGIONS = ["", "45000", "Москва", "r" * 8, "r" * 9, "Санкт-Петербург и Ленинградская обл.",
           "x" * 65]


def line_of(key: tuple[str, str, str, str], how: str = "run", accepted: bool = True) -> str:
    """A data line of ``key``: as the publisher writes it ("run"), with what the rules
    normalise (blanks, lower case, a dot decimal: "line"), or with one field more than
    the header ("kept"); ``accepted=False``: a negative value (rejected, still keyed)."""
    napr, strana, tnved, region = key
    stoim = "1,5" if accepted else "-1,5"
    quoted = f'"{region}"' if ";" in region else region
    if how == "run":
        return f"{napr};{PERIOD};{strana};{tnved};ШТ;{stoim};2;;{quoted};имя"
    if how == "line":
        stoim = stoim.replace(",", ".")
        return f" {napr} ;{PERIOD};{strana.lower()};{tnved};ШТ;{stoim};2;;{quoted} ;имя"
    return f"{napr};{PERIOD};{strana};{tnved};ШТ;{stoim};2;;{quoted};имя;extra"


def raw_record(line: str) -> str:
    return line.replace('"', "")


def random_rows(rng: random.Random, count: int) -> list[tuple[str, tuple, bool]]:
    """(how the row is read, key, accepted) for ``count`` rows over a small key pool."""
    pool = [(rng.choice(["ИМ", "ЭК"]), rng.choice(["KZ", "CN", "TR"]),
             f"{rng.randrange(10**10):010d}", rng.choice(REGIONS)) for _ in range(count // 3)]
    odd = [("ЭК", "KZ", "01012100", ""), ("ЭК", "KZ", "0101210000", "a;b")]  # 8 digits: rejected
    rows = []
    for _ in range(count):
        how = rng.choice(["run", "run", "run", "line", "kept"])
        if how == "kept":
            key = rng.choice(pool + odd)
            rows.append((how, key, rng.random() < 0.7 and len(key[2]) == 10))
        else:
            rows.append((how, rng.choice(pool), True))
    return rows


def parse(rows) -> ru_customs.ParseResult:
    lines = [line_of(key, how, accepted) for how, key, accepted in rows]
    payload = ("\r\n".join([HEADER, *lines]) + "\r\n").encode("windows-1251")
    return ru_customs.parse_csv(payload, "2024-01", 1, "final")


def found(result: ru_customs.ParseResult) -> list[int]:
    return [int(r.row_ref) for r in result.rejections if r.reason == "duplicate_key"]


def expected(rows) -> list[int]:
    counts = Counter(key for _, key, _ in rows)
    return [number for number, (_, key, accepted) in enumerate(rows, start=1)
            if accepted and counts[key] > 1]


@pytest.mark.parametrize("seed", range(4))
def test_duplicates_equal_grouping_the_keys(seed):
    rows = random_rows(random.Random(seed), 3000)
    result = parse(rows)
    assert found(result) == expected(rows)
    assert len(found(result)) > 100
    for rejection in result.rejections:
        if rejection.reason != "duplicate_key":
            continue
        how, key, accepted = rows[int(rejection.row_ref) - 1]
        assert repr(key) in rejection.detail
        assert rejection.raw_record == raw_record(line_of(key, how, accepted))


def test_no_duplicates_no_candidates():
    rows = [("run", ("ЭК", "KZ", f"{n:010d}", ""), True) for n in range(5000)]
    assert found(parse(rows)) == []


def test_a_key_read_three_ways_is_one_key():
    """The same key from a plain row, a normalised row and a record of another width:
    one key."""
    key = ("ИМ", "TR", "8703231900", "Москва")
    for pair in (["run", "line"], ["run", "kept"], ["line", "kept"]):
        rows = [("run", ("ЭК", "KZ", "0000000001", ""), True),
                *[(how, key, True) for how in pair]]
        assert found(parse(rows)) == [2, 3], pair


def test_keys_differing_in_one_field_are_not_duplicates():
    """Keys that share all but one of flow, partner, code, region are distinct keys;
    only equal keys are duplicates."""
    base = ("ЭК", "KZ", "0101210000", "45000")
    variants = [base, ("ИМ", *base[1:]), ("ЭК", "CN", *base[2:]), ("ЭК", "KZ", "0101210001",
                "45000"), (*base[:3], "45001"), (*base[:3], ""), (*base[:3], "45000 x")]
    rows = [("run", key, True) for key in variants] + [("kept", variants[3], False)]
    assert found(parse(rows)) == [4]


def test_rejected_rows_alone_are_not_returned():
    key = ("ЭК", "KZ", "0101210000", "")
    rows = [("kept", key, False), ("kept", key, False)]
    result = parse(rows)
    assert found(result) == [] and [r.reason for r in result.rejections] == [
        "negative_value"] * 2


def test_region_among_longer_ones_is_the_same_key():
    """A region read among longer ones is the same key as when alone."""
    key = ("ЭК", "KZ", "0101210000", "45000")
    rows = [("run", key, True), ("run", ("ЭК", "KZ", "0101210009", REGIONS[5]), True),
            ("kept", key, True), ("run", (*key[:3], "45001"), True)]
    assert found(parse(rows)) == [1, 3]
