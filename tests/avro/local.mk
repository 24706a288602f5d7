# SPDX-License-Identifier: BSD-2-Clause
# tests/avro: end-to-end tests of the Avro converter on the real broker,
# registry (Apicurio Registry 2.6, tests/registry) and PostgreSQL server:
# topics written by tests/kafka/avroproducer.py, each sink compared with
# tests/kafka/avrooracle.py (the topic decoded with python3-avro) by
# tests/avro/check_avro.py.  See tests/avro/lib.sh.  connect-json.test
# does the same for Kafka Connect's JSON with schema, without a registry
# (avroproducer.py -C, tests/kafka/cjsonlib.py).

AVRO_TESTS = \
	tests/avro/sinks.test \
	tests/avro/registry-down.test \
	tests/avro/auth.test
AVRO_PG_TESTS = tests/avro/pg.test
KAFKA_TESTS += $(AVRO_TESTS) $(AVRO_PG_TESTS)
REGISTRY_TESTS += $(AVRO_TESTS) $(AVRO_PG_TESTS)
POSTGRES_TESTS += $(AVRO_PG_TESTS)
CJSON_TESTS = tests/avro/connect-json.test
KAFKA_TESTS += $(CJSON_TESTS)
POSTGRES_TESTS += $(CJSON_TESTS)
dist_check_SCRIPTS += tests/avro/check_avro.py tests/avro/forward.py
EXTRA_DIST += tests/avro/lib.sh

# The issue-sized kill run: 20 SIGKILLs over 21 x 1,500 records into
# PostgreSQL; not part of make check, which makes 3 over 4 x 300.
check-avro-long:
	$(MAKE) $(AM_MAKEFLAGS) check AVRO_RECORDS=1500 AVRO_KILLS=20 \
	    TESTS="$(AVRO_PG_TESTS) tests/registry/stop.test tests/postgres/stop.test tests/kafka/stop.test" \
	    KAFKA_TESTS="$(AVRO_PG_TESTS)" POSTGRES_TESTS="$(AVRO_PG_TESTS)" \
	    REGISTRY_TESTS="$(AVRO_PG_TESTS)"
.PHONY: check-avro-long
