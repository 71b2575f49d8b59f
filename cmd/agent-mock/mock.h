/*
 * agent-mock: shared types of the scriptable fake Responses-API backend.
 * One struct mock holds all server state (options, runs, counters). A run
 * keeps only its parameters; every event is generated on demand from them,
 * so the same event always serializes to the same bytes. A run may
 * misbehave deterministically (mock_misbehave); the server may inject
 * random faults (--chaos-*), drawn from one seeded generator.
 */
#ifndef AGENT_MOCK_H
#define AGENT_MOCK_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;
struct evbuffer;
struct evconnlistener;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;

#define MOCK_MAX_BODY		(8 * 1024 * 1024)
#define MOCK_MAX_HEADERS	(64 * 1024)
#define MOCK_MAX_EVENTS		1000000LL
#define MOCK_MAX_INTERVAL	3600000LL
#define MOCK_MAX_DELTA_BYTES	(1024LL * 1024)
#define MOCK_MAX_TEXT		(64LL * 1024 * 1024)
#define MOCK_BATCH_BYTES	(256 * 1024)
#define MOCK_DEF_EVENTS		20
#define MOCK_DEF_INTERVAL	20
#define MOCK_HUGE_PAD		(9LL * 1024 * 1024)	/* huge_line padding */
#define MOCK_DB_STEPS		2	/* databricks: default tool steps */
#define MOCK_MAX_STEPS		100
#define MOCK_MAX_SEGS		64	/* databricks: attempts of a run */
#define MOCK_DEF_DB_POLL	1000
#define MOCK_DEF_TASK_TIMEOUT	3600
#define MOCK_DEF_FAILOVER	10000

enum dialect {
	DIALECT_OPENAI,
	DIALECT_DATABRICKS
};

enum fail_mode {
	FAIL_NONE,
	FAIL_FAILED,
	FAIL_ERROR_EVENT
};

/* A deterministic misbehaviour of one run (metadata.mock_misbehave). */
enum misbehave {
	MB_NONE,
	MB_NO_SEQ,		/* event 6 without sequence_number */
	MB_GAP,			/* sequence numbers skip 5 */
	MB_OUT_OF_ORDER,	/* events 4 and 5 sent swapped */
	MB_DUPLICATE,		/* event 5 twice, event 6 again after 8 */
	MB_HUGE_LINE,		/* event 6 padded to a 9 MiB line */
	MB_BAD_JSON,		/* event 6 cut in half: not JSON */
	MB_SILENT,		/* streams send headers, then nothing */
	MB_TRICKLE,		/* streams send one byte a second, forever */
	MB_ID_CHANGE,		/* second half carries another response id */
	MB_HTML			/* the create answers 200 text/html */
};

/* What one event index of a run is. */
enum ev_kind {
	EV_CREATED,
	EV_IN_PROGRESS,
	EV_ITEM_ADDED,
	EV_PART_ADDED,
	EV_DELTA,
	EV_TEXT_DONE,
	EV_PART_DONE,
	EV_ITEM_DONE,
	EV_COMPLETED,
	EV_FAILED,
	EV_ERROR,
	EV_CANCELLED,
	EV_RESUMED,		/* databricks: another attempt took over */
	EV_TASK_TIMEOUT	/* databricks: task_timeout error */
};

/* A growable byte buffer, reused to avoid per-event allocations. */
struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* A string-keyed chained hash table; keys are owned by the values. */
struct hent {
	const char	*key;
	void		*val;
	struct hent	*next;
};

struct htab {
	struct hent	**b;
	size_t		  nb;
	size_t		  n;
};

struct mock_opts {
	char		*listen_host;
	int		 listen_port;
	const char	*port_file;
	enum dialect	 dialect;
	int		 reject_background;
	int		 reject_stream;
	int		 no_resume;
	long long	 drop_after;	/* 0: never drop */
	long long	 fail_creates;
	int		 fail_status;
	long long	 retry_after;	/* -1: no Retry-After header */
	int		 verbose;
	uint64_t	 seed;
	int		 seed_set;
	double		 chaos_drop;	/* per event written */
	double		 chaos_stall;	/* per event written */
	double		 chaos_429;	/* per create or retrieve */
	double		 chaos_500;	/* per create or retrieve */
	int		 chaos_split;
	long long	 db_poll_ms;	/* databricks: retrieve loop poll */
	long long	 sched_lag_ms;	/* run_schedule's clock ahead by */
	long long	 task_timeout;	/* databricks: seconds */
	long long	 failover_pause_ms; /* databricks: stale heartbeat */
	const char	*state_file;	/* databricks: runs survive restarts */
};

/* Faults injected by the --chaos-* flags. */
struct chaos_stats {
	long long	drops;
	long long	stalls;
	long long	http429;
	long long	http500;
	long long	splits;
};

struct mock_stats {
	long long	creates;
	long long	by_status[600];
	long long	requests;
	long long	streams_open;
	long long	streams_peak;
	long long	waiters;
	long long	dup_keys;
	long long	resumes;
	long long	polls;
	long long	cancels;
};

enum client_kind {
	CLIENT_SSE,		/* event stream */
	CLIENT_JSON		/* JSON reply once the run is terminal */
};

/* One HTTP request attached to a run, waiting for its events. */
struct client {
	TAILQ_ENTRY(client)	 entry;
	struct mock		*m;
	struct run		*run;
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	enum client_kind	 kind;
	long long		 next;		/* next stream position */
	long long		 written;	/* positions or bytes sent */
	long long		 poll_end;	/* databricks: -1, or target */
	long long		 last_seq;	/* databricks: last seq sent */
	int			 poller;	/* databricks retrieve loop */
	int			 poll_term;	/* the poll saw the run end */
	int64_t			 next_poll;	/* databricks: mono ms */
	int			 in_flight;	/* awaiting a flush */
	int			 waiting;	/* on its own timer, or muted */
	int			 trickle;	/* waiting: one byte a second */
	int			 dropping;	/* close once flushed */
	int			 ending;	/* finish once flushed */
	int64_t			 stall_ms;	/* then wait so long */
	struct event		*wait_ev;
	struct mbuf		 rest;		/* split batch: unsent */
	size_t			 rest_off;
};
TAILQ_HEAD(clientq, client);

/* Per-run knobs, from the request metadata. */
struct run_params {
	long long	events;
	long long	interval;
	long long	delta_bytes;	/* 0: natural length */
	long long	stall_after;	/* -1: never stall */
	enum fail_mode	fail;
	enum misbehave	mb;
	long long	tool_steps;	/* databricks: handler steps */
	long long	failover_after;	/* databricks: -1, or K events */
	long long	cut_after_seq;	/* databricks: -1, or cut 1st stream */
};

/*
 * A databricks attempt: from stream index seq0 on (segment 0 at 0, the
 * others with a response.resumed event at seq0), the run goes on with
 * base-script event base0, the first one due at start.
 */
struct seg {
	long long	seq0;
	long long	base0;
	long long	attempt;
	int64_t		start_mono;
	int64_t		start_wall;
};

struct run {
	TAILQ_ENTRY(run)	 entry;
	struct mock		*m;
	char			 id[32];	/* resp_ + 24 hex */
	char			 item_id[32];	/* msg_ + the same 24 hex */
	char			 alt_id[32];	/* id_change: the other id */
	unsigned long long	 num;		/* 1-based creation number */
	int64_t			 created_ms;	/* wall clock */
	int64_t			 created_mono;
	int			 background;
	int			 stream;
	struct run_params	 p;
	long long		 cancel_at;	/* -1, or the cancelled event */
	long long		 timeout_at;	/* -1, or the timeout event */
	int64_t			 timeout_mono;
	int64_t			 timeout_wall;
	struct seg		 segs[MOCK_MAX_SEGS];
	int			 nseg;
	long long		 stored;	/* events committed */
	int			 cut_done;	/* mock_cut_after_seq done */
	char			 hex[25];
	char			*idem_key;
	long long		 creates;
	char			*model_json;	/* JSON string, quoted */
	char			*metadata_json;	/* JSON object */
	struct clientq		 clients;
	int			 nsse;		/* event streams */
	int			 nflight;	/* streams awaiting flush */
	int			 njson;		/* JSON waiters */
	int			 nwait;		/* streams on their own timer */
	struct event		*timer;
};
TAILQ_HEAD(runq, run);

struct mock {
	struct mock_opts	 opts;
	struct event_base	*base;
	struct evhttp		*http;
	struct evconnlistener	*listener;
	struct event		*sigterm;
	struct event		*sigint;
	struct htab		 by_id;
	struct htab		 by_key;
	struct runq		 runs;
	long long		 nruns;
	long long		 fail_left;
	struct mock_stats	 st;
	struct chaos_stats	 chaos;
	uint64_t		 rng;		/* --seed state */
	struct mbuf		 scratch;	/* event batches */
	struct mbuf		 reply;		/* JSON replies */
	struct evbuffer		*out;		/* staging for evhttp */
	struct event		*state_ev;	/* --state heartbeat */
};

/* buf.c */
void	 mbuf_init(struct mbuf *);
void	 mbuf_free(struct mbuf *);
void	 mbuf_reset(struct mbuf *);
char	*mbuf_reserve(struct mbuf *, size_t);
void	 mbuf_add(struct mbuf *, const void *, size_t);
void	 mbuf_adds(struct mbuf *, const char *);
void	 mbuf_addc(struct mbuf *, char);
void	 mbuf_addll(struct mbuf *, long long);
void	 mbuf_addjstr(struct mbuf *, const char *, size_t);
void	 mbuf_addjs(struct mbuf *, const char *);
void	 htab_init(struct htab *);
void	 htab_free(struct htab *);
void	*htab_get(const struct htab *, const char *);
void	 htab_put(struct htab *, const char *, void *);

/* run.c */
void		 run_params_default(struct run_params *);
struct run	*run_new(struct mock *, const struct run_params *, int, int,
		    const char *, const char *, const char *);
void		 run_free(struct run *);
long long	 run_cap(const struct run *);
int		 run_done(const struct run *);
long long	 run_avail(const struct run *, int64_t);
int64_t		 run_due(const struct run *, long long);
int		 run_is_terminal(const struct run *, long long);
enum ev_kind	 run_kind(const struct run *, long long);
const char	*run_status(const struct run *, long long);
void		 run_cancel(struct run *, int64_t);
void		 run_write_event(struct mock *, const struct run *, long long,
		    struct mbuf *);
void		 run_write_frame(struct mock *, const struct run *, long long,
		    struct mbuf *);
void		 run_write_response(struct mock *, const struct run *,
		    long long, struct mbuf *);
void		 run_write_minimal(struct mock *, const struct run *, long long,
		    struct mbuf *);
void		 run_write_text(const struct run *, long long, struct mbuf *);
void		 run_write_delta(const struct run *, long long, struct mbuf *);
void		 run_write_message(const struct run *, struct mbuf *);
void		 run_write_head(struct mbuf *, const char *, const struct run *,
		    long long);
void		 run_write_text_ids(const struct run *, struct mbuf *);
void		 run_write_pad(struct mbuf *, size_t);
long long	 run_script_len(const struct run *);

/* dbx.c */
int		 dbx(const struct mock *);
void		 dbx_init(struct run *);
long long	 dbx_len(const struct run *);
long long	 dbx_cap(const struct run *);
long long	 dbx_avail(const struct run *, int64_t);
int64_t		 dbx_due(const struct run *, long long);
enum ev_kind	 dbx_kind(const struct run *, long long);
long long	 dbx_deltas(const struct run *, long long);
long long	 dbx_attempt(const struct run *, long long);
int		 dbx_check_timeout(struct run *, int64_t);
void		 dbx_restart(struct run *, int64_t, int64_t);
void		 dbx_write_event(struct mock *, const struct run *, long long,
		    struct mbuf *);
void		 dbx_write_created(struct mock *, const struct run *,
		    struct mbuf *);
void		 dbx_write_poll(struct mock *, const struct run *, long long,
		    struct mbuf *);
void		 dbx_write_text(const struct run *, long long, struct mbuf *);

/* state.c */
void		 state_load(struct mock *);
void		 state_save(struct mock *);
void		 state_commit(struct mock *, struct run *, long long);
void		 state_start(struct mock *);

/* misbehave.c */
int		 mb_parse(const char *, enum misbehave *);
const char	*mb_name(enum misbehave);
int		 mb_min_events(enum misbehave);
int		 mb_mute(const struct run *);
long long	 mb_seq(const struct run *, long long);
int		 mb_has_seq(const struct run *, long long);
long long	 mb_after(const struct run *, long long);
long long	 mb_at(const struct run *, long long);
long long	 mb_npos(const struct run *, long long);
long long	 mb_pos_of(const struct run *, long long);
int		 mb_is_event(const struct run *, long long);
int		 mb_is_huge(const struct run *, long long);
const char	*mb_id(const struct run *, long long);

/* chaos.c */
void		 chaos_init(struct mock *);
int		 chaos_active(const struct mock *);
uint64_t	 chaos_rand(struct mock *);
int		 chaos_roll(struct mock *, double);
long long	 chaos_range(struct mock *, long long, long long);
int		 chaos_pick(struct mock *);
void		 chaos_reply(struct mock *, struct evhttp_request *, int);

/* stream.c */
void	 client_attach(struct mock *, struct run *, struct evhttp_request *,
	    enum client_kind, long long);
void	 run_wake(struct run *);
void	 client_attach_db(struct mock *, struct run *, struct evhttp_request *,
	    long long, long long);

/* http.c */
void	 http_setup(struct mock *);
void	 http_log(struct mock *, struct evhttp_request *, int, const char *);
void	 http_reply(struct mock *, struct evhttp_request *, int,
	    struct mbuf *);
void	 http_error(struct mock *, struct evhttp_request *, int, const char *,
	    const char *, const char *);
const char *http_method(struct evhttp_request *);

/* admin.c */
int	 admin_route(struct mock *, struct evhttp_request *, const char *);

#endif
