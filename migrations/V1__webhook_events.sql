-- Every authentic Daily event, kept whole, once.
create table webhook_events (
    -- Daily's event id is the idempotency key: a redelivered event conflicts here and is skipped.
    event_id text primary key,
    event_type text not null,
    version text,
    -- When Daily sent the webhook (envelope event_ts); null when absent or unreadable.
    event_ts timestamptz,
    received_at timestamptz not null default now(),
    -- The whole envelope as received.
    body jsonb not null,
    -- Why the projection into knock tables could not use this event; null when it could.
    projection_error text
);

-- Dashboards filter by type and time.
create index webhook_events_type_ts on webhook_events (event_type, event_ts);
create index webhook_events_received_at on webhook_events using brin (received_at);

-- Authentic (signed) requests that are not a usable event envelope: kept so nothing is lost.
create table dead_letters (
    id bigserial primary key,
    received_at timestamptz not null default now(),
    -- Where the bytes came from: 'intake', or 'backfill:<file>:<line>'.
    source text not null,
    reason text not null,
    body bytea not null
);

create index dead_letters_received_at on dead_letters (received_at);
