/*
 * agentd's command line: defaults, the option table, strict parsing into a
 * struct agentd_config. Never prints or exits (cmd/agentd does), so it is
 * unit-tested and fuzzed. Strings in the config point into argv.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "store.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

const char config_usage[] =
"usage: agentd --endpoint URL [--db FILE] [--socket PATH] [options]\n"
"\n"
"Keep long-running agent runs alive: submit them to an OpenAI Responses\n"
"API compatible backend in background mode, store every event in SQLite,\n"
"and resume after timeouts, crashes and restarts. Runs in the foreground\n"
"and logs to stderr.\n"
"\n"
"options:\n"
"  -e, --endpoint URL        backend base URL, e.g. http://127.0.0.1:8080/v1\n"
"  -d, --db FILE|CONNINFO    run store: a SQLite file (default $AGENTD_DB,\n"
"                            else ./agentd.db), or a PostgreSQL URI or\n"
"                            conninfo (postgresql://agentd@dbhost/agentd)\n"
"                            shared by several hosts; a password belongs in\n"
"                            a pgpass file (PGPASSFILE, passfile=), never\n"
"                            on the command line\n"
"      --host-id ID          this host's name in a shared store (default:\n"
"                            the hostname)\n"
"      --lease-ttl SECS      a host silent this long on the database's\n"
"                            clock loses its runs to the others (default 30)\n"
"  -s, --socket PATH         API socket (default $AGENTD_SOCKET, else\n"
"                            $XDG_RUNTIME_DIR/agentd.sock, else\n"
"                            /run/agentd/agentd.sock)\n"
"      --socket-group GROUP  also let members of GROUP use the socket\n"
"  -w, --workers N           worker processes (default 2)\n"
"      --worker-nice N       workers run this much nicer than the\n"
"                            supervisor, 0-19 (default 10): the API and\n"
"                            its followers go first when CPU is short\n"
"      --dialect D           openai (default) or databricks\n"
"      --stale-after SECS    abandon a run with no backend progress for\n"
"                            this long (default 600)\n"
"      --idle-timeout SECS   resume a stream silent this long (default 60)\n"
"      --http-client auto|curl  curl: no stream by the own client\n"
"      --connect-timeout SECS  give up connecting to the backend after\n"
"                            this long, then retry (default 10)\n"
"      --poll-interval SECS  first poll delay; backs off to --poll-max\n"
"                            (default 2)\n"
"      --poll-max SECS       longest delay between polls (default 30)\n"
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
"      --api-timeout SECS    close an idle API connection; answer 408 to a\n"
"                            request not whole by then (default 60)\n"
"      --listen HOST:PORT    also serve the Responses-compatible front\n"
"                            (/v1/responses) on TCP; PORT alone means\n"
"                            127.0.0.1:PORT. Needs a bearer token\n"
"      --front-token-file F  the front's token: F's first line (else\n"
"                            $AGENTD_FRONT_TOKEN; never on the command line)\n"
"  -v, --verbose             more log (repeat for debug)\n"
"  -q, --quiet               warnings only\n"
"  -V, --version             print the version\n"
"  -h, --help                this text\n"
"\n"
"environment: AGENTD_API_KEY, else OPENAI_API_KEY: the bearer token sent to\n"
"the backend (never taken from the command line, never logged).\n"
"AGENTD_FRONT_TOKEN: the token clients of --listen must send as\n"
"Authorization: Bearer (or --front-token-file).\n"
"\n"
"signals: SIGTERM, SIGINT or SIGHUP stop agentd cleanly; runs resume\n"
"at the next start.\n"
"\n"
"exit status: 0 stopped cleanly, 1 could not start (message on stderr),\n"
"2 usage error.\n";

enum {
	OPT_DIALECT = 256, OPT_STALE, OPT_IDLE, OPT_CONNECT, OPT_POLL,
	OPT_POLL_MAX, OPT_RETRY_MAX, OPT_AT_MOST_ONCE, OPT_CANCEL_ABANDONED,
	OPT_PATH_CREATE, OPT_PATH_RETRIEVE, OPT_PATH_CANCEL, OPT_MAX_BODY,
	OPT_SOCKET_GROUP, OPT_WORKER, OPT_MAX_CONNS, OPT_API_TIMEOUT,
	OPT_MAX_INFLIGHT, OPT_RPM, OPT_LISTEN, OPT_FRONT_TOKEN_FILE,
	OPT_WORKER_NICE, OPT_HOST_ID, OPT_LEASE_TTL, OPT_HTTP_CLIENT
};

static const struct option longopts[] = {
	{ "endpoint", required_argument, NULL, 'e' },
	{ "db", required_argument, NULL, 'd' },
	{ "socket", required_argument, NULL, 's' },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "workers", required_argument, NULL, 'w' },
	{ "worker-nice", required_argument, NULL, OPT_WORKER_NICE },
	{ "host-id", required_argument, NULL, OPT_HOST_ID },
	{ "lease-ttl", required_argument, NULL, OPT_LEASE_TTL },
	{ "dialect", required_argument, NULL, OPT_DIALECT },
	{ "stale-after", required_argument, NULL, OPT_STALE },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT },
	{ "http-client", required_argument, NULL, OPT_HTTP_CLIENT },
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
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "front-token-file", required_argument, NULL, OPT_FRONT_TOKEN_FILE },
	{ "worker", required_argument, NULL, OPT_WORKER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

#define CONFIG_FAIL(...) do {						\
	xasprintf(cause, __VA_ARGS__);					\
	return CONFIG_ERROR;						\
} while (0)

/* Parse a number option in [min, max]; -1 and *cause when it is not. */
static int
num_opt(char **cause, const char *name, const char *arg, long long min,
    long long max, long *out)
{
	long long	v;

	if (util_parse_int(arg, min, max, &v) != 0) {
		xasprintf(cause, "--%s must be a whole number from %lld to "
		    "%lld, not '%s'", name, min, max, arg);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int
path_ok(const char *p)
{
	return p[0] == '/' && strchr(p, ' ') == NULL;
}

/* A --host-id: 1 to 63 of [A-Za-z0-9._-]. */
int
config_host_id_ok(const char *s)
{
	size_t	n = strlen(s);

	return n >= 1 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

/* Fill cfg with the defaults. */
void
config_defaults(struct agentd_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->db_path = "agentd.db";
	cfg->workers = 2;
	cfg->worker_nice = 10;
	cfg->lease_ttl_s = 30;
	if (gethostname(cfg->host_id, sizeof cfg->host_id) != 0 ||
	    !config_host_id_ok(cfg->host_id))
		snprintf(cfg->host_id, sizeof cfg->host_id, "agentd");
	cfg->dialect = DIALECT_OPENAI;
	cfg->stale_after_s = 600;
	cfg->idle_timeout_s = 60;
	cfg->connect_timeout_s = 10;
	cfg->poll_interval_s = 2;
	cfg->poll_max_s = 30;
	cfg->retry_max_s = 60;
	cfg->max_body = 1024 * 1024;
	cfg->max_conns = 256;
	cfg->api_timeout_s = 60;
	cfg->verbosity = 1;
	cfg->paths.create = "/responses";
	cfg->paths.retrieve = "/responses/{id}";
	cfg->paths.cancel = "/responses/{id}/cancel";
}

/*
 * Parse argv into cfg (after config_defaults). *worker is the --worker
 * instance or -1. Returns CONFIG_OK, CONFIG_HELP, CONFIG_VERSION, or
 * CONFIG_ERROR with an allocated *cause.
 */
int
config_parse(struct agentd_config *cfg, int argc, char **argv, int *worker,
    char **cause)
{
	const char	*env;
	int		 ch, db_argv = 0;
	long		 v;

	*worker = -1;
	*cause = NULL;
	optind = 0;		/* glibc: full re-initialisation */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "e:d:s:w:vqVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'e':
			cfg->endpoint = optarg;
			break;
		case 'd':
			cfg->db_path = optarg;
			db_argv = 1;
			break;
		case 's':
			cfg->socket_path = optarg;
			break;
		case OPT_SOCKET_GROUP:
			cfg->socket_group = optarg;
			break;
		case 'w':
			if (num_opt(cause, "workers", optarg, 1, 64, &v) != 0)
				return CONFIG_ERROR;
			cfg->workers = (int)v;
			break;
		case OPT_HOST_ID:
			if (!config_host_id_ok(optarg))
				CONFIG_FAIL("--host-id must be 1 to 63 letters, "
				    "digits, '.', '-' or '_', not '%.80s'",
				    optarg);
			snprintf(cfg->host_id, sizeof cfg->host_id, "%s",
			    optarg);
			break;
		case OPT_LEASE_TTL:
			if (num_opt(cause, "lease-ttl", optarg, 3, 3600, &v)
			    != 0)
				return CONFIG_ERROR;
			cfg->lease_ttl_s = v;
			break;
		case OPT_WORKER_NICE:
			if (num_opt(cause, "worker-nice", optarg, 0, 19, &v)
			    != 0)
				return CONFIG_ERROR;
			cfg->worker_nice = (int)v;
			break;
		case OPT_DIALECT:
			if (backend_dialect_parse(optarg, &cfg->dialect) != 0)
				CONFIG_FAIL("--dialect must be openai or "
				    "databricks, not '%s'", optarg);
			break;
		case OPT_STALE:
			if (num_opt(cause, "stale-after", optarg, 1,
			    30 * 86400, &v) != 0)
				return CONFIG_ERROR;
			cfg->stale_after_s = v;
			break;
		case OPT_IDLE:
			if (num_opt(cause, "idle-timeout", optarg, 1,
			    86400, &v) != 0)
				return CONFIG_ERROR;
			cfg->idle_timeout_s = v;
			break;
		case OPT_HTTP_CLIENT:
			if (strcmp(optarg, "auto") == 0)
				cfg->http_curl_only = 0;
			else if (strcmp(optarg, "curl") == 0)
				cfg->http_curl_only = 1;
			else
				CONFIG_FAIL("--http-client must be auto or curl, "
				    "not '%s'", optarg);
			break;
		case OPT_CONNECT:
			if (num_opt(cause, "connect-timeout",
			    optarg, 1, 600, &v) != 0)
				return CONFIG_ERROR;
			cfg->connect_timeout_s = v;
			break;
		case OPT_POLL:
			if (num_opt(cause, "poll-interval", optarg,
			    1, 3600, &v) != 0)
				return CONFIG_ERROR;
			cfg->poll_interval_s = v;
			break;
		case OPT_POLL_MAX:
			if (num_opt(cause, "poll-max", optarg, 1, 86400,
			    &v) != 0)
				return CONFIG_ERROR;
			cfg->poll_max_s = v;
			break;
		case OPT_RETRY_MAX:
			if (num_opt(cause, "retry-max", optarg, 1,
			    86400, &v) != 0)
				return CONFIG_ERROR;
			cfg->retry_max_s = v;
			break;
		case OPT_AT_MOST_ONCE:
			cfg->at_most_once = 1;
			break;
		case OPT_CANCEL_ABANDONED:
			cfg->cancel_abandoned = 1;
			break;
		case OPT_PATH_CREATE:
		case OPT_PATH_RETRIEVE:
		case OPT_PATH_CANCEL:
			if (!path_ok(optarg))
				CONFIG_FAIL("a --path-* value must start with "
				    "'/' and have no spaces, not '%s'",
				    optarg);
			if ((ch != OPT_PATH_CREATE) &&
			    strstr(optarg, "{id}") == NULL)
				CONFIG_FAIL("--path-retrieve and --path-cancel "
				    "must contain {id}: '%s'", optarg);
			if (ch == OPT_PATH_CREATE)
				cfg->paths.create = optarg;
			else if (ch == OPT_PATH_RETRIEVE)
				cfg->paths.retrieve = optarg;
			else
				cfg->paths.cancel = optarg;
			break;
		case OPT_MAX_BODY:
			if (num_opt(cause, "max-body", optarg, 1024,
			    64 * 1024 * 1024, &v) != 0)
				return CONFIG_ERROR;
			cfg->max_body = (int)v;
			break;
		case OPT_MAX_CONNS:
			if (num_opt(cause, "max-connections", optarg,
			    1, 100000, &v) != 0)
				return CONFIG_ERROR;
			cfg->max_conns = (int)v;
			break;
		case OPT_API_TIMEOUT:
			if (num_opt(cause, "api-timeout", optarg, 1,
			    86400, &v) != 0)
				return CONFIG_ERROR;
			cfg->api_timeout_s = v;
			break;
		case OPT_MAX_INFLIGHT:
			if (num_opt(cause, "max-inflight", optarg,
			    1, 1000000, &v) != 0)
				return CONFIG_ERROR;
			cfg->max_inflight = (int)v;
			break;
		case OPT_RPM:
			if (num_opt(cause, "requests-per-minute", optarg, 1,
			    10000000, &v) != 0)
				return CONFIG_ERROR;
			cfg->requests_per_minute = (int)v;
			break;
		case OPT_LISTEN: {
			char	host[256];
			int	port;

			if (config_listen_addr(optarg, host, sizeof host,
			    &port) != 0)
				CONFIG_FAIL("--listen must be HOST:PORT (or "
				    "PORT for 127.0.0.1), not '%s'", optarg);
			cfg->listen = optarg;
			break;
		}
		case OPT_FRONT_TOKEN_FILE:
			cfg->front_token_file = optarg;
			break;
		case OPT_WORKER:
			if (num_opt(cause, "worker", optarg, 0, 63, &v) != 0)
				return CONFIG_ERROR;
			*worker = (int)v;
			break;
		case 'v':
			cfg->verbosity++;
			break;
		case 'q':
			cfg->verbosity = 0;
			break;
		case 'V':
			return CONFIG_VERSION;
		case 'h':
			return CONFIG_HELP;
		default:
			CONFIG_FAIL("unknown option or missing value: %s",
			    argv[optind - 1 < argc ? optind - 1 : argc - 1]);
		}
	}
	if (optind != argc)
		CONFIG_FAIL("unexpected argument '%s'", argv[optind]);
	if (!db_argv && (env = getenv("AGENTD_DB")) != NULL && *env != '\0')
		cfg->db_path = env;
	if (db_argv && store_is_pg(cfg->db_path) &&
	    store_pg_has_password(cfg->db_path))
		CONFIG_FAIL("%s", "--db holds a password, which every user of "
		    "this machine can read on the command line (ps); put it in "
		    "a pgpass file (PGPASSFILE, or passfile= in the conninfo) "
		    "or give the conninfo in $AGENTD_DB");
	if (cfg->endpoint == NULL)
		CONFIG_FAIL("%s", "--endpoint URL is required (the backend's "
		    "base URL, e.g. http://127.0.0.1:8080/v1)");
	if (strncmp(cfg->endpoint, "http://", 7) != 0 &&
	    strncmp(cfg->endpoint, "https://", 8) != 0)
		CONFIG_FAIL("--endpoint must be an http:// or https:// URL, "
		    "not '%s'", cfg->endpoint);
	if (cfg->poll_max_s < cfg->poll_interval_s)
		cfg->poll_max_s = cfg->poll_interval_s;
	if (cfg->socket_path == NULL) {
		util_default_socket(cfg->socket_buf, sizeof cfg->socket_buf);
		cfg->socket_path = cfg->socket_buf;
	}
	return CONFIG_OK;
}

/* Split HOST:PORT for --listen. */
int
config_listen_addr(const char *listen, char *host, size_t hostlen, int *port)
{
	const char	*colon, *ptext, *h = "127.0.0.1";
	size_t		 hl = 9;
	long long	 p;

	if (listen == NULL || *listen == '\0')
		return -1;
	if (*listen == '[') {
		const char	*end = strchr(listen, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		h = listen + 1;
		hl = (size_t)(end - h);
		ptext = end + 2;
	} else if ((colon = strrchr(listen, ':')) != NULL) {
		if (colon != listen) {
			h = listen;
			hl = (size_t)(colon - listen);
		}
		ptext = colon + 1;
	} else
		ptext = listen;
	/* Digits only: util_parse_int would take "+80" or " 80". */
	if (hl == 0 || hl >= hostlen || *ptext < '0' || *ptext > '9' ||
	    util_parse_int(ptext, 1, 65535, &p) != 0)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

/* Load the front's token from the environment or the token file. */
int
config_front_token(struct agentd_config *cfg, char **cause)
{
	const char	*env = getenv("AGENTD_FRONT_TOKEN");
	char		 buf[4096];
	FILE		*f;
	struct stat	 sb;
	size_t		 n;

	if (cfg->listen == NULL)
		return 0;
	if (cfg->front_token_file != NULL) {
		if ((f = fopen(cfg->front_token_file, "r")) == NULL) {
			xasprintf(cause, "--front-token-file %s: %s",
			    cfg->front_token_file, strerror(errno));
			return -1;
		}
		if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077) != 0)
			log_warnx("front: %s is readable by others than its "
			    "owner; chmod 600 it", cfg->front_token_file);
		if (fgets(buf, sizeof buf, f) == NULL)
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
	} else if (env != NULL)
		snprintf(buf, sizeof buf, "%s", env);
	else {
		xasprintf(cause, "--listen needs a token for its clients: set "
		    "AGENTD_FRONT_TOKEN or give --front-token-file FILE");
		return -1;
	}
	n = strlen(buf);
	if (n < 8) {
		xasprintf(cause, "the front's token is %s; use at least 8 "
		    "characters", n == 0 ? "empty" : "too short");
		return -1;
	}
	cfg->front_token = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return 0;
}
