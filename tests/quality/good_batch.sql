-- A minimal warehouse that passes every critical check of the gate: raw rows
-- (raw_schema.sql is loaded first) and the marts columns the checks read. The
-- reference.* seeds and the marts.dim_* built from them are loaded by the test.
-- Window: 2024-01 ingested only (a YoY base), 2024-02 ingested and published.

create schema if not exists marts;

create table marts.dim_periods as
select
    to_char(month_start_date, 'YYYY-MM') as period_month,
    extract(year from month_start_date)::integer as period_year,
    month_start_date::date as month_start_date,
    (month_start_date + interval '1 month' - interval '1 day')::date as month_end_date,
    to_char(month_start_date, 'YYYY-MM') = '2024-02' as is_published,
    false as is_year_published,
    true as is_ingested
from generate_series(date '2024-01-01', date '2024-02-01', interval '1 month')
    as month_start_date;

-- raw -----------------------------------------------------------------------------

insert into raw.loaded_units (feed, unit, period_month, revision, status, rows_loaded,
                              rows_rejected) values
    ('ru_customs', '2024-01', '2024-01', 1, 'final', 1, 0),
    ('ru_customs', '2024-02', '2024-02', 2, 'preliminary', 4, 0),
    ('kz_customs', '2024-01', '2024-01', 1, 'final', 1, 0),
    ('kz_customs', '2024-02', '2024-02', 1, 'preliminary', 2, 0),
    ('comtrade', '156:2024-02', '2024-02', null, 'final', 2, 0),
    ('rail', '2024-01-15', '2024-01', 1, null, 1, 0),
    ('rail', '2024-02-01', '2024-02', 2, null, 2, 0),
    -- rejected whole (date mismatch): no rows, does not make February present
    ('rail', '2024-02-02', '2024-02', 1, null, 0, 1);

insert into raw.rejected_rows (feed, unit, row_ref, reason, detail) values
    ('rail', '2024-02-02', 'report', 'date_mismatch', 'report date 2024-02-03'),
    ('ru_customs', '2024-02', '5', 'negative_value', 'stoim < 0');

insert into raw.ru_customs_rows (period_month, revision, status, row_number, napr, period,
                                 strana, tnved, edizm, stoim, netto, kol, region) values
    ('2024-01', 1, 'final', 1, 'ЭК', '01/2024', 'CN', '2709009001', null, 800000, 400000, null, '45000'),
    ('2024-02', 2, 'preliminary', 1, 'ЭК', '02/2024', 'CN', '2709009001', null, 10000000, 5000000, null, '45000'),
    ('2024-02', 2, 'preliminary', 2, 'ИМ', '02/2024', 'CN', '8471300000', 'ШТ', 2000000, 1000, 500, '45000'),
    ('2024-02', 2, 'preliminary', 3, 'ЭК', '02/2024', 'XX', '1001990000', null, 3000000, 9000000, null, null),
    ('2024-02', 2, 'preliminary', 4, 'ЭК', '02/2024', 'UZ', '2709009001', null, 5000000, 2500000, null, '45000');

insert into raw.kz_customs_rows (period_month, revision, status, row_number, flow, tn_ved,
                                 partner_m49, value_thousand_usd, net_weight_t, supp_qty,
                                 transport_mode, customs_regime) values
    ('2024-01', 1, 'final', 1, 'export', '2709009001', '156', 500.000, 250.000, null, 'rail', '10'),
    ('2024-02', 1, 'preliminary', 1, 'export', '2709009001', '156', 600.000, 300.000, null, 'rail', '10'),
    ('2024-02', 1, 'preliminary', 2, 'import', '8471300000', '643', 400.000, 0.200, 10, 'road', '40');

insert into raw.comtrade_rows (reporter_code, period_month, row_number, flow_code,
                               partner_code, partner2_code, cmd_code, aggr_level, is_leaf,
                               mot_code, customs_code, cifvalue, fobvalue, primary_value,
                               net_wgt, is_counted_leaf) values
    (156, '2024-02', 1, 'M', 643, 0, '270900', 6, true, 0, 'C00', 9500000, null, 9500000, 4900000, true),
    -- an aggregate row: not counted, its code is not a subheading
    (156, '2024-02', 2, 'M', 643, 0, 'TOTAL', 0, false, 0, 'C00', 9500000, null, 9500000, null, false);

insert into raw.comtrade_reporting (reporter_code, period_month, has_reported, probe_rows)
values (156, '2024-02', true, 1);

insert into raw.port_calls (call_id, port, version, updated_at, status, arrived_at,
                            departed_at, previous_port, next_port) values
    ('KZAAU-2024-000001', 'KZAAU', 2, '2024-02-03T10:00:00+05:00', 'departed',
     '2024-02-01T08:00:00+05:00', '2024-02-03T09:00:00+05:00', 'AZBAK', 'AZBAK'),
    ('KZKUR-2024-000001', 'KZKUR', 1, '2024-02-10T10:00:00+05:00', 'at_berth',
     '2024-02-10T08:00:00+05:00', null, 'TMKRW', null);

insert into raw.port_cargo_lines (call_id, version, line_number, operation, cargo_type,
                                  hs_chapter, tonnes, teu) values
    ('KZAAU-2024-000001', 2, 1, 'load', 'container', '84', 1000.5, 40),
    ('KZKUR-2024-000001', 1, 1, 'discharge', 'dry_bulk', null, 200, null);

-- synced after the window's end (2024-03-01 00:00 at +05:00): KZAAU exactly at it,
-- KZKUR just now (the ports' source freshness reads the newest sync)
insert into raw.port_sync_state (port, high_water_mark, synced_at) values
    ('KZAAU', '2024-02-03T10:00:00+05:00', timestamptz '2024-03-01 00:00:00+05'),
    ('KZKUR', '2024-02-10T10:00:00+05:00', now());

insert into raw.rail_consignments (report_date, revision, row_number, point, partner_railway,
                                   direction, transit, gng, wagons, teu, tonnes, origin,
                                   destination) values
    ('2024-01-15', 1, 1, 'DOSTYK', 'CR', 'inbound', true, '84713000', 2, 4, 36.4, 'CN', 'DE'),
    ('2024-02-01', 2, 1, 'DOSTYK', 'CR', 'inbound', false, '84713000', 10, 0, 500, 'CN', 'KZ'),
    ('2024-02-01', 2, 2, 'ALTYNKOL', 'CR', 'outbound', false, '10019900', 5, 0, 300, null, null);

-- marts ---------------------------------------------------------------------------

create table marts.fct_trade_flows (
    reporter_iso3 text, partner_iso3 text, is_partner_undisclosed boolean,
    period_month text, flow text, hs6_code text, hs_chapter text, tnved_code text,
    trade_value_usd numeric, net_weight_kg numeric, transport_mode text,
    source_feed text, source_revision integer, source_status text,
    source_row_number integer, is_published boolean
);
insert into marts.fct_trade_flows values
    ('RUS', 'CHN', false, '2024-01', 'X', '270900', '27', '2709009001', 800000, 400000, null, 'ru_customs', 1, 'final', 1, false),
    ('RUS', 'CHN', false, '2024-02', 'X', '270900', '27', '2709009001', 10000000, 5000000, null, 'ru_customs', 2, 'preliminary', 1, true),
    ('RUS', 'CHN', false, '2024-02', 'M', '847130', '84', '8471300000', 2000000, 1000, null, 'ru_customs', 2, 'preliminary', 2, true),
    ('RUS', '_X', true, '2024-02', 'X', '100199', '10', '1001990000', 3000000, 9000000, null, 'ru_customs', 2, 'preliminary', 3, true),
    ('RUS', 'UZB', false, '2024-02', 'X', '270900', '27', '2709009001', 5000000, 2500000, null, 'ru_customs', 2, 'preliminary', 4, true),
    ('KAZ', 'CHN', false, '2024-01', 'X', '270900', '27', '2709009001', 500000, 250000, 'rail', 'kz_customs', 1, 'final', 1, false),
    ('KAZ', 'CHN', false, '2024-02', 'X', '270900', '27', '2709009001', 600000, 300000, 'rail', 'kz_customs', 1, 'preliminary', 1, true),
    ('KAZ', 'RUS', false, '2024-02', 'M', '847130', '84', '8471300000', 400000, 200, 'road', 'kz_customs', 1, 'preliminary', 2, true);

create table marts.ind_bilateral_trade (
    freq text, ref_area text, counterpart_area text, indicator text, commodity text,
    time_period text, obs_value numeric, unit_measure text, obs_status text
);
insert into marts.ind_bilateral_trade values
    -- RUS: W00 = 18 M exports + 2 M imports, 3 M of the exports undisclosed (15 %)
    ('M', 'RUS', 'W00', 'X_USD', '_T', '2024-02', 18000000.00, 'USD', 'P'),
    ('M', 'RUS', 'W00', 'M_USD', '_T', '2024-02', 2000000.00, 'USD', 'P'),
    ('M', 'RUS', 'W00', 'TURNOVER_USD', '_T', '2024-02', 20000000.00, 'USD', 'P'),
    ('M', 'RUS', 'W00', 'BALANCE_USD', '_T', '2024-02', 16000000.00, 'USD', 'P'),
    ('M', 'RUS', 'W00', 'HHI_X', '_T', '2024-02', 0.7222, 'IDX', 'P'),
    ('M', 'RUS', 'W00', 'GL_IIT', '_T', '2024-02', 0.0000, 'IDX', 'P'),
    ('M', 'RUS', 'W00', 'X_USD', '27', '2024-02', 15000000.00, 'USD', 'P'),
    ('M', 'RUS', 'W00', 'X_USD', '10', '2024-02', 3000000.00, 'USD', 'P'),
    ('M', 'RUS', 'W00', 'M_USD', '84', '2024-02', 2000000.00, 'USD', 'P'),
    ('M', 'RUS', 'CHN', 'X_USD', '_T', '2024-02', 10000000.00, 'USD', 'P'),
    ('M', 'RUS', 'CHN', 'M_USD', '_T', '2024-02', 2000000.00, 'USD', 'P'),
    ('M', 'RUS', 'CHN', 'TURNOVER_USD', '_T', '2024-02', 12000000.00, 'USD', 'P'),
    ('M', 'RUS', 'CHN', 'BALANCE_USD', '_T', '2024-02', 8000000.00, 'USD', 'P'),
    ('M', 'RUS', 'CHN', 'PARTNER_SHARE_PCT', '_T', '2024-02', 60.0000, 'PCT', 'P'),
    ('M', 'RUS', 'CHN', 'HHI_X', '_T', '2024-02', 1.0000, 'IDX', 'P'),
    ('M', 'RUS', 'CHN', 'GL_IIT', '_T', '2024-02', 0.0000, 'IDX', 'P'),
    ('M', 'RUS', 'CHN', 'MIRROR_X_USD', '_T', '2024-02', 9500000.00, 'USD', 'A'),
    ('M', 'RUS', 'CHN', 'ASYM_X_PCT', '_T', '2024-02', 5.2632, 'PCT', 'P'),
    ('M', 'RUS', 'UZB', 'X_USD', '_T', '2024-02', 5000000.00, 'USD', 'P'),
    ('M', 'RUS', 'UZB', 'M_USD', '_T', '2024-02', 0.00, 'USD', 'P'),
    ('M', 'RUS', 'UZB', 'TURNOVER_USD', '_T', '2024-02', 5000000.00, 'USD', 'P'),
    ('M', 'RUS', 'UZB', 'BALANCE_USD', '_T', '2024-02', 5000000.00, 'USD', 'P'),
    ('M', 'RUS', 'UZB', 'PARTNER_SHARE_PCT', '_T', '2024-02', 25.0000, 'PCT', 'P'),
    -- KAZ: no undisclosed partner; the shares alone sum to 100
    ('M', 'KAZ', 'W00', 'X_USD', '_T', '2024-02', 600000.00, 'USD', 'P'),
    ('M', 'KAZ', 'W00', 'M_USD', '_T', '2024-02', 400000.00, 'USD', 'P'),
    ('M', 'KAZ', 'W00', 'TURNOVER_USD', '_T', '2024-02', 1000000.00, 'USD', 'P'),
    ('M', 'KAZ', 'W00', 'BALANCE_USD', '_T', '2024-02', 200000.00, 'USD', 'P'),
    ('M', 'KAZ', 'CHN', 'X_USD', '_T', '2024-02', 600000.00, 'USD', 'P'),
    ('M', 'KAZ', 'CHN', 'M_USD', '_T', '2024-02', 0.00, 'USD', 'P'),
    ('M', 'KAZ', 'CHN', 'TURNOVER_USD', '_T', '2024-02', 600000.00, 'USD', 'P'),
    ('M', 'KAZ', 'CHN', 'BALANCE_USD', '_T', '2024-02', 600000.00, 'USD', 'P'),
    ('M', 'KAZ', 'CHN', 'PARTNER_SHARE_PCT', '_T', '2024-02', 60.0000, 'PCT', 'P'),
    ('M', 'KAZ', 'RUS', 'X_USD', '_T', '2024-02', 0.00, 'USD', 'P'),
    ('M', 'KAZ', 'RUS', 'M_USD', '_T', '2024-02', 400000.00, 'USD', 'P'),
    ('M', 'KAZ', 'RUS', 'TURNOVER_USD', '_T', '2024-02', 400000.00, 'USD', 'P'),
    ('M', 'KAZ', 'RUS', 'BALANCE_USD', '_T', '2024-02', -400000.00, 'USD', 'P'),
    ('M', 'KAZ', 'RUS', 'PARTNER_SHARE_PCT', '_T', '2024-02', 40.0000, 'PCT', 'P');

create table marts.ind_corridor_logistics (
    freq text, node text, indicator text, direction text, cargo text, time_period text,
    obs_value numeric, unit_measure text, obs_status text
);
insert into marts.ind_corridor_logistics values
    ('M', 'KZAAU', 'PORT_CALLS', '_T', '_T', '2024-02', 1, 'NUM', 'A'),
    ('M', 'KZAAU', 'PORT_T', '_T', '_T', '2024-02', 1000.500, 'T', 'A'),
    ('M', 'KZAAU', 'PORT_T', 'LOAD', 'container', '2024-02', 1000.500, 'T', 'A'),
    ('M', 'KZAAU', 'PORT_TEU', 'LOAD', 'container', '2024-02', 40, 'TEU', 'A'),
    ('M', 'KZAAU', 'PORT_STAY_H', '_T', '_T', '2024-02', 49.00, 'H', 'A'),
    ('M', 'KZKUR', 'PORT_CALLS', '_T', '_T', '2024-02', 1, 'NUM', 'P'),
    ('M', 'KZKUR', 'PORT_T', '_T', '_T', '2024-02', 200.000, 'T', 'P'),
    ('M', 'DOSTYK', 'RAIL_T', '_T', '_T', '2024-02', 500.000, 'T', 'P'),
    ('M', 'DOSTYK', 'RAIL_T', 'IN', '_T', '2024-02', 500.000, 'T', 'P'),
    ('M', 'DOSTYK', 'RAIL_WAGONS', '_T', '_T', '2024-02', 10, 'NUM', 'P'),
    ('M', 'ALTYNKOL', 'RAIL_T', '_T', '_T', '2024-02', 300.000, 'T', 'P'),
    ('M', 'EW_NORTH', 'CORRIDOR_NODE_T', '_T', '_T', '2024-02', 500.000, 'T', 'P'),
    -- ALTYNKOL + KZAAU + KZKUR
    ('M', 'TITR', 'CORRIDOR_NODE_T', '_T', '_T', '2024-02', 1500.500, 'T', 'P'),
    ('M', 'NS_EAST', 'CORRIDOR_NODE_T', '_T', '_T', '2024-02', 0.000, 'T', 'P'),
    ('M', 'CENTRAL_ASIA', 'CORRIDOR_NODE_T', '_T', '_T', '2024-02', 0.000, 'T', 'P');
