# SPDX-License-Identifier: BSD-2-Clause
# connectors/http: the HTTP sink, its unit tests, its reference receiver
# and its end-to-end tests.
pkglib_LTLIBRARIES += connectors/http.la
HTTP_SOURCES = connectors/http/http.c connectors/http/http.h \
	connectors/http/body.c connectors/http/doubt.c \
	connectors/http/ledger.c \
	connectors/http/options.c connectors/http/request.c \
	connectors/http/send.c
connectors_http_la_SOURCES = $(HTTP_SOURCES)
connectors_http_la_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS) $(SQLITE3_CFLAGS)
connectors_http_la_LDFLAGS = $(MODULE_LDFLAGS)
connectors_http_la_LIBADD = connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(LIBCURL_LIBS) $(SQLITE3_LIBS)

dist_man_MANS += man/ksink-http.7

if HAVE_CMOCKA
HTTP_UNIT_TESTS = tests/unit/test_http tests/unit/test_http_send \
	tests/unit/test_http_ledger
check_PROGRAMS += $(HTTP_UNIT_TESTS)
TESTS += $(HTTP_UNIT_TESTS)
# The plugin's sources are compiled once for the three programs
# (tests/unit/libhttp-fx.la) and linked in; the tests include its private
# header through their shared fixture, tests/unit/http-fx.h.  The
# daemon's host services come from src/libksink.a.
HTTP_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCURL_CFLAGS) \
	$(SQLITE3_CFLAGS)
check_LTLIBRARIES += tests/unit/libhttp-fx.la
tests_unit_libhttp_fx_la_SOURCES = $(HTTP_SOURCES)
tests_unit_libhttp_fx_la_CFLAGS = $(HTTP_TEST_CFLAGS)
HTTP_TEST_LDADD = tests/unit/libhttp-fx.la connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(KSINK_CORE_LIBS) $(CMOCKA_LIBS) \
	$(LIBCURL_LIBS) $(SQLITE3_LIBS)
tests_unit_test_http_SOURCES = tests/unit/test_http.c tests/unit/http-fx.h
tests_unit_test_http_CFLAGS = $(HTTP_TEST_CFLAGS)
tests_unit_test_http_LDADD = $(HTTP_TEST_LDADD)
tests_unit_test_http_send_SOURCES = tests/unit/test_http_send.c \
	tests/unit/http-fx.h
tests_unit_test_http_send_CFLAGS = $(HTTP_TEST_CFLAGS)
tests_unit_test_http_send_LDADD = $(HTTP_TEST_LDADD)
tests_unit_test_http_ledger_SOURCES = tests/unit/test_http_ledger.c \
	tests/unit/http-fx.h
tests_unit_test_http_ledger_CFLAGS = $(HTTP_TEST_CFLAGS)
tests_unit_test_http_ledger_LDADD = $(HTTP_TEST_LDADD)
endif

# The reference receiver, the checker of its database, and the end-to-end
# tests against a real broker (listed in KAFKA_TESTS so that the broker is
# stopped after them).
dist_check_SCRIPTS += tests/http/receiver.py tests/http/check.py
HTTP_E2E_TESTS = \
	tests/e2e/http-idempotent.test \
	tests/e2e/http-offsets.test \
	tests/e2e/http-ignore-key.test
KAFKA_TESTS += $(HTTP_E2E_TESTS)
EXTRA_DIST += tests/e2e/http-lib.sh
