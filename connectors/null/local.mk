# SPDX-License-Identifier: BSD-2-Clause
# connectors/null: the null sink (counts and discards; the simplest
# example and the benchmark baseline), its unit and end-to-end tests, its
# man page, and ksink-plugins(7), whose example is null.c with the
# library files it needs (connectors/lib/atomicfile.[ch] and
# connectors/lib/offcache.[ch]), and which tests/e2e/plugin-oot.test
# builds against the installed header only.

# null.c includes "atomicfile.h" and "offcache.h" without a directory, as
# the example does next to its copies of the files.
NULL_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/connectors/lib
pkglib_LTLIBRARIES += connectors/null.la
connectors_null_la_SOURCES = connectors/null/null.c
connectors_null_la_CPPFLAGS = $(NULL_CPPFLAGS)
connectors_null_la_LDFLAGS = $(MODULE_LDFLAGS)
connectors_null_la_LIBADD = connectors/lib/libkslib.la

dist_man_MANS += man/ksink-null.7 man/ksink-plugins.7

if HAVE_CMOCKA
# The plugin's source is linked into the test, which drives it through
# its descriptor and the daemon's host services (src/libksink.a) and
# wraps fsync(2) and renameat(2) to inject failures (in
# connectors/lib/atomicfile.c, which writes the state file).
check_PROGRAMS += tests/unit/test_null
TESTS += tests/unit/test_null
tests_unit_test_null_SOURCES = tests/unit/test_null.c connectors/null/null.c
tests_unit_test_null_CPPFLAGS = $(NULL_CPPFLAGS)
tests_unit_test_null_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_null_LDADD = connectors/lib/libkslib.la $(KSINK_CORE_LIBS) \
	$(CMOCKA_LIBS)
tests_unit_test_null_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=fsync \
	-Wl,--wrap=renameat
endif

# End-to-end tests on the real broker (tests/kafka): exact counts through
# SIGKILLs, the plugin built out of tree, and a connection through the
# broker's SASL_PLAINTEXT listener.
NULL_E2E_TESTS = \
	tests/e2e/null-kill.test \
	tests/e2e/plugin-oot.test \
	tests/e2e/sasl.test
KAFKA_TESTS += $(NULL_E2E_TESTS)
EXTRA_DIST += tests/e2e/null-common.sh

AM_TESTS_ENVIRONMENT += PKG_CONFIG='$(PKG_CONFIG)'; export PKG_CONFIG;

# plugin-oot.test builds against an installed copy of ksink: install one
# with DESTDIR first, afresh each time the test runs.  Removed by `make
# clean` with the other tests/e2e/*.dir.
PLUGIN_OOT_DESTDIR = $(abs_top_builddir)/tests/e2e/plugin-oot-install.dir
tests/e2e/plugin-oot.log: plugin-oot-install
plugin-oot-install:
	$(AM_V_GEN)rm -rf '$(PLUGIN_OOT_DESTDIR)' && \
	    $(MAKE) $(AM_MAKEFLAGS) install DESTDIR='$(PLUGIN_OOT_DESTDIR)' \
	    >/dev/null
.PHONY: plugin-oot-install

# `make update-plugins-example`: copy the example's files into
# ksink-plugins(7) in the source tree, each between its BEGIN EXAMPLE
# and END EXAMPLE lines, escaped for mdoc (tests/e2e/plugin-oot.test
# fails when they differ).  NAME:SOURCE pairs.
PLUGINS_EXAMPLE_FILES = null.c:connectors/null/null.c \
	atomicfile.h:connectors/lib/atomicfile.h \
	atomicfile.c:connectors/lib/atomicfile.c \
	offcache.h:connectors/lib/offcache.h \
	offcache.c:connectors/lib/offcache.c
EXTRA_DIST += tests/e2e/plugins-example.sh
update-plugins-example:
	$(AM_V_GEN)page='$(srcdir)/man/ksink-plugins.7'; \
	$(SHELL) '$(srcdir)/tests/e2e/plugins-example.sh' update "$$page" \
	    '$(srcdir)' $(PLUGINS_EXAMPLE_FILES) >"$$page.tmp" && \
	if cmp -s "$$page" "$$page.tmp"; then rm -f "$$page.tmp"; \
	else cat "$$page.tmp" >"$$page" && rm -f "$$page.tmp" && \
	    echo "updated $$page"; fi
.PHONY: update-plugins-example
