# SPDX-License-Identifier: BSD-2-Clause
# connectors/file: the file sink, its unit test, its crash-point driver,
# its end-to-end tests and its man page.

pkglib_LTLIBRARIES += connectors/file.la
FILE_SOURCES = connectors/file/file.c connectors/file/file.h \
	connectors/file/manifest.c connectors/file/names.c \
	connectors/file/recovery.c connectors/file/streams.c
connectors_file_la_SOURCES = $(FILE_SOURCES)
connectors_file_la_LDFLAGS = $(MODULE_LDFLAGS)
connectors_file_la_LIBADD = connectors/lib/libkslib.la

dist_man_MANS += man/ksink-file.7

# The test build of the plugin: file.so with the crash hook of the tests
# (KSINK_FILE_CRASH_AT, compiled with -DKSINK_TEST_HOOKS) in
# tests/file/hooks/.libs, for file-crash.test, file-kill.test and the
# fault matrix.  The installed file.so has no hook (file-crash.test
# checks it).
check_LTLIBRARIES += tests/file/hooks/file.la
tests_file_hooks_file_la_SOURCES = $(FILE_SOURCES)
tests_file_hooks_file_la_CPPFLAGS = $(AM_CPPFLAGS) -DKSINK_TEST_HOOKS
tests_file_hooks_file_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_file_hooks_file_la_LIBADD = connectors/lib/libkslib.la
AM_TESTS_ENVIRONMENT += \
	KSINK_FILE_HOOKS_DIR='$(abs_top_builddir)/tests/file/hooks/.libs'; \
	export KSINK_FILE_HOOKS_DIR;

# Loads file.so with the daemon's loader and host services
# (src/libksink.a) and feeds it a deterministic record stream;
# tests/e2e/file-crash.test kills it at each step of a commit.
check_PROGRAMS += tests/file/filedrive
tests_file_filedrive_SOURCES = tests/file/filedrive.c
tests_file_filedrive_LDADD = $(KSINK_CORE_LIBS)

# The crash points need no broker; the SIGKILL test does.
SCRIPT_TESTS += tests/e2e/file-crash.test
KAFKA_TESTS += tests/e2e/file-kill.test

if HAVE_CMOCKA
# The plugin's sources are compiled once for the three programs
# (tests/unit/libfile-fx.la) and linked in; the tests include its private
# header through their fixture, tests/unit/file-fx.h, so that its name
# rules can be tested directly.  The daemon's host services come from
# src/libksink.a.  test_file_faults wraps write(2), fsync(2),
# fdatasync(2) and renameat(2) to inject failures.
FILE_UNIT_TESTS = tests/unit/test_file tests/unit/test_file_recovery \
	tests/unit/test_file_faults
check_PROGRAMS += $(FILE_UNIT_TESTS)
TESTS += $(FILE_UNIT_TESTS)
check_LTLIBRARIES += tests/unit/libfile-fx.la
tests_unit_libfile_fx_la_SOURCES = $(FILE_SOURCES)
tests_unit_libfile_fx_la_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
FILE_TEST_LDADD = tests/unit/libfile-fx.la connectors/lib/libkslib.la \
	$(KSINK_CORE_LIBS) $(CMOCKA_LIBS)
tests_unit_test_file_SOURCES = tests/unit/test_file.c tests/unit/file-fx.h
tests_unit_test_file_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_file_LDADD = $(FILE_TEST_LDADD)
tests_unit_test_file_recovery_SOURCES = tests/unit/test_file_recovery.c \
	tests/unit/file-fx.h
tests_unit_test_file_recovery_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_file_recovery_LDADD = $(FILE_TEST_LDADD)
tests_unit_test_file_faults_SOURCES = tests/unit/test_file_faults.c \
	tests/unit/file-fx.h
tests_unit_test_file_faults_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_file_faults_LDADD = $(FILE_TEST_LDADD)
tests_unit_test_file_faults_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=write \
	-Wl,--wrap=fsync -Wl,--wrap=fdatasync -Wl,--wrap=renameat
endif
