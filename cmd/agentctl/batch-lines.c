/*
 * Parse a batch file: one job per line, OpenAI Batch API input format or a
 * bare request (keyed "line-" + FNV-1a of the line), blank lines skipped,
 * a leading BOM and CRLF accepted, duplicate custom_ids refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch-lines.h"
#include "xmalloc.h"

/*
 * Replace every byte that is not part of valid UTF-8 with '?': messages
 * quote the input, and JSON (the --json report) must stay valid.
 */
static void
utf8_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 3;
		else {
			*p++ = '?';
			continue;
		}
		for (i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		if (i <= n) {
			*p++ = '?';
			continue;
		}
		p += n + 1;
	}
}

/* Start an empty set of lines. */
void
batch_lines_init(struct batch_lines *l,
    void (*report)(void *, long, const char *), void *arg)
{
	memset(l, 0, sizeof *l);
	l->errors = json_array();
	l->report = report;
	l->report_arg = arg;
}

/* Free the items, the set and the errors. */
void
batch_lines_free(struct batch_lines *l)
{
	size_t	i;

	for (i = 0; i < l->nitems; i++) {
		free(l->items[i].custom_id);
		json_decref(l->items[i].body);
	}
	free(l->items);
	free(l->slots);
	json_decref(l->errors);
	memset(l, 0, sizeof *l);
}

/* 64-bit FNV-1a of len bytes. */
uint64_t
batch_fnv1a64(const char *buf, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Report bad line lineno (why is consumed) and count it. */
static void
bad_line(struct batch_lines *s, long lineno, char *why)
{
	utf8_clean(why);
	if (s->report != NULL)
		s->report(s->report_arg, lineno, why);
	s->bad++;
	json_array_append_new(s->errors, json_pack("{sIss}", "line",
	    (json_int_t)lineno, "message", why));
	free(why);
}

/* Grow the custom_id hash set to hold at least twice the items. */
static void
seen_grow(struct batch_lines *s)
{
	size_t	 n, i, h, *old = s->slots, oldn = s->nslots;
	char	*cid;

	if (s->nslots >= 2 * (s->nitems + 1))
		return;
	n = s->nslots == 0 ? 1024 : s->nslots * 2;
	s->slots = xcalloc(n, sizeof *s->slots);
	s->nslots = n;
	for (i = 0; i < oldn; i++) {
		if (old[i] == 0)
			continue;
		cid = s->items[old[i] - 1].custom_id;
		h = (size_t)batch_fnv1a64(cid, strlen(cid)) & (n - 1);
		while (s->slots[h] != 0)
			h = (h + 1) & (n - 1);
		s->slots[h] = old[i];
	}
	free(old);
}

/*
 * Add item idx to the set of custom_ids; if its custom_id was there,
 * return the line of the first one (and add nothing), else 0.
 */
static long
seen_add(struct batch_lines *s, size_t idx)
{
	const char	*cid = s->items[idx].custom_id;
	size_t		 h;

	seen_grow(s);
	h = (size_t)batch_fnv1a64(cid, strlen(cid)) & (s->nslots - 1);
	while (s->slots[h] != 0) {
		if (strcmp(s->items[s->slots[h] - 1].custom_id, cid) == 0)
			return s->items[s->slots[h] - 1].lineno;
		h = (h + 1) & (s->nslots - 1);
	}
	s->slots[h] = idx + 1;
	return 0;
}

/* True if the object is meant as a Batch API input line. */
static int
is_batch_line(json_t *j)
{
	return json_object_get(j, "custom_id") != NULL ||
	    json_object_get(j, "method") != NULL ||
	    json_object_get(j, "url") != NULL ||
	    json_object_get(j, "body") != NULL;
}

/* Why the string field key of j is not want (allocated), or NULL. */
static char *
check_field(json_t *j, const char *key, const char *want)
{
	json_t	*v = json_object_get(j, key);
	char	*why = NULL;

	if (v == NULL)
		xasprintf(&why, "missing %s (want \"%s\")", key, want);
	else if (!json_is_string(v))
		xasprintf(&why, "%s is not a string (want \"%s\")", key, want);
	else if (strcmp(json_string_value(v), want) != 0)
		xasprintf(&why, "%s \"%.100s\" is not supported (want \"%s\")",
		    key, json_string_value(v), want);
	return why;
}

/*
 * Parse one line into an item, or explain why it is bad (allocated, in
 * *whyp). The item's strings are allocated; its body is a new reference.
 */
static int
parse_line(const char *line, size_t len, struct line_item *it, char **whyp)
{
	json_error_t	 err;
	json_t		*j, *v;
	char		*why = NULL;

	memset(it, 0, sizeof *it);
	if ((j = json_loadb(line, len, JSON_DECODE_ANY, &err)) == NULL) {
		xasprintf(whyp, "invalid JSON at column %d: %s", err.column,
		    err.text);
		return -1;
	}
	if (!json_is_object(j)) {
		*whyp = xstrdup("not a JSON object");
		json_decref(j);
		return -1;
	}
	if (!is_batch_line(j)) {
		/* A bare request: the line's hash is its custom_id. */
		xasprintf(&it->custom_id, "line-%016llx",
		    (unsigned long long)batch_fnv1a64(line, len));
		it->body = j;
		it->size = len + 64;
		return 0;
	}
	v = json_object_get(j, "custom_id");
	if (v == NULL)
		why = xstrdup("missing custom_id");
	else if (!json_is_string(v))
		why = xstrdup("custom_id is not a string");
	else if (json_string_length(v) == 0)
		why = xstrdup("custom_id is empty");
	else if (json_string_length(v) > MAX_CUSTOM_ID)
		xasprintf(&why, "custom_id is longer than %d bytes",
		    MAX_CUSTOM_ID);
	else if (strlen(json_string_value(v)) != json_string_length(v))
		why = xstrdup("custom_id contains a NUL character");
	else if ((why = check_field(j, "method", "POST")) == NULL &&
	    (why = check_field(j, "url", "/v1/responses")) == NULL) {
		if (json_object_get(j, "body") == NULL)
			why = xstrdup("missing body");
		else if (!json_is_object(json_object_get(j, "body")))
			why = xstrdup("body is not a JSON object");
	}
	if (why != NULL) {
		*whyp = why;
		json_decref(j);
		return -1;
	}
	it->custom_id = xstrdup(json_string_value(v));
	it->body = json_incref(json_object_get(j, "body"));
	it->size = len + 64;
	json_decref(j);
	return 0;
}

/* Read every line of f; the good ones become items. 0, or -1. */
int
batch_lines_read(struct batch_lines *s, FILE *f)
{
	struct line_item	 it;
	char		*line = NULL, *p, *why;
	size_t		 cap = 0, len, i;
	ssize_t		 n;
	long		 lineno = 0, first;

	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		p = line;
		len = (size_t)n;
		if (lineno == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf",
		    3) == 0) {
			p += 3;		/* a UTF-8 byte order mark */
			len -= 3;
		}
		if (len > 0 && p[len - 1] == '\n')
			len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		for (i = 0; i < len; i++) {
			if (p[i] != ' ' && p[i] != '\t')
				break;
		}
		if (i == len)
			continue;	/* blank line */
		if (parse_line(p, len, &it, &why) != 0) {
			bad_line(s, lineno, why);
			continue;
		}
		it.lineno = lineno;
		if (s->nitems == s->cap) {
			s->cap = s->cap == 0 ? 256 : s->cap * 2;
			s->items = xreallocarray(s->items, s->cap,
			    sizeof *s->items);
		}
		s->items[s->nitems] = it;
		if ((first = seen_add(s, s->nitems)) != 0) {
			xasprintf(&why, "duplicate custom_id \"%.100s\" "
			    "(first on line %ld)", it.custom_id, first);
			bad_line(s, lineno, why);
			free(it.custom_id);
			json_decref(it.body);
			continue;
		}
		s->nitems++;
	}
	free(line);
	if (ferror(f))
		return -1;
	return 0;
}

