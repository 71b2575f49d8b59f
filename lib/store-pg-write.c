/*
 * The PostgreSQL store: a run's insert and the workers' writes, each the
 * port of its SQLite namesake in store.c. Every worker write is fenced by
 * (n, lease_gen) in the statement itself; an event append is one statement
 * that locks the run, inserts the events and moves the cursor together.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

/* Load run n for a worker holding generation gen. */
int
pgs_row_load(struct pgstore *ps, int64_t n, int64_t gen, struct run_row *r)
{
	PGresult	*res;
	const char	*pv[1];
	char		 nb[24];

	memset(r, 0, sizeof *r);
	pv[0] = pgs_i64(nb, n);
	res = pgs_exec(ps, "load run", "SELECT id, endpoint, dialect, "
	    "request, mode, resolved_mode, status, backend_id, resumable, "
	    "creates, last_seq, lease_gen, coalesce(last_event_at, 0), "
	    "attempt, max_attempts FROM runs WHERE n = $1", 1, pv);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || pgs_int(res, 0, 11, -1) != gen) {
		PQclear(res);
		return 0;
	}
	r->n = n;
	snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, 0, 0));
	r->endpoint = pgs_dup(res, 0, 1);
	r->dialect = pgs_dup(res, 0, 2);
	r->request = pgs_dup(res, 0, 3);
	r->mode = pgs_dup(res, 0, 4);
	r->resolved_mode = pgs_dup(res, 0, 5);
	r->status = pgs_dup(res, 0, 6);
	r->backend_id = pgs_dup(res, 0, 7);
	r->resumable = (int)pgs_int(res, 0, 8, 0);
	r->creates = (int)pgs_int(res, 0, 9, 0);
	r->last_seq = pgs_int(res, 0, 10, -1);
	r->lease_gen = gen;
	r->last_event_at = pgs_int(res, 0, 12, 0);
	r->attempt = (int)pgs_int(res, 0, 13, 1);
	r->max_attempts = (int)pgs_int(res, 0, 14, 1);
	PQclear(res);
	return 1;
}

/*
 * Insert a new run, or find the existing one with the same idempotency
 * key (*created 0). One autocommit statement: a concurrent insert of the
 * same key on another host waits for that one and then finds it.
 */
int
pgs_run_insert(struct pgstore *ps, const struct run_new *rn, char *id,
    size_t idlen, int *created, char **cause)
{
	PGresult	*res;
	const char	*pv[13];
	char		 now[24], prio[24], att[24];
	int		 tries;

	*created = 0;
	pgs_i64(now, pgs_now(ps));
	pgs_i64(prio, rn->priority);
	pgs_i64(att, rn->max_attempts > 0 ? rn->max_attempts : 1);
	for (tries = 0; tries < 3; tries++) {
		if (rn->idempotency_key != NULL) {
			pv[0] = rn->idempotency_key;
			res = pgs_exec(ps, "insert run", "SELECT id FROM runs "
			    "WHERE idempotency_key = $1", 1, pv);
			if (res == NULL)
				goto fail;
			if (PQntuples(res) > 0) {
				snprintf(id, idlen, "%s",
				    PQgetvalue(res, 0, 0));
				PQclear(res);
				return 0;
			}
			PQclear(res);
		}
		util_run_id(id, idlen);
		pv[0] = id;
		pv[1] = rn->idempotency_key;
		pv[2] = rn->queue != NULL ? rn->queue : "default";
		pv[3] = prio;
		pv[4] = rn->endpoint != NULL ? rn->endpoint : "";
		/* Empty: the dispatching agentd's --dialect applies. */
		pv[5] = rn->dialect != NULL ? rn->dialect : "";
		pv[6] = rn->request;
		pv[7] = rn->mode != NULL ? rn->mode : "auto";
		pv[8] = now;
		pv[9] = rn->batch;
		pv[10] = rn->custom_id;
		pv[11] = att;
		/* Identity values are never reused (invariant 3). */
		res = pgs_exec(ps, "insert run", "INSERT INTO runs (id, "
		    "idempotency_key, queue, priority, endpoint, dialect, "
		    "request, mode, status, created_at, updated_at, batch, "
		    "custom_id, max_attempts) VALUES ($1, $2, $3, $4, $5, $6, "
		    "$7, $8, 'pending', $9, $9, $10, $11, $12) ON CONFLICT "
		    "(idempotency_key) DO NOTHING RETURNING id", 12, pv);
		if (res == NULL) {
			/* Two random ids alike: draw again. */
			if (strcmp(pgs_sqlstate(ps), "23505") == 0 &&
			    !ps->in_txn)
				continue;
			goto fail;
		}
		if (PQntuples(res) == 1) {
			PQclear(res);
			*created = 1;
			return 0;
		}
		/* The key was inserted meanwhile: find that run. */
		PQclear(res);
		if (rn->idempotency_key == NULL)
			break;
	}
	log_warnx("store: insert run: no id after %d tries", tries);
	xasprintf(cause, "store: insert failed");
	return -1;
fail:
	pgs_cause(ps, "insert", cause);
	return -1;
}

/*
 * Insert events and move the cursor, fenced by generation, in one
 * statement: the run's row is locked first (under READ COMMITTED a
 * concurrent change of lease_gen is waited for and re-checked), the
 * events are inserted only if it matched, and the cursor and event count
 * move with them. Inside the caller's transaction; -1 means the caller
 * must roll it back.
 */
int
pgs_events_append(struct pgstore *ps, int64_t n, int64_t gen,
    const struct store_event *ev, size_t nev, int64_t last_seq, int64_t now)
{
	struct pgs_arr	 seqs = { NULL, 0, 0 }, types = { NULL, 0, 0 };
	struct pgs_arr	 datas = { NULL, 0, 0 };
	PGresult	*res;
	const char	*pv[7];
	char		 nb[24], gb[24], lb[24], tb[24];
	size_t		 i;
	int64_t		 locked, moved, added;

	pgs_arr_open(&seqs);
	pgs_arr_open(&types);
	pgs_arr_open(&datas);
	for (i = 0; i < nev; i++) {
		pgs_arr_int(&seqs, ev[i].seq);
		/* NULL as SQLite binds it: the NOT NULL constraint fails. */
		pgs_arr_text(&types, ev[i].type, ev[i].type != NULL ?
		    strlen(ev[i].type) : 0);
		pgs_arr_text(&datas, ev[i].data, ev[i].data_len);
	}
	pgs_arr_close(&seqs);
	pgs_arr_close(&types);
	pgs_arr_close(&datas);
	pv[0] = pgs_i64(nb, n);
	pv[1] = pgs_i64(gb, gen);
	pv[2] = pgs_i64(lb, last_seq);
	pv[3] = pgs_i64(tb, pgs_rebase(ps, now));
	pv[4] = seqs.p;
	pv[5] = types.p;
	pv[6] = datas.p;
	res = pgs_exec(ps, "append events", "WITH cur AS MATERIALIZED ("
	    "SELECT n FROM runs WHERE n = $1 AND lease_gen = $2 "
	    "FOR NO KEY UPDATE), "
	    "ins AS (INSERT INTO events (run_n, seq, type, data, at) "
	    "SELECT c.n, u.seq, u.type, u.data, $4 FROM cur c, "
	    "unnest($5::bigint[], $6::text[], $7::text[]) AS u(seq, type, "
	    "data) ON CONFLICT (run_n, seq) DO NOTHING RETURNING 1), "
	    "upd AS (UPDATE runs SET last_seq = greatest(last_seq, $3), "
	    "event_count = event_count + (SELECT count(*) FROM ins), "
	    "last_event_at = $4, updated_at = $4 WHERE n = (SELECT n FROM "
	    "cur) RETURNING 1) "
	    "SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM upd), "
	    "(SELECT count(*) FROM ins)", 7, pv);
	free(seqs.p);
	free(types.p);
	free(datas.p);
	if (res == NULL)
		return -1;
	locked = pgs_int(res, 0, 0, 0);
	moved = pgs_int(res, 0, 1, 0);
	added = pgs_int(res, 0, 2, 0);
	PQclear(res);
	if (locked == 0)
		return -2;	/* Invariant 3: a fenced worker writes nothing. */
	if (moved == 0) {
		log_warnx("store: run %lld: lease changed inside a write "
		    "transaction", (long long)n);
		return -1;
	}
	return (int)added;
}

/* Append ", col = $k" for a patch field and its parameter. */
static void
patch_col(char *sql, size_t len, const char *col, int *k,
    const char **pv, const char *v)
{
	char	tail[64];

	snprintf(tail, sizeof tail, ", %s = $%d", col, *k + 1);
	strncat(sql, tail, len - strlen(sql) - 1);
	pv[(*k)++] = v;
}

/* Apply a run patch conditioned on the lease generation. */
int
pgs_run_patch(struct pgstore *ps, int64_t n, int64_t gen,
    const struct run_patch *p)
{
	char		 sql[1024] = "UPDATE runs SET updated_at = $1";
	char		 tail[96];
	char		 now[24], es[24], res_[24], lea[24], wu[24], wt[24];
	char		 nb[24], gb[24];
	const char	*pv[24];
	int		 k = 1;
	int64_t		 rows;

	pv[0] = pgs_i64(now, pgs_now(ps));
	if (p->status != NULL)
		patch_col(sql, sizeof sql, "status", &k, pv, p->status);
	if (p->backend_id != NULL)
		patch_col(sql, sizeof sql, "backend_id", &k, pv,
		    p->backend_id);
	if (p->backend_status != NULL)
		patch_col(sql, sizeof sql, "backend_status", &k, pv,
		    p->backend_status);
	if (p->resolved_mode != NULL)
		patch_col(sql, sizeof sql, "resolved_mode", &k, pv,
		    p->resolved_mode);
	if (p->response != NULL)
		patch_col(sql, sizeof sql, "response", &k, pv, p->response);
	if (p->output_text != NULL)
		patch_col(sql, sizeof sql, "output_text", &k, pv,
		    p->output_text);
	if (p->set_error > 0) {
		patch_col(sql, sizeof sql, "error_status", &k, pv,
		    p->error_status != 0 ? pgs_i64(es, p->error_status) :
		    NULL);
		patch_col(sql, sizeof sql, "error_message", &k, pv,
		    p->error_message);
		patch_col(sql, sizeof sql, "error_body", &k, pv,
		    p->error_body);
	} else if (p->set_error < 0) {
		patch_col(sql, sizeof sql, "error_status", &k, pv, NULL);
		patch_col(sql, sizeof sql, "error_message", &k, pv, NULL);
		patch_col(sql, sizeof sql, "error_body", &k, pv, NULL);
	}
	if (p->resumable >= 0)
		patch_col(sql, sizeof sql, "resumable", &k, pv,
		    pgs_i64(res_, p->resumable));
	if (p->last_event_at != 0)
		patch_col(sql, sizeof sql, "last_event_at", &k, pv,
		    pgs_i64(lea, pgs_rebase(ps, p->last_event_at)));
	if (p->creates_inc)
		strncat(sql, ", creates = creates + 1",
		    sizeof sql - strlen(sql) - 1);
	/* The lease ends with the run: its holder host too. */
	if (p->finished)
		strncat(sql, ", finished_at = $1, lease_owner = NULL, "
		    "lease_host = NULL, lease_epoch = NULL",
		    sizeof sql - strlen(sql) - 1);
	if (p->set_wait == 1) {
		patch_col(sql, sizeof sql, "wait_reason", &k, pv,
		    p->wait_reason);
		patch_col(sql, sizeof sql, "wait_until", &k, pv,
		    p->wait_until > 0 ? pgs_i64(wu, pgs_rebase(ps,
		    p->wait_until)) : NULL);
		patch_col(sql, sizeof sql, "wait_tries", &k, pv,
		    pgs_i64(wt, p->wait_tries));
	} else if (p->set_wait == 2 || p->set_wait == -1 || p->finished)
		strncat(sql, ", wait_reason = NULL, wait_until = NULL",
		    sizeof sql - strlen(sql) - 1);
	if (p->set_wait == -1 || p->finished)
		strncat(sql, ", wait_tries = 0", sizeof sql - strlen(sql) - 1);
	snprintf(tail, sizeof tail, " WHERE n = $%d AND lease_gen = $%d",
	    k + 1, k + 2);
	strncat(sql, tail, sizeof sql - strlen(sql) - 1);
	pv[k++] = pgs_i64(nb, n);
	pv[k++] = pgs_i64(gb, gen);
	rows = pgs_cmd(ps, "patch run", sql, k, pv);
	if (rows < 0)
		return -1;
	return rows > 0 ? 1 : 0;
}

/*
 * agentd let run n go after holding it back itself: restart its staleness
 * clock (invariant 4). Fenced by gen. 1, 0 fenced, -1 error.
 */
int
pgs_run_released(struct pgstore *ps, int64_t n, int64_t gen,
    const char *reason, int64_t until)
{
	const char	*pv[5];
	char		 now[24], ub[24], nb[24], gb[24];
	int64_t		 rows;

	pv[0] = pgs_i64(now, pgs_now(ps));
	pv[1] = reason;
	pv[2] = reason != NULL && until > 0 ? pgs_i64(ub, pgs_rebase(ps,
	    until)) : NULL;
	pv[3] = pgs_i64(nb, n);
	pv[4] = pgs_i64(gb, gen);
	rows = pgs_cmd(ps, "release run", "UPDATE runs SET released_at = $1, "
	    "wait_reason = $2, wait_until = $3 WHERE n = $4 AND "
	    "lease_gen = $5", 5, pv);
	if (rows < 0)
		return -1;
	return rows > 0 ? 1 : 0;
}

/*
 * Concatenate the text deltas stored for run n. The JSON is taken apart
 * here, not by the server: this runs inside a worker's flush transaction,
 * which a cast error would abort. As with SQLite's json_extract, one
 * malformed event makes the whole text empty.
 */
char *
pgs_delta_text(struct pgstore *ps, int64_t n)
{
	PGresult	*res;
	struct pgs_arr	 b = { NULL, 0, 0 };
	const char	*pv[1];
	char		 nb[24], num[64], *dump;
	json_t		*j, *d;
	int		 i, bad = 0;

	pv[0] = pgs_i64(nb, n);
	res = pgs_exec(ps, "delta text", "SELECT data FROM events WHERE "
	    "run_n = $1 AND type = 'response.output_text.delta' ORDER BY seq",
	    1, pv);
	if (res == NULL)
		return xstrdup("");
	pgs_arr_add(&b, "", 0);
	for (i = 0; i < PQntuples(res) && !bad; i++) {
		if ((j = json_loads(PQgetvalue(res, i, 0), JSON_DECODE_ANY,
		    NULL)) == NULL) {
			bad = 1;
			break;
		}
		d = json_is_object(j) ? json_object_get(j, "delta") : NULL;
		if (json_is_string(d))
			pgs_arr_add(&b, json_string_value(d),
			    json_string_length(d));
		else if (json_is_integer(d) || json_is_boolean(d)) {
			snprintf(num, sizeof num, "%lld", json_is_integer(d) ?
			    (long long)json_integer_value(d) :
			    (long long)json_is_true(d));
			pgs_arr_add(&b, num, strlen(num));
		} else if (json_is_real(d)) {
			snprintf(num, sizeof num, "%.17g", json_real_value(d));
			pgs_arr_add(&b, num, strlen(num));
		} else if (json_is_object(d) || json_is_array(d)) {
			if ((dump = json_dumps(d, JSON_COMPACT |
			    JSON_ENCODE_ANY)) != NULL) {
				pgs_arr_add(&b, dump, strlen(dump));
				free(dump);
			}
		}
		json_decref(j);
	}
	PQclear(res);
	if (bad) {
		free(b.p);
		return xstrdup("");
	}
	return b.p;
}

/* Read what is known about an endpoint. */
int
pgs_caps_get(struct pgstore *ps, const char *endpoint,
    struct endpoint_caps *c)
{
	PGresult	*res;
	const char	*pv[1];

	c->background = c->stream = c->resume = -1;
	pv[0] = endpoint;
	res = pgs_exec(ps, "endpoint caps", "SELECT coalesce(background, -1), "
	    "coalesce(stream, -1), coalesce(resume, -1) FROM endpoints WHERE "
	    "endpoint = $1", 1, pv);
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0) {
		c->background = (int)pgs_int(res, 0, 0, -1);
		c->stream = (int)pgs_int(res, 0, 1, -1);
		c->resume = (int)pgs_int(res, 0, 2, -1);
	}
	PQclear(res);
	return 0;
}

/* Remember one capability (what: background|stream|resume). */
int
pgs_caps_set(struct pgstore *ps, const char *endpoint, const char *what,
    int value)
{
	const char	*pv[3];
	char		 sql[256], vb[24], now[24];

	/* what names a column: only these three, never a value. */
	if (strcmp(what, "background") != 0 && strcmp(what, "stream") != 0 &&
	    strcmp(what, "resume") != 0)
		return -1;
	snprintf(sql, sizeof sql, "INSERT INTO endpoints (endpoint, %s, "
	    "updated_at) VALUES ($1, $2, $3) ON CONFLICT (endpoint) DO UPDATE "
	    "SET %s = $2, updated_at = $3", what, what);
	pv[0] = endpoint;
	pv[1] = pgs_i64(vb, value);
	pv[2] = pgs_i64(now, pgs_now(ps));
	return pgs_cmd(ps, "endpoint caps", sql, 3, pv) < 0 ? -1 : 0;
}
