/*
 * A validating JSON scanner that agrees with jansson: one pass, no
 * allocation, no tree. It tells whether json_loadb(data, len, 0, NULL)
 * would return an object and picks a few named members out on the way.
 * It decodes nothing the caller did not ask for, and no escapes at all.
 */
#ifndef AGENTD_JSCAN_H
#define AGENTD_JSCAN_H

#include <stddef.h>

/* Fields one call can pick out (a bit each in the scanner). */
#define JSCAN_MAX_FIELDS	32

enum jscan_result {
	JSCAN_OK = 0,		/* jansson returns an object */
	JSCAN_INVALID = -1,	/* jansson fails, or returns no object */
	JSCAN_UNSURE = -2	/* a rare case not modelled: ask jansson */
};

enum jscan_kind {
	JSCAN_ABSENT = 0,
	JSCAN_STRING,
	JSCAN_INTEGER,
	JSCAN_REAL,
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
	JSCAN_OBJECT,
	JSCAN_ARRAY
};

/*
 * One member to pick out: key in the top-level object or, with parent set,
 * key in the object that is the top-level member parent. key and parent
 * are plain ASCII without '"' or '\\'. As with json_object_get after
 * json_loadb, the last of duplicate keys wins, and a later parent member
 * replaces all an earlier one held (its fields become JSCAN_ABSENT unless
 * it is an object holding them).
 */
struct jscan_field {
	const char	*key;		/* in */
	const char	*parent;	/* in: NULL for the top level */
	enum jscan_kind	 kind;		/* out */
	const char	*raw;		/* out: in data */
	size_t		 rawlen;	/* out: string without quotes, number,
					   or a container's whole text from
					   its '{' or '[' to its closing one */
	int		 escaped;	/* out: raw holds backslash escapes */
	long long	 integer;	/* out: value of a JSCAN_INTEGER */
};

/*
 * Scan data, filling the out members of fields[0..nfields-1] (at most
 * JSCAN_MAX_FIELDS). JSCAN_OK or JSCAN_INVALID exactly as jansson 2.14
 * decides; JSCAN_UNSURE for what is not modelled (a real within a factor
 * of ten of overflow, an escaped key where a field could match). The
 * fields are meaningful only after JSCAN_OK.
 */
int	 jscan_object(const char *data, size_t len, struct jscan_field *fields,
	    size_t nfields);

#endif
