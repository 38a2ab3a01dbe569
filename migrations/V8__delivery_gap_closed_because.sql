-- Why a delivery gap closed: a gap whose webhook is gone from Daily (deleted, or replaced by a new
-- registration) is never seen active again, and would otherwise stay open forever.

-- `active_again` (Daily said active) or `webhook_gone` (Daily no longer lists it); null while open.
alter table delivery_gaps add column closed_because text
    check (closed_because in ('active_again', 'webhook_gone'));

-- Before this column, a gap closed only when its webhook was seen active again.
update delivery_gaps set closed_because = 'active_again' where reactivated_at is not null;

-- A gap says why it closed exactly when it is closed.
alter table delivery_gaps add constraint delivery_gaps_closed_because_when_closed
    check ((reactivated_at is null) = (closed_because is null));
