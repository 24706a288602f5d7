/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_offsets.c - `ksink offsets` (src/offsets.c): its
 * arguments, TOPIC:PARTITION=OFFSET and every bad form of it, and the
 * command itself on librdkafka's mock cluster with the sqlite plugin of
 * the build tree (the mock cluster is enough here: no transaction is
 * involved).  tests/e2e/offsets.test runs it against a real broker.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "offsets.h"
#include "testing.h"
#include "util.h"

#define assert_contains(s, sub) do { \
	if (strstr((s), (sub)) == NULL) \
		fail_msg("\"%s\" does not contain \"%s\"", (s), (sub)); \
} while (0)

/* ---- TOPIC:PARTITION=OFFSET ---- */

static void
spec_ok(const char *s, const char *topic, int32_t partition, int64_t offset)
{
	struct ks_offsets_spec sp;
	char err[512] = "";

	if (ks_offsets_parse_spec(s, &sp, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s", s, err);
	assert_string_equal(sp.topic, topic);
	assert_int_equal(sp.partition, partition);
	assert_int_equal(sp.offset, offset);
	free(sp.topic);
}

static void
spec_bad(const char *s, const char *why)
{
	struct ks_offsets_spec sp;
	char err[1024] = "";

	if (ks_offsets_parse_spec(s, &sp, err, sizeof(err)) == 0) {
		free(sp.topic);
		fail_msg("%s accepted", s);
	}
	assert_null(sp.topic);
	assert_contains(err, s);
	assert_contains(err, why);
}

static void
test_spec_good(void **state)
{
	char topic[250], arg[300];

	(void)state;
	spec_ok("t:0=5", "t", 0, 5);
	spec_ok("orders.v2_eu-1:12=0", "orders.v2_eu-1", 12, 0);
	spec_ok("t:3=none", "t", 3, KS_OFFSETS_TO_NONE);
	spec_ok("t:3=earliest", "t", 3, KS_OFFSETS_TO_EARLIEST);
	spec_ok("t:3=latest", "t", 3, KS_OFFSETS_TO_LATEST);
	spec_ok("t:2147483647=9223372036854775807", "t", INT32_MAX,
	    INT64_MAX);
	memset(topic, 'a', 249);
	topic[249] = '\0';
	snprintf(arg, sizeof(arg), "%s:1=2", topic);
	spec_ok(arg, topic, 1, 2);
}

static void
test_spec_bad(void **state)
{
	char arg[300];

	(void)state;
	spec_bad("t:0", "expected earliest, latest or TOPIC:PARTITION=OFFSET");
	spec_bad("t", "expected");
	spec_bad("t0=5", "no partition");
	spec_bad(":0=5", "not a Kafka topic name");
	spec_bad("a/b:0=5", "\"a/b\" is not a Kafka topic name");
	spec_bad("a:b:0=5", "\"a:b\" is not a Kafka topic name");
	spec_bad(".:0=5", "not a Kafka topic name");
	spec_bad("..:0=5", "not a Kafka topic name");
	spec_bad("t:=5", "partition missing");
	spec_bad("t:x=5", "partition \"x\" is not a number");
	spec_bad("t:-1=5", "partition \"-1\" is not a number");
	spec_bad("t:+1=5", "partition \"+1\" is not a number");
	spec_bad("t:2147483648=5", "is not a number from 0 to 2147483647");
	spec_bad("t:0=", "offset \"\" is not a number");
	spec_bad("t:0=-1", "offset \"-1\" is not a number from 0");
	spec_bad("t:0=+5", "offset \"+5\"");
	spec_bad("t:0= 5", "offset \" 5\"");
	spec_bad("t:0=5x", "offset \"5x\"");
	spec_bad("t:0=99999999999999999999", "offset");
	spec_bad("t:0=NONE", "nor none, earliest or latest");
	memset(arg, 'a', 250);
	strcpy(arg + 250, ":0=1");
	spec_bad(arg, "not a Kafka topic name");
}

/* ---- the command line ---- */

static int
parse(struct ks_offsets_args *a, char *err, size_t len, ...)
{
	char *argv[32];
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = (char *)"offsets";
	va_start(ap, len);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	rc = ks_offsets_parse_args(argc, argv, a, err, len);
	return rc;
}

static void
test_args_good(void **state)
{
	struct ks_offsets_args a;
	char err[512];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), "-c", "k.ini", "conn",
	    NULL), 0);
	assert_string_equal(a.config, "k.ini");
	assert_string_equal(a.connector, "conn");
	assert_int_equal(a.mode, KS_OFFSETS_LIST);
	assert_false(a.json || a.dry_run || a.force);
	ks_offsets_args_free(&a);

	/* Options after the connector, --config=, --json. */
	assert_int_equal(parse(&a, err, sizeof(err), "conn", "--config=k.ini",
	    "--json", NULL), 0);
	assert_string_equal(a.config, "k.ini");
	assert_true(a.json);
	ks_offsets_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "-c", "k.ini", "conn",
	    "--reset", "earliest", "--dry-run", NULL), 0);
	assert_int_equal(a.mode, KS_OFFSETS_EARLIEST);
	assert_true(a.dry_run);
	ks_offsets_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "-c", "k.ini",
	    "--reset=latest", "--force", "conn", NULL), 0);
	assert_int_equal(a.mode, KS_OFFSETS_LATEST);
	assert_true(a.force);
	ks_offsets_args_free(&a);

	/* Several partitions: a comma list, and --reset again. */
	assert_int_equal(parse(&a, err, sizeof(err), "-c", "k.ini", "conn",
	    "--reset", "a:0=1,a:1=none", "--reset", "b:0=latest", NULL), 0);
	assert_int_equal(a.mode, KS_OFFSETS_EXPLICIT);
	assert_int_equal(a.nspecs, 3);
	assert_string_equal(a.specs[0].topic, "a");
	assert_int_equal(a.specs[0].offset, 1);
	assert_int_equal(a.specs[1].partition, 1);
	assert_int_equal(a.specs[1].offset, KS_OFFSETS_TO_NONE);
	assert_string_equal(a.specs[2].topic, "b");
	assert_int_equal(a.specs[2].offset, KS_OFFSETS_TO_LATEST);
	ks_offsets_args_free(&a);

	assert_int_equal(parse(&a, err, sizeof(err), "--help", NULL), 0);
	assert_true(a.help);
	ks_offsets_args_free(&a);
}

static void
args_bad(const char *why, ...)
{
	struct ks_offsets_args a;
	char *argv[32], err[512] = "";
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"offsets";
	va_start(ap, why);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	if (ks_offsets_parse_args(argc, argv, &a, err, sizeof(err)) == 0)
		fail_msg("accepted; expected: %s", why);
	ks_offsets_args_free(&a);
	assert_contains(err, why);
}

static void
test_args_bad(void **state)
{
	(void)state;
	args_bad("-c FILE is required", "conn", NULL);
	args_bad("which connector?", "-c", "k.ini", NULL);
	args_bad("one connector at a time: a and b", "-c", "k.ini", "a", "b",
	    NULL);
	args_bad("option -c needs a value", "conn", "-c", NULL);
	args_bad("option --reset needs a value", "-c", "k.ini", "conn",
	    "--reset", NULL);
	args_bad("unknown option --bogus", "-c", "k.ini", "conn", "--bogus",
	    NULL);
	args_bad("unknown option -x", "-c", "k.ini", "-x", "conn", NULL);
	args_bad("--dry-run only goes with --reset", "-c", "k.ini", "conn",
	    "--dry-run", NULL);
	args_bad("--force only goes with --reset", "-c", "k.ini", "conn",
	    "--force", NULL);
	args_bad("--reset latest applies to every partition", "-c", "k.ini",
	    "conn", "--reset", "latest", "--reset", "t:0=1", NULL);
	args_bad("--reset earliest applies to every partition", "-c",
	    "k.ini", "conn", "--reset", "t:0=1", "--reset", "earliest", NULL);
	args_bad("--reset latest applies to every partition", "-c", "k.ini",
	    "conn", "--reset", "latest", "--reset", "latest", NULL);
	args_bad("t:0 is given twice", "-c", "k.ini", "conn", "--reset",
	    "t:0=1", "--reset", "t:0=none", NULL);
	args_bad("t:0 is given twice", "-c", "k.ini", "conn", "--reset",
	    "t:0=1,t:0=2", NULL);
	args_bad("names no partition", "-c", "k.ini", "conn", "--reset", ",",
	    NULL);
	args_bad("--reset t:x=1: partition", "-c", "k.ini", "conn",
	    "--reset", "t:x=1", NULL);
}

/* ---- the command on a mock cluster ---- */

static char tmpdir[256];
static char conf_path[512];
static char out_path[512];
static char err_path[512];
static char *out, *err;
static rd_kafka_t *mrk;
static rd_kafka_mock_cluster_t *mc;

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* Runs ks_offsets_main() with stdout and stderr in files. */
static int
cmd(const char *first, ...)
{
	char *argv[32];
	va_list ap;
	int argc = 0, rc, o, e, so, se;

	argv[argc++] = (char *)"offsets";
	argv[argc++] = (char *)"-c";
	argv[argc++] = conf_path;
	argv[argc++] = (char *)first;
	va_start(ap, first);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(o, 1);
	dup2(e, 2);
	rc = ks_offsets_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(o);
	close(e);
	close(so);
	close(se);
	free(out);
	free(err);
	out = slurp(out_path);
	err = slurp(err_path);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "exit %d\nstdout:\n%s\nstderr:\n%s\n", rc, out,
		    err);
	return rc;
}

static void
write_conf(const char *type, const char *extra)
{
	FILE *fp = fopen(conf_path, "w");

	assert_non_null(fp);
	fprintf(fp, "[kafka]\nbootstrap.servers = %s\n"
	    "[connector conn]\ntype = %s\ntopics = orders, ^audit\\..*\n%s\n",
	    rd_kafka_mock_cluster_bootstraps(mc), type, extra);
	fclose(fp);
}

/* Writes n records to partition p of topic. */
static void
produce(const char *topic, int32_t p, int n)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char e[256];
	rd_kafka_t *rk;
	int i;

	assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers",
	    rd_kafka_mock_cluster_bootstraps(mc), e, sizeof(e)),
	    RD_KAFKA_CONF_OK);
	assert_non_null(rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e,
	    sizeof(e)));
	for (i = 0; i < n; i++)
		assert_int_equal(rd_kafka_producev(rk,
		    RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
		    RD_KAFKA_V_VALUE((void *)"x", 1), RD_KAFKA_V_END), 0);
	assert_int_equal(rd_kafka_flush(rk, 10000), 0);
	rd_kafka_destroy(rk);
}

static int
mock_setup(void **state)
{
	rd_kafka_conf_t *c;
	char e[256];

	(void)state;
	if (getenv("KSINK_PLUGIN_DIR") == NULL)
		setenv("KSINK_PLUGIN_DIR", "connectors/.libs", 1);
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_offsets.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/k.ini", tmpdir);
	snprintf(out_path, sizeof(out_path), "%s/out", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/err", tmpdir);
	c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "log_level", "0", e, sizeof(e));
	if ((mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e))) == NULL)
		return -1;
	mc = rd_kafka_mock_cluster_new(mrk, 1);
	rd_kafka_mock_topic_create(mc, "orders", 3, 1);
	rd_kafka_mock_topic_create(mc, "audit.eu", 1, 1);
	rd_kafka_mock_topic_create(mc, "auditing", 1, 1);
	rd_kafka_mock_topic_create(mc, "other", 1, 1);
	produce("orders", 0, 10);
	produce("orders", 1, 4);
	produce("audit.eu", 0, 7);
	return 0;
}

static int
mock_teardown(void **state)
{
	char cmdline[600];

	(void)state;
	free(out);
	free(err);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mrk);
	snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", tmpdir);
	return system(cmdline) == 0 ? 0 : -1;
}

static int
have_sqlite(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/sqlite.so",
	    getenv("KSINK_PLUGIN_DIR"));
	return access(path, R_OK) == 0;
}

static void
test_cmd_list_and_reset(void **state)
{
	char extra[600];

	(void)state;
	if (!have_sqlite())
		skip();
	snprintf(extra, sizeof(extra), "sqlite.path = %s/s.db", tmpdir);
	write_conf("sqlite", extra);

	/* Nothing stored yet; the regex takes audit.eu, not auditing. */
	assert_int_equal(cmd("conn", "--json", NULL), 0);
	assert_contains(out, "\"connector\":\"conn\",\"sink\":\"sqlite\"");
	assert_contains(out, "\"group\":{\"id\":\"ksink-conn\"");
	assert_contains(out, "{\"topic\":\"audit.eu\",\"partition\":0,"
	    "\"stored\":null,\"low\":0,\"high\":7,\"lag\":null}");
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
	    "\"stored\":null,\"low\":0,\"high\":10,\"lag\":null}");
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":2,"
	    "\"stored\":null,\"low\":0,\"high\":0,\"lag\":null}");
	assert_null(strstr(out, "auditing"));
	assert_null(strstr(out, "other"));

	/* librdkafka's mock cluster of 2.0 cannot describe groups: whether
	 * the connector runs is unknown, and a reset needs --force. */
	if (strstr(out, "\"state\":null") != NULL) {
		assert_int_equal(cmd("conn", "--reset", "latest", NULL), 1);
		assert_contains(err, "cannot tell whether connector conn is "
		    "running: consumer group ksink-conn: ");
		assert_contains(err, "when you know that no worker runs it, "
		    "add --force");
		assert_int_equal(cmd("conn", "--json", NULL), 0);
		assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
		    "\"stored\":null");
	}

	/* Bad targets, found before anything changes. */
	assert_int_equal(cmd("conn", "--force", "--reset", "orders:7=1",
	    NULL), 1);
	assert_contains(err, "--reset orders:7: topic orders has partitions "
	    "0 to 2 only");
	assert_int_equal(cmd("conn", "--force", "--reset", "other:0=0",
	    NULL), 1);
	assert_contains(err, "other is not one of the connector's topics");
	assert_int_equal(cmd("conn", "--force", "--reset", "orders:1=5",
	    NULL), 1);
	assert_contains(err, "orders:1=5: outside the partition's offsets "
	    "0 (low watermark) to 4 (high)");

	/* --dry-run shows and changes nothing. */
	assert_int_equal(cmd("conn", "--force", "--dry-run", "--reset",
	    "orders:0=3,audit.eu:0=latest", NULL), 0);
	assert_contains(out, "dry run: nothing was changed");
	assert_int_equal(cmd("conn", "--json", NULL), 0);
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
	    "\"stored\":null");

	/* One step: two partitions set, then one of them lowered. */
	assert_int_equal(cmd("conn", "--force", "--json", "--reset",
	    "orders:0=3,audit.eu:0=latest", NULL), 0);
	assert_contains(out, "\"reset\":true,\"dry_run\":false");
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
	    "\"before\":null,\"after\":3,\"low\":0,\"high\":10,\"lag\":7}");
	assert_contains(out, "{\"topic\":\"audit.eu\",\"partition\":0,"
	    "\"before\":null,\"after\":7,\"low\":0,\"high\":7,\"lag\":0}");
	assert_int_equal(cmd("conn", "--force", "--json", "--reset",
	    "orders:0=earliest", NULL), 0);
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
	    "\"before\":3,\"after\":0,");
	assert_contains(out, "{\"topic\":\"audit.eu\",\"partition\":0,"
	    "\"before\":7,\"after\":7,");

	/* latest everywhere, then a partition forgotten. */
	assert_int_equal(cmd("conn", "--force", "--reset", "latest", NULL), 0);
	assert_contains(out, "reset 4 partitions in one step of sink sqlite");
	assert_int_equal(cmd("conn", "--force", "--json", "--reset",
	    "orders:1=none", NULL), 0);
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":1,"
	    "\"before\":4,\"after\":null,");

	/* The table. */
	assert_int_equal(cmd("conn", NULL), 0);
	assert_contains(out, "connector conn: sink sqlite, consumer group "
	    "ksink-conn");
	assert_contains(out, "TOPIC     PARTITION  STORED  LOW  HIGH  LAG\n"
	    "audit.eu          0       7    0     7    0\n"
	    "orders            0      10    0    10    0\n"
	    "orders            1       -    0     4    -\n"
	    "orders            2       0    0     0    0\n");

	/* librdkafka's topic.blacklist hides topics from the connector. */
	snprintf(extra, sizeof(extra), "sqlite.path = %s/s.db\n"
	    "kafka.topic.blacklist = ^audit", tmpdir);
	write_conf("sqlite", extra);
	assert_int_equal(cmd("conn", NULL), 0);
	assert_null(strstr(out, "audit.eu"));
	assert_contains(out, "orders          2       0");
}

/* The file sink: its manifest lock keeps the command out while another
 * process writes the files; then a reset. */
static void
test_cmd_file_sink(void **state)
{
	char extra[600], lock[600], path[4096];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/file.so", getenv("KSINK_PLUGIN_DIR"));
	if (access(path, R_OK) != 0)
		skip();
	snprintf(extra, sizeof(extra), "file.path = %s/out.log", tmpdir);
	write_conf("file", extra);
	snprintf(lock, sizeof(lock), "%s/ksink-conn.manifest.lock", tmpdir);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(cmd("conn", NULL), 1);
	assert_contains(err, "connector conn: sink file cannot open: "
	    "manifest");
	assert_contains(err, "is locked");
	close(fd);

	assert_int_equal(cmd("conn", "--force", "--json", "--reset",
	    "orders:0=2,orders:1=earliest", NULL), 0);
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
	    "\"before\":null,\"after\":2,");
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":1,"
	    "\"before\":null,\"after\":0,");
	assert_int_equal(cmd("conn", "--force", "--json", "--reset",
	    "orders:0=none", NULL), 0);
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":0,"
	    "\"before\":2,\"after\":null,");
	assert_contains(out, "{\"topic\":\"orders\",\"partition\":1,"
	    "\"before\":0,\"after\":0,");
}

static void
test_cmd_errors(void **state)
{
	char extra[600], type[4096];
	const char *fixtures = getenv("KSINK_FIXTURE_DIR");

	(void)state;
	/* A configuration error: exit 78, as ksink -t. */
	write_conf("sqlite", "sqlite.nope = 1");
	assert_int_equal(cmd("conn", NULL), 78);
	assert_contains(err, "sqlite.nope");
	/* A connector that is not there: a usage error. */
	snprintf(extra, sizeof(extra), "sqlite.path = %s/s.db", tmpdir);
	write_conf("sqlite", extra);
	if (have_sqlite()) {
		assert_int_equal(cmd("nope", NULL), 64);
		assert_contains(err, "has no [connector nope]; its connectors: "
		    "conn");
	}
	/* Usage errors. */
	assert_int_equal(cmd("conn", "--reset", "t:0", NULL), 64);
	assert_contains(err, "expected earliest, latest or "
	    "TOPIC:PARTITION=OFFSET");
	/* A plugin of ABI 1.0 cannot reset: said before Kafka is asked. */
	if (fixtures == NULL)
		return;
	snprintf(type, sizeof(type), "%s/good.so\ngood.path = /nowhere",
	    fixtures);
	write_conf(type, "");
	assert_int_equal(cmd("conn", "--reset", "latest", NULL), 1);
	assert_contains(err, "sink good");
	assert_contains(err, "does not support resetting offsets");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_good),
		cmocka_unit_test(test_spec_bad),
		cmocka_unit_test(test_args_good),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_cmd_list_and_reset),
		cmocka_unit_test(test_cmd_file_sink),
		cmocka_unit_test(test_cmd_errors),
	};

	return cmocka_run_group_tests_name("offsets", tests, mock_setup,
	    mock_teardown);
}
