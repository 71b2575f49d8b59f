-- agentd store, version 1: runs, their events, endpoint capabilities.
-- Times: *_at are unix milliseconds (wall clock); lease_expires is
-- CLOCK_MONOTONIC milliseconds and is re-armed at every supervisor start.

CREATE TABLE runs (
	n		INTEGER PRIMARY KEY,	-- internal key, list order
	id		TEXT NOT NULL UNIQUE,	-- public id, r_<16 hex>
	idempotency_key	TEXT UNIQUE,
	queue		TEXT NOT NULL DEFAULT 'default',
	priority	INTEGER NOT NULL DEFAULT 0,
	endpoint	TEXT NOT NULL,
	dialect		TEXT NOT NULL DEFAULT 'openai',
	request		TEXT NOT NULL,		-- the user's request JSON
	mode		TEXT NOT NULL DEFAULT 'auto',	-- requested
	resolved_mode	TEXT,			-- background|stream|batch|poll
	status		TEXT NOT NULL DEFAULT 'pending',
	backend_id	TEXT,
	backend_status	TEXT,
	resumable	INTEGER NOT NULL DEFAULT 1,
	attempts	INTEGER NOT NULL DEFAULT 0,
	last_seq	INTEGER NOT NULL DEFAULT -1,	-- cursor
	event_count	INTEGER NOT NULL DEFAULT 0,
	last_event_at	INTEGER,
	attached_at	INTEGER,		-- when the current lease began
	lease_owner	TEXT,
	lease_gen	INTEGER NOT NULL DEFAULT 0,
	lease_expires	INTEGER,
	error_status	INTEGER,
	error_message	TEXT,
	error_body	TEXT,
	response	TEXT,			-- final response object JSON
	output_text	TEXT,
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL,
	finished_at	INTEGER
);
CREATE INDEX runs_status ON runs(status, n);
CREATE INDEX runs_queue ON runs(queue, n);

CREATE TABLE events (
	run_n		INTEGER NOT NULL,
	seq		INTEGER NOT NULL,
	type		TEXT NOT NULL,
	data		TEXT NOT NULL,		-- the event JSON as received
	at		INTEGER NOT NULL,
	PRIMARY KEY (run_n, seq)
) WITHOUT ROWID;

CREATE TABLE endpoints (
	endpoint	TEXT PRIMARY KEY,
	background	INTEGER,		-- NULL unknown, 0 no, 1 yes
	stream		INTEGER,
	resume		INTEGER,
	updated_at	INTEGER NOT NULL
);
