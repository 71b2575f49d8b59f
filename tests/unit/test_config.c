/*
 * Unit tests for lib/config.c: agentd's flags are parsed strictly, with a
 * message naming the flag, and parsing can be repeated (optind is reset).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "config.h"
#include "store.h"

static int
parse(struct agentd_config *cfg, int *worker, char **cause, ...)
{
	char	*argv[32];
	int	 argc = 0;
	va_list	 ap;

	argv[argc++] = (char *)"agentd";
	va_start(ap, cause);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	config_defaults(cfg);
	return config_parse(cfg, argc, argv, worker, cause);
}

static void
test_config_defaults(void **state)
{
	struct agentd_config	 cfg;
	char			*cause = NULL;
	int			 w;

	(void)state;
	assert_int_equal(parse(&cfg, &w, &cause, "--endpoint",
	    "http://h:1/v1", NULL), CONFIG_OK);
	assert_string_equal(cfg.endpoint, "http://h:1/v1");
	assert_string_equal(cfg.db_path, "agentd.db");
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.worker_nice, 10);
	assert_int_equal(cfg.stale_after_s, 600);
	assert_int_equal(cfg.idle_timeout_s, 60);
	assert_int_equal(cfg.poll_interval_s, 2);
	assert_int_equal(cfg.poll_max_s, 30);
	assert_int_equal(w, -1);
	assert_non_null(cfg.socket_path);
	assert_string_equal(cfg.paths.retrieve, "/responses/{id}");
}

static void
test_config_options(void **state)
{
	struct agentd_config	 cfg;
	char			*cause = NULL;
	int			 w;

	(void)state;
	assert_int_equal(parse(&cfg, &w, &cause, "-e", "https://x", "-w", "4",
	    "--stale-after", "30", "--dialect", "databricks", "--at-most-once",
	    "--path-retrieve", "/r/{id}", "--max-inflight", "5",
	    "--requests-per-minute", "120", "-s", "/tmp/s", "--worker", "3",
	    "-vv", "--worker-nice", "0", NULL), CONFIG_OK);
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.worker_nice, 0);
	assert_int_equal(cfg.stale_after_s, 30);
	assert_int_equal(cfg.dialect, DIALECT_DATABRICKS);
	assert_int_equal(cfg.at_most_once, 1);
	assert_string_equal(cfg.paths.retrieve, "/r/{id}");
	assert_int_equal(cfg.max_inflight, 5);
	assert_int_equal(cfg.requests_per_minute, 120);
	assert_string_equal(cfg.socket_path, "/tmp/s");
	assert_int_equal(w, 3);
	assert_int_equal(cfg.verbosity, 3);
	/* poll-max never below poll-interval */
	assert_int_equal(parse(&cfg, &w, &cause, "-e", "http://x",
	    "--poll-interval", "40", NULL), CONFIG_OK);
	assert_int_equal(cfg.poll_max_s, 40);
}

static void
expect_error(const char *want, ...)
{
	struct agentd_config	 cfg;
	char			*argv[16], *cause = NULL;
	int			 argc = 0, w;
	va_list			 ap;

	argv[argc++] = (char *)"agentd";
	va_start(ap, want);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, argc, argv, &w, &cause),
	    CONFIG_ERROR);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, want);
	free(cause);
}

static void
test_config_bad_input(void **state)
{
	(void)state;
	expect_error("--endpoint URL is required", NULL);
	expect_error("http:// or https://", "-e", "ftp://x", NULL);
	expect_error("--workers must be a whole number from 1 to 64, not '0'",
	    "-e", "http://x", "-w", "0", NULL);
	expect_error("not 'abc'", "-e", "http://x", "--stale-after", "abc",
	    NULL);
	expect_error("--worker-nice must be a whole number from 0 to 19, "
	    "not '20'", "-e", "http://x", "--worker-nice", "20", NULL);
	expect_error("not '-1'", "-e", "http://x", "--worker-nice", "-1",
	    NULL);
	expect_error("not '5s'", "-e", "http://x", "--idle-timeout", "5s",
	    NULL);
	expect_error("not '99999999999999999999'", "-e", "http://x",
	    "--max-body", "99999999999999999999", NULL);
	expect_error("openai or databricks", "-e", "http://x", "--dialect",
	    "x", NULL);
	expect_error("must contain {id}", "-e", "http://x", "--path-cancel",
	    "/c", NULL);
	expect_error("must start with '/'", "-e", "http://x", "--path-create",
	    "responses", NULL);
	expect_error("unknown option", "-e", "http://x", "--nope", NULL);
	expect_error("unknown option or missing value: --db", "-e", "http://x",
	    "--db", NULL);
	expect_error("unexpected argument 'extra'", "-e", "http://x", "extra",
	    NULL);
}

static void
test_config_help_version(void **state)
{
	struct agentd_config	 cfg;
	char			*cause = NULL;
	int			 w;

	(void)state;
	assert_int_equal(parse(&cfg, &w, &cause, "--help", NULL), CONFIG_HELP);
	assert_int_equal(parse(&cfg, &w, &cause, "-V", NULL), CONFIG_VERSION);
	assert_non_null(strstr(config_usage, "--stale-after"));
}

/* The store: a path or a PostgreSQL conninfo; hosts; no secret on argv. */
static void
test_config_store(void **state)
{
	struct agentd_config	 cfg;
	char			*cause = NULL;
	int			 w;

	(void)state;
	unsetenv("AGENTD_DB");
	assert_int_equal(parse(&cfg, &w, &cause, "-e", "http://h/v1", NULL),
	    CONFIG_OK);
	assert_true(config_host_id_ok(cfg.host_id));
	assert_int_equal(cfg.lease_ttl_s, 30);
	setenv("AGENTD_DB", "host=/tmp dbname=agentd password=s3cret", 1);
	/* From the environment a password is fine (not on argv). */
	assert_int_equal(parse(&cfg, &w, &cause, "-e", "http://h/v1", NULL),
	    CONFIG_OK);
	assert_string_equal(cfg.db_path,
	    "host=/tmp dbname=agentd password=s3cret");
	/* --db wins over the environment. */
	assert_int_equal(parse(&cfg, &w, &cause, "-e", "http://h/v1", "--db",
	    "x.db", "--host-id", "node-2.a_b", "--lease-ttl", "10", NULL),
	    CONFIG_OK);
	assert_string_equal(cfg.db_path, "x.db");
	assert_string_equal(cfg.host_id, "node-2.a_b");
	assert_int_equal(cfg.lease_ttl_s, 10);
	unsetenv("AGENTD_DB");
	expect_error("--db holds a password", "-e", "http://x", "--db",
	    "postgresql://agentd:s3cret@db/agentd", NULL);
	expect_error("PGPASSFILE", "-e", "http://x", "--db",
	    "host=db password=s3cret dbname=agentd", NULL);
	assert_int_equal(parse(&cfg, &w, &cause, "-e", "http://h/v1", "--db",
	    "postgresql://agentd@db/agentd?passfile=/etc/agentd/pgpass", NULL),
	    CONFIG_OK);
	expect_error("--host-id must be 1 to 63", "-e", "http://x",
	    "--host-id", "a b", NULL);
	expect_error("--host-id must be 1 to 63", "-e", "http://x",
	    "--host-id", "", NULL);
	expect_error("--lease-ttl must be a whole number from 3 to 3600",
	    "-e", "http://x", "--lease-ttl", "2", NULL);
	/* Which strings name PostgreSQL, and what a log line shows. */
	assert_true(store_is_pg("postgresql://agentd@db/agentd"));
	assert_true(store_is_pg("postgres://db/agentd"));
	assert_true(store_is_pg("host=/run/pg dbname=agentd"));
	assert_true(store_is_pg("  dbname = agentd"));
	assert_false(store_is_pg("agentd.db"));
	assert_false(store_is_pg("/var/lib/agentd/agentd.db"));
	assert_false(store_is_pg("./a=b.db"));
	{
		char	*d = store_describe("host=db user=agentd password=s3cret "
		    "dbname=agentd");

		assert_null(strstr(d, "s3cret"));
		assert_non_null(strstr(d, "dbname=agentd"));
		free(d);
		d = store_describe("postgresql://agentd:s3cret@db:5433/agentd");
		assert_null(strstr(d, "s3cret"));
		assert_non_null(strstr(d, "port=5433"));
		free(d);
		d = store_describe("agentd.db");
		assert_string_equal(d, "agentd.db");
		free(d);
	}
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_options),
		cmocka_unit_test(test_config_bad_input),
		cmocka_unit_test(test_config_store),
		cmocka_unit_test(test_config_help_version),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
