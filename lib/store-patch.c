/*
 * A worker's run patch (store_run_patch): the columns of runs a patch
 * sets, fenced by the lease generation, and the run's result, which
 * SQLite keeps in run_results (schema/005_results.sql).
 */
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"

/* Append ", col = ?" for a patch field. */
static void
patch_col(char *sql, size_t len, const char *col)
{
	strncat(sql, ", ", len - strlen(sql) - 1);
	strncat(sql, col, len - strlen(sql) - 1);
	strncat(sql, " = ?", len - strlen(sql) - 1);
}

/*
 * Write the response and text of a patch to run n's row of run_results
 * (schema/005_results.sql): a value the patch leaves NULL keeps its own.
 */
static int
patch_result(struct store *st, int64_t n, const struct run_patch *p)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(store_db(st), "INSERT INTO run_results (n, response, "
	    "output_text) VALUES (?1, ?2, ?3) ON CONFLICT (n) DO UPDATE SET "
	    "response = coalesce(excluded.response, response), output_text = "
	    "coalesce(excluded.output_text, output_text)", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	if (p->response != NULL)
		sqlite3_bind_text(s, 2, p->response, -1, SQLITE_STATIC);
	if (p->output_text != NULL)
		sqlite3_bind_text(s, 3, p->output_text, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Apply a run patch conditioned on the lease generation. */
int
store_run_patch(struct store *st, int64_t n, int64_t gen,
    const struct run_patch *p)
{
	char		 sql[1024] = "UPDATE runs SET updated_at = ?";
	sqlite3_stmt	*s = NULL;
	int		 i = 1, ret = -1;

	if (store_pg(st) != NULL)
		return pgs_run_patch(store_pg(st), n, gen, p);

	if (p->status != NULL)
		patch_col(sql, sizeof sql, "status");
	if (p->backend_id != NULL)
		patch_col(sql, sizeof sql, "backend_id");
	if (p->backend_status != NULL)
		patch_col(sql, sizeof sql, "backend_status");
	if (p->resolved_mode != NULL)
		patch_col(sql, sizeof sql, "resolved_mode");
	if (p->set_error != 0) {
		patch_col(sql, sizeof sql, "error_status");
		patch_col(sql, sizeof sql, "error_message");
		patch_col(sql, sizeof sql, "error_body");
	}
	if (p->resumable >= 0)
		patch_col(sql, sizeof sql, "resumable");
	if (p->last_event_at != 0)
		patch_col(sql, sizeof sql, "last_event_at");
	if (p->creates_inc)
		strncat(sql, ", creates = creates + 1",
		    sizeof sql - strlen(sql) - 1);
	if (p->finished)
		strncat(sql, ", finished_at = ?1, lease_owner = NULL",
		    sizeof sql - strlen(sql) - 1);
	if (p->set_wait == 1)
		strncat(sql, ", wait_reason = ?, wait_until = ?, "
		    "wait_tries = ?", sizeof sql - strlen(sql) - 1);
	else if (p->set_wait == 2 || p->set_wait == -1 || p->finished)
		strncat(sql, ", wait_reason = NULL, wait_until = NULL",
		    sizeof sql - strlen(sql) - 1);
	if (p->set_wait == -1 || p->finished)
		strncat(sql, ", wait_tries = 0", sizeof sql - strlen(sql) - 1);
	strncat(sql, " WHERE n = ? AND lease_gen = ?",
	    sizeof sql - strlen(sql) - 1);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, i++, util_now_ms());
#define BIND_TEXT(v) sqlite3_bind_text(s, i++, (v), -1, SQLITE_STATIC)
	if (p->status != NULL)
		BIND_TEXT(p->status);
	if (p->backend_id != NULL)
		BIND_TEXT(p->backend_id);
	if (p->backend_status != NULL)
		BIND_TEXT(p->backend_status);
	if (p->resolved_mode != NULL)
		BIND_TEXT(p->resolved_mode);
	if (p->set_error > 0) {
		if (p->error_status != 0)
			sqlite3_bind_int(s, i, p->error_status);
		i++;
		BIND_TEXT(p->error_message);
		BIND_TEXT(p->error_body);
	} else if (p->set_error < 0)
		i += 3;		/* bound as NULL */
#undef BIND_TEXT
	if (p->resumable >= 0)
		sqlite3_bind_int(s, i++, p->resumable);
	if (p->last_event_at != 0)
		sqlite3_bind_int64(s, i++, p->last_event_at);
	if (p->set_wait == 1) {
		sqlite3_bind_text(s, i++, p->wait_reason, -1, SQLITE_STATIC);
		if (p->wait_until > 0)
			sqlite3_bind_int64(s, i, p->wait_until);
		i++;
		sqlite3_bind_int(s, i++, p->wait_tries);
	}
	sqlite3_bind_int64(s, i++, n);
	sqlite3_bind_int64(s, i++, gen);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	ret = sqlite3_changes(store_db(st)) > 0 ? 1 : 0;
	if (ret == 1 && (p->response != NULL || p->output_text != NULL) &&
	    patch_result(st, n, p) != 0)
		ret = -1;
out:
	if (ret < 0)
		store_err(st, "patch run");
	sqlite3_finalize(s);
	return ret;
}
