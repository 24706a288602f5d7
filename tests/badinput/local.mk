# SPDX-License-Identifier: BSD-2-Clause
# tests/badinput: the bad-input catalogue.  cases.txt lists one bad input
# per line and what a clear answer to it is; badinput.py runs them.
# run.test runs the cases that need no broker, kafka.test those that do
# (with produce, which writes exact records: not JSON, not UTF-8,
# tombstones, larger than batch.max.bytes).

check_PROGRAMS += tests/badinput/produce
tests_badinput_produce_SOURCES = tests/badinput/produce.c
tests_badinput_produce_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS)
tests_badinput_produce_LDADD = $(RDKAFKA_LIBS)

if HAVE_CMOCKA
# The plugin cases use the loader's fixtures (tests/plugins), which are
# built with the unit tests.
TESTS += tests/badinput/run.test
endif
TESTS += tests/badinput/kafka.test
KAFKA_TESTS += tests/badinput/kafka.test
dist_check_SCRIPTS += tests/badinput/run.test tests/badinput/kafka.test \
	tests/badinput/badinput.py
EXTRA_DIST += tests/badinput/cases.txt tests/badinput/fixtures/long-line.ini
