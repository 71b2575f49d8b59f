/*
 * agentd: parse flags and the environment into a config, then run the
 * supervisor, or (re-exec'd by it with --worker N, fd 3 a socketpair) a
 * worker. Everything else lives in lib/.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "supervisor.h"
#include "util.h"
#include "worker.h"

#define EXIT_USAGE	2

static const char usage_text[] =
"usage: agentd --endpoint URL [--db FILE] [--socket PATH] [options]\n"
"\n"
"Keep long-running agent runs alive: submit them to an OpenAI Responses\n"
"API compatible backend in background mode, store every event in SQLite,\n"
"and resume after timeouts, crashes and restarts. Runs in the foreground\n"
"and logs to stderr.\n"
"\n"
"options:\n"
"  -e, --endpoint URL        backend base URL, e.g. http://127.0.0.1:8080/v1\n"
"  -d, --db FILE             run store (default ./agentd.db)\n"
"  -s, --socket PATH         API socket (default $AGENTD_SOCKET, else\n"
"                            $XDG_RUNTIME_DIR/agentd.sock, else\n"
"                            /run/agentd/agentd.sock)\n"
"      --socket-group GROUP  also let members of GROUP use the socket\n"
"  -w, --workers N           worker processes (default 2)\n"
"      --dialect D           openai (default) or databricks\n"
"      --stale-after SECS    abandon a run with no backend progress for\n"
"                            this long (default 600)\n"
"      --idle-timeout SECS   resume a stream silent this long (default 60)\n"
"      --connect-timeout SECS  (default 10)\n"
"      --poll-interval SECS  first poll delay; backs off to --poll-max\n"
"                            (default 2)\n"
"      --poll-max SECS       (default 30)\n"
"      --retry-max SECS      cap of the retry backoff (default 60)\n"
"      --at-most-once        never resubmit a create whose outcome is\n"
"                            unknown; fail the run instead\n"
"      --cancel-abandoned    also cancel abandoned runs at the backend\n"
"      --path-create P       create path (default /responses)\n"
"      --path-retrieve P     retrieve path (default /responses/{id})\n"
"      --path-cancel P       cancel path (default /responses/{id}/cancel)\n"
"      --max-body BYTES      API request body limit (default 1048576)\n"
"      --max-connections N   API connections at once (default 256)\n"
"      --max-inflight N      runs in flight at once, all queues (default:\n"
"                            no limit)\n"
"      --requests-per-minute N  cap on backend requests (default: none)\n"
"      --api-timeout SECS    close an idle API connection (default 60)\n"
"  -v, --verbose             more log (repeat for debug)\n"
"  -q, --quiet               warnings only\n"
"  -V, --version             print the version\n"
"  -h, --help                this text\n"
"\n"
"environment: AGENTD_API_KEY, else OPENAI_API_KEY: the bearer token sent to\n"
"the backend (never taken from the command line, never logged).\n"
"\n"
"exit status: 0 stopped cleanly, 1 could not start (message on stderr),\n"
"2 usage error.\n";

enum {
	OPT_DIALECT = 256, OPT_STALE, OPT_IDLE, OPT_CONNECT, OPT_POLL,
	OPT_POLL_MAX, OPT_RETRY_MAX, OPT_AT_MOST_ONCE, OPT_CANCEL_ABANDONED,
	OPT_PATH_CREATE, OPT_PATH_RETRIEVE, OPT_PATH_CANCEL, OPT_MAX_BODY,
	OPT_SOCKET_GROUP, OPT_WORKER, OPT_MAX_CONNS, OPT_API_TIMEOUT,
	OPT_MAX_INFLIGHT, OPT_RPM
};

static const struct option longopts[] = {
	{ "endpoint", required_argument, NULL, 'e' },
	{ "db", required_argument, NULL, 'd' },
	{ "socket", required_argument, NULL, 's' },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "workers", required_argument, NULL, 'w' },
	{ "dialect", required_argument, NULL, OPT_DIALECT },
	{ "stale-after", required_argument, NULL, OPT_STALE },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT },
	{ "poll-interval", required_argument, NULL, OPT_POLL },
	{ "poll-max", required_argument, NULL, OPT_POLL_MAX },
	{ "retry-max", required_argument, NULL, OPT_RETRY_MAX },
	{ "at-most-once", no_argument, NULL, OPT_AT_MOST_ONCE },
	{ "cancel-abandoned", no_argument, NULL, OPT_CANCEL_ABANDONED },
	{ "path-create", required_argument, NULL, OPT_PATH_CREATE },
	{ "path-retrieve", required_argument, NULL, OPT_PATH_RETRIEVE },
	{ "path-cancel", required_argument, NULL, OPT_PATH_CANCEL },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
	{ "api-timeout", required_argument, NULL, OPT_API_TIMEOUT },
	{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
	{ "requests-per-minute", required_argument, NULL, OPT_RPM },
	{ "worker", required_argument, NULL, OPT_WORKER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void usage_error(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Print a usage error and exit 2. */
static void
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "agentd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'agentd --help'.\n");
	exit(EXIT_USAGE);
}

/* Parse a number option in [min, max] or exit with a usage error. */
static long
num_opt(const char *name, const char *arg, long long min, long long max)
{
	long long	v;

	if (util_parse_int(arg, min, max, &v) != 0)
		usage_error("--%s must be a whole number from %lld to %lld, "
		    "not '%s'", name, min, max, arg);
	return (long)v;
}

static int
path_ok(const char *p)
{
	return p[0] == '/' && strchr(p, ' ') == NULL;
}

int
main(int argc, char **argv)
{
	struct agentd_config	 cfg;
	static char		 sockbuf[4096];
	const char		*key;
	int			 ch, worker = -1, verbosity = 1;

	memset(&cfg, 0, sizeof cfg);
	cfg.db_path = "agentd.db";
	cfg.workers = 2;
	cfg.dialect = DIALECT_OPENAI;
	cfg.stale_after_s = 600;
	cfg.idle_timeout_s = 60;
	cfg.connect_timeout_s = 10;
	cfg.poll_interval_s = 2;
	cfg.poll_max_s = 30;
	cfg.retry_max_s = 60;
	cfg.max_body = 1024 * 1024;
	cfg.max_conns = 256;
	cfg.api_timeout_s = 60;
	cfg.paths.create = "/responses";
	cfg.paths.retrieve = "/responses/{id}";
	cfg.paths.cancel = "/responses/{id}/cancel";

	while ((ch = getopt_long(argc, argv, "e:d:s:w:vqVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'e':
			cfg.endpoint = optarg;
			break;
		case 'd':
			cfg.db_path = optarg;
			break;
		case 's':
			cfg.socket_path = optarg;
			break;
		case OPT_SOCKET_GROUP:
			cfg.socket_group = optarg;
			break;
		case 'w':
			cfg.workers = (int)num_opt("workers", optarg, 1, 64);
			break;
		case OPT_DIALECT:
			if (backend_dialect_parse(optarg, &cfg.dialect) != 0)
				usage_error("--dialect must be openai or "
				    "databricks, not '%s'", optarg);
			break;
		case OPT_STALE:
			cfg.stale_after_s = num_opt("stale-after", optarg, 1,
			    30 * 86400);
			break;
		case OPT_IDLE:
			cfg.idle_timeout_s = num_opt("idle-timeout", optarg, 1,
			    86400);
			break;
		case OPT_CONNECT:
			cfg.connect_timeout_s = num_opt("connect-timeout",
			    optarg, 1, 600);
			break;
		case OPT_POLL:
			cfg.poll_interval_s = num_opt("poll-interval", optarg,
			    1, 3600);
			break;
		case OPT_POLL_MAX:
			cfg.poll_max_s = num_opt("poll-max", optarg, 1, 86400);
			break;
		case OPT_RETRY_MAX:
			cfg.retry_max_s = num_opt("retry-max", optarg, 1,
			    86400);
			break;
		case OPT_AT_MOST_ONCE:
			cfg.at_most_once = 1;
			break;
		case OPT_CANCEL_ABANDONED:
			cfg.cancel_abandoned = 1;
			break;
		case OPT_PATH_CREATE:
		case OPT_PATH_RETRIEVE:
		case OPT_PATH_CANCEL:
			if (!path_ok(optarg))
				usage_error("a --path-* value must start with "
				    "'/' and have no spaces, not '%s'",
				    optarg);
			if ((ch != OPT_PATH_CREATE) &&
			    strstr(optarg, "{id}") == NULL)
				usage_error("--path-retrieve and --path-cancel "
				    "must contain {id}: '%s'", optarg);
			if (ch == OPT_PATH_CREATE)
				cfg.paths.create = optarg;
			else if (ch == OPT_PATH_RETRIEVE)
				cfg.paths.retrieve = optarg;
			else
				cfg.paths.cancel = optarg;
			break;
		case OPT_MAX_BODY:
			cfg.max_body = (int)num_opt("max-body", optarg, 1024,
			    64 * 1024 * 1024);
			break;
		case OPT_MAX_CONNS:
			cfg.max_conns = (int)num_opt("max-connections", optarg,
			    1, 100000);
			break;
		case OPT_API_TIMEOUT:
			cfg.api_timeout_s = num_opt("api-timeout", optarg, 1,
			    86400);
			break;
		case OPT_MAX_INFLIGHT:
			cfg.max_inflight = (int)num_opt("max-inflight", optarg,
			    1, 1000000);
			break;
		case OPT_RPM:
			cfg.requests_per_minute = (int)num_opt(
			    "requests-per-minute", optarg, 1, 10000000);
			break;
		case OPT_WORKER:
			worker = (int)num_opt("worker", optarg, 0, 63);
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity = 0;
			break;
		case 'V':
			printf("agentd %s\n", AGENTD_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'agentd --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.endpoint == NULL)
		usage_error("%s", "--endpoint URL is required (the backend's "
		    "base URL, e.g. http://127.0.0.1:8080/v1)");
	if (strncmp(cfg.endpoint, "http://", 7) != 0 &&
	    strncmp(cfg.endpoint, "https://", 8) != 0)
		usage_error("--endpoint must be an http:// or https:// URL, "
		    "not '%s'", cfg.endpoint);
	if (cfg.poll_max_s < cfg.poll_interval_s)
		cfg.poll_max_s = cfg.poll_interval_s;
	if (cfg.socket_path == NULL) {
		util_default_socket(sockbuf, sizeof sockbuf);
		cfg.socket_path = sockbuf;
	}
	if ((key = getenv("AGENTD_API_KEY")) == NULL || *key == '\0')
		key = getenv("OPENAI_API_KEY");
	cfg.api_key = key;
	cfg.verbosity = verbosity;
	log_init("supervisor", verbosity);
	if (worker >= 0)
		return worker_main(&cfg, worker, 3);
	return supervisor_main(&cfg, argv) == 0 ? 0 : 1;
}
