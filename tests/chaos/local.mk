# SPDX-License-Identifier: BSD-2-Clause
# tests/chaos: the fault matrix.  `make chaos` runs every sink against a
# real broker through each fault (SIGKILL, SIGTERM, broker crash, zombie
# worker, rebalance churn, hanging input transaction, sink faults) and
# prints the table of tests/chaos/check.py; its short version,
# tests/chaos/short.test, runs in `make check`.  Both start a broker of
# their own, since their broker-crash cells kill it.

# An LD_PRELOAD shim injecting ENOSPC and fsync EIO into the file sink.
# Built without the sanitizers: it is preloaded before everything.
check_LTLIBRARIES += tests/chaos/faultfs.la
tests_chaos_faultfs_la_SOURCES = tests/chaos/faultfs.c
tests_chaos_faultfs_la_CFLAGS = $(WARN_CFLAGS)
tests_chaos_faultfs_la_LDFLAGS = -module -avoid-version -shared \
	-rpath /nowhere

TESTS += tests/chaos/short.test
KAFKA_TESTS += tests/chaos/short.test
dist_check_SCRIPTS += tests/chaos/short.test tests/chaos/chaos.sh \
	tests/chaos/cell.sh tests/chaos/check.py
EXTRA_DIST += tests/chaos/lib.sh tests/chaos/RESULTS.md
# What chaos.sh leaves: the table, the rows and each cell's output (the
# work directories of clean cells are removed by the cells themselves).
CLEANFILES += tests/chaos/results/*.log tests/chaos/results/*.tsv \
	tests/chaos/results/*.md tests/chaos/results/*.cells

# The whole matrix, about 20 minutes; not part of `make check`.
# CHAOS_ARGS passes options to chaos.sh (--only REGEX).
chaos: $(sbin_PROGRAMS) $(pkglib_LTLIBRARIES) tests/kafka/txproducer$(EXEEXT) \
    tests/kafka/oracle$(EXEEXT) tests/chaos/faultfs.la \
    tests/file/hooks/file.la
	@$(AM_TESTS_ENVIRONMENT) \
	bash '$(srcdir)/tests/chaos/chaos.sh' $(CHAOS_ARGS)
.PHONY: chaos
