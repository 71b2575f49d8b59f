/*
 * agent-mock entry point: command-line parsing, process set-up (file limit,
 * SIGPIPE, signals), the listening socket, the "listening on" line and the
 * port file, the event loop, and a clean teardown on SIGTERM/SIGINT.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "mock.h"

#define LISTEN_BACKLOG	16384

/* Print the usage text to f. */
static void
usage(FILE *f)
{
	fputs(
"usage: agent-mock [--listen HOST:PORT] [--port-file FILE]\n"
"                  [--dialect openai|databricks] [--reject-background]\n"
"                  [--reject-stream] [--no-resume] [--drop-after K]\n"
"                  [--fail-creates N] [--fail-status CODE]\n"
"                  [--retry-after SECONDS] [--seed N] [--chaos-drop P]\n"
"                  [--chaos-stall P] [--chaos-429 P] [--chaos-500 P]\n"
"                  [--chaos-split] [--db-poll-ms MS] [--task-timeout S]\n"
"                  [--failover-pause-ms MS] [--state FILE]\n"
"                  [--sched-lag-ms MS] [--verbose] [--help]\n"
"\n"
"A scriptable fake OpenAI Responses API (background mode) for tests.\n"
"\n"
"  --listen HOST:PORT    address to listen on (default 127.0.0.1:0; port 0\n"
"                        picks a free port). Prints \"listening on\n"
"                        HOST:PORT\" on stdout once bound.\n"
"  --port-file FILE      also write the bound port number to FILE\n"
"                        (atomically, via FILE.tmp and rename).\n"
"  --dialect D           openai (default) or databricks: the long-running\n"
"                        agent server of databricks-ai-bridge (see below).\n"
"  --reject-background   answer background:true creates with 400\n"
"                        unsupported_parameter.\n"
"  --reject-stream       answer any request asking to stream (stream:true,\n"
"                        ?stream=true or Accept: text/event-stream) with 406.\n"
"  --no-resume           answer GET /responses/{id}?stream=true with 400;\n"
"                        retrieving the JSON still works.\n"
"  --drop-after K        close every streaming connection abruptly after K\n"
"                        events were written on it (K >= 1).\n"
"  --fail-creates N      answer the first N POST /responses with\n"
"                        --fail-status (default 500) and an error body.\n"
"  --fail-status CODE    HTTP status for --fail-creates (400-599).\n"
"  --retry-after SECONDS send Retry-After: SECONDS with those failures.\n"
"  --db-poll-ms MS       databricks: the retrieve loop's database poll\n"
"                        (POLL_INTERVAL_SECONDS; default 1000).\n"
"  --task-timeout S      databricks: a run still in progress S seconds\n"
"                        after its creation fails with task_timeout at\n"
"                        the next GET (default 3600; 0: never).\n"
"  --failover-pause-ms MS\n"
"                        databricks: how long a dead attempt's heartbeat\n"
"                        takes to go stale before another attempt takes\n"
"                        the run over (default 10000).\n"
"  --state FILE          databricks: keep the background runs in FILE\n"
"                        (written via FILE.tmp and rename on every change,\n"
"                        loaded at start), so a mock killed mid-run and\n"
"                        started again on the same FILE lets every run go\n"
"                        on: silent for --failover-pause-ms, then a\n"
"                        response.resumed event and the rest.\n"
"  --sched-lag-ms MS     for testing the mock itself: its scheduler reads\n"
"                        the clock MS ms ahead of the streams it serves,\n"
"                        as a busy event loop would (every event is still\n"
"                        sent once due; default 0).\n"
"  --verbose             log one line per request to stderr.\n"
"  --help                show this text and exit.\n"
"\n", f);
	fputs(
"Random faults (P is a probability from 0 to 1). Every draw comes from one\n"
"generator seeded by --seed, so a seed replays the same faults for the\n"
"same requests; the ground truth (events, text) is never affected:\n"
"  --seed N              seed of the generator (default: random, logged).\n"
"  --chaos-drop P        per event written to a stream: cut that event at\n"
"                        a random byte and close the connection abruptly.\n"
"  --chaos-stall P       per event written to a stream: then send nothing\n"
"                        on it for a random 0.5 to 5 s.\n"
"  --chaos-429 P         per create or retrieve (poll or resume): answer\n"
"                        429 with Retry-After: 1.\n"
"  --chaos-500 P         per create or retrieve: answer 500; half of the\n"
"                        creates so answered did create the run (the\n"
"                        answer was lost, as in a crash mid-request).\n"
"  --chaos-split         write each event in several small pieces with\n"
"                        0 to 2 ms between them.\n"
"\n", f);
	fputs(
"Per-run knobs in the request metadata (string or number values):\n"
"  mock_events N         text deltas (default 20, max 1000000)\n"
"  mock_interval_ms MS   time between events (default 20, 0 = all at once)\n"
"  mock_delta_bytes B    exact size of each delta (default natural)\n"
"  mock_fail MODE        \"failed\" (response.failed) or \"error_event\"\n"
"  mock_stall_after K    emit nothing after K deltas (stays in_progress)\n"
"  mock_tool_steps N     databricks: handler steps (default 2, max 100)\n"
"  mock_failover_after K databricks: the attempt dies after K events;\n"
"                        after --failover-pause-ms attempt 2 goes on\n"
"                        with a response.resumed at seq K\n"
"  mock_cut_after_seq S  databricks: the first stream that sends seq S is\n"
"                        closed abruptly right after it (once a run)\n"
"", f);
	fputs(
"  mock_misbehave MODE   break the protocol in one deterministic way, the\n"
"                        same on every stream of the run (modes marked *\n"
"                        need mock_events >= 5; event 6 is the 3rd delta):\n"
"    no_seq*       event 6 is sent without sequence_number (listed so in\n"
"                  the ground truth).\n"
"    gap*          sequence numbers skip 5: ..., 3, 4, 6, 7, ...\n"
"    out_of_order* events 4 and 5 are sent swapped (seq 5 before 4).\n"
"    duplicate*    event 5 is sent twice in a row, and event 6 once more\n"
"                  after event 8 (the ground truth lists every copy).\n"
"    huge_line*    event 6 carries a 9 MiB \"obfuscation\" field, so its\n"
"                  data line is over 9 MiB.\n"
"    bad_json*     event 6's data is cut in half (not JSON); it is left\n"
"                  out of the ground truth, never having been an event.\n"
"    silent        event streams (create and resume) send the 200 and\n"
"                  the SSE headers, then nothing, ever.\n"
"    trickle       event streams send one byte a second, forever, never\n"
"                  completing an event (\"data: {...\" then 'x's).\n"
"    id_change     events from the middle of the script on carry another\n"
"                  response id (response.id, response_id); retrieves\n"
"                  keep the real one. The other id is in /mock/runs/{id}.\n"
"    html          every create answers 200 OK, Content-Type: text/html,\n"
"                  with an HTML page (the run exists; retrieves work).\n"
"  Streams of silent, trickle and html runs send no events: their ground\n"
"  truth lists none.\n"
"\n"
"The databricks dialect (databricks-ai-bridge 0.21.0 LongRunningAgentServer):\n"
"  data-only SSE frames, each with the flat response_id of the server's\n"
"  id (resp_ + 24 hex, the background POST answer's id); every handler\n"
"  step opens with a response.created and closes with a response.completed\n"
"  carrying the handler's own response.id (resp_handler_<k>_..., which\n"
"  GET answers 404); response.completed is not terminal, [DONE] is. A\n"
"  stream of a background run (the POST's own, or GET ?stream=true) is\n"
"  the server's retrieve loop: one burst per --db-poll-ms, and while seq\n"
"  0 is the last event it sent it sends it again (starting_after=0 is\n"
"  inclusive). A failed run ends with an error event (code task_failed or\n"
"  task_timeout) and a bare close. Poll objects are minimal and carry\n"
"  attempt_number; statuses are in_progress, completed and failed only.\n"
"  starting_after negative or not an integer, or stream not a boolean:\n"
"  422 with FastAPI's validation list; starting_after without\n"
"  stream=true: 400. Errors are {\"detail\":...}; cancel answers 501;\n"
"  POST /invocations is an alias of POST /responses.\n"
"\n"
"Test endpoints: GET /mock/stats, GET /mock/runs, GET /mock/runs/{id},\n"
"GET /mock/runs/{id}/events, POST /mock/reset-stats.\n", f);
}

/* Report a bad command line and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
badarg(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "agent-mock: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'agent-mock --help'.\n");
	exit(2);
}

/* Parse an integer option value or exit 2. */
static long long
int_arg(const char *opt, const char *s, long long min, long long max)
{
	long long	v;

	if (util_parse_int(s, min, max, &v) != 0)
		badarg("%s: expected an integer from %lld to %lld, got '%s'",
		    opt, min, max, s);
	return v;
}

/* Parse a probability option value or exit 2. */
static double
prob_arg(const char *opt, const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
	    v < 0 || v > 1)
		badarg("%s: expected a probability from 0 to 1, got '%s'",
		    opt, s);
	return v;
}

/* Split HOST:PORT (HOST may be [v6] or empty, PORT may stand alone). */
static void
parse_listen(struct mock_opts *o, const char *s)
{
	const char	*colon = strrchr(s, ':');
	const char	*h;
	size_t		 hl;

	if (colon == NULL) {
		o->listen_port = (int)int_arg("--listen", s, 0, 65535);
		free(o->listen_host);
		o->listen_host = xstrdup("127.0.0.1");
		return;
	}
	o->listen_port = (int)int_arg("--listen port", colon + 1, 0, 65535);
	h = s;
	hl = (size_t)(colon - s);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	} else if (memchr(h, ':', hl) != NULL)
		badarg("--listen: write IPv6 addresses as [ADDR]:PORT, "
		    "got '%s'", s);
	free(o->listen_host);
	o->listen_host = hl == 0 ? xstrdup("0.0.0.0") : xstrndup(h, hl);
}

/* Parse the command line into o; exits on --help or a bad argument. */
static void
parse_args(struct mock_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen",		required_argument, NULL, 'l' },
		{ "port-file",		required_argument, NULL, 'P' },
		{ "dialect",		required_argument, NULL, 'd' },
		{ "reject-background",	no_argument,	   NULL, 'B' },
		{ "reject-stream",	no_argument,	   NULL, 'S' },
		{ "no-resume",		no_argument,	   NULL, 'R' },
		{ "drop-after",		required_argument, NULL, 'D' },
		{ "fail-creates",	required_argument, NULL, 'F' },
		{ "fail-status",	required_argument, NULL, 's' },
		{ "retry-after",	required_argument, NULL, 'r' },
		{ "seed",		required_argument, NULL, 'e' },
		{ "chaos-drop",		required_argument, NULL, '1' },
		{ "chaos-stall",	required_argument, NULL, '2' },
		{ "chaos-429",		required_argument, NULL, '3' },
		{ "chaos-500",		required_argument, NULL, '4' },
		{ "chaos-split",	no_argument,	   NULL, '5' },
		{ "db-poll-ms",		required_argument, NULL, '6' },
		{ "task-timeout",	required_argument, NULL, '7' },
		{ "failover-pause-ms",	required_argument, NULL, '8' },
		{ "state",		required_argument, NULL, '9' },
		{ "sched-lag-ms",	required_argument, NULL, 'L' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL,			0,		   NULL, 0 }
	};
	int	ch;

	memset(o, 0, sizeof *o);
	o->listen_host = xstrdup("127.0.0.1");
	o->dialect = DIALECT_OPENAI;
	o->fail_status = 500;
	o->retry_after = -1;
	o->db_poll_ms = MOCK_DEF_DB_POLL;
	o->task_timeout = MOCK_DEF_TASK_TIMEOUT;
	o->failover_pause_ms = MOCK_DEF_FAILOVER;
	while ((ch = getopt_long(argc, argv, "+hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			parse_listen(o, optarg);
			break;
		case 'P':
			if (*optarg == '\0')
				badarg("--port-file: empty file name");
			o->port_file = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "openai") == 0)
				o->dialect = DIALECT_OPENAI;
			else if (strcmp(optarg, "databricks") == 0)
				o->dialect = DIALECT_DATABRICKS;
			else
				badarg("--dialect: expected openai or "
				    "databricks, got '%s'", optarg);
			break;
		case 'B':
			o->reject_background = 1;
			break;
		case 'S':
			o->reject_stream = 1;
			break;
		case 'R':
			o->no_resume = 1;
			break;
		case 'D':
			o->drop_after = int_arg("--drop-after", optarg, 1,
			    1000000000);
			break;
		case 'F':
			o->fail_creates = int_arg("--fail-creates", optarg, 0,
			    1000000000);
			break;
		case 's':
			o->fail_status = (int)int_arg("--fail-status", optarg,
			    400, 599);
			break;
		case 'r':
			o->retry_after = int_arg("--retry-after", optarg, 0,
			    86400);
			break;
		case 'e':
			o->seed = (uint64_t)int_arg("--seed", optarg, 0,
			    LLONG_MAX);
			o->seed_set = 1;
			break;
		case '1':
			o->chaos_drop = prob_arg("--chaos-drop", optarg);
			break;
		case '2':
			o->chaos_stall = prob_arg("--chaos-stall", optarg);
			break;
		case '3':
			o->chaos_429 = prob_arg("--chaos-429", optarg);
			break;
		case '4':
			o->chaos_500 = prob_arg("--chaos-500", optarg);
			break;
		case '5':
			o->chaos_split = 1;
			break;
		case 'L':
			o->sched_lag_ms = int_arg("--sched-lag-ms", optarg, 0,
			    MOCK_MAX_INTERVAL);
			break;
		case '6':
			o->db_poll_ms = int_arg("--db-poll-ms", optarg, 1,
			    MOCK_MAX_INTERVAL);
			break;
		case '7':
			o->task_timeout = int_arg("--task-timeout", optarg, 0,
			    100000000);
			break;
		case '8':
			o->failover_pause_ms = int_arg("--failover-pause-ms",
			    optarg, 0, MOCK_MAX_INTERVAL);
			break;
		case '9':
			if (*optarg == '\0')
				badarg("--state: empty file name");
			o->state_file = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'agent-mock --help'.\n");
			exit(2);
		}
	}
	if (optind < argc)
		badarg("unexpected argument '%s'", argv[optind]);
	if (o->state_file != NULL && o->dialect != DIALECT_DATABRICKS)
		badarg("--state needs --dialect databricks");
}

/* Raise the open-file soft limit to the hard limit. */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		rl.rlim_cur = 1048576;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

/* Create, bind and listen on a socket for host:port; exit on failure. */
static int
listen_socket(const char *host, int port)
{
	struct addrinfo	 hints, *res, *ai;
	char		 serv[16];
	int		 fd = -1, on = 1, rc, saved = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(serv, sizeof serv, "%d", port);
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		fprintf(stderr, "agent-mock: --listen: cannot resolve '%s': "
		    "%s\n", host, gai_strerror(rc));
		exit(2);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		errno = saved;
		fatal("cannot listen on %s:%d", host, port);
	}
	return fd;
}

/* Format the bound address of fd as HOST:PORT; return the port. */
static int
bound_address(int fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss;
	char			 host[INET6_ADDRSTRLEN];
	int			 port;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		fatal("getsockname");
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	}
	return port;
}

/* Write the port number alone to path, atomically. */
static void
write_port_file(const char *path, int port)
{
	char	*tmp;
	FILE	*f;

	xasprintf(&tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		fatal("open %s", tmp);
	fprintf(f, "%d", port);
	if (fclose(f) != 0)
		fatal("write %s", tmp);
	if (rename(tmp, path) != 0)
		fatal("rename %s to %s", tmp, path);
	free(tmp);
}

/* SIGTERM/SIGINT: leave the event loop. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct mock	*m = arg;

	(void)what;
	log_info("exiting on signal %d", (int)sig);
	event_base_loopbreak(m->base);
}

/* Resume accepting after accept_error_cb paused it. */
static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/* accept() failed (e.g. out of descriptors): pause accepting briefly. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct timeval	tv = { 0, 100 * 1000 };

	(void)arg;
	log_warn("accept");
	evconnlistener_disable(lev);
	if (event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT,
	    accept_resume_cb, lev, &tv) != 0)
		evconnlistener_enable(lev);
}

/* Route libevent's own diagnostics into our log. */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Create the event base with precise timers for small intervals. */
static struct event_base *
make_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		fatalx("event_config_new");
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL && (base = event_base_new()) == NULL)
		fatalx("event_base_new");
	return base;
}

/* Free every run, the server and the event base. */
static void
teardown(struct mock *m)
{
	struct run	*r;

	/* Closes all connections; their close callbacks free the clients. */
	evhttp_free(m->http);
	while ((r = TAILQ_FIRST(&m->runs)) != NULL) {
		TAILQ_REMOVE(&m->runs, r, entry);
		run_free(r);
	}
	htab_free(&m->by_id);
	htab_free(&m->by_key);
	event_free(m->sigterm);
	event_free(m->sigint);
	if (m->state_ev != NULL)
		event_free(m->state_ev);
	evbuffer_free(m->out);
	mbuf_free(&m->scratch);
	mbuf_free(&m->reply);
	event_base_free(m->base);
	free(m->opts.listen_host);
}

/* Parse flags, bind, announce the port, serve until SIGTERM/SIGINT. */
int
main(int argc, char **argv)
{
	struct mock			 mock, *m = &mock;
	struct evhttp_bound_socket	*bound;
	char				 addr[128];
	int				 fd, port;

	memset(m, 0, sizeof *m);
	parse_args(&m->opts, argc, argv);
	log_init("agent-mock", m->opts.verbose ? 1 : 0);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	event_set_log_callback(libevent_log);

	m->base = make_base();
	m->fail_left = m->opts.fail_creates;
	chaos_init(m);
	TAILQ_INIT(&m->runs);
	htab_init(&m->by_id);
	htab_init(&m->by_key);
	mbuf_init(&m->scratch);
	mbuf_init(&m->reply);
	if ((m->out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	http_setup(m);
	state_load(m);
	state_start(m);

	fd = listen_socket(m->opts.listen_host, m->opts.listen_port);
	if ((bound = evhttp_accept_socket_with_handle(m->http, fd)) == NULL)
		fatalx("evhttp_accept_socket");
	m->listener = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(m->listener, accept_error_cb);

	m->sigterm = evsignal_new(m->base, SIGTERM, signal_cb, m);
	m->sigint = evsignal_new(m->base, SIGINT, signal_cb, m);
	if (m->sigterm == NULL || m->sigint == NULL ||
	    evsignal_add(m->sigterm, NULL) != 0 ||
	    evsignal_add(m->sigint, NULL) != 0)
		fatalx("cannot install signal handlers");

	port = bound_address(fd, addr, sizeof addr);
	if (m->opts.port_file != NULL)
		write_port_file(m->opts.port_file, port);
	printf("listening on %s\n", addr);
	fflush(stdout);
	log_info("listening on %s (%s dialect)", addr,
	    m->opts.dialect == DIALECT_OPENAI ? "openai" : "databricks");

	if (event_base_dispatch(m->base) == -1)
		fatalx("event_base_dispatch");
	teardown(m);
	return 0;
}
