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

/* The host's side of the API, doing nothing: there are no workers. */
static void
fz_schedule(void *ctx)
{
	(void)ctx;
}

static void
fz_drop(void *ctx, int64_t n, const char *id, const char *owner,
    const char *backend_id, int cancel)
{
	(void)ctx;
	(void)n;
	(void)id;
	(void)owner;
	(void)backend_id;
	(void)cancel;
}

static void
fz_stats(void *ctx, struct wstats *out)
{
	(void)ctx;
	memset(out, 0, sizeof *out);
}

static json_t *
fz_workers(void *ctx)
{
	(void)ctx;
	return json_array();
}

static void
fz_metrics(void *ctx, struct evbuffer *b)
{
	(void)ctx;
	(void)b;
}

static int
fz_stopping(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct api_host_ops fz_ops = {
	fz_schedule, fz_drop, fz_stats, fz_workers, fz_metrics, fz_stopping
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 db[256], *cause = NULL;

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
	memset(&fz_host, 0, sizeof fz_host);
	fz_host.cfg = &fz_cfg;
	fz_host.started_ms = util_now_ms();
	fz_host.base = event_base_new();
	fz_host.ops = &fz_ops;
	if ((fz_host.st = store_open(db, &cause)) == NULL) {
		fprintf(stderr, "fuzz_api: %s\n", cause);
		abort();
	}
	if ((fz_api = api_start(&fz_host, &cause)) == NULL) {
		fprintf(stderr, "fuzz_api: %s\n", cause);
		abort();
	}
	return 0;
}

/* Run whatever is ready, without waiting, a few times over. */
static void
fz_turn(int times)
{
	int	i;

	for (i = 0; i < times; i++)
		event_base_loop(fz_host.base, EVLOOP_NONBLOCK);
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
