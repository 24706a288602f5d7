# SPDX-License-Identifier: BSD-2-Clause
# tests/bench: `make bench`, the side-by-side benchmark (not part of make
# check): ksink's sinks against the kcat limit, the limits of the systems
# they write to and the peers a user would pick instead (Kafka Connect's
# FileStreamSinkConnector and Debezium's JDBC sink, kcat | sqlite3,
# kcat | psql), on a throw-away broker started with tests/kafka/broker.sh
# and a throw-away PostgreSQL server (tests/postgres/server.sh).  It installs
# what it lacks (tests/bench/install-deps.sh), prints the table and writes
# tests/bench/results/latest.md, latest.tsv and latest.png in the source
# tree.  See tests/bench/README.md.
#
#	make bench
#	make bench BENCH_ARGS='--records 100000 --records-1k 20000'
#	make bench BENCH_ARGS='--only null,kcat --sizes 100 --profile perf'
#	make bench BENCH_ARGS='--only kcat,pg-copy,postgres,kcat-psql'

BENCH_ARGS =

# The arithmetic of the latency part, in make check (well under a second).
SCRIPT_TESTS += tests/bench/latency-math.test
EXTRA_DIST += tests/bench/test_bench_latency.py

EXTRA_DIST += tests/bench/README.md tests/bench/ANALYSIS.md \
	tests/bench/bench.py \
	tests/bench/bench_harness.py tests/bench/bench_kcat.py \
	tests/bench/bench_ksink.py tests/bench/bench_connect.py \
	tests/bench/bench_pg.py tests/bench/bench_report.py \
	tests/bench/bench_limits.py \
	tests/bench/bench_scale.py \
	tests/bench/bench_latency.py \
	tests/bench/install-deps.sh \
	tests/bench/pom.xml tests/bench/pom-jdbc.xml \
	tests/bench/nginx.conf.in tests/bench/kcat-sqlite.awk \
	tests/bench/kcat-psql.awk \
	tests/bench/results/latest.md tests/bench/results/latest.tsv \
	tests/bench/results/latest.png \
	tests/bench/results/latest-scale.png

# The limits of the systems the SQLite and HTTP sinks write to
# (tests/bench/bench_limits.py): built for make bench only.
EXTRA_PROGRAMS += tests/bench/sqlite_limit tests/bench/http_limit
CLEANFILES += tests/bench/sqlite_limit$(EXEEXT) \
	tests/bench/http_limit$(EXEEXT)
tests_bench_sqlite_limit_SOURCES = tests/bench/sqlite_limit.c \
	tests/bench/limit.c tests/bench/limit.h
tests_bench_sqlite_limit_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_bench_sqlite_limit_CFLAGS = $(AM_CFLAGS) $(SQLITE3_CFLAGS)
tests_bench_sqlite_limit_LDADD = connectors/lib/libkslib.la $(SQLITE3_LIBS)
tests_bench_http_limit_SOURCES = tests/bench/http_limit.c \
	tests/bench/limit.c tests/bench/limit.h
tests_bench_http_limit_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_bench_http_limit_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS)
tests_bench_http_limit_LDADD = connectors/lib/libkslib.la $(LIBCURL_LIBS)

bench: all tests/kafka/txproducer$(EXEEXT) tests/kafka/oracle$(EXEEXT) \
	tests/bench/sqlite_limit$(EXEEXT) tests/bench/http_limit$(EXEEXT)
	bash '$(srcdir)/tests/bench/install-deps.sh'
	py='$(PYTHON3)'; \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	KSINK='$(abs_top_builddir)/ksink' \
	KSINK_PLUGIN_DIR='$(abs_top_builddir)/connectors/.libs' \
	KSINK_TESTBIN='$(abs_top_builddir)/tests' \
	$${py:-python3} '$(srcdir)/tests/bench/bench.py' $(BENCH_ARGS)

.PHONY: bench
