# SPDX-License-Identifier: BSD-2-Clause
# tests/kafka: the real Kafka broker harness (see broker.sh and lib.sh).
#
# A test that needs the broker sources tests/kafka/lib.sh, calls
# kafka_require, and is listed in KAFKA_TESTS as well as in TESTS (its
# name must end in .test):
#	KAFKA_TESTS += tests/x/foo.test
# so that tests/kafka/stop.test, which stops the broker, runs after it.
# KAFKA_TESTS itself is declared in Makefile.am.

check_PROGRAMS += tests/kafka/txproducer tests/kafka/oracle
tests_kafka_txproducer_SOURCES = tests/kafka/txproducer.c
tests_kafka_txproducer_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_kafka_txproducer_LDADD = $(RDKAFKA_LIBS)
tests_kafka_oracle_SOURCES = tests/kafka/oracle.c
tests_kafka_oracle_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_kafka_oracle_LDADD = $(RDKAFKA_LIBS)

dist_check_SCRIPTS += tests/kafka/broker.sh tests/kafka/stop.test
EXTRA_DIST += tests/kafka/pom.xml tests/kafka/lib.sh tests/kafka/SlowLeader.java \
	tests/kafka/LIBRDKAFKA.md

TESTS += tests/kafka/stop.test
tests/kafka/stop.log: $(KAFKA_TESTS:.test=.log)

# librdkafka's mock cluster in a process of its own, for fault injection
# (never for read_committed: the mock does not implement it), and the
# tests that use it; they need no broker.
check_PROGRAMS += tests/kafka/mockcluster
tests_kafka_mockcluster_SOURCES = tests/kafka/mockcluster.c
tests_kafka_mockcluster_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_kafka_mockcluster_LDADD = $(RDKAFKA_LIBS)
TESTS += tests/kafka/mock-watermarks.test tests/kafka/mock-waker-stop.test
dist_check_SCRIPTS += tests/kafka/mock-watermarks.test \
	tests/kafka/mock-waker-stop.test
