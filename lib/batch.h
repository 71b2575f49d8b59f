/*
 * Named batches and queues in the store: idempotent batch submission (one
 * transaction, keys "batch:<name>:<custom_id>"), progress, results in the
 * OpenAI Batch API output format, cancellation, queue settings. Used by the
 * API and, when agentd is not running, by agentctl directly on the store.
 */
#ifndef AGENTD_BATCH_H
#define AGENTD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

struct batch_item {
	const char	*custom_id;
	const char	*request;	/* JSON object text */
};

struct batch_new {
	const char	*name;
	const char	*queue;		/* NULL: "default" */
	const char	*mode;		/* NULL: "auto" */
	int		 max_attempts;	/* 0: the queue's, else 3 */
	const char	*endpoint;	/* NULL: stamped at dispatch */
	const char	*dialect;
};

/*
 * Submit items to batch b in one transaction. *submitted counts new runs,
 * *present those whose key existed. Returns 0, or -1 with *cause.
 */
int	 batch_submit(struct store *st, const struct batch_new *b,
	    const struct batch_item *items, size_t n, int *submitted,
	    int *present, char **cause);
/* Progress of one batch, or NULL if unknown. */
json_t	*batch_status_json(struct store *st, const char *name);
/*
 * Runs finished per minute: `recent` runs finished within the last
 * BATCH_RATE_WINDOW_MS, or within the batch's life when it began
 * (created_at, ms) less than that before now; a window of at least a
 * second.
 */
#define BATCH_RATE_WINDOW_MS	300000	/* five minutes */
double	 batch_rate_per_min(int64_t recent, int64_t created_at, int64_t now);
/* {"batches":[status...]} newest first. */
json_t	*batch_list_json(struct store *st);
/*
 * Call cb with one OpenAI Batch API output line (a JSON object, borrowed)
 * per run of the batch, in submission order; errors_only skips completed
 * runs. Returns the count, or -1 (unknown batch: -2).
 */
typedef int (*batch_line_cb)(void *arg, json_t *line);
int	 batch_results(struct store *st, const char *name, int errors_only,
	    batch_line_cb cb, void *arg);
/*
 * Cancel every unfinished run of the batch. cb gets each run that was
 * leased or known to the backend, to be told. Count, or -1 / -2 unknown.
 */
typedef void (*batch_cancel_cb)(void *arg, int64_t n, const char *id,
    const char *owner, const char *backend_id);
int	 batch_cancel(struct store *st, const char *name, batch_cancel_cb cb,
	    void *arg);

/* Queue settings; a field < 0 (or QUEUE_KEEP) is left as it is. */
#define QUEUE_KEEP	(-1000000)
#define QUEUE_UNLIMITED	(-2)
struct queue_set {
	int	max_inflight;	/* QUEUE_UNLIMITED clears the limit */
	int	paused;		/* 0, 1, or QUEUE_KEEP */
	int	priority;	/* QUEUE_KEEP keeps */
	int	max_attempts;	/* QUEUE_KEEP keeps */
};
int	 queue_set(struct store *st, const char *name,
	    const struct queue_set *q, char **cause);
/* {"queues":[{name, max_inflight, paused, priority, ..., counts}]} */
json_t	*queue_list_json(struct store *st);

#endif
