# SPDX-License-Identifier: BSD-2-Clause
# connectors/lib: the private helpers every sink links, as libtool
# convenience libraries (PIC objects copied into each plugin).  Their
# symbols stay private: they are built with hidden visibility and the
# plugins export ksink_sink_entry alone (MODULE_LDFLAGS).  The SQLite
# offsets table is a library of its own, so that only the sinks that
# link SQLite carry it.

noinst_LTLIBRARIES += connectors/lib/libkslib.la connectors/lib/libkssql.la
connectors_lib_libkslib_la_SOURCES = \
	connectors/lib/atomicfile.c connectors/lib/atomicfile.h \
	connectors/lib/base64.c connectors/lib/base64.h \
	connectors/lib/buf.c connectors/lib/buf.h \
	connectors/lib/clock.c connectors/lib/clock.h \
	connectors/lib/envelope.c connectors/lib/envelope.h \
	connectors/lib/err.c connectors/lib/err.h \
	connectors/lib/json.c connectors/lib/json.h \
	connectors/lib/mapping.c connectors/lib/mapping.h \
	connectors/lib/mapfit.c connectors/lib/mapopen.c \
	connectors/lib/mapreduce.c connectors/lib/maprow.c \
	connectors/lib/mapsql.c \
	connectors/lib/offcache.c connectors/lib/offcache.h \
	connectors/lib/sqltext.c connectors/lib/sqltext.h \
	connectors/lib/utf8.c connectors/lib/utf8.h
connectors_lib_libkslib_la_CFLAGS = $(AM_CFLAGS) $(CONNECTOR_LIB_CFLAGS)
connectors_lib_libkssql_la_SOURCES = \
	connectors/lib/sqloffsets.c connectors/lib/sqloffsets.h
connectors_lib_libkssql_la_CFLAGS = $(AM_CFLAGS) $(CONNECTOR_LIB_CFLAGS) \
	$(SQLITE3_CFLAGS)

# The record envelope, ksink-record(7), shared by every sink; the table
# mapping of the SQL sinks, ksink-mapping(7).
dist_man_MANS += man/ksink-record.7 man/ksink-mapping.7

if HAVE_CMOCKA
# One test per module of the library, linked against it.
CONNECTOR_LIB_TESTS = \
	tests/unit/test_atomicfile \
	tests/unit/test_envelope \
	tests/unit/test_json \
	tests/unit/test_mapping \
	tests/unit/test_mapping_reduce \
	tests/unit/test_mapping_sql \
	tests/unit/test_mapping_typed \
	tests/unit/test_offcache \
	tests/unit/test_sqloffsets \
	tests/unit/test_sqltext
check_PROGRAMS += $(CONNECTOR_LIB_TESTS)
TESTS += $(CONNECTOR_LIB_TESTS)
tests_unit_test_atomicfile_SOURCES = tests/unit/test_atomicfile.c
tests_unit_test_atomicfile_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_atomicfile_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_atomicfile_LDADD = connectors/lib/libkslib.la $(CMOCKA_LIBS)
tests_unit_test_atomicfile_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=write \
	-Wl,--wrap=fsync -Wl,--wrap=close -Wl,--wrap=renameat
tests_unit_test_envelope_SOURCES = tests/unit/test_envelope.c
tests_unit_test_envelope_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_envelope_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_envelope_LDADD = connectors/lib/libkslib.la $(CMOCKA_LIBS)
tests_unit_test_json_SOURCES = tests/unit/test_json.c
tests_unit_test_json_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_json_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_json_LDADD = connectors/lib/libkslib.la $(CMOCKA_LIBS)
# The table mapping's tests share tests/unit/mapping-fx.h; the reduction's
# checks its result on SQLite.
tests_unit_test_mapping_SOURCES = tests/unit/test_mapping.c \
	tests/unit/mapping-fx.h
tests_unit_test_mapping_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_mapping_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mapping_LDADD = connectors/lib/libkslib.la $(CMOCKA_LIBS)
tests_unit_test_mapping_sql_SOURCES = tests/unit/test_mapping_sql.c \
	tests/unit/mapping-fx.h
tests_unit_test_mapping_sql_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_mapping_sql_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mapping_sql_LDADD = connectors/lib/libkslib.la \
	$(CMOCKA_LIBS)
tests_unit_test_mapping_typed_SOURCES = tests/unit/test_mapping_typed.c \
	tests/unit/mapping-fx.h
tests_unit_test_mapping_typed_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_mapping_typed_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mapping_typed_LDADD = connectors/lib/libkslib.la \
	$(CMOCKA_LIBS)
tests_unit_test_mapping_reduce_SOURCES = tests/unit/test_mapping_reduce.c \
	tests/unit/mapping-fx.h
tests_unit_test_mapping_reduce_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_mapping_reduce_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(SQLITE3_CFLAGS)
tests_unit_test_mapping_reduce_LDADD = connectors/lib/libkslib.la \
	$(SQLITE3_LIBS) $(CMOCKA_LIBS)
tests_unit_test_offcache_SOURCES = tests/unit/test_offcache.c
tests_unit_test_offcache_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_offcache_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_offcache_LDADD = connectors/lib/libkslib.la $(CMOCKA_LIBS)
tests_unit_test_sqloffsets_SOURCES = tests/unit/test_sqloffsets.c
tests_unit_test_sqloffsets_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_sqloffsets_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(SQLITE3_CFLAGS)
tests_unit_test_sqloffsets_LDADD = connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(SQLITE3_LIBS) $(CMOCKA_LIBS)
tests_unit_test_sqltext_SOURCES = tests/unit/test_sqltext.c
tests_unit_test_sqltext_CPPFLAGS = $(CONNECTOR_TEST_CPPFLAGS)
tests_unit_test_sqltext_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sqltext_LDADD = connectors/lib/libkslib.la $(CMOCKA_LIBS)
endif
