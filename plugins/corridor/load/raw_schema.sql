-- The raw schema: feed rows as delivered (names and scales of the publisher),
-- typed, with the unit of publication and its revision on every row.
-- Accepted rows only; rejected rows go to raw.rejected_rows with their reason.
-- Idempotent: run before every load.

-- Created when missing only: `corridor warehouse init` creates both schemas for their
-- owner, the loader, which may not create schemas (and CREATE SCHEMA IF NOT EXISTS
-- asks for that right even when the schema exists).
do $$
begin
    if to_regnamespace('raw') is null then create schema raw; end if;
    if to_regnamespace('ingest') is null then create schema ingest; end if;
end
$$;

-- Which revision of which unit the raw tables hold. One row per (feed, unit).
-- unit: 'YYYY-MM' (ru_customs, kz_customs), '<reporterCode>:YYYY-MM' (comtrade),
-- 'YYYY-MM-DD' (rail). Ports are versioned per call (raw.port_calls.version).
create table if not exists raw.loaded_units (
    feed           text        not null,
    unit           text        not null,
    period_month   text        not null,
    revision       integer,
    status         text,
    sha256         text,
    rows_loaded    integer     not null,
    rows_rejected  integer     not null,
    loaded_at      timestamptz not null default now(),
    primary key (feed, unit)
);

create table if not exists raw.rejected_rows (
    feed        text not null,
    unit        text not null,
    row_ref     text not null,  -- 1-based data row number, or the row's key
    reason      text not null,  -- missing_field | unparsable | negative_value | unknown_partner
                                -- | self_partner | bad_code_length | period_mismatch
                                -- | duplicate_key | unknown_point | date_mismatch
    detail      text,
    raw_record  text            -- the row as delivered
);
create index if not exists rejected_rows_unit on raw.rejected_rows (feed, unit);

-- 1. ru_customs: one CSV per month (unit = period_month).
create table if not exists raw.ru_customs_rows (
    period_month  text    not null,
    revision      integer not null,
    status        text    not null,
    row_number    integer not null,  -- 1-based data line, header excluded
    napr          text    not null,  -- ИМ | ЭК
    period        text    not null,  -- MM/YYYY as delivered
    strana        text    not null,  -- ISO alpha-2, XX undisclosed
    tnved         text    not null,  -- 10-digit TN VED
    edizm         text,
    stoim         numeric not null,  -- USD
    netto         numeric not null,  -- kg
    kol           numeric,
    region        text,
    region_s      text
);
create index if not exists ru_customs_rows_period on raw.ru_customs_rows (period_month);

-- 2. kz_customs: JSON pages per month (unit = period_month).
create table if not exists raw.kz_customs_rows (
    period_month        text    not null,
    revision            integer not null,
    status              text    not null,
    row_number          integer not null,  -- 1-based position across all pages
    flow                text    not null,  -- export | import
    tn_ved              text    not null,
    partner_m49         text    not null,  -- text, leading zeros kept; 000 undisclosed
    partner_name_ru     text,
    value_thousand_usd  numeric not null,  -- thousand USD, as delivered
    net_weight_t        numeric not null,  -- tonnes, as delivered
    supp_qty            numeric,
    supp_unit           text,
    transport_mode      text    not null,
    customs_regime      text    not null
);
create index if not exists kz_customs_rows_period on raw.kz_customs_rows (period_month);

-- 3. comtrade: mirror rows per (reporter, month); unit = '<reporterCode>:YYYY-MM'.
create table if not exists raw.comtrade_rows (
    reporter_code   integer not null,
    period_month    text    not null,
    row_number      integer not null,
    flow_code       text    not null,
    partner_code    integer not null,
    partner2_code   integer not null,
    cmd_code        text    not null,
    aggr_level      integer,
    is_leaf         boolean,
    mot_code        integer not null,
    customs_code    text    not null,
    cifvalue        numeric,
    fobvalue        numeric,
    primary_value   numeric,
    net_wgt         numeric,
    -- motCode 0, customsCode C00, partner2Code 0, aggrLevel 6: the rows that count
    is_counted_leaf boolean not null
);
create index if not exists comtrade_rows_unit on raw.comtrade_rows (reporter_code, period_month);

-- Did reporter j report month t at all? (its (j, t) row in the availability listing)
create table if not exists raw.comtrade_reporting (
    reporter_code  integer not null,
    period_month   text    not null,
    has_reported   boolean not null,
    probe_rows     integer not null,  -- 1: the unit is in the listing, 0: not reported
    primary key (reporter_code, period_month)
);

-- 4. ports: one row per call, highest version seen (unit = call_id).
create table if not exists raw.port_calls (
    call_id        text primary key,
    port           text    not null,
    version        integer not null,
    updated_at     text    not null,  -- ISO-8601 with offset, as delivered
    status         text    not null,
    vessel_imo     text,
    vessel_name    text,
    vessel_flag    text,
    arrived_at     text,              -- ISO-8601 with offset, as delivered
    departed_at    text,
    previous_port  text,
    next_port      text
);

create table if not exists raw.port_cargo_lines (
    call_id      text    not null,
    version      integer not null,
    line_number  integer not null,  -- 1-based position in the call's cargo list
    operation    text    not null,  -- load | discharge
    cargo_type   text    not null,
    hs_chapter   text,
    tonnes       numeric not null,
    teu          integer,           -- null counts as 0
    primary key (call_id, line_number)
);

-- Incremental sync state: the updated_at high-water mark per port.
create table if not exists raw.port_sync_state (
    port             text primary key,
    -- ISO-8601 instant, inclusive for the next request; null while the port has sent no
    -- call (a synced port with nothing to report, its totals published as 0)
    high_water_mark  text,
    synced_at        timestamptz not null default now()
);
alter table raw.port_sync_state alter column high_water_mark drop not null;

-- 5. rail: one XML report per day (unit = report_date).
create table if not exists raw.rail_consignments (
    report_date      date    not null,
    revision         integer not null,
    row_number       integer not null,  -- 1-based consignment position in the report
    point            text    not null,
    partner_railway  text,
    direction        text    not null,  -- inbound | outbound
    transit          boolean not null,
    gng              text    not null,
    wagons           integer not null,
    teu              integer not null,
    tonnes           numeric not null,
    origin           text,
    destination      text
);
create index if not exists rail_consignments_date on raw.rail_consignments (report_date);

-- Ingest bookkeeping that is not feed data (no raw fingerprint, no replay rebuilds it),
-- in schema ingest (created above).

-- The Comtrade key's calls per UTC day (every call counts, failed ones too) against the
-- daily budget, and the time the API's quota answer said it is replenished.
create table if not exists ingest.comtrade_calls (
    call_day     date        primary key,
    calls        integer     not null,
    quota_until  timestamptz
);

-- The rolling coverage window the last poll resolved from the customs indexes
-- (corridor.window); one row. Unused when CORRIDOR_PERIOD_FROM/TO are set.
create table if not exists ingest.coverage_window (
    id           boolean     primary key default true check (id),
    period_from  text        not null,
    period_to    text        not null,
    resolved_at  timestamptz not null default now()
);

-- Every dbt build of the marts (corridor.transform.run_dbt), with the loaded units it
-- read. The build holds the build lock exclusively (corridor.locks), so no unit load
-- commits during it: ``inputs`` is exactly what its marts were computed from. A
-- release names the latest build's inputs and is refused while that build has not
-- finished (killed, still running elsewhere) or failed: its marts may be half rebuilt.
create table if not exists ingest.dbt_builds (
    build_id     bigint generated always as identity primary key,
    command      text        not null,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    success      boolean,
    inputs       jsonb       not null
);
