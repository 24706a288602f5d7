# SPDX-License-Identifier: BSD-2-Clause
# connectors/http: the HTTP sink, its unit tests, its reference receiver
# and its end-to-end tests.
pkglib_LTLIBRARIES += connectors/http.la
HTTP_SOURCES = connectors/http/http.c connectors/http/http.h \
	connectors/http/body.c connectors/http/ledger.c \
	connectors/http/options.c connectors/http/request.c \
	connectors/http/send.c
connectors_http_la_SOURCES = $(HTTP_SOURCES)
connectors_http_la_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS) $(SQLITE3_CFLAGS)
connectors_http_la_LDFLAGS = $(MODULE_LDFLAGS)
connectors_http_la_LIBADD = connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(LIBCURL_LIBS) $(SQLITE3_LIBS)

dist_man_MANS += man/ksink-http.7

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http
# The plugin's sources are linked in; the test includes its private
# header.  The daemon's host services come from src/libksink.a.
tests_unit_test_http_SOURCES = tests/unit/test_http.c $(HTTP_SOURCES)
tests_unit_test_http_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBCURL_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_test_http_LDADD = connectors/lib/libkssql.la \
	connectors/lib/libkslib.la $(KSINK_CORE_LIBS) $(CMOCKA_LIBS) \
	$(LIBCURL_LIBS) $(SQLITE3_LIBS)
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
