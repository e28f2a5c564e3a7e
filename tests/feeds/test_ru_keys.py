"""KeyIndex finds exactly the duplicate keys that grouping the keys finds, whichever way
each row was read (a run, a line, a kept key), with any bitmap size."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from corridor.feeds import ru_keys
from corridor.feeds.ru_customs import ENCODING

PERIOD = "01/2024"
REGIONS = ["", "45000", "Москва", "r" * 8, "r" * 9, "Санкт-Петербург и Ленинградская обл.",
           "x" * (ru_keys.REGION_MAX + 1)]


def line_of(key: tuple[str, str, str, str], period: str = PERIOD) -> str:
    napr, strana, tnved, region = key
    return f"{napr};{period};{strana};{tnved};ШТ;1,5;2;;{region};имя"


class Source:
    """A file being written: runs and lines at known byte offsets."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.records: dict[int, tuple] = {}  # rows read by the per-line rules

    def add(self, lines: list[str]) -> tuple[int, bytes]:
        offset = len(self.data)
        chunk = "".join(line + "\r\n" for line in lines).encode(ENCODING)
        self.data += chunk
        return offset, chunk

    def read_lines(self, offsets) -> dict[int, str]:
        data = bytes(self.data)
        return {offset: data[offset:data.index(b"\r", offset)].decode(ENCODING)
                for offset in offsets}

    def read_records(self, offsets) -> dict[int, tuple]:
        return {offset: self.records[offset] for offset in offsets}


def random_rows(rng: random.Random, count: int) -> list[tuple[str, tuple, bool]]:
    """(how the row is read, key, accepted) for ``count`` rows over a small key pool."""
    pool = [(rng.choice(["ИМ", "ЭК"]), rng.choice(["KZ", "CN", "TR"]),
             f"{rng.randrange(10**10):010d}", rng.choice(REGIONS)) for _ in range(count // 3)]
    odd = [("ЭК", "KZ", "01012100", ""), ("ИМ ", "CN", "8471300000", ""),  # irregular shapes
           ("ЭК", "Μ", "0101210000", ""), ("ЭК", "KZ", "0101210000", "a;b")]
    rows = []
    for _ in range(count):
        how = rng.choice(["run", "run", "run", "line", "kept"])
        if how == "kept":
            key = rng.choice(pool + odd)
            rows.append((how, key, rng.random() < 0.7))
        else:
            rows.append((how, rng.choice(pool), True))
    return rows


def index_rows(rows, bucket_bits: int) -> tuple[list[ru_keys.DuplicateRow], Source]:
    index = ru_keys.KeyIndex(PERIOD, bucket_bits=bucket_bits)
    source = Source()
    run: list[str] = []
    run_first = 0

    def flush_run():
        if run:
            offset, chunk = source.add(run)
            index.add_run(chunk, offset, run_first)
            run.clear()

    for number, (how, key, accepted) in enumerate(rows, start=1):
        if how == "run":
            if not run:
                run_first = number
            run.append(line_of(key))
            continue
        flush_run()
        if how == "line":
            offset, _ = source.add([line_of(key)])
            index.add_line(number, key, offset)
        else:
            offset, _ = source.add(["(a record)"])
            source.records[offset] = (key, accepted, f"raw {number}")
            index.add_key(number, key, offset)
    flush_run()
    try:
        return index.duplicates(source.read_lines, source.read_records), source
    finally:
        index.close()


def expected(rows) -> list[int]:
    counts = Counter(key for _, key, _ in rows)
    return [number for number, (_, key, accepted) in enumerate(rows, start=1)
            if accepted and counts[key] > 1]


@pytest.mark.parametrize("bucket_bits", [4, 12, ru_keys.BUCKET_BITS])
@pytest.mark.parametrize("seed", range(4))
def test_duplicates_equal_grouping_the_keys(seed, bucket_bits):
    rows = random_rows(random.Random(seed), 3000)
    found, _ = index_rows(rows, bucket_bits)
    assert [d.row_number for d in found] == expected(rows)
    assert len(found) > 100
    for duplicate in found:
        how, key, _ = rows[duplicate.row_number - 1]
        assert duplicate.key == key
        assert duplicate.raw_record == (line_of(key) if how != "kept"
                                        else f"raw {duplicate.row_number}")


def test_no_duplicates_no_candidates():
    rows = [("run", ("ЭК", "KZ", f"{n:010d}", ""), True) for n in range(5000)]
    found, _ = index_rows(rows, ru_keys.BUCKET_BITS)
    assert found == []


def test_a_key_read_three_ways_is_one_key():
    """The same key from a run, a line and the per-line rules: one hash, one key."""
    key = ("ИМ", "TR", "8703231900", "Москва")
    for pair in (["run", "line"], ["run", "kept"], ["line", "kept"]):
        rows = [("run", ("ЭК", "KZ", "0000000001", ""), True),
                *[(how, key, True) for how in pair]]
        found, _ = index_rows(rows, ru_keys.BUCKET_BITS)
        assert [d.row_number for d in found] == [2, 3], pair


def test_hash_collisions_are_not_duplicates(monkeypatch):
    """Every irregular key gets the same 64-bit hash: only equal keys are duplicates."""
    monkeypatch.setattr(ru_keys, "_text_hash", lambda key: 42)
    keys = [("ЭК", "KZ", f"{n:08d}", "") for n in range(50)]  # 8 digits: irregular
    rows = [("kept", key, True) for key in keys] + [("kept", keys[7], False)]
    found, _ = index_rows(rows, ru_keys.BUCKET_BITS)
    assert [d.row_number for d in found] == [8]


def test_rejected_rows_alone_are_not_returned():
    key = ("ЭК", "KZ", "0101210000", "")
    rows = [("kept", key, False), ("kept", key, False)]
    found, _ = index_rows(rows, ru_keys.BUCKET_BITS)
    assert found == []


def test_region_padding_does_not_change_the_hash():
    """A region hashed among longer ones (wider padding) hashes as when alone."""
    def hashes(regions):
        source = Source()
        _, chunk = source.add([line_of(("ЭК", "KZ", "0101210000", r)) for r in regions])
        index = ru_keys.KeyIndex(PERIOD)
        try:
            index.add_run(chunk, 0, 1)
            index._records.seek(0)
            return np.frombuffer(index._records.read(), dtype=ru_keys.RECORD)["hash"]
        finally:
            index.close()

    alone = hashes(["45000"])[0]
    assert hashes(["45000", "Санкт-Петербург и Ленинградская обл."])[0] == alone
    assert hashes(["45001"])[0] != alone
