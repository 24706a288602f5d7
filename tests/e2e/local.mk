# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e: end-to-end tests of the daemon against a real Kafka broker.
# Each test checks the sink against tests/kafka/oracle, a read_committed
# reading of its input topic.

E2E_SQLITE_TESTS = \
	tests/e2e/sqlite-kill.test \
	tests/e2e/sqlite-two-workers.test
KAFKA_TESTS += $(E2E_SQLITE_TESTS)
dist_check_SCRIPTS += tests/e2e/check_sqlite.py
EXTRA_DIST += tests/e2e/sqlite-common.sh

# The SQLite sink's table mapping through SIGKILLs, against the oracle's
# last value per key.
KAFKA_TESTS += tests/e2e/sqlite-mapping.test
dist_check_SCRIPTS += tests/e2e/check_mapping.py

# The admin endpoint and `ksink status`.
KAFKA_TESTS += tests/e2e/admin.test

# `ksink offsets`: listing and resetting a sink's offsets, checked by what
# the sink applies next; its argument parsing in a unit test.
KAFKA_TESTS += tests/e2e/offsets.test
dist_check_SCRIPTS += tests/e2e/check_offsets.py

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_offsets
TESTS += tests/unit/test_offsets
tests_unit_test_offsets_SOURCES = tests/unit/test_offsets.c
tests_unit_test_offsets_CPPFLAGS = $(src_libksink_a_CPPFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_offsets_LDADD = $(KSINK_CORE_LIBS) $(CMOCKA_LIBS)
endif

# Poison records and the dead letter queue.
KAFKA_TESTS += tests/e2e/dlq.test

# The fetch waker keeps librdkafka < 2.2 fetching; none when idle.
KAFKA_TESTS += tests/e2e/fetch-waker.test

# SIGTERM before the first assignment under cooperative-sticky
# (librdkafka #4312 on releases before 2.3.0).
KAFKA_TESTS += tests/e2e/coop-sigterm.test

# An assignment that comes while a cooperative worker stops
# (librdkafka #4527; tests/kafka/LIBRDKAFKA.md).
KAFKA_TESTS += tests/e2e/coop-close-assign.test

# The daemon under valgrind's memcheck for a whole run.
KAFKA_TESTS += tests/e2e/valgrind.test
