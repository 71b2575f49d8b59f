/*
 * agentd: parse flags and the environment into a config (lib/config.c),
 * then run the supervisor, or (re-exec'd by it with --worker N, fd 3 a
 * socketpair) a worker. Everything else lives in lib/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "supervisor.h"
#include "util.h"
#include "worker.h"

#define EXIT_USAGE	2

int
main(int argc, char **argv)
{
	struct agentd_config	 cfg;
	const char		*key;
	char			*cause = NULL;
	int			 worker, rc;

	config_defaults(&cfg);
	switch (config_parse(&cfg, argc, argv, &worker, &cause)) {
	case CONFIG_HELP:
		fputs(config_usage, stdout);
		return 0;
	case CONFIG_VERSION:
		printf("agentd %s\n", AGENTD_VERSION);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "agentd: %s\nTry 'agentd --help'.\n", cause);
		free(cause);
		return EXIT_USAGE;
	default:
		break;
	}
	if ((key = getenv("AGENTD_API_KEY")) == NULL || *key == '\0')
		key = getenv("OPENAI_API_KEY");
	cfg.api_key = key;
	log_init("supervisor", cfg.verbosity);
	if (worker >= 0)
		return worker_main(&cfg, worker, 3);
	if (config_front_token(&cfg, &cause) != 0) {
		fprintf(stderr, "agentd: %s\n", cause);
		free(cause);
		return 1;
	}
	rc = supervisor_main(&cfg, argv) == 0 ? 0 : 1;
	if (cfg.front_token != NULL) {
		explicit_bzero(cfg.front_token, strlen(cfg.front_token));
		free(cfg.front_token);
	}
	return rc;
}
