/*
 * libFuzzer target for agentctl's batch file parser (cmd/agentctl/
 * batch-lines.c): the input is a whole JSONL file. Every line must end up
 * either an item or a reported bad line, never both, never neither.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch-lines.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
count_bad(void *arg, long lineno, const char *why)
{
	(void)lineno;
	if (why == NULL || *why == '\0')
		abort();	/* a bad line always says why */
	(*(long *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch_lines	 l;
	FILE			*f;
	long			 reported = 0;
	size_t			 i;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (f == NULL)
		return 0;
	batch_lines_init(&l, count_bad, &reported);
	if (batch_lines_read(&l, f) != 0)
		abort();
	fclose(f);
	if (reported != l.bad || (long)json_array_size(l.errors) != l.bad)
		abort();
	for (i = 0; i < l.nitems; i++) {
		if (l.items[i].custom_id == NULL ||
		    *l.items[i].custom_id == '\0' ||
		    strlen(l.items[i].custom_id) > MAX_CUSTOM_ID ||
		    !json_is_object(l.items[i].body))
			abort();
	}
	batch_lines_free(&l);
	return 0;
}
