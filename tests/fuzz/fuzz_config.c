/*
 * libFuzzer target for lib/config.c: the input is split on NUL or newline
 * into agentd's argv. Parsing must never crash, leak or exit, and an error
 * must come with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agentd_config	 cfg;
	char			*buf, *argv[64], *cause = NULL;
	int			 argc = 0, worker, rc;
	size_t			 i, start = 0;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"agentd";
	for (i = 0; i <= size && argc < 63; i++) {
		if (i == size || buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	config_defaults(&cfg);
	rc = config_parse(&cfg, argc, argv, &worker, &cause);
	if (rc == CONFIG_ERROR && (cause == NULL || *cause == '\0'))
		abort();
	if (rc != CONFIG_ERROR && cause != NULL)
		abort();
	if (rc == CONFIG_OK && (cfg.endpoint == NULL || cfg.workers < 1 ||
	    cfg.socket_path == NULL))
		abort();
	free(cause);
	free(buf);
	return 0;
}
