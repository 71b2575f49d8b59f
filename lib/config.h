/*
 * agentd's configuration: parsed once from the command line by cmd/agentd
 * and handed to the supervisor and (re-exec'd with the same flags) to each
 * worker. Read-only after start-up.
 */
#ifndef AGENTD_CONFIG_H
#define AGENTD_CONFIG_H

#include "backend.h"

struct agentd_config {
	const char		*db_path;
	const char		*socket_path;
	const char		*socket_group;
	const char		*endpoint;
	enum backend_dialect	 dialect;
	struct backend_paths	 paths;
	const char		*api_key;	/* from the environment */
	int			 workers;
	int			 worker_nice;	/* added to the workers' nice */
	char			 host_id[64];	/* in a shared store */
	long			 lease_ttl_s;	/* a host's lease, DB clock */
	long			 stale_after_s;
	long			 idle_timeout_s;
	long			 connect_timeout_s;
	int			 http_curl_only;	/* --http-client curl */
	long			 poll_interval_s;
	long			 poll_max_s;
	long			 retry_max_s;
	int			 at_most_once;
	int			 cancel_abandoned;
	int			 max_body;	/* API request body limit */
	int			 max_conns;	/* API connections */
	int			 max_inflight;	/* runs leased at once, 0 any */
	int			 requests_per_minute;	/* 0: no limit */
	long			 api_timeout_s;	/* idle API connection */
	const char		*listen;	/* front on TCP: HOST:PORT */
	const char		*front_token_file;
	char			*front_token;	/* loaded at start, never
						   from argv */
	int			 verbosity;
	char			 socket_buf[4096];	/* default socket */
};

#define CONFIG_OK	0
#define CONFIG_HELP	1
#define CONFIG_VERSION	2
#define CONFIG_ERROR	(-1)

extern const char config_usage[];
/* A --host-id: 1 to 63 of [A-Za-z0-9._-]. */
int	config_host_id_ok(const char *s);
void	config_defaults(struct agentd_config *cfg);
int	config_parse(struct agentd_config *cfg, int argc, char **argv,
	    int *worker, char **cause);
/*
 * The front's bearer token, from AGENTD_FRONT_TOKEN or --front-token-file
 * (the file's first line). Needed only with --listen. 0, or -1 with an
 * allocated *cause.
 */
int	config_front_token(struct agentd_config *cfg, char **cause);
/*
 * Split --listen's HOST:PORT ("8600" and ":8600" mean 127.0.0.1:8600,
 * "[::1]:8600" an IPv6 address) into host (of hostlen) and port. 0 or -1.
 */
int	config_listen_addr(const char *listen, char *host, size_t hostlen,
	    int *port);

#endif
