-- agentd store, version 2: named batches, queues with limits, run-level
-- retries with an attempt history.
-- runs.attempts becomes runs.creates: create requests sent (transport
-- level); runs.attempt is the run-level try (1..max_attempts).

ALTER TABLE runs RENAME COLUMN attempts TO creates;
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN batch TEXT;
ALTER TABLE runs ADD COLUMN custom_id TEXT;
ALTER TABLE runs ADD COLUMN not_before INTEGER;	-- unix ms: retry backoff
-- When agentd last let the run go after holding it back itself (a 429
-- pause, the store refusing writes): staleness is measured from here too.
ALTER TABLE runs ADD COLUMN released_at INTEGER;
CREATE INDEX runs_batch ON runs(batch, n) WHERE batch IS NOT NULL;
CREATE INDEX runs_lease ON runs(lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE queues (
	name		TEXT PRIMARY KEY,
	max_inflight	INTEGER,		-- NULL: unlimited
	paused		INTEGER NOT NULL DEFAULT 0,
	priority	INTEGER NOT NULL DEFAULT 0,
	max_attempts	INTEGER,		-- NULL: the batch's or 3
	updated_at	INTEGER NOT NULL
);

CREATE TABLE batches (
	name		TEXT PRIMARY KEY,
	queue		TEXT NOT NULL DEFAULT 'default',
	max_attempts	INTEGER NOT NULL DEFAULT 3,
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL,
	cancelled_at	INTEGER
);

-- One row per finished run-level attempt that was retried or ended.
CREATE TABLE attempts (
	run_n		INTEGER NOT NULL,
	attempt		INTEGER NOT NULL,
	status		TEXT NOT NULL,
	backend_id	TEXT,
	error_status	INTEGER,
	error_message	TEXT,
	events		INTEGER NOT NULL DEFAULT 0,
	started_at	INTEGER,
	ended_at	INTEGER NOT NULL,
	PRIMARY KEY (run_n, attempt)
) WITHOUT ROWID;
