/*
 * Shared by the API's files (api.c routes; api-runs.c, api-follow.c,
 * api-batch.c, api-health.c and front*.c serve): the server's state, the
 * reply and request helpers. Not for the rest of agentd, which sees api.h.
 */
#ifndef AGENTD_API_INTERNAL_H
#define AGENTD_API_INTERNAL_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "config.h"
#include "reqguard.h"

#define FOLLOW_BUF_MAX	(4 * 1024 * 1024)	/* pause a follower above */
#define FOLLOW_BATCH	512
#define EVENTS_LIMIT	1000
#define EVENTS_MAX	10000
#define LIST_LIMIT	100
#define LIST_MAX	1000
#define HEADER_MAX	(64 * 1024)

struct apiconn;
struct ffollow;

struct follower {
	TAILQ_ENTRY(follower)	 entry;
	struct api		*a;
	struct apiconn		*ac;
	struct evhttp_request	*req;
	struct evhttp_connection *conn;
	int64_t			 n;
	char			 id[32];
	int64_t			 seq;
};

/* One client connection, tracked from its first request until it closes. */
struct apiconn {
	TAILQ_ENTRY(apiconn)	 entry;
	struct api		*a;
	struct evhttp_connection *conn;
	struct follower		*f;	/* its live follow, if any */
	struct ffollow		*ff;	/* its front stream, if any */
	struct prune_job	*prune;	/* its prune under way, if any */
};

struct api {
	struct api_host		 h;	/* the process it serves */
	TAILQ_HEAD(, apiconn)	 conns;
	int			 nconns;
	struct evhttp		*http;
	int			 fd;
	char			*path;
	gid_t			 group;
	int			 has_group;
	int			 shutting_down;
	struct event		*sweep_ev;
	struct event		*poll_ev;	/* shared store: other hosts */
	struct store_listener	*listener;	/* their words, or NULL */
	struct event		*listen_ev;
	int64_t			 listen_retry;	/* mono ms */
	TAILQ_HEAD(, follower)	 followers;
	int			 nfollowers;
	TAILQ_HEAD(, ffollow)	 ffollowers;	/* front.c's */
	TAILQ_HEAD(, prune_job)	 prunes;	/* api-runs.c's */
	int			 nffollowers;
	struct evhttp		*front_http;	/* --listen */
	uint64_t		 sweeps;
	uint64_t		 requests;
	uint64_t		 refused;
	char			 guard_token[REQGUARD_TOKEN_LEN + 1];
};


/* api-runs.c: end the prunes under way (shutdown). */
void	 api_prunes_free(struct api *a);
/* Its client went away: the prune goes on, with no one to answer. */
struct prune_job;
void	 api_prune_detach(struct prune_job *j);

/* api.c: replies. */
void	 api_error(struct evhttp_request *req, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 api_text(struct evhttp_request *req, int status, const char *text,
	    size_t len);
void	 api_json(struct evhttp_request *req, int status, json_t *o);
/* api.c: requests. */
char	*api_body(struct evhttp_request *req, size_t *len);
json_t	*api_body_json(struct evhttp_request *req, int allow_empty);
int	 api_query_int(struct evhttp_request *req, struct evkeyvalq *q,
	    const char *name, long long min, long long max, long long *out);
int	 api_valid_name(const char *s, size_t max);
int	 api_valid_run_id(const char *s);
struct apiconn *api_conn(struct api *a, struct evhttp_request *req);
char	*api_refusal(struct api *a, struct evhttp_request *req, int *status,
	    char *code, size_t codelen, const char **msg);
/* evhttp's bufferevent for a new connection: the socket behind a guard. */
struct bufferevent *api_bevcb(struct event_base *base, void *arg);
/* A run id from a path: "resp_<hex>" (a front response) is "r_<hex>". */
void	 api_run_id(const char *in, char *out, size_t len);
/* api.c: the host. */
void	 api_schedule_soon(struct api *a);
void	 api_drop(struct api *a, int64_t n, const char *id, const char *owner,
	    const char *backend_id, int cancel);

/* api-runs.c */
void	 api_submit(struct api *a, struct evhttp_request *req);
void	 api_list(struct api *a, struct evhttp_request *req,
	    struct evkeyvalq *q);
void	 api_resume(struct api *a, struct evhttp_request *req, const char *id);
void	 api_cancel(struct api *a, struct evhttp_request *req, const char *id);
void	 api_prune(struct api *a, struct evhttp_request *req);

/* api-follow.c */
void	 api_follower_free(struct follower *f);
void	 api_follower_push(struct follower *f);
void	 api_events(struct api *a, struct evhttp_request *req, const char *id,
	    struct evkeyvalq *q, struct apiconn *ac);
void	 api_sweep_cb(evutil_socket_t fd, short what, void *arg);

/* api-health.c */
void	 api_health(struct api *a, struct evhttp_request *req);
void	 api_metrics(struct api *a, struct evhttp_request *req);

/* api-batch.c */
void	 api_batch_submit(struct api *a, struct evhttp_request *req);
void	 api_batch_one(struct api *a, struct evhttp_request *req,
	    const char *name, const char *rest, struct evkeyvalq *q,
	    enum evhttp_cmd_type m);
void	 api_queue_set(struct api *a, struct evhttp_request *req,
	    const char *name);

/* front.c */
int	 front_route(struct api *a, struct evhttp_request *req,
	    const char *path, struct evkeyvalq *q, enum evhttp_cmd_type m,
	    struct apiconn *ac);
int	 front_run_id(const char *rid, char *id, size_t idlen);
void	 front_request_id(struct evhttp_request *req);
/* front-reply.c: an error in OpenAI's shape; accepted: x-should-retry
   false (the run exists); a response id's 404; JSON text (freed). */
void	 front_error(struct evhttp_request *req, int status, const char *type,
	    const char *param, int accepted, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
void	 front_not_found(struct evhttp_request *req, const char *rid);
void	 front_json_text(struct evhttp_request *req, char *text, size_t len);
void	 front_follow_free(struct ffollow *ff);
void	 front_progress(struct api *a, int64_t n);
void	 front_sweep(struct api *a);
/* Push every front follower (a shared store's poll). */
void	 front_poll(struct api *a);
void	 api_poll_cb(evutil_socket_t fd, short what, void *arg);
/* A shared store: listen for other hosts' words (again); stop. */
void	 api_store_listen(struct api *a);
void	 api_unlisten(struct api *a);
void	 front_shutdown(struct api *a);
/* front-listen.c */
int	 front_listen(struct api *a, char **cause);
int	 front_token_ok(const char *want, const char *auth);

#endif
