{#- on-run-start: the NOLOGIN role that the marts' `grants` config names, created
    when missing (a fresh cluster; a deployment creates it beforehand,
    docker/postgres-init.sql). Grant it to analysts' login roles. -#}
{% macro create_analyst_role(role) -%}
    do $$
    begin
        if not exists (select 1 from pg_roles where rolname = '{{ role }}') then
            create role {{ role }} nologin;
        end if;
    end
    $$
{%- endmacro %}

{#- on-run-end: usage on schema marts for the role, when this run built into it (dbt's
    grants config covers the tables, not their schema; a `dbt seed` builds no mart). -#}
{% macro grant_marts_usage(schemas, role) -%}
    {%- if 'marts' in schemas -%}
    grant usage on schema marts to {{ role }}
    {%- endif -%}
{%- endmacro %}
