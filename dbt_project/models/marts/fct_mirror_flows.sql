-- Partner-side rows mirroring the reporters' flows (national feed for RUS-KAZ,
-- Comtrade leaves otherwise), with the per-row FOB conversion.
select * from {{ ref('int_mirror_flows_unioned') }}
