-- agentd store, version 5: a run's final response and text move out of
-- its row. They are the run's largest values (tens of KB for a long
-- answer) and sat before the columns added since (attempt, wait_*), so
-- reading any of those made SQLite follow the row's overflow pages: a
-- list of 100 long runs read 4 MB and took 4 ms instead of 1. Only a run's
-- result (result, show, the front, batch results) reads them now.
CREATE TABLE run_results (
	n		INTEGER PRIMARY KEY,	-- runs.n
	response	TEXT,			-- final response object JSON
	output_text	TEXT
);
INSERT INTO run_results (n, response, output_text)
	SELECT n, response, output_text FROM runs
	WHERE response IS NOT NULL OR output_text IS NOT NULL;
ALTER TABLE runs DROP COLUMN response;
ALTER TABLE runs DROP COLUMN output_text;
-- Results and attempts of runs that prune removed before this version.
DELETE FROM attempts WHERE run_n NOT IN (SELECT n FROM runs);
