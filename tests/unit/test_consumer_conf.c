/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_consumer_conf.c - the librdkafka properties of a
 * connector (src/consumer.c, ks_consumer_conf()): the keys of [kafka]
 * and kafka.* of a connector, the settings ksink forces, its defaults
 * (the prefetch budget shared by the connectors, fetch.wait.max.ms) and
 * what it refuses.  Files are read from memory as in test_conf.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "consumer.h"
#include "options.h"

#include "conf-fx.h"

/* ---- librdkafka properties ---- */

static void
test_kafka_properties_ok(void **state)
{
	struct parsed p;
	rd_kafka_conf_t *rkc;
	char buf[256];
	size_t len;
	int reset = -1, i;

	(void)state;
	parse(&p,
	    "[kafka]\n"
	    "bootstrap.servers = h:1\n"
	    "isolation.level = read_committed\n"
	    "enable.auto.commit = false\n"
	    "enable.auto.offset.store = no\n"
	    "[connector c]\n"
	    "kafka.auto.offset.reset = latest\n"
	    "kafka.fetch.max.bytes = 1048576\n"
	    "kafka.group.id = mine\n");
	rkc = ks_consumer_conf(p.conf, section(p.conf, KS_SEC_CONNECTOR, "c"),
	    &reset, &p.errs);
	assert_problems(&p.errs, 0);
	assert_non_null(rkc);
	assert_int_equal(reset, KS_RESET_LATEST);
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "isolation.level", buf, &len),
	    RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "read_committed");
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "enable.auto.commit", buf,
	    &len), RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "false");
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "group.id", buf, &len),
	    RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "mine");
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "fetch.max.bytes", buf, &len),
	    RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "1048576");
	rd_kafka_conf_destroy(rkc);
	done(&p);

	/* A Fetch of partitions with nothing new holds back the others
	 * for fetch.wait.max.ms: ksink's default is 100 ms, not 500; a
	 * connector may set its own. */
	parse(&p, "[connector a]\n[connector b]\n"
	    "kafka.fetch.wait.max.ms = 250\n");
	for (i = 0; i < 2; i++) {
		rkc = ks_consumer_conf(p.conf, section(p.conf,
		    KS_SEC_CONNECTOR, i == 0 ? "a" : "b"), &reset, &p.errs);
		assert_non_null(rkc);
		len = sizeof(buf);
		assert_int_equal(rd_kafka_conf_get(rkc, "fetch.wait.max.ms",
		    buf, &len), RD_KAFKA_CONF_OK);
		assert_string_equal(buf, i == 0 ? "100" : "250");
		rd_kafka_conf_destroy(rkc);
	}
	done(&p);

	/* The prefetch bounds are one budget shared by the connectors, a
	 * quarter each at least; a connector's own setting wins. */
	for (i = 0; i < 4; i++) {
		static const char *const confs[] = {
			"[connector a]\n",
			"[connector a]\n[connector b]\n",
			"[connector a]\n[connector b]\n[connector c]\n"
			    "[connector d]\n[connector e]\n",
			"[connector a]\nkafka.queued.min.messages = 1000\n"
			    "[connector b]\n",
		};
		static const char *const want[][2] = {
			{ "30000", "8192" }, { "15000", "4096" },
			{ "7500", "2048" }, { "1000", "4096" },
		};

		parse(&p, confs[i]);
		rkc = ks_consumer_conf(p.conf, section(p.conf,
		    KS_SEC_CONNECTOR, "a"), &reset, &p.errs);
		assert_non_null(rkc);
		len = sizeof(buf);
		assert_int_equal(rd_kafka_conf_get(rkc, "queued.min.messages",
		    buf, &len), RD_KAFKA_CONF_OK);
		assert_string_equal(buf, want[i][0]);
		len = sizeof(buf);
		assert_int_equal(rd_kafka_conf_get(rkc,
		    "queued.max.messages.kbytes", buf, &len), RD_KAFKA_CONF_OK);
		assert_string_equal(buf, want[i][1]);
		rd_kafka_conf_destroy(rkc);
		done(&p);
	}

	/* Defaults: group ksink-NAME, the forced settings, earliest. */
	parse(&p, "[connector name]\n");
	rkc = ks_consumer_conf(p.conf, section(p.conf, KS_SEC_CONNECTOR,
	    "name"), &reset, &p.errs);
	assert_non_null(rkc);
	assert_int_equal(reset, KS_RESET_EARLIEST);
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "group.id", buf, &len),
	    RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "ksink-name");
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "isolation.level", buf, &len),
	    RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "read_committed");
	len = sizeof(buf);
	assert_int_equal(rd_kafka_conf_get(rkc, "enable.auto.offset.store",
	    buf, &len), RD_KAFKA_CONF_OK);
	assert_string_equal(buf, "false");
	rd_kafka_conf_destroy(rkc);
	done(&p);

	parse(&p, "[connector c]\nkafka.auto.offset.reset = error\n");
	assert_int_equal(consumer(&p, "c", &reset), 0);
	assert_int_equal(reset, KS_RESET_ERROR);
	done(&p);
}

static void
test_kafka_properties_bad(void **state)
{
	struct parsed p;
	int reset;

	(void)state;
	parse(&p,
	    "[kafka]\n"
	    "bootstrap.server = h:1\n"
	    "fetch.max.bytes = lots\n"
	    "isolation.level = read_uncommitted\n"
	    "enable.auto.commit = true\n"
	    "fetch.max.bytes = 1\n"
	    "group.id = everyone\n"
	    "[connector c]\n"
	    "kafka.enable.auto.offset.store = true\n"
	    "kafka.session.timeout.ms = -5\n"
	    "kafka.isolation.level = read_uncommitted\n"
	    "kafka.no.such.property = 1\n");
	assert_int_equal(consumer(&p, "c", &reset), -1);
	assert_problem(&p.errs, 2, "bootstrap.server");
	assert_problem(&p.errs, 3, "fetch.max.bytes");
	assert_problem(&p.errs, 4, "isolation.level = read_uncommitted is "
	    "refused");
	assert_problem(&p.errs, 5, "enable.auto.commit = true is refused");
	assert_problem(&p.errs, 6, "key \"fetch.max.bytes\" given again "
	    "(first at line 3)");
	/* One group per connector: not in [kafka]. */
	assert_problem(&p.errs, 7, "group.id in [kafka]");
	assert_problem(&p.errs, 9, "kafka.enable.auto.offset.store = true is "
	    "refused");
	assert_problem(&p.errs, 10, "kafka.session.timeout.ms");
	assert_problem(&p.errs, 11, "kafka.isolation.level = "
	    "read_uncommitted is refused");
	assert_problem(&p.errs, 12, "kafka.no.such.property");
	assert_problems(&p.errs, 10);
	done(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kafka_properties_ok),
		cmocka_unit_test(test_kafka_properties_bad),
	};

	return cmocka_run_group_tests_name("consumer_conf", tests, NULL,
	    NULL);
}
