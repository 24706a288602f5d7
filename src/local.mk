# SPDX-License-Identifier: BSD-2-Clause
# The daemon.  Its modules also form a small library that the unit tests
# link against.
noinst_LIBRARIES += src/libksink.a
src_libksink_a_SOURCES = \
	src/admin.c src/admin.h \
	src/avrodec.c src/avrodec.h src/avronode.h src/avroschema.c \
	src/batch.c src/batch.h \
	src/check.c src/check.h \
	src/conf.c src/conf.h \
	src/consumer.c src/consumer.h \
	src/demo.c src/demo.h \
	src/cjson.c src/cjson.h \
	src/dlq.c src/dlq.h \
	src/fields.c src/fields.h \
	src/log.c src/log.h \
	src/offsets.c src/offsets.h \
	src/offsets_cli.c \
	src/options.c src/options.h \
	src/registry.c src/registry.h \
	src/render.c src/render.h \
	src/retry.c src/retry.h \
	src/sink.c src/sink.h \
	src/stats.c src/stats.h \
	src/status.c src/status.h \
	src/testing.h \
	src/util.c src/util.h \
	src/waker.c src/waker.h \
	src/worker.c src/worker.h \
	connectors/lib/base64.c connectors/lib/buf.c connectors/lib/utf8.c
src_libksink_a_CPPFLAGS = $(AM_CPPFLAGS) $(RDKAFKA_CFLAGS) $(INIH_CFLAGS) $(SQLITE3_CFLAGS) \
	$(MHD_CFLAGS) $(LIBCURL_CFLAGS) $(AVRO_CFLAGS) $(JANSSON_CFLAGS) \
	-DPKGLIBDIR='"$(pkglibdir)"'

# A daemon, with its page in section 8: installed in sbindir.
sbin_PROGRAMS += ksink
ksink_SOURCES = src/main.c
ksink_CPPFLAGS = $(src_libksink_a_CPPFLAGS)
ksink_LDADD = $(KSINK_CORE_LIBS)

KSINK_CORE_LIBS = src/libksink.a $(RDKAFKA_LIBS) $(INIH_LIBS) $(SQLITE3_LIBS) \
	$(MHD_LIBS) $(LIBCURL_LIBS) $(AVRO_LIBS) $(JANSSON_LIBS)

ksinkincludedir = $(includedir)/ksink
ksinkinclude_HEADERS = src/ksink/sink.h
pkgconfig_DATA = src/ksink-sink.pc
EXTRA_DIST += src/ksink-sink.pc.in

# `make demo`: ksink on an in-process mock Kafka cluster, with the plugins
# of this build tree.
demo: ksink $(pkglib_LTLIBRARIES)
	KSINK_PLUGIN_DIR='$(abs_top_builddir)/connectors/.libs' ./ksink demo
.PHONY: demo
