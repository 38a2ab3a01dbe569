-- Rollups: what the dashboard, Grafana and knock_daily_stats show, per room and UTC day of the
-- knock, kept off the intake's path. The projection only leaves a mark (one row per batch and
-- table: the keys it upserted) saying which knocks it may have changed; `knock_rollups_refresh()`,
-- run every few seconds by `lobbylog serve`, recomputes the (room, day) rows of those knocks from
-- the sessions. A recompute reads the sessions as they are, so the rollups converge to what the
-- `knocks` view says whatever order events arrive in.

-- Which knocks may have changed since the last refresh. No index and no key: the intake appends,
-- the refresh takes all.
create table knock_rollup_marks (
    -- When the marking transaction began: the oldest mark tells how far the rollups lag.
    marked_at timestamptz not null default now(),
    -- The (room, session_id) keys of the waiting or call sessions a batch upserted: the knock of
    -- the same key, if there is one, is rolled up again.
    rooms text[] not null,
    session_ids text[] not null
);

-- Where a wait falls in the wait histograms. Exact seconds below 60 s, then buckets 1.98% wide
-- (82 of them from 60 s to 300 s, the same ratio beyond), so a percentile read from a histogram is
-- within 1 s or 2% of the exact one. Bucket edges fall on 10, 30, 60 and 300 s, the dashboard's
-- ranges. A knock without a wait is bucket -1.
create function knock_wait_bucket(wait double precision) returns smallint
language sql immutable parallel safe as $$
    select (case
        when wait is null then -1
        when wait < 60 then greatest(floor(wait), 0)
        when wait < 300 then 60 + least(floor(ln(wait / 60) * 82 / ln(5)), 81)
        else least(142 + floor(ln(wait / 300) * 82 / ln(5)), 32767)
    end)::smallint
$$;

-- The value a percentile takes for a wait in this bucket: the bucket's middle.
create function knock_wait_bucket_value(bucket integer) returns double precision
language sql immutable parallel safe as $$
    select case
        when bucket < 60 then bucket + 0.5
        when bucket < 142 then 60 * (power(5, (bucket - 60) / 82.0) + power(5, (bucket - 59) / 82.0)) / 2
        else 300 * (power(5, (bucket - 142) / 82.0) + power(5, (bucket - 141) / 82.0)) / 2
    end
$$;

-- The dashboard's wait ranges: 0-10 s, 10-30 s, 30-60 s, 1-5 min, 5 min or more (or no wait).
create function knock_wait_range(wait double precision) returns integer
language sql immutable parallel safe as $$
    select coalesce(width_bucket(wait, array[10, 30, 60, 300]::float8[]), 4)
$$;

-- Percentiles, as percentile_cont computes them, of waits given as a histogram: `buckets`
-- ascending, `counts` the knocks in each. Bucket -1 (no wait) is left out, as percentile_cont
-- leaves out nulls.
create function knock_wait_percentiles(buckets smallint[], counts bigint[], fractions float8[])
returns float8[] language plpgsql immutable parallel safe as $$
declare
    total bigint := 0;
    result float8[] := '{}';
    fraction float8;
    rank float8;
    seen bigint;
    low float8;
    high float8;
    i integer;
begin
    for i in 1 .. coalesce(cardinality(buckets), 0) loop
        if buckets[i] >= 0 then
            total := total + counts[i];
        end if;
    end loop;
    if total = 0 then
        return null;
    end if;
    foreach fraction in array fractions loop
        rank := fraction * (total - 1);
        seen := 0;
        low := null;
        high := null;
        for i in 1 .. cardinality(buckets) loop
            continue when buckets[i] < 0;
            seen := seen + counts[i];
            if low is null and seen > floor(rank) then
                low := knock_wait_bucket_value(buckets[i]);
            end if;
            if seen > ceil(rank) then
                high := knock_wait_bucket_value(buckets[i]);
                exit;
            end if;
        end loop;
        result := result || (low + (rank - floor(rank)) * (coalesce(high, low) - low));
    end loop;
    return result;
end
$$;

-- How many of a day's unresolved knocks (their start times) are still waiting: those that began
-- in the last 24 hours, as in the `knocks` view.
create function knock_waiting(day date, pending timestamptz[]) returns integer
language sql stable parallel safe as $$
    select case
        when day < ((now() - interval '24 hours') at time zone 'UTC')::date then 0
        else (select count(*)::int from unnest(pending) t where t > now() - interval '24 hours')
    end
$$;

-- Counts of small integers (0 .. size-1), as an array: knocks by hour, by wait range.
create function knock_count_positions(positions integer[], size integer) returns integer[]
language plpgsql immutable parallel safe as $$
declare
    counts integer[] := array_fill(0, array[size]);
    p integer;
begin
    foreach p in array coalesce(positions, '{}') loop
        counts[p + 1] := counts[p + 1] + 1;
    end loop;
    return counts;
end
$$;

-- Element by element sums of equally long arrays, for summing rollups' counts by hour or range.
create function knock_array_add(total integer[], item integer[]) returns integer[]
language plpgsql immutable parallel safe as $$
begin
    if total is null then
        return item;
    end if;
    for i in 1 .. cardinality(item) loop
        total[i] := total[i] + item[i];
    end loop;
    return total;
end
$$;

create aggregate knock_array_sum(integer[]) (sfunc = knock_array_add, stype = integer[]);
create aggregate knock_array_concat(anycompatiblearray) (sfunc = array_cat, stype = anycompatiblearray);

-- One row per room and UTC day with knocks (the day the knock began).
create table knock_room_days (
    room text not null,
    day date not null,
    knocks integer not null,
    admitted integer not null,
    abandoned integer not null,
    -- When each knock without an outcome began: waiting while under 24 hours old, then unresolved
    -- (see knock_waiting).
    pending_knocked_at timestamptz[] not null,
    -- Abandoned knocks by UTC hour of the day they began, 24 counts.
    abandoned_by_hour integer[] not null,
    -- Abandoned and admitted knocks by wait range (knock_wait_range), 5 counts each.
    abandoned_wait_ranges integer[] not null,
    admitted_wait_ranges integer[] not null,
    -- The day's exact percentiles, as knock_daily_stats had them.
    abandoned_wait_p50 double precision,
    abandoned_wait_p90 double precision,
    admitted_wait_p50 double precision,
    admitted_wait_p90 double precision,
    -- Wait histograms (knock_wait_bucket), buckets ascending, for percentiles over many days.
    abandoned_wait_buckets smallint[] not null,
    abandoned_wait_counts integer[] not null,
    admitted_wait_buckets smallint[] not null,
    admitted_wait_counts integer[] not null,
    rolled_up_at timestamptz not null default now(),
    primary key (room, day)
);

-- A window over every room reads the rooms' counts from this index alone.
create index knock_room_days_day on knock_room_days (day) include (room, knocks, admitted, abandoned);

-- The same per UTC day over every room, summed from knock_room_days.
create table knock_days (
    day date primary key,
    knocks integer not null,
    admitted integer not null,
    abandoned integer not null,
    pending_knocked_at timestamptz[] not null,
    abandoned_by_hour integer[] not null,
    abandoned_wait_ranges integer[] not null,
    admitted_wait_ranges integer[] not null,
    rolled_up_at timestamptz not null default now()
);

-- Recomputes the rollups of these (room, day) pairs from the sessions, and the days they are in.
create function knock_rollups_recompute(target_rooms text[], target_days date[]) returns void
language sql as $$
    delete from knock_room_days r
    using unnest(target_rooms, target_days) t(room, day)
    where r.room = t.room and r.day = t.day;

    insert into knock_room_days (
        room, day, knocks, admitted, abandoned, pending_knocked_at, abandoned_by_hour,
        abandoned_wait_ranges, admitted_wait_ranges, abandoned_wait_p50, abandoned_wait_p90,
        admitted_wait_p50, admitted_wait_p90, abandoned_wait_buckets, abandoned_wait_counts,
        admitted_wait_buckets, admitted_wait_counts)
    with target as (
        select distinct room, day from unnest(target_rooms, target_days) t(room, day)
    ), knock as (
        select t.room, t.day, w.started_at as knocked_at,
               case when p.admitted then 'admitted' when w.left_event_id is not null then 'abandoned' end as outcome,
               case
                   when p.admitted then greatest(0, extract(epoch from p.started_at - w.started_at))::double precision
                   when w.left_event_id is not null then w.duration_seconds
               end as wait
        from target t
        join waiting_sessions w
          on w.room = t.room
         and w.started_at >= t.day::timestamp at time zone 'UTC'
         and w.started_at < (t.day + 1)::timestamp at time zone 'UTC'
        left join lateral (
            select true as admitted, p.started_at
            from participant_sessions p
            where p.room = w.room and p.session_id = w.session_id
            limit 1
        ) p on true
    ), histogram as (
        select room, day, outcome, knock_wait_bucket(wait) as bucket, count(*)::int as knocks
        from knock
        where outcome is not null
        group by 1, 2, 3, 4
    ), histograms as (
        select room, day,
               coalesce(array_agg(bucket order by bucket) filter (where outcome = 'abandoned'), '{}') as abandoned_buckets,
               coalesce(array_agg(knocks order by bucket) filter (where outcome = 'abandoned'), '{}') as abandoned_counts,
               coalesce(array_agg(bucket order by bucket) filter (where outcome = 'admitted'), '{}') as admitted_buckets,
               coalesce(array_agg(knocks order by bucket) filter (where outcome = 'admitted'), '{}') as admitted_counts
        from histogram
        group by room, day
    )
    select k.room, k.day, count(*)::int,
           (count(*) filter (where outcome = 'admitted'))::int,
           (count(*) filter (where outcome = 'abandoned'))::int,
           coalesce(array_agg(knocked_at order by knocked_at) filter (where outcome is null), '{}'),
           knock_count_positions(array_agg(extract(hour from knocked_at at time zone 'UTC')::int)
                                     filter (where outcome = 'abandoned'), 24),
           knock_count_positions(array_agg(knock_wait_range(wait)) filter (where outcome = 'abandoned'), 5),
           knock_count_positions(array_agg(knock_wait_range(wait)) filter (where outcome = 'admitted'), 5),
           percentile_cont(0.5) within group (order by wait) filter (where outcome = 'abandoned'),
           percentile_cont(0.9) within group (order by wait) filter (where outcome = 'abandoned'),
           percentile_cont(0.5) within group (order by wait) filter (where outcome = 'admitted'),
           percentile_cont(0.9) within group (order by wait) filter (where outcome = 'admitted'),
           coalesce(min(h.abandoned_buckets), '{}'), coalesce(min(h.abandoned_counts), '{}'),
           coalesce(min(h.admitted_buckets), '{}'), coalesce(min(h.admitted_counts), '{}')
    from knock k
    left join histograms h on h.room = k.room and h.day = k.day
    group by k.room, k.day;

    delete from knock_days where day in (select unnest(target_days));

    insert into knock_days (day, knocks, admitted, abandoned, pending_knocked_at, abandoned_by_hour,
                            abandoned_wait_ranges, admitted_wait_ranges)
    select day, sum(knocks), sum(admitted), sum(abandoned),
           coalesce(knock_array_concat(pending_knocked_at), '{}'),
           knock_array_sum(abandoned_by_hour), knock_array_sum(abandoned_wait_ranges),
           knock_array_sum(admitted_wait_ranges)
    from knock_room_days
    where day in (select unnest(target_days))
    group by day;
$$;

-- Takes every mark and recomputes the rollups they name; returns how many (room, day) rollups it
-- recomputed. One refresh at a time across every process (an advisory lock), so an older
-- recompute never overwrites a newer one.
create function knock_rollups_refresh() returns integer
language plpgsql as $$
declare
    target_rooms text[];
    target_days date[];
begin
    perform pg_advisory_xact_lock(hashtext('lobbylog.knock_rollups'));
    -- A knock counts on the day it began; that day moves if a joined event arrives after the left
    -- one, so both days its start was read from are recomputed.
    with taken as (
        delete from knock_rollup_marks returning rooms, session_ids
    ), target as (
        select distinct w.room, (started at time zone 'UTC')::date as day
        from taken, unnest(taken.rooms, taken.session_ids) m(room, session_id)
        join waiting_sessions w on w.room = m.room and w.session_id = m.session_id
        cross join lateral unnest(array[w.joined_at, w.left_joined_at]) as started
        where started is not null
    )
    select array_agg(room), array_agg(day) into target_rooms, target_days from target;
    if target_rooms is null then
        return 0;
    end if;
    perform knock_rollups_recompute(target_rooms, target_days);
    return cardinality(target_rooms);
end
$$;

-- Recomputes every rollup from the sessions (after a reproject; here, for the knocks stored so far).
create function knock_rollups_rebuild() returns integer
language plpgsql as $$
declare
    target_rooms text[];
    target_days date[];
begin
    perform pg_advisory_xact_lock(hashtext('lobbylog.knock_rollups'));
    delete from knock_rollup_marks;
    delete from knock_room_days;
    delete from knock_days;
    select array_agg(room), array_agg(day) into target_rooms, target_days
    from (select distinct room, (started_at at time zone 'UTC')::date as day
          from waiting_sessions where started_at is not null) t;
    if target_rooms is null then
        return 0;
    end if;
    perform knock_rollups_recompute(target_rooms, target_days);
    return cardinality(target_rooms);
end
$$;

-- The admission is looked up by key for each knock, so a query over a window reads the window's
-- knocks and their admissions, never all of participant_sessions.
create or replace view knocks as
select
    w.room,
    w.session_id,
    w.user_id,
    w.user_name,
    w.owner,
    w.started_at as knocked_at,
    case
        when p.session_id is not null then p.started_at
        when w.left_event_id is not null then w.left_at
    end as resolved_at,
    case
        when p.session_id is not null then greatest(0, extract(epoch from p.started_at - w.started_at))::double precision
        when w.left_event_id is not null then w.duration_seconds
        when w.started_at > now() - interval '24 hours' then extract(epoch from now() - w.started_at)::double precision
    end as wait_seconds,
    case
        when p.session_id is not null then 'admitted'
        when w.left_event_id is not null then 'abandoned'
        when w.started_at > now() - interval '24 hours' then 'waiting'
        else 'unresolved'
    end as outcome,
    w.will_eject_at,
    w.joined_event_id,
    w.left_event_id,
    p.joined_event_id as admitted_event_id
from waiting_sessions w
left join lateral (
    -- `limit 1` (the key is unique anyway) keeps this a lookup per knock: without it Postgres
    -- may flatten it into a join that reads every participant session.
    select p.session_id, p.started_at, p.joined_event_id
    from participant_sessions p
    where p.room = w.room and p.session_id = w.session_id
    limit 1
) p on true;

-- Same columns as before, read from the rollups.
drop view knock_daily_stats;
create view knock_daily_stats as
select
    room,
    day,
    knocks::bigint as knocks,
    admitted::bigint as admitted,
    abandoned::bigint as abandoned,
    knock_waiting(day, pending_knocked_at)::bigint as waiting,
    (cardinality(pending_knocked_at) - knock_waiting(day, pending_knocked_at))::bigint as unresolved,
    abandoned::double precision / nullif(admitted + abandoned, 0) as abandon_rate,
    abandoned_wait_p50,
    abandoned_wait_p90,
    admitted_wait_p50,
    admitted_wait_p90
from knock_room_days;

grant select on knock_daily_stats, knock_room_days, knock_days to lobbylog_reader;

select knock_rollups_rebuild();
