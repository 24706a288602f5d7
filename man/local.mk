# SPDX-License-Identifier: BSD-2-Clause
# man: the core manual pages, and the checks every page in dist_man_MANS
# goes through (those of the connectors included): mandoc -Tlint, and no
# drift between the generated option lists and the option tables.  The
# example plugin of ksink-sink(3) is built and loaded.

dist_man_MANS += man/ksink.8 man/ksink.ini.5 man/ksink-sink.3
# The converters the worker runs for every sink.
dist_man_MANS += man/ksink-converters.7

# The checks read the list of all pages, whoever added them.
AM_TESTS_ENVIRONMENT += \
	KSINK_MAN_PAGES='$(dist_man_MANS)'; export KSINK_MAN_PAGES; \
	KSINK_CC='$(CC)'; export KSINK_CC;

SCRIPT_TESTS += man/lint.test man/options.test man/example.test
dist_noinst_SCRIPTS += man/options.sh

# `make update-man`: rewrite the generated option lists of the pages in
# the source tree from the option tables of this build; see man/options.sh.
update-man: ksink$(EXEEXT) $(pkglib_LTLIBRARIES)
	KSINK_PLUGIN_DIR='$(abs_top_builddir)/connectors/.libs' \
	    $(SHELL) '$(srcdir)/man/options.sh' update ./ksink$(EXEEXT) \
	    '$(srcdir)' $(dist_man_MANS)
.PHONY: update-man

# The pages name the paths of the default prefix (/usr/local); the
# installed copies name this build's (KSINK_PATHS_SED, etc/local.mk).
install-data-hook: install-man-paths
install-man-paths:
	@for page in $(dist_man_MANS); do \
	    name=$${page##*/}; \
	    f='$(DESTDIR)$(mandir)'/man$${name##*.}/$$name; \
	    sed $(KSINK_PATHS_SED) "$$f" >"$$f.tmp" && \
	    cat "$$f.tmp" >"$$f" && rm -f "$$f.tmp" || exit 1; \
	done
.PHONY: install-man-paths
