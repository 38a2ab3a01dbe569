-- A backfill rerun meets the same bad records again: one dead letter per location and body is enough.
-- Only backfill rows: the intake keeps every authentic bad request it receives, repeats included.
create unique index dead_letters_backfill_source_body on dead_letters (source, md5(body))
    where source like 'backfill%';
