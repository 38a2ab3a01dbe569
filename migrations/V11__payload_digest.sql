-- What a repeat of a stored event is compared with: the first 16 bytes of SHA-256 over the
-- event's type, version and payload text as received (`Event::digest`, src/triage/digest.rs).
-- A repeat with the same digest is a duplicate, told by the id lookup alone; one with another
-- digest (or a row stored before this column, whose digest is null) is compared as jsonb, so a
-- repeat in another layout is still a duplicate and one that says something else a conflict.
-- Adding a nullable column without a default rewrites nothing.
alter table webhook_events add column payload_digest bytea;
