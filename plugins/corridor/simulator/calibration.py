"""Magnitudes and structure of the simulated world, calibrated on /work/shared/real.

Sources (shared/real/README.md): FTS 2021 bilateral flows for Russia (million USD),
BNS 2023 by-country flows for Kazakhstan (thousand USD, here rounded to million),
published port and rail throughput. The numbers are levels of a *reference year*;
other years follow ``GROWTH_BY_YEAR`` and months follow ``SEASONALITY``.
"""

from __future__ import annotations

#: Annual level relative to 2021 (all flows share it: a simple, plausible path).
GROWTH_BY_YEAR = {2018: 0.93, 2019: 0.90, 2020: 0.78, 2021: 1.00, 2022: 1.12,
                  2023: 1.08, 2024: 1.06, 2025: 1.05}

#: Month-of-year factors (mean 1.0): slow January, strong December.
SEASONALITY = (0.86, 0.90, 1.02, 1.00, 1.00, 0.99, 1.00, 0.99, 0.98, 1.04, 1.05, 1.17)

#: Undisclosed-partner codes of the two national feeds.
UNDISCLOSED = {"RUS": "XX", "KAZ": "000"}

#: Russia (FTS 2021, million USD per year): partner iso2 -> (exports, imports).
#: Kazakhstan is generated as one RU-KZ pair (PAIR_RU_KZ) shared by both feeds.
RU_FLOWS_MUSD = {
    "CN": (68900, 72700), "BY": (23100, 15600), "TR": (27100, 6500), "UZ": (5200, 1700),
    "AZ": (2300, 1000), "KG": (2150, 350), "AM": (1900, 710), "IR": (3000, 1000),
    "TM": (650, 300), "DE": (29700, 27400), "NL": (42100, 4300), "IT": (19200, 12000),
    "KR": (16900, 13000), "IN": (9100, 4400), "US": (17500, 16900), "PL": (16700, 5800),
    "JP": (10700, 9100), "FR": (9800, 12200), "FI": (9700, 3600), "XX": (90000, 40000),
}
RU_REFERENCE_YEAR = 2021

#: Kazakhstan (BNS 2023, million USD per year); Russia comes from PAIR_RU_KZ.
KZ_FLOWS_MUSD = {
    "CN": (14670, 15390), "IT": (14830, 1240), "KR": (3810, 2210), "TR": (3940, 2040),
    "NL": (4060, 390), "UZ": (3130, 1290), "FR": (2950, 1300), "US": (1510, 2540),
    "DE": (740, 3030), "RO": (2770, 110), "GR": (2220, 40), "JP": (590, 1600),
    "ES": (1490, 530), "CH": (940, 440), "KG": (1150, 540), "BY": (180, 760),
    "PL": (530, 700), "IN": (450, 580), "TM": (400, 170), "AZ": (480, 70), "AM": (28, 15),
    "IR": (300, 150), "GB": (700, 480), "TJ": (860, 270), "VN": (180, 800),
    "AF": (615, 21), "SG": (1700, 80),
    "CZ": (150, 480), "BE": (220, 300), "CA": (250, 250), "000": (2000, 1500),
}
KZ_REFERENCE_YEAR = 2023

#: RU->KZ and KZ->RU (FTS 2021: 18 496 and 7 135 million USD), reference 2021.
PAIR_RU_KZ_MUSD = {"RU_TO_KZ": 18500, "KZ_TO_RU": 7600}
#: Russia's exports to Kazakhstan exceed Kazakhstan's imports from Russia by a
#: monthly gap drawn from the published 2018-2021 range (-1.5 % .. +4.9 %).
PAIR_GAP_RANGE = (-0.015, 0.049)

#: Data rows per month at scale 1.0 (before the partner minimums).
ROWS_PER_MONTH = {"RUS": 2000, "KAZ": 1800}
#: Minimum rows per (partner, flow) when that flow exists.
MIN_ROWS_MIRROR_PARTNER = 2
MIN_ROWS_OTHER_PARTNER = 1

#: HS chapter value shares by (reporter, flow); partner overrides below.
CHAPTER_MIX = {
    ("RUS", "X"): {27: 52, 72: 6, 71: 5, 10: 3, 31: 3, 44: 2.5, 76: 2.5, 74: 1.5, 26: 1,
                   28: 1, 29: 1, 39: 1.5, 84: 3, 85: 1.5, 87: 2, 3: 1.5, 15: 1, 73: 1.5,
                   48: 1, 40: 1, 30: 0.5, 22: 0.5, 17: 0.5, 19: 0.5, 21: 0.5, 94: 0.5,
                   33: 0.5, 38: 1, 75: 1, 81: 0.5},
    ("RUS", "M"): {84: 20, 85: 14, 87: 10, 30: 5, 39: 4, 8: 2.5, 90: 3, 29: 3, 73: 2.5,
                   94: 1.5, 61: 1.5, 62: 1.5, 64: 1.5, 40: 1.5, 33: 1.5, 38: 2, 2: 1.5,
                   22: 1.5, 7: 1, 9: 1, 24: 1, 48: 1.5, 72: 2, 28: 1, 95: 1, 86: 1, 88: 1,
                   16: 1, 21: 1, 27: 2, 10: 0.5, 17: 0.5, 52: 0.5, 69: 0.5, 70: 0.5},
    ("KAZ", "X"): {27: 55, 26: 6, 72: 7, 74: 6, 71: 4, 28: 5, 10: 4, 11: 1, 79: 1, 76: 1,
                   81: 0.5, 12: 1, 25: 0.5, 31: 0.5, 39: 0.5, 15: 0.5, 2: 0.3, 4: 0.3,
                   73: 0.5, 84: 1, 87: 0.5, 52: 0.3, 41: 0.2, 47: 0.2, 29: 0.5, 38: 0.5},
    ("KAZ", "M"): {84: 19, 85: 12, 87: 12, 73: 5, 30: 4, 39: 4, 27: 4, 72: 3, 94: 2, 40: 2,
                   22: 1.5, 17: 1, 21: 1.5, 90: 3, 38: 2, 33: 1.5, 61: 1, 62: 1, 64: 1,
                   8: 1.5, 2: 1, 4: 1, 19: 1, 28: 2, 29: 1, 48: 1.5, 76: 1, 86: 1, 88: 0.5,
                   95: 0.5, 69: 1, 70: 1, 44: 1, 24: 0.5, 31: 0.5},
}
_CRUDE_BUYER = {27: 93, 72: 2, 74: 2, 28: 1, 26: 2}
CHAPTER_MIX_OVERRIDES = {
    ("KAZ", "X", "IT"): _CRUDE_BUYER, ("KAZ", "X", "NL"): _CRUDE_BUYER,
    ("KAZ", "X", "RO"): _CRUDE_BUYER, ("KAZ", "X", "GR"): _CRUDE_BUYER,
    ("KAZ", "X", "ES"): _CRUDE_BUYER, ("KAZ", "X", "FR"): _CRUDE_BUYER,
    ("KAZ", "X", "KR"): _CRUDE_BUYER, ("KAZ", "X", "CH"): _CRUDE_BUYER,
    ("KAZ", "X", "CN"): {27: 30, 26: 15, 74: 20, 72: 12, 28: 10, 79: 3, 10: 3, 12: 3,
                         81: 2, 76: 2},
    ("RUS", "X", "NL"): {27: 80, 72: 5, 76: 5, 71: 3, 44: 2, 31: 5},
    ("RUS", "X", "CN"): {27: 70, 44: 5, 74: 4, 26: 3, 3: 3, 72: 3, 71: 3, 31: 2, 15: 2,
                         47: 2, 29: 1, 76: 2},
    ("RU_TO_KZ", "X", "KZ"): {27: 15, 84: 10, 87: 8, 72: 8, 73: 6, 39: 5, 85: 5, 44: 3,
                              48: 4, 17: 2, 19: 3, 21: 3, 22: 2, 4: 2, 2: 2, 30: 2, 33: 2,
                              38: 3, 40: 2, 28: 2, 31: 2, 94: 2, 76: 2, 68: 2, 69: 2,
                              70: 2, 10: 2, 15: 2, 86: 2},
    ("KZ_TO_RU", "X", "RU"): {27: 15, 26: 12, 72: 12, 28: 6, 10: 5, 11: 3, 74: 4, 79: 4,
                              76: 3, 84: 4, 87: 3, 73: 4, 39: 3, 25: 3, 31: 2, 4: 2, 2: 2,
                              12: 3, 15: 3, 38: 3, 29: 3},
}

#: Heavy subheadings: they dominate their chapter's value (weight relative to 1).
HS6_BOOST = {
    "270900": 60, "271019": 25, "271012": 10, "271111": 20, "271121": 20, "270112": 15,
    "260300": 20, "261000": 15, "260111": 10, "720241": 30, "720211": 10, "740311": 40,
    "710812": 40, "710691": 10, "284410": 30, "100199": 40, "100390": 10, "110100": 30,
    "790111": 20, "760110": 20, "310230": 10, "310420": 10, "440711": 15, "720712": 10,
    "870323": 15, "870899": 10, "847130": 10, "851713": 15, "300490": 20, "390120": 5,
}

#: Rough unit values (USD per kg) by chapter; HS4 overrides in UNIT_VALUE_HS4.
UNIT_VALUE_USD_PER_KG = {
    2: 4, 3: 4, 4: 4, 7: 1, 8: 1.2, 9: 5, 10: 0.25, 11: 0.35, 12: 0.5, 15: 1.1, 16: 5,
    17: 0.6, 19: 3, 21: 5, 22: 1.5, 24: 12, 25: 0.1, 26: 0.4, 27: 0.55, 28: 3, 29: 2.5,
    30: 80, 31: 0.35, 33: 8, 38: 3, 39: 2.2, 40: 4, 41: 2, 44: 0.25, 47: 0.6, 48: 1.2,
    52: 2, 61: 25, 62: 25, 64: 20, 68: 0.6, 69: 0.8, 70: 1.5, 71: 20000, 72: 1.5, 73: 1.8,
    74: 8.5, 75: 15, 76: 2.8, 79: 2.7, 81: 20, 84: 35, 85: 45, 86: 4, 87: 12, 88: 800,
    90: 150, 94: 6, 95: 10,
}
UNIT_VALUE_HS4 = {"7108": 60000, "7106": 750, "2844": 150, "2711": 0.45}

#: Supplementary units by chapter (RU name, KZ name, kg per unit); HS4 overrides.
SUPP_UNITS = {
    84: ("ШТ", "шт", 80), 85: ("ШТ", "шт", 5), 87: ("ШТ", "шт", 1500),
    88: ("ШТ", "шт", 5000), 86: ("ШТ", "шт", 20000), 95: ("ШТ", "шт", 1),
    22: ("Л", "л", 1), 71: ("Г", "г", 0.001), 64: ("ПАР", "пар", 0.8),
}
SUPP_UNITS_HS4 = {"2711": ("1000 М3", "1000 м3", 750)}

#: Russian regions (OKATO 5-digit codes) and weights for ordinary trade and for
#: trade with Kazakhstan (border regions carry it).
RU_REGIONS = (
    ("45000", "г. Москва", 30, 6), ("40000", "г. Санкт-Петербург", 12, 2),
    ("46000", "Московская область", 10, 3), ("41000", "Ленинградская область", 5, 1),
    ("03000", "Краснодарский край", 5, 1), ("60000", "Ростовская область", 3, 1),
    ("05000", "Приморский край", 5, 0.5), ("27000", "Калининградская область", 2, 0.5),
    ("53000", "Оренбургская область", 1, 8), ("75000", "Челябинская область", 2, 8),
    ("52000", "Омская область", 1, 6), ("63000", "Саратовская область", 1, 5),
    ("12000", "Астраханская область", 1, 4), ("37000", "Курганская область", 0.5, 4),
    ("01000", "Алтайский край", 1, 5), ("50000", "Новосибирская область", 2, 5),
    ("36000", "Самарская область", 2, 5), ("65000", "Свердловская область", 3, 6),
    ("71000", "Тюменская область", 3, 4), ("92000", "Республика Татарстан", 3, 3),
    ("80000", "Республика Башкортостан", 2, 3), ("18000", "Волгоградская область", 2, 2),
    ("32000", "Кемеровская область", 2, 2), ("04000", "Красноярский край", 2, 1),
)

#: Names the Comtrade feed uses (reference/comtrade/partner.csv).
COMTRADE_AREAS = {
    0: ("W00", "World"), 31: ("AZE", "Azerbaijan"), 51: ("ARM", "Armenia"),
    112: ("BLR", "Belarus"), 156: ("CHN", "China"), 364: ("IRN", "Iran"),
    398: ("KAZ", "Kazakhstan"), 417: ("KGZ", "Kyrgyzstan"), 643: ("RUS", "Russian Federation"),
    792: ("TUR", "Türkiye"), 795: ("TKM", "Turkmenistan"), 860: ("UZB", "Uzbekistan"),
}
#: A mirror reporter's trade with the world relative to its trade with RU + KZ
#: (only the World TOTAL row needs it).
COMTRADE_WORLD_MULTIPLIER = {156: 60.0, 860: 2.5, 417: 2.0, 792: 12.0, 31: 4.0, 364: 8.0,
                             795: 3.0, 112: 1.6, 51: 2.5}
#: Reporter whose imports are valued FOB (cifvalue null, fobvalue set).
COMTRADE_FOB_IMPORTERS = frozenset({364})
#: Reporter that never reports; reporter -> number of newest world months not yet reported.
COMTRADE_NEVER_REPORTS = frozenset({795})
COMTRADE_LATE_MONTHS = {31: 3}
EAEU_M49 = frozenset({643, 398, 112, 51, 417})
CIF_FOB_FACTOR = 1.06

#: Ports: calls per month at scale 1 and the cargo profile of their calls.
PORT_CALLS_PER_MONTH = {"KZAAU": 90, "KZKUR": 50}
#: vessel type -> share of calls, per port
PORT_VESSEL_MIX = {
    "KZAAU": {"tanker": 28, "bulk": 17, "container": 27, "general": 18, "ferry": 10},
    "KZKUR": {"ferry": 70, "bulk": 15, "general": 15},
}
COUNTERPART_PORTS = (("AZBAK", 50), ("TMKRW", 15), ("RUOYA", 10), ("RUMCX", 8),
                     ("IRAMD", 10), ("IRBAZ", 7))

#: Rail: consignments per day at scale 1 and mean wagons per consignment.
#: Calibrated so DOSTYK+ALTYNKOL carry ~23 Mt/yr (KZ-CN 2022) and DOSTYK ~45 kt/day.
RAIL_POINTS = {
    "DOSTYK": (30, 24), "ALTYNKOL": (14, 22), "PETROPAVL": (18, 20), "ILETSK": (12, 20),
    "OZINKI": (6, 18), "AKSARAISKAYA": (4, 18), "BOLASHAK": (4, 16), "SARYAGASH": (10, 14),
    "LUGOVAYA": (4, 10),
}
#: Flow templates per point: (share, direction, transit, origins, destinations, kind, gng hs6s)
_CN_EXPORTS = ("847130", "850440", "870899", "940360", "392690", "640299", "731815")
_KZ_TO_CN = ("100199", "260300", "720241", "740311", "261000", "790111", "110100")
_RU_GOODS = ("440711", "270112", "310420", "720712", "271019", "480100")
_KZ_GOODS = ("100199", "110100", "270112", "720241", "261000", "271019")
RAIL_FLOWS = {
    "DOSTYK": (
        (40, "inbound", True, ("CN",), ("DE", "PL", "RU", "BY", "NL", "UZ"), "container",
         _CN_EXPORTS),
        (20, "inbound", False, ("CN",), ("KZ",), "container", _CN_EXPORTS),
        (30, "outbound", False, ("KZ",), ("CN",), "bulk", _KZ_TO_CN),
        (10, "outbound", True, ("RU",), ("CN",), "bulk", _RU_GOODS),
    ),
    "ALTYNKOL": (
        (50, "inbound", True, ("CN",), ("TR", "AZ", "DE", "UZ", "IR", "RU"), "container",
         _CN_EXPORTS),
        (20, "inbound", False, ("CN",), ("KZ",), "container", _CN_EXPORTS),
        (30, "outbound", False, ("KZ",), ("CN",), "bulk", _KZ_TO_CN),
    ),
    "PETROPAVL": (
        (30, "outbound", True, ("CN",), ("RU", "DE", "BY", "PL"), "container", _CN_EXPORTS),
        (25, "inbound", False, ("RU",), ("KZ",), "bulk", _RU_GOODS),
        (25, "outbound", False, ("KZ",), ("RU",), "bulk", _KZ_GOODS),
        (20, "inbound", True, ("RU",), ("UZ", "KG", "CN"), "bulk", _RU_GOODS),
    ),
    "ILETSK": (
        (35, "outbound", False, ("KZ",), ("RU",), "bulk", _KZ_GOODS),
        (30, "inbound", False, ("RU",), ("KZ",), "bulk", _RU_GOODS),
        (35, "inbound", True, ("RU",), ("UZ", "TM", "KG"), "bulk", _RU_GOODS),
    ),
    "OZINKI": (
        (50, "outbound", False, ("KZ",), ("RU",), "bulk", _KZ_GOODS),
        (50, "inbound", False, ("RU",), ("KZ",), "bulk", _RU_GOODS),
    ),
    "AKSARAISKAYA": (
        (70, "inbound", True, ("RU",), ("TM", "IR"), "bulk", _RU_GOODS),
        (30, "inbound", False, ("RU",), ("KZ",), "bulk", _RU_GOODS),
    ),
    "BOLASHAK": (
        (50, "outbound", True, ("RU",), ("TM", "IR"), "bulk", _RU_GOODS),
        (35, "outbound", False, ("KZ",), ("TM", "IR"), "bulk", ("100199", "110100")),
        (15, "inbound", False, ("TM",), ("KZ",), "bulk", ("310210", "390110")),
    ),
    "SARYAGASH": (
        (45, "outbound", False, ("KZ",), ("UZ",), "bulk", ("100199", "110100", "271019")),
        (30, "outbound", True, ("RU",), ("UZ", "TJ", "AF"), "bulk", _RU_GOODS),
        (25, "inbound", False, ("UZ",), ("KZ",), "bulk", ("310210", "520100", "080610")),
    ),
    "LUGOVAYA": (
        (50, "outbound", False, ("KZ",), ("KG",), "bulk", ("100199", "271019", "110100")),
        (30, "outbound", True, ("RU",), ("KG",), "bulk", _RU_GOODS),
        (20, "inbound", False, ("KG",), ("KZ",), "bulk", ("260800", "080810")),
    ),
}
