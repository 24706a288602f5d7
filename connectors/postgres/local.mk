# SPDX-License-Identifier: BSD-2-Clause
# connectors/postgres: the PostgreSQL sink (libpq), its tests' build and
# its man page.

POSTGRES_SOURCES = connectors/postgres/postgres.c connectors/postgres/open.c \
	connectors/postgres/conn.c connectors/postgres/offsets.c \
	connectors/postgres/rows.c connectors/postgres/postgres.h \
	connectors/postgres/map.c connectors/postgres/mapcol.c \
	connectors/postgres/mapcol.h connectors/postgres/mapname.c \
	connectors/postgres/copy.c connectors/postgres/classify.c \
	connectors/postgres/batch.c connectors/postgres/bisect.c \
	connectors/postgres/bisect.h \
	connectors/postgres/stmt.c connectors/postgres/stmt.h

pkglib_LTLIBRARIES += connectors/postgres.la
connectors_postgres_la_SOURCES = $(POSTGRES_SOURCES)
connectors_postgres_la_CFLAGS = $(AM_CFLAGS) $(LIBPQ_CFLAGS)
connectors_postgres_la_LDFLAGS = $(MODULE_LDFLAGS)
connectors_postgres_la_LIBADD = connectors/lib/libkslib.la $(LIBPQ_LIBS)

# The same sink with the test hooks compiled in (KSINK_PG_TEST_HOOKS):
# the in-doubt test shows with it that skipping the resolution loses
# records.  Never installed.
check_LTLIBRARIES += tests/postgres/postgres_hooks.la
tests_postgres_postgres_hooks_la_SOURCES = $(POSTGRES_SOURCES)
tests_postgres_postgres_hooks_la_CFLAGS = $(AM_CFLAGS) $(LIBPQ_CFLAGS) \
	-DKSINK_PG_TEST_HOOKS
tests_postgres_postgres_hooks_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_postgres_postgres_hooks_la_LIBADD = connectors/lib/libkslib.la \
	$(LIBPQ_LIBS)
dist_man_MANS += man/ksink-postgres.7

if HAVE_CMOCKA
# The SQL text parser, without a server.
check_PROGRAMS += tests/unit/test_postgres_stmt
TESTS += tests/unit/test_postgres_stmt
tests_unit_test_postgres_stmt_SOURCES = tests/unit/test_postgres_stmt.c \
	connectors/postgres/stmt.c connectors/postgres/classify.c
tests_unit_test_postgres_stmt_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_postgres_stmt_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_postgres_stmt_LDADD = connectors/lib/libkslib.la \
	$(CMOCKA_LIBS)
# The search for a batch statement's poison record, without a server.
check_PROGRAMS += tests/unit/test_postgres_bisect
TESTS += tests/unit/test_postgres_bisect
tests_unit_test_postgres_bisect_SOURCES = tests/unit/test_postgres_bisect.c \
	connectors/postgres/bisect.c
tests_unit_test_postgres_bisect_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_postgres_bisect_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_postgres_bisect_LDADD = $(CMOCKA_LIBS)
# The column of a row the server refused, from the error's fields.
check_PROGRAMS += tests/unit/test_postgres_mapcol
TESTS += tests/unit/test_postgres_mapcol
tests_unit_test_postgres_mapcol_SOURCES = tests/unit/test_postgres_mapcol.c \
	connectors/postgres/mapcol.c
tests_unit_test_postgres_mapcol_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_postgres_mapcol_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBPQ_CFLAGS)
tests_unit_test_postgres_mapcol_LDADD = connectors/lib/libkslib.la \
	$(LIBPQ_LIBS) $(CMOCKA_LIBS)
endif
