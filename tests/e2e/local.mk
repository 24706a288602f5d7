# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e: end-to-end tests of the daemon against a real Kafka broker.
# Each test checks the sink against tests/kafka/oracle, a read_committed
# reading of its input topic.

E2E_SQLITE_TESTS = \
	tests/e2e/sqlite-kill.test \
	tests/e2e/sqlite-two-workers.test
TESTS += $(E2E_SQLITE_TESTS)
KAFKA_TESTS += $(E2E_SQLITE_TESTS)
dist_check_SCRIPTS += $(E2E_SQLITE_TESTS) tests/e2e/check_sqlite.py
EXTRA_DIST += tests/e2e/sqlite-common.sh

# The admin endpoint and `ksink status`.
TESTS += tests/e2e/admin.test
KAFKA_TESTS += tests/e2e/admin.test
dist_check_SCRIPTS += tests/e2e/admin.test

# `ksink offsets`: listing and resetting a sink's offsets, checked by what
# the sink applies next; its argument parsing in a unit test.
TESTS += tests/e2e/offsets.test
KAFKA_TESTS += tests/e2e/offsets.test
dist_check_SCRIPTS += tests/e2e/offsets.test tests/e2e/check_offsets.py

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_offsets
TESTS += tests/unit/test_offsets
tests_unit_test_offsets_SOURCES = tests/unit/test_offsets.c
tests_unit_test_offsets_CPPFLAGS = $(src_libksink_a_CPPFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_offsets_LDADD = $(KSINK_CORE_LIBS) $(CMOCKA_LIBS)
endif

# Poison records and the dead letter queue.
TESTS += tests/e2e/dlq.test
KAFKA_TESTS += tests/e2e/dlq.test
dist_check_SCRIPTS += tests/e2e/dlq.test

# The fetch waker keeps librdkafka < 2.2 fetching; none when idle.
TESTS += tests/e2e/fetch-waker.test
KAFKA_TESTS += tests/e2e/fetch-waker.test
dist_check_SCRIPTS += tests/e2e/fetch-waker.test

# SIGTERM before the first assignment under cooperative-sticky
# (librdkafka #4312 on releases before 2.3.0).
TESTS += tests/e2e/coop-sigterm.test
KAFKA_TESTS += tests/e2e/coop-sigterm.test
dist_check_SCRIPTS += tests/e2e/coop-sigterm.test

# An assignment that comes while a cooperative worker stops
# (librdkafka #4527; tests/kafka/LIBRDKAFKA.md).
TESTS += tests/e2e/coop-close-assign.test
KAFKA_TESTS += tests/e2e/coop-close-assign.test
dist_check_SCRIPTS += tests/e2e/coop-close-assign.test

# The daemon under valgrind's memcheck for a whole run.
TESTS += tests/e2e/valgrind.test
KAFKA_TESTS += tests/e2e/valgrind.test
dist_check_SCRIPTS += tests/e2e/valgrind.test
