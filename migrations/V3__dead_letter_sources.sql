-- A backfill rerun, or a spool segment drained again after a crash, meets the same bad records
-- again: one dead letter per location and body is enough. Not for 'intake' rows: the intake keeps
-- every authentic bad request it receives, repeats included.
create unique index dead_letters_source_body on dead_letters (source, md5(body))
    where source <> 'intake';
