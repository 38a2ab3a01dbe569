-- Normalized sessions projected from webhook_events. Each row merges up to three "slots", each
-- filled by one event: the joined event, the left event, and the attributes (user, owner, ...).
-- A slot keeps the event with the smallest key, so any delivery order gives the same row; the
-- `collate "C"` on keys makes Postgres compare them bytewise, exactly as lobbylog does in memory.

-- One row per knock: a (room, session_id) that waited in a lobby.
create table waiting_sessions (
    room text not null,
    session_id text not null,
    -- From waiting-participant.joined.
    joined_event_id text collate "C",
    joined_at timestamptz,
    -- From waiting-participant.left: when knocking began, how long it lasted, when it ended.
    left_event_id text collate "C",
    left_joined_at timestamptz,
    duration_seconds double precision,
    left_at timestamptz,
    -- Attributes come from the left event if there is one (it is the later word), else the joined one.
    attrs_key text collate "C" not null,
    user_id text,
    user_name text,
    owner boolean,
    will_eject_at timestamptz,
    permissions jsonb,
    -- When the knock (or session) began, whichever event told us.
    started_at timestamptz generated always as (coalesce(joined_at, left_joined_at)) stored,
    -- A knock is identified by its room and Daily's session id.
    primary key (room, session_id)
);

create index waiting_sessions_started_at on waiting_sessions (started_at);
create index waiting_sessions_room_started_at on waiting_sessions (room, started_at);

-- One row per call session: same shape, from participant.joined / participant.left.
create table participant_sessions (like waiting_sessions including all);

-- One row per meeting, from meeting.started / meeting.ended.
create table meetings (
    -- Daily's meeting id.
    meeting_id text primary key,
    started_event_id text collate "C",
    started_start_at timestamptz,
    ended_event_id text collate "C",
    ended_start_at timestamptz,
    ended_at timestamptz,
    attrs_key text collate "C" not null,
    room text,
    started_at timestamptz generated always as (coalesce(started_start_at, ended_start_at)) stored
);

create index meetings_room_started_at on meetings (room, started_at);

-- Events kept raw whose payload could not be projected, for inspection and reproject.
create index webhook_events_projection_error on webhook_events (event_type)
    where projection_error is not null;

-- Every knock with its outcome. Admitted wins over abandoned: an admitted knocker may also get a
-- waiting-participant.left. Denied knocks cannot be told from abandoned ones in Daily's webhooks.
create view knocks as
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
left join participant_sessions p on p.room = w.room and p.session_id = w.session_id;

-- Per room and UTC day of the knock.
create view knock_daily_stats as
select
    room,
    (knocked_at at time zone 'UTC')::date as day,
    count(*) as knocks,
    count(*) filter (where outcome = 'admitted') as admitted,
    count(*) filter (where outcome = 'abandoned') as abandoned,
    count(*) filter (where outcome = 'waiting') as waiting,
    count(*) filter (where outcome = 'unresolved') as unresolved,
    (count(*) filter (where outcome = 'abandoned'))::double precision
        / nullif(count(*) filter (where outcome in ('admitted', 'abandoned')), 0) as abandon_rate,
    percentile_cont(0.5) within group (order by wait_seconds) filter (where outcome = 'abandoned') as abandoned_wait_p50,
    percentile_cont(0.9) within group (order by wait_seconds) filter (where outcome = 'abandoned') as abandoned_wait_p90,
    percentile_cont(0.5) within group (order by wait_seconds) filter (where outcome = 'admitted') as admitted_wait_p50,
    percentile_cont(0.9) within group (order by wait_seconds) filter (where outcome = 'admitted') as admitted_wait_p90
from knocks
group by room, (knocked_at at time zone 'UTC')::date;
