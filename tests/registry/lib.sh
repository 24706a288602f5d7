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
#                            state in DIR (stopped at exit), and set
#                            PRIVATE_URL to its URL: for a test that stops
#                            or pauses it, or serves HTTPS.  Not in $(...):
#                            the stop at exit must be registered in the
#                            test's shell
#   registry_register URL SUBJECT SCHEMA [CURLOPT...]
#                            register the Avro schema SCHEMA (its JSON
#                            text) under SUBJECT and print its id
#   authproxy_start NAME ARGS...
#                            start tests/registry/authproxy.py ARGS (in
#                            $SCRATCH/NAME.*, killed at exit) and set
#                            PROXY_PORT; its log is $SCRATCH/NAME.log
#   regfetch_expect RESULT ARGS...
#                            run tests/registry/regfetch ARGS; fail unless
#                            its result is RESULT (OK, RETRY, POISON, FATAL,
#                            CONFIG) with the matching exit status; its
#                            output (stdout and stderr) is left in
#                            $SCRATCH/last.out and added to $SCRATCH/all.out
#   regfetch_says TEXT       fail unless $SCRATCH/last.out holds TEXT
#   no_secret SECRET...      fail if a SECRET is in $SCRATCH/all.out or in
#                            an authproxy log

REGISTRY_SH=$top_srcdir/tests/registry/registry.sh
REGFETCH=$KSINK_TESTBIN/registry/regfetch
AUTHPROXY=$top_srcdir/tests/registry/authproxy.py
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
	if ! PRIVATE_URL=$(KSINK_REGISTRY_STATE=$_rg_dir "$REGISTRY_SH" start "$@"); then
		_ks_unavailable "cannot start an Apicurio Registry with $REGISTRY_SH (see the messages above)"
	fi
	[ -n "$PRIVATE_URL" ] || _ks_unavailable "$REGISTRY_SH start printed no URL"
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

authproxy_start()
{
	_rg_name=$1
	shift
	rm -f "$SCRATCH/$_rg_name.port"
	"$PYTHON3" "$AUTHPROXY" --port-file "$SCRATCH/$_rg_name.port" \
	    --log "$SCRATCH/$_rg_name.log" "$@" \
	    >"$SCRATCH/$_rg_name.out" 2>&1 &
	track_pid $!
	wait_for 20 test -s "$SCRATCH/$_rg_name.port" ||
		hard_error "authproxy.py $* did not start: $(cat "$SCRATCH/$_rg_name.out")"
	PROXY_PORT=$(cat "$SCRATCH/$_rg_name.port")
	: >>"$SCRATCH/$_rg_name.log"
}

regfetch_expect()
{
	_rg_want=$1
	shift
	case $_rg_want in
	OK) _rg_code=0 ;; RETRY) _rg_code=1 ;; POISON) _rg_code=2 ;;
	FATAL) _rg_code=3 ;; CONFIG) _rg_code=4 ;;
	*) hard_error "regfetch_expect: unknown result $_rg_want" ;;
	esac
	[ -x "$REGFETCH" ] || hard_error "$REGFETCH not built (make check builds it)"
	"$REGFETCH" "$@" >"$SCRATCH/last.out" 2>&1
	_rg_rc=$?
	cat "$SCRATCH/last.out" >>"$SCRATCH/all.out"
	_rg_got=$(sed -n '1s/ .*//p' "$SCRATCH/last.out")
	if [ "$_rg_rc" -ne "$_rg_code" ] || [ "$_rg_got" != "$_rg_want" ]; then
		sed 's/^/	/' "$SCRATCH/last.out" >&2
		fail "regfetch $*: expected $_rg_want (status $_rg_code), got ${_rg_got:-nothing} (status $_rg_rc)"
	fi
	echo "$_ks_test: $_rg_want: $(head -n 1 "$SCRATCH/last.out" | cut -c 1-200)"
}

regfetch_says()
{
	grep -qF -- "$1" "$SCRATCH/last.out" ||
		fail "regfetch's output does not say \"$1\": $(cat "$SCRATCH/last.out")"
}

no_secret()
{
	for _rg_s in "$@"; do
		for _rg_f in "$SCRATCH/all.out" "$SCRATCH"/*.log; do
			[ -f "$_rg_f" ] || continue
			if grep -qF -- "$_rg_s" "$_rg_f"; then
				fail "a secret is in $_rg_f"
			fi
		done
	done
}
