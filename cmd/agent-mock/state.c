/*
 * agent-mock --state FILE (Databricks dialect): the background runs kept
 * in a file, as the real server keeps them in its database, so that a
 * mock killed mid-run and started again on the same file lets every run
 * go on. A run is saved with its parameters, its attempts and how many of
 * its events were stored (committed before any client may see them); the
 * events themselves are generated again from these. A heartbeat stores
 * every event that came due (the handler writes its events whether or not
 * anyone listens). The file is written whole to FILE.tmp and renamed over
 * FILE on every change.
 */

#define STATE_BEAT_MS	100
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <jansson.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "mock.h"

/* Return the JSON object saving run r (a new reference). */
static json_t *
run_json(const struct run *r)
{
	json_t	*o, *segs;
	int	 i;

	segs = json_array();
	for (i = 0; i < r->nseg; i++)
		json_array_append_new(segs, json_pack("[I,I,I,I]",
		    (json_int_t)r->segs[i].seq0, (json_int_t)r->segs[i].base0,
		    (json_int_t)r->segs[i].attempt,
		    (json_int_t)r->segs[i].start_wall));
	o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:I,s:s,s:s,s:I,s:I,s:I,s:I,"
	    "s:i,s:i,s:I,s:I,s:I,s:I,s:o}",
	    "id", r->id, "hex", r->hex, "num", (json_int_t)r->num,
	    "created_ms", (json_int_t)r->created_ms,
	    "stream", r->stream, "creates", (json_int_t)r->creates,
	    "model", r->model_json, "metadata", r->metadata_json,
	    "events", (json_int_t)r->p.events,
	    "interval", (json_int_t)r->p.interval,
	    "delta_bytes", (json_int_t)r->p.delta_bytes,
	    "stall_after", (json_int_t)r->p.stall_after,
	    "fail", (int)r->p.fail, "misbehave", (int)r->p.mb,
	    "tool_steps", (json_int_t)r->p.tool_steps,
	    "stored", (json_int_t)r->stored,
	    "timeout_at", (json_int_t)r->timeout_at,
	    "timeout_wall", (json_int_t)r->timeout_wall,
	    "segs", segs);
	if (o == NULL)
		fatalx("state: cannot build the JSON of run %s", r->id);
	if (r->idem_key != NULL)
		json_object_set_new(o, "idempotency_key",
		    json_string(r->idem_key));
	if (r->alt_id[0] != '\0')
		json_object_set_new(o, "alt_id", json_string(r->alt_id));
	return o;
}

/* Write every background run to --state, atomically; dies on failure. */
void
state_save(struct mock *m)
{
	const char	*path = m->opts.state_file;
	struct run	*r;
	json_t		*root, *runs;
	char		*tmp;

	if (path == NULL)
		return;
	runs = json_array();
	TAILQ_FOREACH(r, &m->runs, entry)
		if (r->background)
			json_array_append_new(runs, run_json(r));
	root = json_pack("{s:I,s:o}", "nruns", (json_int_t)m->nruns,
	    "runs", runs);
	xasprintf(&tmp, "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_COMPACT) != 0)
		fatal("state: cannot write %s", tmp);
	if (rename(tmp, path) != 0)
		fatal("state: cannot rename %s to %s", tmp, path);
	free(tmp);
	json_decref(root);
}

/*
 * The first n events of run r are about to be seen by a client: store
 * them first (save --state if that is news), as the server stores an
 * event before any retrieve loop can send it.
 */
void
state_commit(struct mock *m, struct run *r, long long n)
{
	if (n <= r->stored)
		return;
	r->stored = n;
	if (r->background)
		state_save(m);
}

/* Return the integer member key of o, or def if it is absent. */
static long long
jint(json_t *o, const char *key, long long def)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

/* Return the string member key of o, or def. */
static const char *
jstr(json_t *o, const char *key, const char *def)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : def;
}

/* Rebuild one run from its saved object; NULL if it is unusable. */
static struct run *
run_load(struct mock *m, json_t *o, int64_t now_mono, int64_t now_wall)
{
	struct run	*r;
	json_t		*segs, *g;
	const char	*id = jstr(o, "id", NULL), *hex = jstr(o, "hex", NULL);
	const char	*key = jstr(o, "idempotency_key", NULL);
	size_t		 i;

	segs = json_object_get(o, "segs");
	if (id == NULL || hex == NULL || strlen(id) >= sizeof r->id ||
	    strlen(hex) != 24 || !json_is_array(segs) ||
	    json_array_size(segs) < 1 ||
	    json_array_size(segs) > MOCK_MAX_SEGS ||
	    htab_get(&m->by_id, id) != NULL)
		return NULL;
	r = xcalloc(1, sizeof *r);
	r->m = m;
	snprintf(r->id, sizeof r->id, "%s", id);
	memcpy(r->hex, hex, sizeof r->hex);
	snprintf(r->item_id, sizeof r->item_id, "msg_%s", hex);
	snprintf(r->alt_id, sizeof r->alt_id, "%s", jstr(o, "alt_id", ""));
	r->num = (unsigned long long)jint(o, "num", 0);
	r->created_ms = jint(o, "created_ms", now_wall);
	r->created_mono = now_mono - (now_wall - r->created_ms);
	r->background = 1;
	r->stream = json_is_true(json_object_get(o, "stream"));
	run_params_default(&r->p);
	r->p.events = jint(o, "events", MOCK_DEF_EVENTS);
	r->p.interval = jint(o, "interval", MOCK_DEF_INTERVAL);
	r->p.delta_bytes = jint(o, "delta_bytes", 0);
	r->p.stall_after = jint(o, "stall_after", -1);
	r->p.fail = (enum fail_mode)jint(o, "fail", FAIL_NONE);
	r->p.mb = (enum misbehave)jint(o, "misbehave", MB_NONE);
	r->p.tool_steps = jint(o, "tool_steps", MOCK_DB_STEPS);
	r->cancel_at = -1;
	r->timeout_at = jint(o, "timeout_at", -1);
	r->timeout_wall = jint(o, "timeout_wall", now_wall);
	r->timeout_mono = now_mono - (now_wall - r->timeout_wall);
	r->stored = jint(o, "stored", 0);
	r->creates = jint(o, "creates", 1);
	r->model_json = xstrdup(jstr(o, "model", "\"mock-model\""));
	r->metadata_json = xstrdup(jstr(o, "metadata", "{}"));
	json_array_foreach(segs, i, g) {
		r->segs[i].seq0 = json_integer_value(json_array_get(g, 0));
		r->segs[i].base0 = json_integer_value(json_array_get(g, 1));
		r->segs[i].attempt = json_integer_value(json_array_get(g, 2));
		r->segs[i].start_wall = json_integer_value(json_array_get(g,
		    3));
		r->segs[i].start_mono = now_mono - (now_wall -
		    r->segs[i].start_wall);
	}
	r->nseg = (int)json_array_size(segs);
	TAILQ_INIT(&r->clients);
	TAILQ_INSERT_TAIL(&m->runs, r, entry);
	htab_put(&m->by_id, r->id, r);
	if (key != NULL && htab_get(&m->by_key, key) == NULL) {
		r->idem_key = xstrdup(key);
		htab_put(&m->by_key, r->idem_key, r);
	}
	return r;
}

/*
 * Load --state if the file exists: every saved run comes back, and one
 * left unfinished by the dead process is taken over by a new attempt
 * after the failover pause (dbx_restart). Then save the result.
 */
void
state_load(struct mock *m)
{
	const char	*path = m->opts.state_file;
	json_t		*root, *runs, *o;
	json_error_t	 jerr;
	struct run	*r;
	int64_t		 now_mono = util_mono_ms(), now_wall = util_now_ms();
	size_t		 i;
	long long	 n = 0;

	if (path == NULL)
		return;
	if (access(path, F_OK) != 0) {
		state_save(m);
		return;
	}
	if ((root = json_load_file(path, 0, &jerr)) == NULL) {
		log_warnx("state: %s: %s; starting empty", path, jerr.text);
		state_save(m);
		return;
	}
	m->nruns = jint(root, "nruns", 0);
	runs = json_object_get(root, "runs");
	json_array_foreach(runs, i, o) {
		if ((r = run_load(m, o, now_mono, now_wall)) == NULL) {
			log_warnx("state: %s: run %zu is unusable; skipped",
			    path, i);
			continue;
		}
		if ((long long)r->num > m->nruns)
			m->nruns = (long long)r->num;
		dbx_restart(r, now_mono, now_wall);
		n++;
	}
	json_decref(root);
	log_info("state: %lld runs loaded from %s", n, path);
	state_save(m);
}

/* Heartbeat: store every background run's events that came due. */
static void
state_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mock	*m = arg;
	struct run	*r;
	int64_t		 now = util_mono_ms();
	long long	 n;
	int		 dirty = 0;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(r, &m->runs, entry) {
		if (!r->background)
			continue;
		n = run_avail(r, now);
		if (n > r->stored) {
			r->stored = n;
			dirty = 1;
		}
	}
	if (dirty)
		state_save(m);
}

/* Start the --state heartbeat (nothing without --state). */
void
state_start(struct mock *m)
{
	struct timeval	tv = { 0, STATE_BEAT_MS * 1000 };

	if (m->opts.state_file == NULL)
		return;
	m->state_ev = event_new(m->base, -1, EV_PERSIST, state_beat_cb, m);
	if (m->state_ev == NULL || event_add(m->state_ev, &tv) != 0)
		fatalx("state: cannot start the heartbeat");
}
