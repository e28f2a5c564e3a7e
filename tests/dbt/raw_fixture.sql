-- Hand-made raw rows for the dbt build test (publish window 2024-01..2024-12,
-- ingest from 2023-01). Expected mart values are worked out in test_dbt_build.py.

insert into raw.loaded_units (feed, unit, period_month, revision, status, rows_loaded, rows_rejected) values
    ('ru_customs', '2023-01', '2023-01', 1, 'final', 1, 0),
    ('ru_customs', '2024-01', '2024-01', 2, 'final', 7, 1),
    ('kz_customs', '2024-01', '2024-01', 1, 'preliminary', 4, 0),
    ('comtrade', '156:2024-01', '2024-01', null, 'final', 4, 0),
    ('comtrade', '31:2024-01', '2024-01', null, 'final', 2, 0),
    ('comtrade', '860:2024-01', '2024-01', null, 'final', 0, 0);

-- rail: every day of January reported, only 1 February
insert into raw.loaded_units (feed, unit, period_month, revision, status, rows_loaded, rows_rejected)
select 'rail', to_char(d, 'YYYY-MM-DD'), to_char(d, 'YYYY-MM'), 1, null, 0, 0
from generate_series(date '2024-01-01', date '2024-02-01', interval '1 day') as d;

-- RU: USD and kg as delivered
insert into raw.ru_customs_rows
    (period_month, revision, status, row_number, napr, period, strana, tnved, stoim, netto, region) values
    ('2023-01', 1, 'final', 1, 'ЭК', '01/2023', 'CN', '2709009001', 800.00, 400, '45000'),
    ('2024-01', 2, 'final', 1, 'ЭК', '01/2024', 'CN', '2709009001', 1000.50, 500, '45000'),
    ('2024-01', 2, 'final', 2, 'ИМ', '01/2024', 'CN', '8471300000', 200.25, 10, '45000'),
    ('2024-01', 2, 'final', 3, 'ЭК', '01/2024', 'XX', '1001990000', 300.00, 900, '45000'),
    ('2024-01', 2, 'final', 4, 'ЭК', '01/2024', 'UZ', '2709009001', 50.00, 20, '45000'),
    ('2024-01', 2, 'final', 5, 'ИМ', '01/2024', 'KZ', '0101210000', 400.00, 30, '45000'),
    ('2024-01', 2, 'final', 6, 'ЭК', '01/2024', 'AZ', '7208100000', 10.00, 5, '45000'),
    ('2024-01', 2, 'final', 7, 'ЭК', '01/2024', 'TR', '7208100000', 100.00, 50, '45000');

-- a rejected row: only in raw.rejected_rows, must enter no indicator
insert into raw.rejected_rows (feed, unit, row_ref, reason, detail, raw_record) values
    ('ru_customs', '2024-01', '8', 'negative_value', 'stoim < 0',
     'ЭК;01/2024;CN;2709009001;;-5000,00;1;;45000;');

-- KZ: thousand USD and tonnes
insert into raw.kz_customs_rows
    (period_month, revision, status, row_number, flow, tn_ved, partner_m49, value_thousand_usd,
     net_weight_t, transport_mode, customs_regime) values
    ('2024-01', 1, 'preliminary', 1, 'import', '2709009001', '643', 12.345, 1.5, 'rail', '40'),
    ('2024-01', 1, 'preliminary', 2, 'export', '0101210000', '643', 0.401, 0.2, 'road', '10'),
    ('2024-01', 1, 'preliminary', 3, 'export', '7208100000', '031', 2.500, 3.0, 'sea', '10'),
    ('2024-01', 1, 'preliminary', 4, 'import', '8471300000', '000', 0.010, 0.001, 'air', '40');

-- Comtrade: China and Azerbaijan report rows, Uzbekistan reported nothing with us,
-- Türkiye has not reported.
insert into raw.comtrade_reporting (reporter_code, period_month, has_reported, probe_rows) values
    (156, '2024-01', true, 1),
    (31, '2024-01', true, 1),
    (860, '2024-01', true, 1),
    (792, '2024-01', false, 0);

insert into raw.comtrade_rows
    (reporter_code, period_month, row_number, flow_code, partner_code, partner2_code, cmd_code,
     aggr_level, is_leaf, mot_code, customs_code, cifvalue, fobvalue, primary_value, net_wgt,
     is_counted_leaf) values
    (156, '2024-01', 1, 'M', 643, 0, '270900', 6, true, 0, 'C00', 1050.00, null, 1050.00, 500, true),
    (156, '2024-01', 2, 'M', 643, 0, 'TOTAL', 0, false, 0, 'C00', 99999.00, null, 99999.00, null, false),
    (156, '2024-01', 3, 'M', 643, 0, '270900', 6, true, 2, 'C00', 1050.00, null, 1050.00, 500, false),
    (156, '2024-01', 4, 'X', 643, 0, '847130', 6, true, 0, 'C00', null, 190.00, 190.00, 9, true),
    (31, '2024-01', 1, 'M', 643, 0, '720810', 6, true, 0, 'C00', null, 9.50, 9.50, 5, true),
    (31, '2024-01', 2, 'M', 398, 0, '720810', 6, true, 0, 'C00', 2600.00, null, 2600.00, 3000, true);

-- Ports (KZAAU, KZKUR: UTC+05:00)
insert into raw.port_calls
    (call_id, port, version, updated_at, status, arrived_at, departed_at) values
    -- 20:30 UTC on 31 Jan = 01:30 local on 1 Feb: a February call
    ('KZAAU-2024-000001', 'KZAAU', 3, '2024-02-02T06:20:00+05:00', 'departed',
     '2024-01-31T20:30:00+00:00', '2024-02-02T06:15:00+05:00'),
    -- 23:50 local on 31 Jan, still at berth: January, provisional
    ('KZAAU-2024-000002', 'KZAAU', 2, '2024-02-01T00:10:00+05:00', 'at_berth',
     '2024-01-31T23:50:00+05:00', null),
    ('KZAAU-2024-000003', 'KZAAU', 4, '2024-01-09T10:00:00+05:00', 'cancelled',
     '2024-01-10T08:00:00+05:00', null),
    ('KZKUR-2024-000001', 'KZKUR', 2, '2024-01-16T13:00:00+05:00', 'departed',
     '2024-01-15T10:00:00+05:00', '2024-01-16T12:30:00+05:00');

insert into raw.port_cargo_lines
    (call_id, version, line_number, operation, cargo_type, hs_chapter, tonnes, teu) values
    ('KZAAU-2024-000001', 3, 1, 'discharge', 'container', '84', 412.5, 38),
    ('KZAAU-2024-000001', 3, 2, 'load', 'dry_bulk', '10', 3000.0, null),
    ('KZAAU-2024-000002', 2, 1, 'load', 'general', null, 100.25, null),
    -- a line left over from an older version of the call: not counted
    ('KZAAU-2024-000002', 1, 2, 'load', 'general', null, 7777.0, null),
    ('KZAAU-2024-000003', 4, 1, 'load', 'general', null, 999.0, null),
    ('KZKUR-2024-000001', 2, 1, 'discharge', 'ro_ro', null, 50.0005, 0);

-- Rail
insert into raw.rail_consignments
    (report_date, revision, row_number, point, partner_railway, direction, transit, gng, wagons,
     teu, tonnes, origin, destination) values
    ('2024-01-15', 1, 1, 'DOSTYK', 'CR', 'inbound', true, '84713000', 2, 4, 36.400, 'CN', 'DE'),
    ('2024-01-15', 1, 2, 'DOSTYK', 'CR', 'outbound', false, '10019900', 12, 0, 812.000, 'KZ', 'CN'),
    ('2024-01-20', 1, 1, 'ALTYNKOL', 'CR', 'inbound', false, '84713000', 40, 80, 500.000, 'CN', 'KZ'),
    ('2024-01-20', 2, 1, 'ALTYNKOL', 'CR', 'inbound', false, '84713000', 1, 2, 10.500, 'CN', 'KZ');
