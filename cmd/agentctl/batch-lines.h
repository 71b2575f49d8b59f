/*
 * agentctl batch: reading a JSON Lines file of jobs (OpenAI Batch API input
 * lines or bare request bodies) into items, with every bad line explained.
 * Separate from cmd-batch.c so the parser is fuzzed on its own.
 */
#ifndef AGENTCTL_BATCH_LINES_H
#define AGENTCTL_BATCH_LINES_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define MAX_CUSTOM_ID	512		/* bytes, as agentd allows */

/* One good line. */
struct line_item {
	char	*custom_id;
	json_t	*body;		/* the request object */
	size_t	 size;		/* about its bytes in a POST body */
	long	 lineno;
};

struct batch_lines {
	struct line_item *items;
	size_t		 nitems, cap;
	size_t		*slots;		/* set of custom_ids: index + 1 */
	size_t		 nslots;
	json_t		*errors;	/* [{"line","message"}] */
	long		 bad;
	void		(*report)(void *, long, const char *);
	void		*report_arg;
};

/* Start empty; report (may be NULL) hears of each bad line. */
void		batch_lines_init(struct batch_lines *l,
		    void (*report)(void *, long, const char *), void *arg);
/* Read f: good lines become items, bad ones errors. 0, or -1 (read). */
int		batch_lines_read(struct batch_lines *l, FILE *f);
void		batch_lines_free(struct batch_lines *l);
uint64_t	batch_fnv1a64(const char *buf, size_t len);

#endif
