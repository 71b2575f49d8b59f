/*
 * libFuzzer target for the local API (lib/api.c with batch.c and store.c):
 * the real evhttp server on a Unix socket in this process, each input sent
 * by a client as raw bytes (request line, headers, body), then the loop is
 * turned until the server answers or closes. Covers routing, every
 * handler's validation, followers and the store queries behind them.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "fuzz-host.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "stats.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct agentd_config	 fz_cfg;
static struct api_host		 fz_host;
static struct api		*fz_api;
static char			 fz_dir[] = "/tmp/agentd-fuzz-api-XXXXXX";
static char			 fz_sock[256];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 db[256];

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz", 0);
	if (mkdtemp(fz_dir) == NULL)
		abort();
	snprintf(db, sizeof db, "%s/agentd.db", fz_dir);
	snprintf(fz_sock, sizeof fz_sock, "%s/api.sock", fz_dir);
	config_defaults(&fz_cfg);
	fz_cfg.endpoint = "http://127.0.0.1:9/v1";
	fz_cfg.db_path = strdup(db);
	fz_cfg.socket_path = fz_sock;
	fz_cfg.max_body = 64 * 1024;
	fz_cfg.max_conns = 64;
	fz_api = fz_host_start("fuzz_api", &fz_cfg, &fz_host);
	return 0;
}

/* Run whatever is ready, without waiting, a few times over. */
static void
fz_turn(int times)
{
	fz_host_turn(&fz_host, times);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un	 sun;
	char			 buf[65536];
	size_t			 off = 0;
	ssize_t			 n;
	int			 fd, i, got = 0, quiet = 0;

	if (size == 0 || size > 200000)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fz_sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(fd);
		fz_turn(1);
		return 0;
	}
	/* The first byte picks whether the client half-closes after writing. */
	for (i = 0; i < 200 && off < size; i++) {
		n = write(fd, data + off, size - off);
		if (n > 0)
			off += (size_t)n;
		fz_turn(2);
	}
	if (data[0] & 1)
		shutdown(fd, SHUT_WR);
	for (i = 0; i < 20; i++) {
		fz_turn(2);
		n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n > 0) {
			got = 1;
			quiet = 0;
		} else if (got && ++quiet > 2)
			break;
	}
	close(fd);
	fz_turn(1);
	return 0;
}
