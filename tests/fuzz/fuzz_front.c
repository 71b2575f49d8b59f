/*
 * libFuzzer target for the Responses front's request handling. Each input
 * goes first to the pure parsers of front-req.c and front-listen.c (the
 * POST body, the GET query, response ids, Idempotency-Key, the bearer
 * token), whose answers are checked against what they promise; then, as
 * raw HTTP bytes, to the real server in this process (no workers, as in
 * fuzz_api.c): on the Unix socket, or on the --listen TCP socket behind
 * the token, chosen by the first byte. "resp_X" in an input stands for
 * the last response id the server handed out, so GET, cancel and DELETE
 * reach real runs.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "fuzz-host.h"
#include "api-internal.h"
#include "config.h"
#include "front-req.h"
#include "log.h"
#include "store.h"
#include "stats.h"
#include "util.h"

#define FZ_TOKEN	"fuzz-token-0123456789"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct agentd_config	 fz_cfg;
static struct api_host		 fz_host;
static struct api		*fz_api;
static char			 fz_dir[] = "/tmp/agentd-fuzz-front-XXXXXX";
static char			 fz_sock[256];
static char			 fz_listen[64];
static int			 fz_port;
static char			 fz_last[64] = "resp_0123456789abcdef";

/* A free TCP port on 127.0.0.1 (bound and closed: racy, fine here). */
static int
fz_free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof sin;
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		abort();
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

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
	fz_port = fz_free_port();
	snprintf(fz_listen, sizeof fz_listen, "127.0.0.1:%d", fz_port);
	config_defaults(&fz_cfg);
	fz_cfg.endpoint = "http://127.0.0.1:9/v1";
	fz_cfg.db_path = strdup(db);
	fz_cfg.socket_path = fz_sock;
	fz_cfg.max_body = 64 * 1024;
	fz_cfg.max_conns = 64;
	fz_cfg.listen = fz_listen;
	fz_cfg.front_token = strdup(FZ_TOKEN);
	fz_api = fz_host_start("fuzz_front", &fz_cfg, &fz_host);
	return 0;
}

/* Run whatever is ready, without waiting, a few times over. */
static void
fz_turn(int times)
{
	fz_host_turn(&fz_host, times);
}

/* An allocated NUL-terminated copy of p (n bytes). */
static char *
fz_str(const uint8_t *p, size_t n)
{
	char	*s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* What front_token_ok must answer for auth (want is FZ_TOKEN). */
static int
fz_token_want(const char *auth)
{
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return strcmp(auth, FZ_TOKEN) == 0;
}

/* The pure parsers on the input, checked against their contracts. */
static void
fz_pure(const uint8_t *data, size_t size)
{
	struct front_create_req	 cr;
	struct front_req_error	 err;
	const uint8_t		*nl;
	char			*a, *b, id[32];
	int64_t			 after;
	int			 stream;
	size_t			 n;

	if (front_req_create((const char *)data, size, &cr, &err) == 0) {
		if (!json_is_object(cr.body) || (cr.stream != 0 &&
		    cr.stream != 1) || (cr.background != 0 &&
		    cr.background != 1))
			abort();
		if (cr.previous != NULL && strcmp(cr.previous,
		    json_string_value(json_object_get(cr.body,
		    "previous_response_id"))) != 0)
			abort();
		json_decref(cr.body);
	} else if (cr.body != NULL || memchr(err.message, '\0',
	    sizeof err.message) == NULL || err.message[0] == '\0')
		abort();

	/* Two strings: up to the first newline, and the rest. */
	nl = memchr(data, '\n', size);
	n = nl != NULL ? (size_t)(nl - data) : size;
	a = fz_str(data, n);
	b = fz_str(nl != NULL ? nl + 1 : data + size,
	    nl != NULL ? size - n - 1 : 0);
	if (front_req_get(a, b, &stream, &after, &err) == 0) {
		if (after < -1 || (stream != 0 && stream != 1))
			abort();
	} else if (err.param == NULL)
		abort();
	if (front_run_id(a, id, sizeof id) == 0) {
		if (strncmp(a, "resp_", 5) != 0 || strncmp(id, "r_", 2) != 0 ||
		    strcmp(id + 2, a + 5) != 0 || strlen(a) < 6)
			abort();
	}
	front_req_key(a, &err);
	if (front_token_ok(FZ_TOKEN, a) != fz_token_want(a))
		abort();
	free(a);
	free(b);
}

/* The input with every "resp_X" replaced by the last id handed out. */
static uint8_t *
fz_subst(const uint8_t *data, size_t size, size_t *outlen)
{
	size_t	 i, o = 0, ll = strlen(fz_last), cap = size * (ll + 1) + 1;
	uint8_t	*out = malloc(cap);

	if (out == NULL)
		abort();
	for (i = 0; i < size; i++) {
		if (size - i >= 6 && memcmp(data + i, "resp_X", 6) == 0) {
			memcpy(out + o, fz_last, ll);
			o += ll;
			i += 5;
		} else
			out[o++] = data[i];
	}
	*outlen = o;
	return out;
}

/* Remember a response id the server answered, for later inputs. */
static void
fz_learn(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;
	size_t		 n;

	while ((p = memmem(p, (size_t)(end - p), "resp_", 5)) != NULL) {
		for (n = 5; p + n < end && n < 40 && strchr("0123456789abcdef",
		    p[n]) != NULL && p[n] != '\0'; n++)
			;
		if (n == 21) {
			memcpy(fz_last, p, n);
			fz_last[n] = '\0';
			return;
		}
		p += 5;
	}
}

/* Connect to the Unix socket (tcp 0) or the TCP front; -1 on failure. */
static int
fz_connect(int tcp)
{
	struct sockaddr_un	sun;
	struct sockaddr_in	sin;
	int			fd, rc;

	if (tcp) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)fz_port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
	} else {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fz_sock);
		rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	}
	if (rc != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 buf[65536];
	uint8_t		*in;
	size_t		 off = 0, len;
	ssize_t		 n;
	int		 fd, i, got = 0, quiet = 0;

	if (size == 0 || size > 200000)
		return 0;
	fz_pure(data + 1, size - 1);
	/*
	 * The first byte: bit 0 half-closes after writing, bit 1 picks TCP,
	 * bit 2 keeps it to the parsers.
	 */
	if (data[0] & 4)
		return 0;
	if ((fd = fz_connect(data[0] & 2)) < 0) {
		fz_turn(1);
		return 0;
	}
	in = fz_subst(data + 1, size - 1, &len);
	for (i = 0; i < 200 && off < len; i++) {
		n = write(fd, in + off, len - off);
		if (n > 0)
			off += (size_t)n;
		fz_turn(2);
	}
	free(in);
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
			fz_learn(buf, (size_t)n);
		} else if (got && ++quiet > 2)
			break;
	}
	close(fd);
	fz_turn(1);
	return 0;
}
