#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/chaos/chaos.sh - the fault matrix: every sink against a real broker
# through each fault, one cell at a time (tests/chaos/cell.sh), then a
# table of fault x sink: records in the oracle, applied, missing,
# duplicated, aborted-applied, order violations (tests/chaos/check.py).
#
# usage: chaos.sh [--short] [--only REGEX]
#
# Without --short (`make chaos`): the whole matrix, about 20 minutes,
# with at least 200 SIGKILLs in all; the table is also saved as
# tests/chaos/results/latest.md in the build tree (latest-short.md for
# --short).  --short (the short
# version, tests/chaos/short.test in `make check`): one small cell per
# kind of fault for the SQLite sink, a zombie under the HTTP and the
# PostgreSQL sinks, and the file sink's fsync failures (of the directory,
# then of a data file).
# --only runs the cells whose "FAULT SINK" matches REGEX (grep -E).
#
# The matrix uses a broker of its own (KSINK_KAFKA_STATE, default
# tests/chaos/broker-full or tests/chaos/broker-short in the build tree),
# since its broker-crash cells kill it: a broker that other tests share
# must not be killed under them.  It is stopped at the end.  Each cell's
# output is kept in tests/chaos/results/FAULT-SINK.log; the work
# directories of the cells that were not clean are kept in
# tests/chaos/work.  Exit status: 0 when every cell is clean.

. "$top_srcdir/tests/kafka/lib.sh"

short=0
only=
while [ $# -gt 0 ]; do
	case $1 in
	--short) short=1 ;;
	--only) only=$2; shift ;;
	*) echo "usage: chaos.sh [--short] [--only REGEX]" >&2; exit 2 ;;
	esac
	shift
done

if [ $short = 1 ]; then
	# fault sink
	cells="sigkill sqlite
sigterm sqlite
broker-crash sqlite
zombie sqlite
churn-eager sqlite
zombie http
zombie postgres
hang sqlite
sqlite-busy sqlite
file-fsync file"
	kind=short
else
	cells=
	for s in sqlite postgres file http null; do
		cells="$cells
sigkill $s
sigterm $s"
	done
	for s in sqlite postgres file http null; do
		cells="$cells
broker-crash $s"
	done
	for s in sqlite postgres file http http/offsets null; do
		cells="$cells
zombie $s"
	done
	for f in churn-eager churn-coop; do
		for s in sqlite postgres file http http/offsets null; do
			cells="$cells
$f $s"
		done
	done
	for s in sqlite postgres file http null; do
		cells="$cells
hang $s"
	done
	cells="$cells
sqlite-busy sqlite
file-enospc file
file-fsync file
http-500 http
http-429 http
http-slow http
http-close http
all-faults http/offsets
partition postgres"
	kind=full
fi

results=$top_builddir/tests/chaos/results
mkdir -p "$results" || hard_error "cannot create $results"
rows=$results/$kind.tsv
: >"$rows"
export CHAOS_ROWS=$rows
export CHAOS_SHORT=$short
export CHAOS_FAULTFS=${CHAOS_FAULTFS:-$top_builddir/tests/chaos/.libs/faultfs.so}
export KSINK_KAFKA_STATE=${KSINK_KAFKA_STATE:-$top_builddir/tests/chaos/broker-$kind}

kafka_require
at_exit '"$BROKER_SH" stop >/dev/null 2>&1'
# The postgres cells' server, of its own too; started by the first cell.
export KSINK_PG_STATE=${KSINK_PG_STATE:-$top_builddir/tests/chaos/pg-$kind}
at_exit '"$top_srcdir/tests/postgres/server.sh" stop >/dev/null 2>&1'

t0=$(date +%s)
total=$(echo "$cells" | grep -c .)
[ -z "$only" ] || total=$(echo "$cells" | grep -E -c -- "$only")
i=0
echo "$cells" | grep . >"$results/$kind.cells"
# The broker-crash cells of all sinks run at once, and the broker is
# crashed under all of them (see cell_broker_crash in cell.sh).
crash_broker()
{
	dir=$1
	shift
	waited=0
	for c in "$@"; do
		while [ ! -e "$dir/ready-$c" ]; do
			sleep 0.5
			waited=$((waited + 1))
			[ $waited -lt 240 ] || break 2
		done
	done
	n=0
	while [ $n -lt "${CHAOS_CRASHES:-$([ $short = 1 ] && echo 1 || echo 3)}" ]; do
		sleep_ms "$(random_int 1000 4000)"
		"$BROKER_SH" kill9 2>>"$dir/broker.log" || break
		n=$((n + 1))
		echo "$n" >"$dir/crashes"
		echo "$(date '+%H:%M:%S') broker crash $n" >>"$dir/broker.log"
		sleep_ms "$(random_int 2000 6000)"
		"$BROKER_SH" restart >/dev/null 2>>"$dir/broker.log" || break
		echo "$(date '+%H:%M:%S') broker up again" >>"$dir/broker.log"
	done
	echo "$n" >"$dir/crashes"
	touch "$dir/done"
}

run_cell()
{
	timeout -k 30 "${CHAOS_CELL_TIMEOUT:-900}" \
	    bash "$top_srcdir/tests/chaos/cell.sh" "$1" "$2" \
	    </dev/null >"$results/$1-$(echo "$2" | tr / -).log" 2>&1
}

# Writes a row for a cell that ended without one.
check_row()
{
	if ! grep -q "^$1	$2	" "$rows"; then
		log=$results/$1-$(echo "$2" | tr / -).log
		why="the cell stopped with status $3 before its row"
		[ "$3" -ne 124 ] || why="the cell timed out"
		printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\tFAIL: %s (%s)\n' "$1" \
		    "$2" "$why" "$(grep -E 'ERROR|FAIL|PROBLEM' "$log" | tail -n 1)" >>"$rows"
	fi
	echo "[$i/$total] $1 $2: $(grep "^$1	$2	" "$rows" | tail -n 1 | cut -f 10)${4:+ ($4 s)}"
}

while read -r fault sink; do
	[ -z "$only" ] || echo "$fault $sink" | grep -qE -- "$only" || continue
	[ "$fault" != broker-crash ] || [ -z "${crash_done:-}" ] || continue
	i=$((i + 1))
	name=$fault-$(echo "$sink" | tr / -)
	# Cells that cannot exist: several workers sharing a state that one
	# process holds.
	case $fault in
	churn-*)
		case $sink in
		file|null|http)
			printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\tn/a\n' "$fault" "$sink" >>"$rows"
			echo "[$i/$total] $fault $sink: n/a (one process holds the sink's state)"
			continue
			;;
		esac
		;;
	esac
	if [ "$fault" = broker-crash ]; then
		crash_done=1
		sinks=$(grep '^broker-crash ' "$results/$kind.cells" | cut -d' ' -f2)
		[ -z "$only" ] || sinks=$(for s in $sinks; do
			echo "broker-crash $s" | grep -qE -- "$only" && echo "$s"
		done)
		export CHAOS_CRASH_DIR=$top_builddir/tests/chaos/crash.dir
		rm -rf "$CHAOS_CRASH_DIR" && mkdir -p "$CHAOS_CRASH_DIR"
		c0=$(date +%s)
		pids=
		for s in $sinks; do
			run_cell broker-crash "$s" &
			pids="$pids $!"
			track_pid $!
		done
		crash_broker "$CHAOS_CRASH_DIR" $(echo "$sinks" | tr / -)
		i=$((i - 1))
		set -- $pids
		for s in $sinks; do
			wait "$1"
			rc=$?
			untrack_pid "$1"
			shift
			i=$((i + 1))
			check_row broker-crash "$s" $rc "$(($(date +%s) - c0))"
		done
		cat "$CHAOS_CRASH_DIR/broker.log" >>"$results/broker-crash.log" 2>/dev/null
		rm -rf "$CHAOS_CRASH_DIR"
		unset CHAOS_CRASH_DIR
		continue
	fi
	c0=$(date +%s)
	run_cell "$fault" "$sink"
	check_row "$fault" "$sink" $? "$(($(date +%s) - c0))"
done <"$results/$kind.cells"

echo
echo "fault matrix ($kind), $(($(date +%s) - t0)) s:"
echo
# The rows in the order of the cells (the broker-crash cells write theirs
# at once).
awk 'NR == FNR { order[$1 " " $2] = NR; next }
    { split($0, f, "\t"); print order[f[1] " " f[2]] "\t" $0 }' \
    "$results/$kind.cells" "$rows" |
    sort -s -n -k1,1 | cut -f 2- >"$rows.sorted" && mv "$rows.sorted" "$rows"
md=latest.md
[ $short = 0 ] || md=latest-short.md
"$PYTHON3" "$top_srcdir/tests/chaos/check.py" table "$rows" \
    --markdown "$results/$md"
