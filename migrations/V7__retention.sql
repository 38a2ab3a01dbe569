-- How far raw events have been pruned. Raw events (and dead letters) older than `pruned_before`
-- may be gone, so `reproject` keeps the knock rows that began before it instead of rebuilding them.
create table retention_horizon (
    -- At most one row: the key can only be true.
    only_row boolean primary key default true check (only_row),
    -- The latest cutoff a prune started deleting up to; it only ever moves forward.
    pruned_before timestamptz not null,
    -- When it last moved.
    moved_at timestamptz not null default now()
);
