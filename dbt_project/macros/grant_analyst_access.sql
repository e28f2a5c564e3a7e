{#
  Analysts read the marts and nothing else. Run as an on-run-end hook: creates the
  cluster role `corridor_analyst` (NOLOGIN; grant it to analysts' login roles) if it
  is missing, lets it read every table of `marts`, and revokes anything it could
  have on `raw`, `staging`, `intermediate` and `reference`. Schemas that do not exist
  yet (a first `dbt seed`) are skipped.
#}
{% macro grant_analyst_access(role='corridor_analyst') %}
    {% if execute %}
        {% set sql %}
            do $$
            declare
                hidden text;
            begin
                if not exists (select 1 from pg_roles where rolname = '{{ role }}') then
                    create role {{ role }} nologin;
                end if;
                if exists (select 1 from pg_namespace where nspname = 'marts') then
                    grant usage on schema marts to {{ role }};
                    grant select on all tables in schema marts to {{ role }};
                end if;
                for hidden in
                    select nspname from pg_namespace
                    where nspname in ('raw', 'staging', 'intermediate', 'reference')
                loop
                    execute format('revoke all on schema %I from {{ role }}', hidden);
                    execute format('revoke all on all tables in schema %I from {{ role }}',
                                   hidden);
                end loop;
            end
            $$;
        {% endset %}
        {% do run_query(sql) %}
    {% endif %}
{% endmacro %}
