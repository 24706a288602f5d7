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
EXTRA_DIST += tests/registry/lib.sh

TESTS += tests/registry/stop.test
tests/registry/stop.log: $(REGISTRY_TESTS:.test=.log)
