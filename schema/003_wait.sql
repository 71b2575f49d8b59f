-- agentd store, version 3: why a run that is not moving waits, in plain
-- sight. A worker that schedules a retry (or holds a run back) records the
-- reason, when the next try is due and the tries so far in this attempt;
-- a pending run's reason (a paused queue, a max_inflight) is computed when
-- it is read, from the queues and the runs in flight.
ALTER TABLE runs ADD COLUMN wait_reason TEXT;	-- retry_after, backoff, ...
ALTER TABLE runs ADD COLUMN wait_until INTEGER;	-- unix ms of the next try
ALTER TABLE runs ADD COLUMN wait_tries INTEGER NOT NULL DEFAULT 0;
