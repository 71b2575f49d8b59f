/*
 * Batches and queues on the PostgreSQL store: what batch.c hands each
 * batch.h call to when the store was opened on a libpq conninfo or URI.
 * Each bpg_* function does what its namesake in batch.h documents, with
 * the same results and JSON as SQLite's. Internal to batch.c.
 */
#ifndef AGENTD_BATCH_PG_H
#define AGENTD_BATCH_PG_H

#include <stddef.h>

#include <jansson.h>

#include "batch.h"

struct pgstore;

int	 bpg_submit(struct pgstore *ps, const struct batch_new *b,
	    const struct batch_item *items, size_t n, int *submitted,
	    int *present, char **cause);
json_t	*bpg_status_json(struct pgstore *ps, const char *name);
json_t	*bpg_list_json(struct pgstore *ps);
int	 bpg_results(struct pgstore *ps, const char *name, int errors_only,
	    batch_line_cb cb, void *arg);
int	 bpg_cancel(struct pgstore *ps, const char *name, batch_cancel_cb cb,
	    void *arg);
int	 bpg_queue_set(struct pgstore *ps, const char *name,
	    const struct queue_set *q, char **cause);
json_t	*bpg_queue_list_json(struct pgstore *ps);

#endif
