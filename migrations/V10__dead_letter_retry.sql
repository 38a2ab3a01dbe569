-- `lobbylog dead-letters retry` triages dead letters again with the current code. One that is now
-- an event is stored as one and kept here, marked, so a rerun skips it; one still rejected keeps
-- both columns null and takes the new reason. Source and body never change, so the unique index
-- of V3 on (source, md5(body)) is untouched. Nullable columns without a default: no rewrite.

alter table dead_letters
    -- When a retry found it to be an event (stored then, or already stored) or Daily's probe; null
    -- while it is still rejected.
    add column retried_at timestamptz,
    -- The event_id in webhook_events it became; null while rejected, and for a probe (not kept).
    add column retried_event_id text;

-- An event id only on a retried dead letter. `not valid` skips scanning the rows already there:
-- both columns are null on every one of them.
alter table dead_letters add constraint dead_letters_retried_event_when_retried
    check (retried_event_id is null or retried_at is not null) not valid;
