# SPDX-License-Identifier: BSD-2-Clause
# tests/postgres: the real PostgreSQL server harness (see server.sh and
# lib.sh) and the tests of the postgres sink.
#
# A test that needs the server sources tests/postgres/lib.sh, calls
# pg_require, and is listed in POSTGRES_TESTS as well as in KAFKA_TESTS
# when it needs the broker too, or in SCRIPT_TESTS otherwise:
#	POSTGRES_TESTS += tests/postgres/foo.test
# so that tests/postgres/stop.test, which stops the server, runs after it.

dist_check_SCRIPTS += tests/postgres/server.sh tests/postgres/stop.test
EXTRA_DIST += tests/postgres/lib.sh

TESTS += tests/postgres/stop.test
tests/postgres/stop.log: $(POSTGRES_TESTS:.test=.log)

# The ledger tests: real broker, real server, compared with the oracle.
PG_LEDGER_TESTS = \
	tests/postgres/kill.test \
	tests/postgres/zombie.test \
	tests/postgres/indoubt.test \
	tests/postgres/poison.test \
	tests/postgres/batch.test \
	tests/postgres/copy.test \
	tests/postgres/server-chaos.test \
	tests/postgres/churn.test \
	tests/postgres/offsets.test \
	tests/postgres/outbox.test \
	tests/postgres/valgrind.test \
	tests/postgres/hosts.test \
	tests/postgres/setup.test \
	tests/postgres/mapping.test \
	tests/postgres/mapping-modes.test \
	tests/postgres/mapping-matrix.test \
	tests/postgres/alerts.test \
	tests/postgres/connect.test
# hosts.test (across hosts: workers in network namespaces of its own; root
# and ip(8) needed) makes 2 cuts here; `make chaos` has a cell that makes
# 5 (partition postgres).
KAFKA_TESTS += $(PG_LEDGER_TESTS)
POSTGRES_TESTS += $(PG_LEDGER_TESTS)
dist_check_SCRIPTS += tests/postgres/check_pg.py \
	tests/postgres/check_pgmap.py tests/postgres/check_pgmodes.py \
	tests/postgres/connect2ksink.py
EXTRA_DIST += tests/postgres/jdbc-sink.properties
EXTRA_DIST += tests/postgres/pg-common.sh \
	tests/postgres/slowlink.py \
	tests/postgres/proxy.py

# ksink -t on postgres configurations: offline, no server.
SCRIPT_TESTS += tests/postgres/config.test

# The issue-sized kill run (100,000 records, 20 SIGKILLs or more), about
# two minutes; not part of make check, which runs a smaller one.
PG_LONG_TESTS = tests/postgres/kill.test
check-postgres-long:
	$(MAKE) $(AM_MAKEFLAGS) check PG_RECORDS=100000 PG_KILLS=20 \
	    TESTS="$(PG_LONG_TESTS) tests/postgres/stop.test tests/kafka/stop.test" \
	    KAFKA_TESTS="$(PG_LONG_TESTS)" POSTGRES_TESTS="$(PG_LONG_TESTS)"
.PHONY: check-postgres-long

# The table mapping with a record's schema: typed.c drives postgres.so,
# loaded as the daemon loads it, with a host whose decoded() gives every
# type; typed.test reads the table back with psql.  No broker.
check_PROGRAMS += tests/postgres/typed
tests_postgres_typed_SOURCES = tests/postgres/typed.c \
	tests/unit/decoded-fx.h
tests_postgres_typed_LDADD = $(KSINK_CORE_LIBS)
SCRIPT_TESTS += tests/postgres/typed.test
POSTGRES_TESTS += tests/postgres/typed.test
