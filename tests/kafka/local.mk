# SPDX-License-Identifier: BSD-2-Clause
# tests/kafka: the real Kafka broker harness (see broker.sh and lib.sh).
#
# A test that needs the broker sources tests/kafka/lib.sh, calls
# kafka_require, and is declared once, in KAFKA_TESTS (its name must end
# in .test):
#	KAFKA_TESTS += tests/x/foo.test
# Makefile.am adds KAFKA_TESTS to TESTS and dist_check_SCRIPTS, and
# tests/kafka/stop.test, which stops the broker, runs after them.  It
# starts and stops ksink with tests/kafka/daemon.sh, and checks a sink
# against the oracle with tests/kafka/oracle.py; the database tests write
# the ledger of tests/kafka/ledger.sh.

check_PROGRAMS += tests/kafka/txproducer tests/kafka/oracle
tests_kafka_txproducer_SOURCES = tests/kafka/txproducer.c
tests_kafka_txproducer_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_kafka_txproducer_LDADD = $(RDKAFKA_LIBS)
tests_kafka_oracle_SOURCES = tests/kafka/oracle.c
tests_kafka_oracle_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_kafka_oracle_LDADD = $(RDKAFKA_LIBS)

dist_check_SCRIPTS += tests/kafka/broker.sh
EXTRA_DIST += tests/kafka/pom.xml tests/kafka/lib.sh tests/kafka/daemon.sh \
	tests/kafka/ledger.sh tests/kafka/oracle.py tests/kafka/SlowLeader.java \
	tests/kafka/LIBRDKAFKA.md

# The Avro producer and oracle of the converters' tests (tests/avro), in
# Python with python3-avro and python3-confluent-kafka: the oracle decodes
# independently of the avro-c the daemon uses.
dist_check_SCRIPTS += tests/kafka/avroproducer.py tests/kafka/avrooracle.py
EXTRA_DIST += tests/kafka/avrolib.py tests/kafka/cjsonlib.py

SCRIPT_TESTS += tests/kafka/stop.test
tests/kafka/stop.log: $(KAFKA_TESTS:.test=.log)

# librdkafka's mock cluster in a process of its own, for fault injection
# (never for read_committed: the mock does not implement it), and the
# tests that use it; they need no broker.
check_PROGRAMS += tests/kafka/mockcluster
tests_kafka_mockcluster_SOURCES = tests/kafka/mockcluster.c
tests_kafka_mockcluster_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_kafka_mockcluster_LDADD = $(RDKAFKA_LIBS)
SCRIPT_TESTS += tests/kafka/mock-watermarks.test \
	tests/kafka/mock-waker-stop.test

# Builds a librdkafka of another Debian release for a test leg or a bench
# run only (.ci/run, bench.py --librdkafka).
dist_noinst_SCRIPTS += tests/kafka/librdkafka.sh

# The shell functions of broker.sh and tests/registry/registry.sh.
EXTRA_DIST += tests/kafka/service.sh
