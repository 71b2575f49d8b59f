/*
 * libpq, loaded when agentctl first needs it.
 *
 * agentctl runs once per command, and most commands only talk to agentd
 * over its socket. Linking libpq loads it and its 20-odd dependencies
 * (Kerberos, LDAP, GnuTLS, ...) at every start: 6-7 ms of each
 * `agentctl list`, more than the list itself. agentctl links this file
 * instead: each PQ function the PostgreSQL engine calls is defined here
 * and forwards to libpq.so.5, opened on the first call (an offline
 * command on a PostgreSQL store). The prototypes come from libpq-fe.h, so
 * a signature that drifts does not compile.
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define PQ_LIB	"libpq.so.5"

/* The address of libpq's function name; exits if libpq cannot be had. */
static void *
pq_sym(const char *name)
{
	static void	*lib;
	void		*p;

	if (lib == NULL && (lib = dlopen(PQ_LIB, RTLD_NOW | RTLD_LOCAL)) ==
	    NULL) {
		fprintf(stderr, "agentctl: the PostgreSQL store needs %s, which "
		    "did not load: %s (Debian: apt-get install libpq5)\n",
		    PQ_LIB, dlerror());
		exit(5);
	}
	if ((p = dlsym(lib, name)) == NULL) {
		fprintf(stderr, "agentctl: %s has no %s: %s\n", PQ_LIB, name,
		    dlerror());
		exit(5);
	}
	return p;
}

/* Define name(params) returning ret, forwarding args to libpq's own. */
#define PQ_FN(ret, name, params, args)					\
ret									\
name params								\
{									\
	static ret	(*fn) params;					\
	void		*p;						\
									\
	if (fn == NULL) {						\
		p = pq_sym(#name);					\
		memcpy(&fn, &p, sizeof fn);				\
	}								\
	return fn args;							\
}

#define PQ_VOID(name, params, args)					\
void									\
name params								\
{									\
	static void	(*fn) params;					\
	void		*p;						\
									\
	if (fn == NULL) {						\
		p = pq_sym(#name);					\
		memcpy(&fn, &p, sizeof fn);				\
	}								\
	fn args;							\
}

PQ_FN(PGconn *, PQconnectdbParams, (const char *const *k,
    const char *const *v, int e), (k, v, e))
PQ_FN(PGconn *, PQconnectStartParams, (const char *const *k,
    const char *const *v, int e), (k, v, e))
PQ_FN(PostgresPollingStatusType, PQconnectPoll, (PGconn *c), (c))
PQ_FN(PostgresPollingStatusType, PQresetPoll, (PGconn *c), (c))
PQ_FN(int, PQresetStart, (PGconn *c), (c))
PQ_VOID(PQreset, (PGconn *c), (c))
PQ_VOID(PQfinish, (PGconn *c), (c))
PQ_FN(ConnStatusType, PQstatus, (const PGconn *c), (c))
PQ_FN(PGTransactionStatusType, PQtransactionStatus, (const PGconn *c), (c))
PQ_FN(char *, PQerrorMessage, (const PGconn *c), (c))
PQ_FN(int, PQsocket, (const PGconn *c), (c))
PQ_FN(int, PQsetnonblocking, (PGconn *c, int a), (c, a))
PQ_FN(int, PQflush, (PGconn *c), (c))
PQ_FN(int, PQconsumeInput, (PGconn *c), (c))
PQ_FN(int, PQisBusy, (PGconn *c), (c))
PQ_FN(PGnotify *, PQnotifies, (PGconn *c), (c))
PQ_FN(PGresult *, PQexec, (PGconn *c, const char *q), (c, q))
PQ_FN(int, PQsendQueryParams, (PGconn *c, const char *q, int n,
    const Oid *t, const char *const *v, const int *l, const int *f, int r),
    (c, q, n, t, v, l, f, r))
PQ_FN(PGresult *, PQgetResult, (PGconn *c), (c))
PQ_FN(ExecStatusType, PQresultStatus, (const PGresult *r), (r))
PQ_FN(char *, PQresultErrorMessage, (const PGresult *r), (r))
PQ_FN(char *, PQresultErrorField, (const PGresult *r, int f), (r, f))
PQ_FN(int, PQntuples, (const PGresult *r), (r))
PQ_FN(Oid, PQftype, (const PGresult *r, int f), (r, f))
PQ_FN(char *, PQgetvalue, (const PGresult *r, int t, int f), (r, t, f))
PQ_FN(int, PQgetlength, (const PGresult *r, int t, int f), (r, t, f))
PQ_FN(int, PQgetisnull, (const PGresult *r, int t, int f), (r, t, f))
PQ_FN(char *, PQcmdTuples, (PGresult *r), (r))
PQ_VOID(PQclear, (PGresult *r), (r))
PQ_VOID(PQfreemem, (void *m), (m))
PQ_FN(PQconninfoOption *, PQconninfoParse, (const char *s, char **e),
    (s, e))
PQ_VOID(PQconninfoFree, (PQconninfoOption *o), (o))
