/*
 * Human and JSON output for agentctl: JSON documents, field accessors with
 * defaults, times and ages, and aligned tables whose status cells may be
 * coloured when stdout is a terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentctl.h"
#include "util.h"
#include "xmalloc.h"

#define COLOR_RESET	"\033[0m"

struct ctl_table {
	int		  ncols;
	size_t		 *width;
	char		**cells;	/* nrows * ncols */
	const char	**colors;
	size_t		  nrows;
};

/* Print one JSON document, indented, followed by a newline. */
void
ctl_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

/* Print one JSON document on one line and flush (JSON Lines). */
void
ctl_print_json_line(json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
	fputc('\n', stdout);
	fflush(stdout);
}

/* The ANSI colour for a run status word, or NULL for none. */
const char *
ctl_status_color(const char *status)
{
	if (status == NULL)
		return NULL;
	if (strcmp(status, "completed") == 0)
		return "\033[32m";
	if (strcmp(status, "failed") == 0 || strcmp(status, "abandoned") == 0)
		return "\033[31m";
	if (strcmp(status, "running") == 0 || strcmp(status, "pending") == 0 ||
	    strcmp(status, "starting") == 0)
		return "\033[33m";
	return NULL;
}

/* Seconds from now to the unix-ms time until, rounded up, at least 0. */
static long long
secs_until(long long until)
{
	long long	d = until - (long long)util_now_ms();

	return d <= 0 ? 0 : (d + 999) / 1000;
}

/*
 * The run's status with why it waits, if it does, from its "wait" object:
 * "starting (retry 3 in 4s)", "pending (queue nightly paused)".
 */
void
ctl_status_text(json_t *run, char *buf, size_t len)
{
	json_t		*w = json_object_get(run, "wait");
	const char	*st = ctl_str(run, "status", "-");
	const char	*why = ctl_str(w, "reason", NULL);
	const char	*q = ctl_str(w, "queue", "?");
	long long	 tries = ctl_int(w, "tries", 0), in, lim;
	char		 when[32];

	if (!json_is_object(w) || why == NULL) {
		snprintf(buf, len, "%s", st);
		return;
	}
	in = secs_until(ctl_int(w, "until", 0));
	lim = ctl_int(w, "limit", 0);
	if (json_is_integer(json_object_get(w, "until")))
		snprintf(when, sizeof when, in > 0 ? "in %llds" : "due", in);
	else
		snprintf(when, sizeof when, "soon");
	if (strcmp(why, "retry_after") == 0 || strcmp(why, "backoff") == 0 ||
	    strcmp(why, "ratelimit_reset") == 0 ||
	    (strcmp(why, "endpoint_paused") == 0 && tries > 0))
		snprintf(buf, len, "%s (retry %lld %s)", st, tries, when);
	else if (strcmp(why, "endpoint_paused") == 0)
		snprintf(buf, len, "%s (429 pause, %s)", st, when);
	else if (strcmp(why, "requests_per_minute") == 0)
		snprintf(buf, len, "%s (rpm limit, %s)", st, when);
	else if (strcmp(why, "store_unavailable") == 0)
		snprintf(buf, len, "%s (store refuses writes)", st);
	else if (strcmp(why, "queue_paused") == 0)
		snprintf(buf, len, "%s (queue %s paused)", st, q);
	else if (strcmp(why, "queue_max_inflight") == 0)
		snprintf(buf, len, "%s (queue %s full, max %lld)", st, q, lim);
	else if (strcmp(why, "max_inflight") == 0)
		snprintf(buf, len, "%s (max-inflight %lld)", st, lim);
	else if (strcmp(why, "attempt_backoff") == 0)
		snprintf(buf, len, "%s (attempt %lld %s)", st,
		    ctl_int(run, "attempt", 0), when);
	else
		snprintf(buf, len, "%s (%s)", st, why);
}

/* obj[key] if it is a string, else dflt. */
const char *
ctl_str(json_t *obj, const char *key, const char *dflt)
{
	json_t	*v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* obj[key] if it is an integer, else dflt. */
long long
ctl_int(json_t *obj, const char *key, long long dflt)
{
	json_t	*v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* Format the age of the unix-ms timestamp obj[key], or "-" if none. */
void
ctl_age(json_t *obj, const char *key, char *buf, size_t len)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_integer(v)) {
		snprintf(buf, len, "-");
		return;
	}
	util_fmt_age(util_now_ms() - (int64_t)json_integer_value(v), buf,
	    len);
}

/* Format unix milliseconds as UTC "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void
ctl_fmt_time(int64_t ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);
	char		tmp[32];

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "%lld", (long long)ms);
		return;
	}
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", tmp, (int)(ms % 1000));
}

/* Format a number of seconds as "2d 3h 4m", "3h 4m", "4m 5s" or "5s". */
void
ctl_fmt_uptime(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh %lldm", s / 86400,
		    s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

/* Start a table with ncols columns and these headers. */
struct ctl_table *
ctl_table_new(int ncols, const char *const *headers)
{
	struct ctl_table	*t;

	t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	t->width = xcalloc((size_t)ncols, sizeof *t->width);
	ctl_table_add(t, headers, NULL);
	return t;
}

/* Add a row (cells are copied; colors may be NULL or hold NULLs). */
void
ctl_table_add(struct ctl_table *t, const char *const *cells,
    const char *const *colors)
{
	size_t	base, n;
	int	i;

	base = t->nrows * (size_t)t->ncols;
	t->nrows++;
	t->cells = xreallocarray(t->cells, t->nrows * (size_t)t->ncols,
	    sizeof *t->cells);
	t->colors = xreallocarray(t->colors, t->nrows * (size_t)t->ncols,
	    sizeof *t->colors);
	for (i = 0; i < t->ncols; i++) {
		t->cells[base + i] = xstrdup(cells[i] != NULL ? cells[i] : "-");
		t->colors[base + i] = colors != NULL ? colors[i] : NULL;
		if ((n = strlen(t->cells[base + i])) > t->width[i])
			t->width[i] = n;
	}
}

/* Print the table, columns two spaces apart, each line after indent. */
void
ctl_table_print(struct ctl_ctx *ctx, struct ctl_table *t, const char *indent)
{
	const char	*cell, *color;
	size_t		 r, pad;
	int		 i;

	for (r = 0; r < t->nrows; r++) {
		fputs(indent, stdout);
		for (i = 0; i < t->ncols; i++) {
			cell = t->cells[r * (size_t)t->ncols + i];
			color = t->colors[r * (size_t)t->ncols + i];
			if (ctx->color && color != NULL)
				printf("%s%s%s", color, cell, COLOR_RESET);
			else
				fputs(cell, stdout);
			if (i == t->ncols - 1)
				break;
			pad = t->width[i] - strlen(cell) + 2;
			printf("%*s", (int)pad, "");
		}
		fputc('\n', stdout);
	}
}

/* Free a table. */
void
ctl_table_free(struct ctl_table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->colors);
	free(t->width);
	free(t);
}
