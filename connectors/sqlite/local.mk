# SPDX-License-Identifier: BSD-2-Clause
# connectors/sqlite: the SQLite sink, its unit tests and its man page
# (checked with the others by man/lint.test and man/options.test).

pkglib_LTLIBRARIES += connectors/sqlite.la
connectors_sqlite_la_SOURCES = connectors/sqlite/sqlite.c \
	connectors/sqlite/sql.c connectors/sqlite/map.c \
	connectors/sqlite/sqlite.h
connectors_sqlite_la_CFLAGS = $(AM_CFLAGS) $(SQLITE3_CFLAGS)
connectors_sqlite_la_LDFLAGS = $(MODULE_LDFLAGS)
connectors_sqlite_la_LIBADD = connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(SQLITE3_LIBS)

dist_man_MANS += man/ksink-sqlite.7

if HAVE_CMOCKA
# The plugin's sources are compiled once (tests/unit/libsqlite-fx.la) and
# built into the test programs, which drive them through the descriptor
# and the daemon's host services (src/libksink.a) only, as the daemon
# does; their shared fixture is tests/unit/sqlite-fx.h.
SQLITE_UNIT_TESTS = tests/unit/test_sqlite tests/unit/test_sqlite_sql \
	tests/unit/test_sqlite_map
check_PROGRAMS += $(SQLITE_UNIT_TESTS)
TESTS += $(SQLITE_UNIT_TESTS)
SQLITE_TEST_CFLAGS = $(AM_CFLAGS) $(SQLITE3_CFLAGS) $(CMOCKA_CFLAGS)
check_LTLIBRARIES += tests/unit/libsqlite-fx.la
tests_unit_libsqlite_fx_la_SOURCES = connectors/sqlite/sqlite.c \
	connectors/sqlite/sql.c connectors/sqlite/map.c
tests_unit_libsqlite_fx_la_CFLAGS = $(SQLITE_TEST_CFLAGS)
SQLITE_TEST_LDADD = tests/unit/libsqlite-fx.la connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(KSINK_CORE_LIBS) $(SQLITE3_LIBS) \
	$(CMOCKA_LIBS)
tests_unit_test_sqlite_SOURCES = tests/unit/test_sqlite.c \
	tests/unit/sqlite-fx.h
tests_unit_test_sqlite_CFLAGS = $(SQLITE_TEST_CFLAGS)
tests_unit_test_sqlite_LDADD = $(SQLITE_TEST_LDADD)
tests_unit_test_sqlite_sql_SOURCES = tests/unit/test_sqlite_sql.c \
	tests/unit/sqlite-fx.h
tests_unit_test_sqlite_sql_CFLAGS = $(SQLITE_TEST_CFLAGS)
tests_unit_test_sqlite_sql_LDADD = $(SQLITE_TEST_LDADD)
tests_unit_test_sqlite_map_SOURCES = tests/unit/test_sqlite_map.c \
	tests/unit/sqlite-fx.h tests/unit/decoded-fx.h
tests_unit_test_sqlite_map_CFLAGS = $(SQLITE_TEST_CFLAGS)
tests_unit_test_sqlite_map_LDADD = $(SQLITE_TEST_LDADD)
endif
