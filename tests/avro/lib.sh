# SPDX-License-Identifier: BSD-2-Clause
# tests/avro/lib.sh - shell functions for the end-to-end tests of the Avro
# converter: Avro topics written by tests/kafka/avroproducer.py with
# schemas in a real Apicurio Registry, compared with
# tests/kafka/avrooracle.py by tests/avro/check_avro.py.  Source it after
# tests/kafka/lib.sh, tests/registry/lib.sh and tests/kafka/daemon.sh:
#
#	avro_require                 # broker, registry, AVRO_PY
#	                             # (or cjson_require: no registry)
#	avro_setup NAME              # AV_WORK, AV_TOPIC
#	avro_produce -n 500 -E 250   # more avroproducer.py options
#	avro_oracle                  # $AV_WORK/oracle.jsonl
#	"$AVRO_PY" "$AV_CHECK" file "$AV_WORK/oracle.jsonl" ...
#
# Functions:
#   avro_require            kafka_require, registry_require, and a python3
#                           with python3-avro and python3-confluent-kafka
#                           (AVRO_PY: $PYTHON3, else /usr/bin/python3);
#                           when none has them the test is skipped, or
#                           fails hard under CI=true
#   cjson_require           the same without a registry, for topics of
#                           Kafka Connect's JSON with schema: then
#                           avro_produce and avro_oracle pass -C instead
#                           of the registry's URL
#   avro_setup NAME         a scratch directory AV_WORK, a fresh topic
#                           AV_TOPIC (3 partitions), a seed AV_SEED
#   avro_produce ARGS...    avroproducer.py on AV_TOPIC with the registry
#                           $AV_REGISTRY (default $REGISTRY_URL) or -C, seed
#                           AV_SEED, and ARGS; its output in produce.log
#   avro_oracle [FILE]      the oracle of AV_TOPIC into FILE (default
#                           $AV_WORK/oracle.jsonl)
#   avro_converters URL     print the connector keys of the avro key and
#                           value converters with the registry URL
#   avro_good               print the number of records of the oracle
#                           whose value decodes

AV_PRODUCER=$top_srcdir/tests/kafka/avroproducer.py
AV_ORACLE=$top_srcdir/tests/kafka/avrooracle.py
AV_CHECK=$top_srcdir/tests/avro/check_avro.py

avro_require()
{
	kafka_require
	registry_require
	_avro_python
	AV_REGISTRY=${AV_REGISTRY:-$REGISTRY_URL}
}

cjson_require()
{
	kafka_require
	_avro_python
	AV_CJSON=-C
}

_avro_python()
{
	AVRO_PY=
	for _av_py in "$PYTHON3" /usr/bin/python3; do
		if "$_av_py" -c 'import avro.io, confluent_kafka' 2>/dev/null; then
			AVRO_PY=$_av_py
			break
		fi
	done
	[ -n "$AVRO_PY" ] ||
		_ks_unavailable "no python3 with python3-avro and python3-confluent-kafka (tests/install-deps.sh --test installs them)"
	[ -x "$KSINK" ] || hard_error "ksink not built: $KSINK"
}

avro_setup()
{
	AV_WORK=$(scratch_dir "$top_builddir/tests/avro/$1.dir") || exit 99
	AV_TOPIC=$(unique_topic "avro-$1")
	AV_SEED=$(random_int 1 1000000)
	echo "topic $AV_TOPIC, seed $AV_SEED, work dir $AV_WORK"
}

avro_produce()
{
	"$AVRO_PY" "$AV_PRODUCER" -b "$BOOTSTRAP" -t "$AV_TOPIC" \
	    ${AV_CJSON:--g "$AV_REGISTRY"} -s "$AV_SEED" "$@" 2>>"$AV_WORK/produce.log" ||
		hard_error "avroproducer.py failed: $(tail -n 3 "$AV_WORK/produce.log")"
}

avro_oracle()
{
	"$AVRO_PY" "$AV_ORACLE" -b "$BOOTSTRAP" -t "$AV_TOPIC" \
	    ${AV_CJSON:--g "$AV_REGISTRY"} >"${1:-$AV_WORK/oracle.jsonl}" \
	    2>>"$AV_WORK/oracle.log" ||
		hard_error "avrooracle.py failed: $(tail -n 3 "$AV_WORK/oracle.log")"
}

avro_good()
{
	"$AVRO_PY" "$AV_CHECK" good "${1:-$AV_WORK/oracle.jsonl}" | cut -d ' ' -f 1
}

avro_converters()
{
	cat <<EOC
key.converter = avro
key.converter.schema.registry.url = $1
value.converter = avro
value.converter.schema.registry.url = $1
EOC
}
