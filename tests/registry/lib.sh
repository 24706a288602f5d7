# SPDX-License-Identifier: BSD-2-Clause
# tests/registry/lib.sh - shell functions for the tests that need a real
# Schema Registry (Apicurio Registry 2.6 through its Confluent-compatible
# API, tests/registry/registry.sh).  Source it after tests/kafka/lib.sh
# (which provides skip, fail, hard_error, at_exit, scratch_dir, ...):
#
#	. "$top_srcdir/tests/kafka/lib.sh"
#	. "$top_srcdir/tests/registry/lib.sh"
#	registry_require            # sets REGISTRY_URL
#	id=$(registry_register "$REGISTRY_URL" t-value "$schema_json")
#
# registry_require starts the shared registry through
# tests/registry/registry.sh when none runs yet (the first test to need it
# starts it; tests/registry/stop.test stops it after all tests listed in
# REGISTRY_TESTS).  When no registry can be had (no java, no mvn, it does
# not start) the test is skipped (77), or fails hard (99) when CI=true.
#
# Functions:
#   registry_require         ensure the shared registry; set REGISTRY_URL
#                            (…/apis/ccompat/v7) and REGISTRY_SH
#   registry_private DIR [--tls CERT KEY]
#                            start a registry of the test's own, with its
#                            state in DIR (stopped at exit), and print its
#                            URL: for a test that stops or pauses it, or
#                            serves HTTPS
#   registry_register URL SUBJECT SCHEMA [CURLOPT...]
#                            register the Avro schema SCHEMA (its JSON
#                            text) under SUBJECT and print its id

REGISTRY_SH=$top_srcdir/tests/registry/registry.sh
CURL=${CURL:-curl}

registry_require()
{
	command -v "${JAVA:-java}" >/dev/null 2>&1 ||
		_ks_unavailable "java not found; an Apicurio Registry is needed"
	command -v "$CURL" >/dev/null 2>&1 ||
		_ks_unavailable "curl not found (tests/install-deps.sh --test installs it)"
	if ! REGISTRY_URL=$("$REGISTRY_SH" start); then
		_ks_unavailable "cannot start an Apicurio Registry with $REGISTRY_SH (see the messages above)"
	fi
	[ -n "$REGISTRY_URL" ] || _ks_unavailable "$REGISTRY_SH start printed no URL"
	export REGISTRY_URL
	echo "$_ks_test: Schema Registry at $REGISTRY_URL"
}

registry_private()
{
	_rg_dir=$1
	shift
	at_exit "KSINK_REGISTRY_STATE='$_rg_dir' \"\$REGISTRY_SH\" stop >/dev/null 2>&1"
	if ! KSINK_REGISTRY_STATE=$_rg_dir "$REGISTRY_SH" start "$@"; then
		_ks_unavailable "cannot start an Apicurio Registry with $REGISTRY_SH (see the messages above)"
	fi
}

registry_register()
{
	_rg_url=$1 _rg_subject=$2 _rg_schema=$3
	shift 3
	_rg_body=$("$PYTHON3" -c 'import json, sys; print(json.dumps({"schema": sys.argv[1]}))' "$_rg_schema") ||
		hard_error "cannot encode the schema as JSON"
	_rg_answer=$("$CURL" -sS -m 30 -X POST \
	    -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
	    --data "$_rg_body" "$@" "$_rg_url/subjects/$_rg_subject/versions") ||
		hard_error "cannot register a schema under $_rg_subject at $_rg_url"
	echo "$_rg_answer" | "$PYTHON3" -c 'import json, sys; print(json.load(sys.stdin)["id"])' ||
		hard_error "the registry answered $_rg_answer to the registration under $_rg_subject"
}
