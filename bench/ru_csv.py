"""A synthetic Russian customs CSV of any size, written as a stream.

The format of spec/feeds.md §1 (windows-1251, ``;``, decimal comma, CRLF), with the
publisher's header, unique keys, and a sprinkling of what real files carry: rows the
rules reject (one in ``bad_every``), duplicate keys (one pair in ``dup_every``; 0:
none) and quoted fields (one in ``quoted_every``). Deterministic for a given seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from corridor.feeds.ru_customs import CSV_COLUMNS, REPORTER_ISO2
from corridor.reference import iso2_codes

REGIONS = (("45000", "Москва"), ("40000", "Санкт-Петербург"), ("50000", "Московская обл."),
           ("53000", "Оренбургская обл."), ("12000", "Астраханская обл."),
           ("60000", "Ростовская обл."), ("", ""))
UNITS = ("ШТ", "Л", "КГ", "М2", "", "", "")
BAD = ("{napr};{period};{strana};{tnved};;-{stoim};{netto};;;",      # negative_value
       "{napr};{period};QQ;{tnved};;{stoim};{netto};;;",              # unknown_partner
       "{napr};{period};{strana};{tnved_short};;{stoim};{netto};;;",  # bad_code_length
       "{napr};13/1999;{strana};{tnved};;{stoim};{netto};;;",         # unparsable period
       "{napr};{period};{strana};{tnved};;;{netto};;;")               # missing_field


def write_ru_csv(path: Path, rows: int, period_month: str = "2024-01", *, seed: int = 0,
                 bad_every: int = 1000, dup_every: int = 5000, quoted_every: int = 10000
                 ) -> Path:
    """Write ``rows`` data lines to ``path``; return it."""
    rng = random.Random(seed)
    partners = sorted(iso2_codes() - {REPORTER_ISO2})
    period = f"{period_month[5:7]}/{period_month[:4]}"
    with open(path, "w", encoding="windows-1251", newline="", buffering=1 << 20) as out:
        out.write(";".join(CSV_COLUMNS) + "\r\n")
        block: list[str] = []
        previous = ""
        for i in range(1, rows + 1):
            napr = "ЭК" if i & 1 else "ИМ"
            strana = partners[(i >> 1) % len(partners)]
            tnved = f"{(i * 2654435761 + seed) % 10**10:010d}"  # a bijection: unique keys
            stoim = f"{rng.randrange(1, 10**9) // 100},{rng.randrange(100):02d}"
            netto = f"{rng.randrange(0, 10**8)},{rng.randrange(1000):03d}"
            if i % bad_every == 0:
                line = BAD[(i // bad_every) % len(BAD)].format(
                    napr=napr, period=period, strana=strana, tnved=tnved,
                    tnved_short=tnved[:8], stoim=stoim, netto=netto)
            elif dup_every and i % dup_every == 2:
                # The previous row's key again, other values: both copies are rejected.
                head = previous.split(";")
                line = ";".join([*head[:5], stoim, netto, *head[7:]])
            else:
                region, region_name = REGIONS[rng.randrange(len(REGIONS))]
                edizm = UNITS[rng.randrange(len(UNITS))]
                kol = f"{rng.randrange(1, 10**6)}" if edizm else ""
                if i % quoted_every == 0:
                    region_name = f'"{region_name}; ""центр"""'
                line = (f"{napr};{period};{strana};{tnved};{edizm};{stoim};{netto};{kol};"
                        f"{region};{region_name}")
            previous = line
            block.append(line)
            if len(block) >= 10000:
                out.write("\r\n".join(block) + "\r\n")
                block.clear()
        if block:
            out.write("\r\n".join(block) + "\r\n")
    return path
