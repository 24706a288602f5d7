# SPDX-License-Identifier: BSD-2-Clause
# tests/deb: the Debian packages of debian/, built, linted, installed,
# run and purged on this machine by check-deb.test (needs root and the
# tools of tests/install-deps.sh --deb).  Not part of `make check`: it
# builds ksink once more; `make check-deb` runs it, with the broker it
# starts stopped after it, and leaves its result in tests/deb/*.trs
# beside the other tests' (.ci/run counts them all).
dist_noinst_SCRIPTS += tests/deb/check-deb.test

check-deb:
	$(MAKE) $(AM_MAKEFLAGS) check \
	    TESTS='tests/deb/check-deb.test tests/kafka/stop.test' \
	    KAFKA_TESTS='tests/deb/check-deb.test' \
	    TEST_SUITE_LOG=tests/deb/test-suite.log
.PHONY: check-deb
