# SPDX-License-Identifier: BSD-2-Clause
# tests/registry: the real Schema Registry harness (Apicurio Registry 2.6,
# see registry.sh and lib.sh) and the tests of the registry client.
#
# A test that needs the registry sources tests/registry/lib.sh, calls
# registry_require (or registry_private), and is listed in REGISTRY_TESTS
# as well as in KAFKA_TESTS when it needs the broker too, or in
# SCRIPT_TESTS otherwise:
#	REGISTRY_TESTS += tests/registry/foo.test
# so that tests/registry/stop.test, which stops the shared registry, runs
# after it.

dist_check_SCRIPTS += tests/registry/registry.sh tests/registry/stop.test
EXTRA_DIST += tests/registry/lib.sh tests/registry/authproxy.py

TESTS += tests/registry/stop.test
tests/registry/stop.log: $(REGISTRY_TESTS:.test=.log)

# The registry client on the command line.
check_PROGRAMS += tests/registry/regfetch
tests_registry_regfetch_SOURCES = tests/registry/regfetch.c
tests_registry_regfetch_CPPFLAGS = $(src_libksink_a_CPPFLAGS)
tests_registry_regfetch_LDADD = $(KSINK_CORE_LIBS)

# The client against the real registry (and tests/registry/authproxy.py
# in front of it for authentication and client certificates).
REGISTRY_CLIENT_TESTS = \
	tests/registry/fetch.test \
	tests/registry/auth.test \
	tests/registry/tls.test
REGISTRY_TESTS += $(REGISTRY_CLIENT_TESTS)
SCRIPT_TESTS += $(REGISTRY_CLIENT_TESTS)
