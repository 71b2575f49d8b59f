/*
 * The JSON scanner behind the stream's fast path. Owns nothing: it walks
 * the caller's bytes once, keeping a bit per open container, and applies
 * jansson 2.14's rules (src/load.c, src/utf.c) as they are, quirks
 * included, so that a caller may take its verdict in place of json_loadb.
 * Where matching jansson exactly would cost more than it is worth, it
 * says JSCAN_UNSURE and the caller asks jansson.
 */
#include <assert.h>
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "jscan.h"

#if !JSON_INTEGER_IS_LONG_LONG
#error "jscan assumes jansson's json_int_t is long long"
#endif

/* jansson's limit; its parse_value counts every value, scalars too. */
#define JSCAN_MAX_DEPTH	JSON_PARSER_MAX_DEPTH

/*
 * Decimal exponents saturate here: far beyond the digit count of any
 * input held in memory, so a saturated exponent still decides overflow
 * the same way the exact one would.
 */
#define JSCAN_EXP_CAP	1000000000000000LL

/* Locale-independent classes, as jansson's l_isdigit and l_isalpha. */
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || \
			    ((c) >= 'A' && (c) <= 'Z'))
#define IS_WS(c)	((c) == ' ' || (c) == '\t' || (c) == '\n' || \
			    (c) == '\r')

/* The bit stack of open containers: set for an array, clear for an object. */
#define IS_ARRAY(a, i)	(((a)[(i) / 8] >> ((i) % 8)) & 1)

enum scan_state {
	ST_OBJECT_FIRST,	/* after '{': a key or '}' */
	ST_KEY,			/* after ',' in an object: a key */
	ST_ARRAY_FIRST,		/* after '[': a value or ']' */
	ST_VALUE,		/* after ':', or ',' in an array: a value */
	ST_AFTER		/* after a value: ',' or the closing bracket */
};

/* The caller's fields, with the lengths of their names. */
struct scan_fields {
	struct jscan_field	*f;
	size_t			 n;
	size_t			 keylen[JSCAN_MAX_FIELDS];
	size_t			 parentlen[JSCAN_MAX_FIELDS];
};

/*
 * Bytes a string holds as they are: printable ASCII but '"' and '\\'.
 * The rest (control bytes, escapes, UTF-8, the end) take the slow way.
 */
static const unsigned char str_plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 70 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 80 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 90 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* a0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* b0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* c0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* d0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* e0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* f0 */
};

/* First byte at or after p that is not JSON whitespace (or end). */
static const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && IS_WS(*p))
		p++;
	return p;
}

/* The value of the four hex digits at p (caller checked the bounds), or -1. */
static long
hex4(const unsigned char *p)
{
	long	v = 0;
	int	i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (IS_DIGIT(p[i]))
			v += p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			v += p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			v += p[i] - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Length of the UTF-8 sequence that starts with the non-ASCII byte at p,
 * or 0 if jansson's utf8_check_first/utf8_check_full refuse it: 2 to 4
 * bytes, no overlong form, no surrogate, nothing above U+10FFFF. A
 * sequence cut by the end of input is refused (jansson reads EOF there).
 */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	uint32_t	v;
	size_t		n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		v = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		v = p[0] & 0x07;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	return n;
}

/*
 * Scan the string whose opening quote is at *pp and leave *pp after its
 * closing quote; *escaped says whether it holds a backslash. JSCAN_INVALID
 * where lex_scan_string or the parser fail it: a control character, a bad
 * escape, a surrogate escape that is not a high one followed at once by
 * a low one, \u0000 (JSON_ALLOW_NUL is not set, and keys never allow it),
 * invalid UTF-8, or no closing quote.
 */
static int
scan_string(const unsigned char **pp, const unsigned char *end, int *escaped)
{
	const unsigned char	*p = *pp + 1;
	long			 cp, lo;
	size_t			 n;

	*escaped = 0;
	for (;;) {
		while (p < end && str_plain[*p])
			p++;
		if (p == end)
			return JSCAN_INVALID;
		if (*p == '"')
			break;
		if (*p < 0x20)
			return JSCAN_INVALID;
		if (*p >= 0x80) {
			if ((n = utf8_len(p, end)) == 0)
				return JSCAN_INVALID;
			p += n;
			continue;
		}
		*escaped = 1;
		if (end - p < 2)
			return JSCAN_INVALID;
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return JSCAN_INVALID;
		}
		if (end - p < 6 || (cp = hex4(p + 2)) < 0)
			return JSCAN_INVALID;
		p += 6;
		if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
			return JSCAN_INVALID;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
				return JSCAN_INVALID;
			lo = hex4(p + 2);
			if (lo < 0xdc00 || lo > 0xdfff)
				return JSCAN_INVALID;
			p += 6;
		}
	}
	*pp = p + 1;
	return 0;
}

/*
 * Scan the number at *pp as lex_scan_number does: -?(0|[1-9][0-9]*), then
 * an optional fraction and exponent, and leave *pp after it. An integer
 * must fit json_int_t (strtoll without ERANGE). A real must not overflow
 * (strtod giving HUGE_VAL); underflow is fine with jansson. A real in
 * [1e308, 1e309) may round either way: JSCAN_UNSURE.
 */
static int
scan_number(const unsigned char **pp, const unsigned char *end,
    enum jscan_kind *kind, long long *integer)
{
	const unsigned char	*p = *pp, *is, *ie;
	unsigned long long	 u = 0, lim;
	long long		 e = 0, mag;
	int			 neg = 0, eneg = 0, nonzero;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	is = p;
	if (p == end || !IS_DIGIT(*p))
		return JSCAN_INVALID;
	if (*p == '0') {
		p++;
		if (p < end && IS_DIGIT(*p))
			return JSCAN_INVALID;
	} else {
		while (p < end && IS_DIGIT(*p))
			p++;
	}
	ie = p;

	if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
		/* 19 digits hold LLONG_MAX; more always overflow. */
		if (ie - is > 19)
			return JSCAN_INVALID;
		for (; is < ie; is++)
			u = u * 10 + (unsigned long long)(*is - '0');
		lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
		if (u > lim)
			return JSCAN_INVALID;
		if (!neg)
			*integer = (long long)u;
		else if (u == lim)
			*integer = LLONG_MIN;
		else
			*integer = -(long long)u;
		*kind = JSCAN_INTEGER;
		*pp = p;
		return 0;
	}

	/*
	 * A real: mag is its decimal magnitude, value in [10^(mag-1),
	 * 10^mag), counted from the first nonzero digit.
	 */
	nonzero = *is != '0';
	mag = nonzero ? ie - is : 0;
	if (*p == '.') {
		p++;
		if (p == end || !IS_DIGIT(*p))
			return JSCAN_INVALID;
		for (; p < end && IS_DIGIT(*p); p++) {
			if (nonzero)
				continue;
			if (*p == '0')
				mag--;
			else
				nonzero = 1;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-')) {
			eneg = *p == '-';
			p++;
		}
		if (p == end || !IS_DIGIT(*p))
			return JSCAN_INVALID;
		for (; p < end && IS_DIGIT(*p); p++) {
			if (e < JSCAN_EXP_CAP)
				e = e * 10 + (*p - '0');
		}
	}
	*kind = JSCAN_REAL;
	*pp = p;
	if (!nonzero)
		return 0;
	mag += eneg ? -e : e;
	/* Below 10^308 <= DBL_MAX stays finite; from 10^309 up overflows. */
	if (mag <= DBL_MAX_10_EXP)
		return 0;
	if (mag > DBL_MAX_10_EXP + 1)
		return JSCAN_INVALID;
	return JSCAN_UNSURE;
}

/*
 * Scan the word at *pp: lex_scan takes the whole run of ASCII letters and
 * knows only true, false and null.
 */
static int
scan_word(const unsigned char **pp, const unsigned char *end,
    enum jscan_kind *kind)
{
	const unsigned char	*p = *pp, *s = *pp;
	size_t			 n;

	while (p < end && IS_ALPHA(*p))
		p++;
	n = (size_t)(p - s);
	if (n == 4 && memcmp(s, "true", 4) == 0)
		*kind = JSCAN_TRUE;
	else if (n == 5 && memcmp(s, "false", 5) == 0)
		*kind = JSCAN_FALSE;
	else if (n == 4 && memcmp(s, "null", 4) == 0)
		*kind = JSCAN_NULL;
	else
		return JSCAN_INVALID;
	*pp = p;
	return 0;
}

/*
 * Which fields take the value of a member with this key: at depth 1 those
 * without a parent, at depth 2 (in the watched object) those in watch. At
 * depth 1 *children becomes the fields whose parent the key is; they are
 * reset, since this member replaces whatever an earlier one held.
 */
static uint32_t
match_key(struct scan_fields *sf, const unsigned char *key, size_t klen,
    size_t depth, uint32_t watch, uint32_t *children)
{
	struct jscan_field	*f;
	uint32_t		 to = 0, bit;
	size_t			 i;

	if (depth == 1)
		*children = 0;
	for (i = 0; i < sf->n; i++) {
		f = &sf->f[i];
		bit = (uint32_t)1 << i;
		if (depth != 1 || f->parent == NULL) {
			if ((depth == 1 || (watch & bit)) &&
			    sf->keylen[i] == klen &&
			    memcmp(f->key, key, klen) == 0)
				to |= bit;
		} else if (sf->parentlen[i] == klen &&
		    memcmp(f->parent, key, klen) == 0) {
			*children |= bit;
			f->kind = JSCAN_ABSENT;
			f->raw = NULL;
			f->rawlen = 0;
			f->escaped = 0;
			f->integer = 0;
		}
	}
	return to;
}

/* Give a value to the fields in to; the last duplicate key wins. */
static void
record(struct scan_fields *sf, uint32_t to, enum jscan_kind kind,
    const unsigned char *raw, size_t rawlen, int escaped, long long integer)
{
	struct jscan_field	*f;
	size_t			 i;

	for (i = 0; to != 0 && i < sf->n; i++) {
		if ((to & ((uint32_t)1 << i)) == 0)
			continue;
		to &= ~((uint32_t)1 << i);
		f = &sf->f[i];
		f->kind = kind;
		f->raw = (const char *)raw;
		f->rawlen = rawlen;
		f->escaped = escaped;
		f->integer = integer;
	}
}

/* Scan one JSON text that must be an object; see jscan.h. */
int
jscan_object(const char *data, size_t len, struct jscan_field *fields,
    size_t nfields)
{
	struct scan_fields	 sf;
	unsigned char		 arrays[JSCAN_MAX_DEPTH / 8 + 1];
	const unsigned char	*p, *end, *s;
	enum scan_state		 st;
	enum jscan_kind		 kind = JSCAN_ABSENT;
	uint32_t		 to = 0, children = 0, watch = 0;
	uint32_t		 open_to[3] = { 0, 0, 0 };
	const unsigned char	*open_at[3] = { NULL, NULL, NULL };
	size_t			 depth, i;
	long long		 integer;
	int			 esc, rc;

	assert(nfields <= JSCAN_MAX_FIELDS);
	sf.f = fields;
	sf.n = nfields;
	for (i = 0; i < nfields; i++) {
		sf.keylen[i] = strlen(fields[i].key);
		sf.parentlen[i] = fields[i].parent != NULL ?
		    strlen(fields[i].parent) : 0;
		fields[i].kind = JSCAN_ABSENT;
		fields[i].raw = NULL;
		fields[i].rawlen = 0;
		fields[i].escaped = 0;
		fields[i].integer = 0;
	}
	p = (const unsigned char *)data;
	end = p + len;

	/* JSON_DECODE_ANY is not set, and an array is no event. */
	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return JSCAN_INVALID;
	p++;
	depth = 1;
	arrays[0] = 0;
	st = ST_OBJECT_FIRST;
	for (;;) {
		p = skip_ws(p, end);
		if (p == end)
			return JSCAN_INVALID;
		switch (st) {
		case ST_OBJECT_FIRST:
			if (*p == '}')
				goto close;
			/* FALLTHROUGH */
		case ST_KEY:
			if (*p != '"')
				return JSCAN_INVALID;
			s = p + 1;
			if (scan_string(&p, end, &esc) != 0)
				return JSCAN_INVALID;
			to = 0;
			if ((depth == 1 && nfields > 0) ||
			    (depth == 2 && watch != 0)) {
				/* Keys are plain in practice: not decoded. */
				if (esc)
					return JSCAN_UNSURE;
				to = match_key(&sf, s, (size_t)(p - s - 1),
				    depth, watch, &children);
			}
			p = skip_ws(p, end);
			if (p == end || *p != ':')
				return JSCAN_INVALID;
			p++;
			st = ST_VALUE;
			break;
		case ST_ARRAY_FIRST:
			if (*p == ']')
				goto close;
			/* FALLTHROUGH */
		case ST_VALUE:
			/* This value would be jansson's depth + 1. */
			if (depth >= JSCAN_MAX_DEPTH)
				return JSCAN_INVALID;
			s = p;
			esc = 0;
			integer = 0;
			if (*p == '{' || *p == '[') {
				kind = *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
				record(&sf, to, kind, s, 0, 0, 0);
				/* Its length once it closes (fields are at depth
				   1 or 2 only). */
				if (depth <= 2) {
					open_to[depth] = to;
					open_at[depth] = s;
				}
				to = 0;
				if (depth == 1 && kind == JSCAN_OBJECT)
					watch = children;
				else if (depth == 1)
					watch = 0;
				arrays[depth / 8] &= ~(1u << (depth % 8));
				if (kind == JSCAN_ARRAY)
					arrays[depth / 8] |= 1u << (depth % 8);
				depth++;
				p++;
				st = kind == JSCAN_OBJECT ? ST_OBJECT_FIRST :
				    ST_ARRAY_FIRST;
				break;
			}
			if (*p == '"') {
				if (scan_string(&p, end, &esc) != 0)
					return JSCAN_INVALID;
				record(&sf, to, JSCAN_STRING, s + 1,
				    (size_t)(p - s - 2), esc, 0);
				to = 0;
				st = ST_AFTER;
				break;
			}
			if (*p == '-' || IS_DIGIT(*p))
				rc = scan_number(&p, end, &kind, &integer);
			else if (IS_ALPHA(*p))
				rc = scan_word(&p, end, &kind);
			else
				return JSCAN_INVALID;
			if (rc != 0)
				return rc;
			record(&sf, to, kind, s, (size_t)(p - s), 0, integer);
			to = 0;
			/*
			 * jansson reads one byte past a number or word and puts
			 * it back. A NUL put back looks like an empty buffer to
			 * its stream, which then reads on: one NUL right after
			 * a number or word is skipped, not refused.
			 */
			if (p < end && *p == '\0')
				p++;
			st = ST_AFTER;
			break;
		case ST_AFTER:
			if (*p == ',') {
				p++;
				st = IS_ARRAY(arrays, depth - 1) ? ST_VALUE :
				    ST_KEY;
				break;
			}
			if (*p != (IS_ARRAY(arrays, depth - 1) ? ']' : '}'))
				return JSCAN_INVALID;
			goto close;
		}
		continue;
close:
		p++;
		if (depth >= 2 && depth - 1 <= 2 && open_to[depth - 1] != 0) {
			record(&sf, open_to[depth - 1], IS_ARRAY(arrays,
			    depth - 1) ? JSCAN_ARRAY : JSCAN_OBJECT,
			    open_at[depth - 1], (size_t)(p - open_at[depth - 1]),
			    0, 0);
			open_to[depth - 1] = 0;
		}
		if (--depth == 0) {
			/* Only whitespace may follow (the EOF check). */
			p = skip_ws(p, end);
			return p == end ? JSCAN_OK : JSCAN_INVALID;
		}
		if (depth == 1)
			watch = 0;
		st = ST_AFTER;
	}
}
