/*
 * agent-mock random faults (--chaos-*): one seeded pseudo-random generator
 * (splitmix64, state in struct mock) and the decisions drawn from it:
 * whether a create or retrieve is answered 429 or 500, and the helpers the
 * stream code uses to drop, stall and split event streams. With the same
 * --seed and the same requests in the same order, the same faults happen.
 */
#include <sys/random.h>

#include <event2/http.h>

#include <stdint.h>

#include "log.h"
#include "util.h"
#include "mock.h"

/* Seed the generator from --seed, or at random (and log the seed). */
void
chaos_init(struct mock *m)
{
	uint64_t	seed = m->opts.seed;

	if (!m->opts.seed_set) {
		if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
			seed = (uint64_t)util_now_ms() ^
			    ((uint64_t)util_mono_us() << 17);
		seed &= 0x7fffffffffffffffULL;
		m->opts.seed = seed;
	}
	m->rng = seed;
	if (chaos_active(m) || m->opts.chaos_429 > 0 || m->opts.chaos_500 > 0)
		log_info("chaos: seed %llu, drop %g, stall %g, 429 %g, "
		    "500 %g, split %s", (unsigned long long)seed,
		    m->opts.chaos_drop, m->opts.chaos_stall, m->opts.chaos_429,
		    m->opts.chaos_500, m->opts.chaos_split ? "on" : "off");
}

/* Return 1 if any fault acts on event streams. */
int
chaos_active(const struct mock *m)
{
	return m->opts.chaos_drop > 0 || m->opts.chaos_stall > 0 ||
	    m->opts.chaos_split;
}

/* Return the next 64 pseudo-random bits (splitmix64). */
uint64_t
chaos_rand(struct mock *m)
{
	uint64_t	z;

	z = (m->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Return 1 with probability p (no draw when p is 0). */
int
chaos_roll(struct mock *m, double p)
{
	if (p <= 0)
		return 0;
	return (double)(chaos_rand(m) >> 11) * 0x1.0p-53 < p;
}

/* Return a pseudo-random integer from lo to hi inclusive. */
long long
chaos_range(struct mock *m, long long lo, long long hi)
{
	if (hi <= lo)
		return lo;
	return lo + (long long)(chaos_rand(m) %
	    (uint64_t)(hi - lo + 1));
}

/* Decide the fate of a create or retrieve: 0, 429 or 500. */
int
chaos_pick(struct mock *m)
{
	if (chaos_roll(m, m->opts.chaos_429))
		return 429;
	if (chaos_roll(m, m->opts.chaos_500))
		return 500;
	return 0;
}

/* Answer a request with an injected 429 (Retry-After: 1) or 500. */
void
chaos_reply(struct mock *m, struct evhttp_request *req, int code)
{
	if (code == 429) {
		m->chaos.http429++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
		http_error(m, req, 429, "Rate limit reached (agent-mock "
		    "--chaos-429).", NULL, "rate_limit_exceeded");
		return;
	}
	m->chaos.http500++;
	http_error(m, req, code, "The server had an error while processing "
	    "your request (agent-mock --chaos-500).", NULL, NULL);
}
