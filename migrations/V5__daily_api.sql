-- What Daily's REST API tells lobbylog, kept apart from the webhook-derived tables.

-- Each period a Daily webhook was not active: Daily sent nothing then, and never replays it.
create table delivery_gaps (
    id bigserial primary key,
    webhook_uuid text not null,
    webhook_url text not null,
    -- What Daily reported when the gap was found: its state and consecutive failed deliveries.
    state text not null,
    failed_count bigint not null,
    -- The last event received before the webhook was found inactive; null if none ever was.
    last_event_at timestamptz,
    detected_at timestamptz not null default now(),
    -- When Daily was seen sending again; null while the gap is open.
    reactivated_at timestamptz,
    -- Only the watchdog in `serve` and `lobbylog daily reactivate` find gaps.
    detected_by text not null check (detected_by in ('watchdog', 'reactivate')),
    -- A gap cannot close before it was found.
    check (reactivated_at is null or reactivated_at >= detected_at)
);

-- One open gap per webhook: finding the same outage again finds this row, not a new one.
create unique index delivery_gaps_one_open on delivery_gaps (webhook_uuid)
    where reactivated_at is null;
create index delivery_gaps_detected_at on delivery_gaps (detected_at);

-- Meetings as GET /meetings lists them (`lobbylog daily pull-meetings`).
create table daily_meetings (
    -- Daily's meeting id: a rerun of the pull updates the row instead of adding one.
    id text primary key,
    room text not null,
    start_time timestamptz not null,
    duration_seconds double precision,
    ongoing boolean not null,
    max_participants integer,
    pulled_at timestamptz not null default now()
);

create index daily_meetings_room_start_time on daily_meetings (room, start_time);
create index daily_meetings_start_time on daily_meetings (start_time);

-- Their participants; Daily lists only those who stayed 10 s or more.
create table daily_meeting_participants (
    -- A participant belongs to one pulled meeting and goes with it.
    meeting_id text not null references daily_meetings (id) on delete cascade,
    -- Daily's participant id: the session_id of the same person in webhook events.
    participant_id text not null,
    user_id text,
    user_name text,
    join_time timestamptz not null,
    duration_seconds double precision,
    -- One row per participant of a meeting, however often the meeting is pulled.
    primary key (meeting_id, participant_id)
);

create index daily_meeting_participants_participant_id on daily_meeting_participants (participant_id);
create index daily_meeting_participants_join_time on daily_meeting_participants (join_time);
