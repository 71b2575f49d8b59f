/*
 * agent-mock misbehaviour modes (metadata.mock_misbehave): deterministic
 * protocol violations of one run. A run's events are sent in an order of
 * stream positions; these functions map positions to event indices (for
 * swapped and duplicated events), indices to sequence numbers (for gaps)
 * and say which index is mangled how. Everything depends on the run's
 * parameters only, so every stream of a run, first or resumed, misbehaves
 * the same way, and the ground truth lists exactly what was sent.
 */
#include <stddef.h>
#include <string.h>

#include "mock.h"

#define MB_TARGET	6	/* the mangled event: the 3rd delta */
#define MB_GAP_AT	5	/* first event whose seq is one too high */
#define MB_SWAP_AT	4	/* events 4 and 5 are sent swapped */

/* duplicate: after sending event .after, send event .dup again. */
static const struct {
	long long	after;
	long long	dup;
} mb_dups[] = {
	{ 5, 5 },	/* right away */
	{ 8, 6 }	/* an older event, replayed later */
};
#define MB_NDUPS	((long long)(sizeof mb_dups / sizeof mb_dups[0]))

static const char *const mb_names[] = {
	"none", "no_seq", "gap", "out_of_order", "duplicate", "huge_line",
	"bad_json", "silent", "trickle", "id_change", "html"
};

/* Parse a mode name into *out; return -1 if unknown. */
int
mb_parse(const char *s, enum misbehave *out)
{
	size_t	i;

	if (*s == '\0') {
		*out = MB_NONE;
		return 0;
	}
	for (i = 0; i < sizeof mb_names / sizeof mb_names[0]; i++) {
		if (strcmp(s, mb_names[i]) == 0) {
			*out = (enum misbehave)i;
			return 0;
		}
	}
	return -1;
}

/* Return the name of a mode. */
const char *
mb_name(enum misbehave mb)
{
	if ((size_t)mb >= sizeof mb_names / sizeof mb_names[0])
		return "?";
	return mb_names[mb];
}

/* Return how many deltas a mode needs to reach the events it mangles. */
int
mb_min_events(enum misbehave mb)
{
	switch (mb) {
	case MB_NO_SEQ:
	case MB_GAP:
	case MB_OUT_OF_ORDER:
	case MB_DUPLICATE:
	case MB_HUGE_LINE:
	case MB_BAD_JSON:
		return 5;
	default:
		return 0;
	}
}

/* Return 1 if the run's streams stay silent, 2 if they trickle, else 0. */
int
mb_mute(const struct run *r)
{
	if (r->p.mb == MB_SILENT)
		return 1;
	if (r->p.mb == MB_TRICKLE)
		return 2;
	return 0;
}

/* Return the sequence number carried by event idx. */
long long
mb_seq(const struct run *r, long long idx)
{
	if (r->p.mb == MB_GAP && idx >= MB_GAP_AT)
		return idx + 1;
	return idx;
}

/* Return 0 if event idx is sent without a sequence number. */
int
mb_has_seq(const struct run *r, long long idx)
{
	return !(r->p.mb == MB_NO_SEQ && idx == MB_TARGET);
}

/* Return the first event index whose sequence number is above seq. */
long long
mb_after(const struct run *r, long long seq)
{
	if (seq < 0)
		return 0;
	if (r->p.mb == MB_GAP && seq >= MB_GAP_AT)
		return seq;
	return seq + 1;
}

/* Return the event index sent at stream position pos. */
long long
mb_at(const struct run *r, long long pos)
{
	long long	i, at, shift = 0;

	if (r->p.mb == MB_OUT_OF_ORDER) {
		if (pos == MB_SWAP_AT)
			return MB_SWAP_AT + 1;
		if (pos == MB_SWAP_AT + 1)
			return MB_SWAP_AT;
		return pos;
	}
	if (r->p.mb != MB_DUPLICATE)
		return pos;
	for (i = 0; i < MB_NDUPS; i++) {
		at = mb_dups[i].after + 1 + shift;
		if (pos < at)
			return pos - shift;
		if (pos == at)
			return mb_dups[i].dup;
		shift++;
	}
	return pos - shift;
}

/* Return how many stream positions can be sent once avail events are due. */
long long
mb_npos(const struct run *r, long long avail)
{
	long long	i, n = avail;

	if (r->p.mb == MB_OUT_OF_ORDER && avail == MB_SWAP_AT + 1)
		return MB_SWAP_AT;	/* hold 4 back until 5 is due */
	if (r->p.mb != MB_DUPLICATE)
		return n;
	for (i = 0; i < MB_NDUPS; i++)
		if (avail > mb_dups[i].after)
			n++;
	return n;
}

/* Return the first stream position that sends an event >= idx. */
long long
mb_pos_of(const struct run *r, long long idx)
{
	long long	pos = idx > 2 ? idx - 2 : 0;

	while (mb_at(r, pos) < idx)
		pos++;
	return pos;
}

/* Return 0 if event idx is not sent as an event (its data is not JSON). */
int
mb_is_event(const struct run *r, long long idx)
{
	return !(r->p.mb == MB_BAD_JSON && idx == MB_TARGET);
}

/* Return 1 if event idx carries the huge_line padding. */
int
mb_is_huge(const struct run *r, long long idx)
{
	return r->p.mb == MB_HUGE_LINE && idx == MB_TARGET;
}

/* Return the response id carried by event idx. */
const char *
mb_id(const struct run *r, long long idx)
{
	long long	len = r->p.events + (r->p.fail == FAIL_NONE ? 8 : 5);

	if (r->p.mb == MB_ID_CHANGE && idx >= len / 2)
		return r->alt_id;
	return r->id;
}
