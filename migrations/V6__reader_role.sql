-- A role for dashboards (Grafana, Metabase, psql): it reads the two analytics views and nothing
-- else. It cannot log in; give a login user its rights with `create role ... login in role
-- lobbylog_reader`. Roles belong to the whole cluster while this migration runs once per
-- database, maybe in several databases at once: a role that exists already, or that another
-- migration creates meanwhile, is not an error.
do $$
begin
    create role lobbylog_reader nologin;
exception
    when duplicate_object or unique_violation then null;
end
$$;

grant usage on schema public to lobbylog_reader;
-- The views read their tables with their owner's rights, so these grants are all it needs.
grant select on knocks, knock_daily_stats to lobbylog_reader;
