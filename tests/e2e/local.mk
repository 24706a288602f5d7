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
