# SPDX-License-Identifier: BSD-2-Clause
# tests: the plugin-loader fixtures and the unit tests of the daemon's core.

# Test plugins, one real shared object per way the loader must refuse a
# plugin, a good one, and the scripted sink that the worker tests drive.
# They land in tests/plugins/.libs (KSINK_FIXTURE_DIR).  Built with or
# without cmocka: the command-line tests load them too.
check_LTLIBRARIES += \
	tests/plugins/good.la \
	tests/plugins/wrong_major.la \
	tests/plugins/newer_minor.la \
	tests/plugins/no_entry.la \
	tests/plugins/null_entry.la \
	tests/plugins/no_write.la \
	tests/plugins/no_close.la \
	tests/plugins/small_desc.la \
	tests/plugins/small_desc_1_1.la \
	tests/plugins/small_desc_1_2.la \
	tests/plugins/abi_1_1.la \
	tests/plugins/checked.la \
	tests/plugins/bad_prefix.la \
	tests/plugins/no_prefix.la \
	tests/plugins/no_atomic.la \
	tests/plugins/unresolved.la \
	tests/plugins/scripted.la
EXTRA_DIST += tests/plugins/fixture.h tests/plugins/sink-1.1.h

tests_plugins_good_la_SOURCES = tests/plugins/good.c
tests_plugins_good_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_wrong_major_la_SOURCES = tests/plugins/wrong_major.c
tests_plugins_wrong_major_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_newer_minor_la_SOURCES = tests/plugins/newer_minor.c
tests_plugins_newer_minor_la_LDFLAGS = $(FIXTURE_FLAGS)
# Exports a function of another name: not filtered by FIXTURE_FLAGS.
tests_plugins_no_entry_la_SOURCES = tests/plugins/no_entry.c
tests_plugins_no_entry_la_LDFLAGS = -module -avoid-version -shared \
	-rpath /nowhere
tests_plugins_null_entry_la_SOURCES = tests/plugins/null_entry.c
tests_plugins_null_entry_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_no_write_la_SOURCES = tests/plugins/no_write.c
tests_plugins_no_write_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_no_close_la_SOURCES = tests/plugins/no_close.c
tests_plugins_no_close_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_small_desc_la_SOURCES = tests/plugins/small_desc.c
tests_plugins_small_desc_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_small_desc_1_1_la_SOURCES = tests/plugins/small_desc_1_1.c
tests_plugins_small_desc_1_1_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_small_desc_1_2_la_SOURCES = tests/plugins/small_desc_1_2.c
tests_plugins_small_desc_1_2_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_abi_1_1_la_SOURCES = tests/plugins/abi_1_1.c
tests_plugins_abi_1_1_la_LDFLAGS = $(FIXTURE_FLAGS)
# Built as a third party may build it: only KSINK_EXPORT exports the entry.
tests_plugins_checked_la_SOURCES = tests/plugins/checked.c
tests_plugins_checked_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
tests_plugins_checked_la_LDFLAGS = -module -avoid-version -shared \
	-rpath /nowhere
tests_plugins_bad_prefix_la_SOURCES = tests/plugins/bad_prefix.c
tests_plugins_bad_prefix_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_no_prefix_la_SOURCES = tests/plugins/no_prefix.c
tests_plugins_no_prefix_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_no_atomic_la_SOURCES = tests/plugins/no_atomic.c
tests_plugins_no_atomic_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_unresolved_la_SOURCES = tests/plugins/unresolved.c
tests_plugins_unresolved_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_plugins_scripted_la_SOURCES = tests/plugins/scripted.c
tests_plugins_scripted_la_LDFLAGS = $(FIXTURE_FLAGS)

if HAVE_CMOCKA
# cmocka tests of the core, one per module, linked against src/libksink.a.
CORE_UNIT_TESTS = \
	tests/unit/test_avrodec \
	tests/unit/test_batch_size \
	tests/unit/test_cjson \
	tests/unit/test_conf \
	tests/unit/test_consumer_conf \
	tests/unit/test_convert \
	tests/unit/test_options \
	tests/unit/test_retry \
	tests/unit/test_sink \
	tests/unit/test_util \
	tests/unit/test_worker \
	tests/unit/test_worker_convert \
	tests/unit/test_worker_pending \
	tests/unit/test_worker_retry
check_PROGRAMS += $(CORE_UNIT_TESTS)
TESTS += $(CORE_UNIT_TESTS)

CORE_TEST_CPPFLAGS = $(src_libksink_a_CPPFLAGS) $(CMOCKA_CFLAGS)
CORE_TEST_LDADD = $(KSINK_CORE_LIBS) $(CMOCKA_LIBS)

tests_unit_test_avrodec_SOURCES = tests/unit/test_avrodec.c \
	tests/unit/avro-fx.h
tests_unit_test_avrodec_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_avrodec_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_batch_size_SOURCES = tests/unit/test_batch_size.c
tests_unit_test_batch_size_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_batch_size_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_cjson_SOURCES = tests/unit/test_cjson.c
tests_unit_test_cjson_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_cjson_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c tests/unit/conf-fx.h
tests_unit_test_conf_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_conf_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_consumer_conf_SOURCES = tests/unit/test_consumer_conf.c \
	tests/unit/conf-fx.h
tests_unit_test_consumer_conf_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_consumer_conf_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_convert_SOURCES = tests/unit/test_convert.c
tests_unit_test_convert_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_convert_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_options_SOURCES = tests/unit/test_options.c
tests_unit_test_options_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_options_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_retry_SOURCES = tests/unit/test_retry.c
tests_unit_test_retry_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_retry_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_sink_SOURCES = tests/unit/test_sink.c
tests_unit_test_sink_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_sink_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_util_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_worker_SOURCES = tests/unit/test_worker.c \
	tests/unit/worker-fx.h
tests_unit_test_worker_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_worker_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_worker_convert_SOURCES = tests/unit/test_worker_convert.c \
	tests/unit/worker-fx.h
tests_unit_test_worker_convert_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_worker_convert_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_worker_pending_SOURCES = tests/unit/test_worker_pending.c \
	tests/unit/worker-fx.h
tests_unit_test_worker_pending_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_worker_pending_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_worker_retry_SOURCES = tests/unit/test_worker_retry.c \
	tests/unit/worker-fx.h
tests_unit_test_worker_retry_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_test_worker_retry_LDADD = $(CORE_TEST_LDADD)
endif

# The daemon's command line on bad configuration files.
SCRIPT_TESTS += tests/unit/cli.test

# The avro converter's decoder against Python's Avro library.
check_PROGRAMS += tests/unit/avrocat
tests_unit_avrocat_SOURCES = tests/unit/avrocat.c
tests_unit_avrocat_CPPFLAGS = $(src_libksink_a_CPPFLAGS)
tests_unit_avrocat_LDADD = $(KSINK_CORE_LIBS)
SCRIPT_TESTS += tests/unit/avro-python.test
dist_noinst_SCRIPTS += tests/unit/avro_python.py
