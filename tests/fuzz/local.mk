# SPDX-License-Identifier: BSD-2-Clause
# tests/fuzz: libFuzzer targets, built with clang (not configure's
# compiler) and never part of the normal build.  See tests/fuzz/README.
#
#	make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="conf ..."]
#		builds the targets and runs each for FUZZ_SECONDS
#	make fuzz-regress
#		runs each target once over its seeds and tests/fuzz/crashes

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_TARGETS = avro conf envelope file_manifest http_body sqlite_bind
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fsanitize-recover=undefined
FUZZ_CPPFLAGS = -DHAVE_CONFIG_H -I$(top_builddir) -I$(top_srcdir)/src \
	-I$(top_srcdir)/tests/fuzz

FUZZ_BINS = tests/fuzz/fuzz_avro tests/fuzz/fuzz_conf tests/fuzz/fuzz_envelope \
	tests/fuzz/fuzz_file_manifest tests/fuzz/fuzz_http_body \
	tests/fuzz/fuzz_sqlite_bind
FUZZ_H = $(top_srcdir)/tests/fuzz/fuzz.h $(top_builddir)/config.h
# connectors/lib, compiled into every target of a connector.
FUZZ_LIB = $(top_srcdir)/connectors/lib/atomicfile.c \
	$(top_srcdir)/connectors/lib/base64.c \
	$(top_srcdir)/connectors/lib/buf.c \
	$(top_srcdir)/connectors/lib/clock.c \
	$(top_srcdir)/connectors/lib/envelope.c \
	$(top_srcdir)/connectors/lib/err.c \
	$(top_srcdir)/connectors/lib/json.c \
	$(top_srcdir)/connectors/lib/offcache.c \
	$(top_srcdir)/connectors/lib/sqltext.c \
	$(top_srcdir)/connectors/lib/utf8.c
FUZZ_SQLLIB = $(FUZZ_LIB) $(top_srcdir)/connectors/lib/sqloffsets.c
FUZZ_FILE = $(top_srcdir)/connectors/file/file.c \
	$(top_srcdir)/connectors/file/manifest.c \
	$(top_srcdir)/connectors/file/names.c \
	$(top_srcdir)/connectors/file/recovery.c \
	$(top_srcdir)/connectors/file/streams.c
FUZZ_HTTP = $(top_srcdir)/connectors/http/http.c \
	$(top_srcdir)/connectors/http/body.c \
	$(top_srcdir)/connectors/http/ledger.c \
	$(top_srcdir)/connectors/http/options.c \
	$(top_srcdir)/connectors/http/request.c \
	$(top_srcdir)/connectors/http/send.c

# What the configuration's validation needs of the daemon's sources.
FUZZ_CORE = $(top_srcdir)/src/conf.c $(top_srcdir)/src/options.c \
	$(top_srcdir)/src/util.c $(top_srcdir)/src/consumer.c \
	$(top_srcdir)/src/waker.c $(top_srcdir)/src/retry.c \
	$(top_srcdir)/src/stats.c $(top_srcdir)/src/log.c
# The daemon's host services, which the targets of a connector give the
# plugin, as the daemon does.
FUZZ_HOST = $(FUZZ_CORE) $(top_srcdir)/src/sink.c
FUZZ_HOST_CFLAGS = $(RDKAFKA_CFLAGS) $(INIH_CFLAGS)
FUZZ_HOST_LIBS = $(RDKAFKA_LIBS) $(INIH_LIBS) $(LIBS)
FUZZ_SQLITE = $(top_srcdir)/connectors/sqlite/sqlite.c \
	$(top_srcdir)/connectors/sqlite/sql.c

# The Avro converter: the daemon's decoder with what it needs.
FUZZ_AVRO = $(top_srcdir)/src/avroschema.c $(top_srcdir)/src/avrodec.c \
	$(top_srcdir)/src/render.c $(top_srcdir)/src/fields.c \
	$(top_srcdir)/src/util.c $(top_srcdir)/connectors/lib/base64.c \
	$(top_srcdir)/connectors/lib/buf.c $(top_srcdir)/connectors/lib/json.c \
	$(top_srcdir)/connectors/lib/utf8.c

tests/fuzz/fuzz_avro: $(top_srcdir)/tests/fuzz/fuzz_avro.c $(FUZZ_H) \
	    $(FUZZ_AVRO)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) $(AVRO_CFLAGS) \
	    $(JANSSON_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_avro.c \
	    $(FUZZ_AVRO) $(AVRO_LIBS) $(JANSSON_LIBS)

tests/fuzz/fuzz_conf: $(top_srcdir)/tests/fuzz/fuzz_conf.c $(FUZZ_H) \
	    $(FUZZ_CORE)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) $(RDKAFKA_CFLAGS) \
	    $(INIH_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_conf.c \
	    $(FUZZ_CORE) $(RDKAFKA_LIBS) $(INIH_LIBS)

tests/fuzz/fuzz_envelope: $(top_srcdir)/tests/fuzz/fuzz_envelope.c \
	    $(FUZZ_H) $(FUZZ_LIB)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
	    $(top_srcdir)/tests/fuzz/fuzz_envelope.c $(FUZZ_LIB)

tests/fuzz/fuzz_file_manifest: $(top_srcdir)/tests/fuzz/fuzz_file_manifest.c \
	    $(FUZZ_H) $(top_srcdir)/connectors/file/file.h $(FUZZ_FILE) \
	    $(FUZZ_HOST) $(FUZZ_LIB)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) $(FUZZ_HOST_CFLAGS) \
	    -o $@ $(top_srcdir)/tests/fuzz/fuzz_file_manifest.c $(FUZZ_FILE) \
	    $(FUZZ_HOST) $(FUZZ_LIB) $(FUZZ_HOST_LIBS)

tests/fuzz/fuzz_http_body: $(top_srcdir)/tests/fuzz/fuzz_http_body.c \
	    $(FUZZ_H) $(top_srcdir)/connectors/http/http.h $(FUZZ_HTTP) \
	    $(FUZZ_SQLLIB)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) $(LIBCURL_CFLAGS) \
	    $(SQLITE3_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz_http_body.c \
	    $(FUZZ_HTTP) $(FUZZ_SQLLIB) $(LIBCURL_LIBS) $(SQLITE3_LIBS)

tests/fuzz/fuzz_sqlite_bind: $(top_srcdir)/tests/fuzz/fuzz_sqlite_bind.c \
	    $(FUZZ_H) $(top_srcdir)/connectors/sqlite/sqlite.h $(FUZZ_SQLITE) \
	    $(FUZZ_HOST) $(FUZZ_SQLLIB)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CPPFLAGS) $(FUZZ_HOST_CFLAGS) \
	    $(SQLITE3_CFLAGS) -o $@ \
	    $(top_srcdir)/tests/fuzz/fuzz_sqlite_bind.c $(FUZZ_SQLITE) \
	    $(FUZZ_HOST) $(FUZZ_SQLLIB) $(FUZZ_HOST_LIBS) $(SQLITE3_LIBS)

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs" \
	    "$(FUZZ_CC) with libFuzzer: apt-get install clang" \
	    "libclang-rt-14-dev" >&2; exit 1; }
	@set --; for t in $(FUZZ_TARGETS); do \
	    set -- "$$@" tests/fuzz/fuzz_$$t; done; \
	    $(MAKE) $(AM_MAKEFLAGS) "$$@"

fuzz: fuzz-build
	srcdir='$(srcdir)' $(SHELL) '$(srcdir)/tests/fuzz/run.sh' \
	    -t '$(FUZZ_SECONDS)' $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	srcdir='$(srcdir)' $(SHELL) '$(srcdir)/tests/fuzz/run.sh' -r \
	    $(FUZZ_TARGETS)

.PHONY: fuzz fuzz-build fuzz-regress

EXTRA_DIST += tests/fuzz/README tests/fuzz/fuzz.h tests/fuzz/run.sh \
	tests/fuzz/seeds.py tests/fuzz/known.supp tests/fuzz/conf.dict \
	tests/fuzz/avro.dict \
	tests/fuzz/fuzz_avro.c tests/fuzz/fuzz_conf.c \
	tests/fuzz/fuzz_envelope.c \
	tests/fuzz/fuzz_file_manifest.c tests/fuzz/fuzz_http_body.c \
	tests/fuzz/fuzz_sqlite_bind.c tests/fuzz/corpus tests/fuzz/crashes
CLEANFILES += $(FUZZ_BINS) tests/fuzz/avro.log tests/fuzz/conf.log tests/fuzz/envelope.log \
	tests/fuzz/file_manifest.log tests/fuzz/http_body.log \
	tests/fuzz/sqlite_bind.log
