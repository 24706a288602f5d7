#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# tests/fuzz/run.sh - runs the libFuzzer targets built by `make fuzz`.
#
# usage: run.sh [-t SECONDS] [-r] TARGET...
#
# Each target tests/fuzz/fuzz_NAME runs for SECONDS (default 60) on its
# working corpus tests/fuzz/work/NAME (in the build tree; new inputs go
# there) and its seed corpus $srcdir/tests/fuzz/corpus/NAME, with the
# dictionary NAME.dict when there is one.  A crash, sanitizer report or
# failed invariant leaves its input in tests/fuzz/crashes-new/ and makes
# the script exit 1; each run's last statistics line is printed.
#
# -r (regression) runs each target once over its seed corpus and over
# $srcdir/tests/fuzz/crashes/NAME* (inputs that once failed, kept after
# their fix) instead of fuzzing.
#
# KSINK_FUZZ_KNOWN=name,...  skips the named invariants, and
# KSINK_FUZZ_SUPPRESS=1 the UBSan reports listed in known.supp: both only
# to fuzz past a finding that is reported but not fixed yet.

: "${srcdir:=$(dirname "$0")/../..}"
seconds=60
regress=0
while getopts rt: c; do
	case $c in
	r) regress=1 ;;
	t) seconds=$OPTARG ;;
	*) echo "usage: run.sh [-t SECONDS] [-r] TARGET..." >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))

fz=$srcdir/tests/fuzz
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if [ "${KSINK_FUZZ_SUPPRESS:-0}" = 1 ]; then
	UBSAN_OPTIONS=$UBSAN_OPTIONS:suppressions=$fz/known.supp
fi
export UBSAN_OPTIONS
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export ASAN_OPTIONS

failed=0
for t in "$@"; do
	bin=tests/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin is not built (make fuzz builds it)" >&2
		exit 99
	fi
	if [ $regress = 1 ]; then
		set -- "$fz/corpus/$t"/*
		for f in "$fz/crashes/$t"*; do
			[ -f "$f" ] && set -- "$@" "$f"
		done
		if "$bin" "$@" >"tests/fuzz/$t.log" 2>&1; then
			echo "fuzz: $t: $# inputs, no failure"
		else
			echo "fuzz: $t: FAILED (see tests/fuzz/$t.log)"
			grep -E 'invariant|ERROR|runtime error|Running:' \
			    "tests/fuzz/$t.log" | tail -4
			failed=1
		fi
		continue
	fi
	mkdir -p "tests/fuzz/work/$t" tests/fuzz/crashes-new
	dict=
	[ -f "$fz/$t.dict" ] && dict=-dict=$fz/$t.dict
	start=$(date +%s)
	"$bin" -max_total_time="$seconds" -print_final_stats=1 \
	    -artifact_prefix="tests/fuzz/crashes-new/$t-" $dict \
	    "tests/fuzz/work/$t" "$fz/corpus/$t" >"tests/fuzz/$t.log" 2>&1
	rc=$?
	end=$(date +%s)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "tests/fuzz/$t.log")
	cov=$(grep -E '^#[0-9]+' "tests/fuzz/$t.log" | tail -1 |
	    sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	corpus=$(ls "tests/fuzz/work/$t" | wc -l)
	if [ $rc = 0 ]; then
		echo "fuzz: $t: $((end - start)) s, ${runs:-?} runs, coverage" \
		    "${cov:-?}, corpus $corpus inputs: nothing found"
	else
		echo "fuzz: $t: FOUND a failure after $((end - start)) s" \
		    "(${runs:-?} runs); input in tests/fuzz/crashes-new/," \
		    "log in tests/fuzz/$t.log"
		grep -E 'invariant|ERROR:|runtime error|SUMMARY' \
		    "tests/fuzz/$t.log" | head -4
		failed=1
	fi
done
exit $failed
