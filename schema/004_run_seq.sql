-- agentd store, version 4: a run's key n is never used twice. SQLite gives
-- a new row max(n) + 1, so deleting the newest run (DELETE of a front
-- response, prune) handed its n to the next run, whose lease generations
-- start again at 0: a worker still holding the deleted run's (n, gen)
-- would then pass the fence of the new run. run_seq keeps the highest n
-- ever given; inserts take the next one.
CREATE TABLE run_seq (n INTEGER NOT NULL);
INSERT INTO run_seq SELECT coalesce(max(n), 0) FROM runs;
CREATE TRIGGER runs_seq AFTER INSERT ON runs
BEGIN
	UPDATE run_seq SET n = NEW.n WHERE NEW.n > n;
END;
