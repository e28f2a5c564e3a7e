select a.*,
       t.obs_value as turnover_usd
from {batch} as a
inner join {batch} as t on t.freq = a.freq
and t.ref_area = a.ref_area
and t.counterpart_area = a.counterpart_area
and t.commodity = a.commodity
and t.time_period = a.time_period
and t.indicator = 'TURNOVER_USD'
where a.freq = 'M'
    and a.commodity = '_T'
    and a.indicator in ('ASYM_X_PCT',
                        'ASYM_M_PCT')
    and abs(a.obs_value) > $mirror_asymmetry_limit_pct
    and t.obs_value > $mirror_asymmetry_min_turnover_usd
