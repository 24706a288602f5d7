# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/null-common.sh - shared by the end-to-end tests that count
# records with the null sink (null-kill.test, plugin-oot.test, sasl.test).
# Source it after tests/kafka/lib.sh.
#
# The null sink keeps, per partition, the next offset and the records and
# bytes it counted (key plus value lengths) in its state file; a record
# counted twice, an aborted record counted or a record lost changes a
# count.  nl_check compares them with the oracle, a read_committed reading
# of the topic.
#
# Functions:
#   nl_total STATE TOPIC       print the records of TOPIC counted in the
#                              state file STATE (0 when it does not exist)
#   nl_check ORACLE STATE TOPIC
#                              compare, partition by partition, the counts
#                              with the oracle's output (tests/kafka/oracle
#                              -b ... -t TOPIC): records and bytes equal,
#                              next offset past the last committed record;
#                              print a summary, return 1 on a difference
#   nl_stop PID LOG            SIGTERM a ksink, fail unless it exits 0
#                              within 60 s

nl_total()
{
	[ -f "$1" ] || { echo 0; return 0; }
	awk -v topic="$2" 'NR > 1 && $1 == topic { n += $4 }
	    END { print n + 0 }' "$1"
}

nl_check()
{
	LC_ALL=C awk -v topic="$3" -v oracle="$1" -v state="$2" '
	BEGIN { bad = 0 }
	FILENAME == oracle {
		split($0, f, "\t")
		p = f[1]
		parts[p] = 1
		want_n[p]++
		if (f[3] != "-")
			want_b[p] += length(f[3])
		if (f[4] != "-")
			want_b[p] += length(f[4])
		last[p] = f[2]
		if (p + 0 > maxp)
			maxp = p + 0
		next
	}
	FNR == 1 {
		if ($0 != "ksink-null 1") {
			print state ": first line is \"" $0 "\", not a state file"
			bad = 1
		}
		next
	}
	$1 == topic {
		if ($2 in next_off) {
			print state ": partition " $2 " listed twice"
			bad = 1
		}
		parts[$2] = 1
		if ($2 + 0 > maxp)
			maxp = $2 + 0
		next_off[$2] = $3
		got_n[$2] = $4
		got_b[$2] = $5
	}
	END {
		for (i = 0; i <= maxp; i++) {
			p = i ""
			if (!(p in parts))
				continue
			msg = sprintf("partition %s: oracle %d records, %d " \
			    "bytes; sink %d records, %d bytes", p, want_n[p],
			    want_b[p], got_n[p], got_b[p])
			if (want_n[p] + 0 != got_n[p] + 0 ||
			    want_b[p] + 0 != got_b[p] + 0) {
				msg = msg " <- DIFFERS"
				bad = 1
			} else if ((p in last) && next_off[p] + 0 <= last[p] + 0) {
				msg = msg sprintf(" <- next offset %s is not past " \
				    "the last committed record %s", next_off[p],
				    last[p])
				bad = 1
			}
			print msg
		}
		exit bad
	}' "$1" "$2"
}

nl_stop()
{
	kill -TERM "$1" 2>/dev/null
	_nl_gone() { ! kill -0 "$1" 2>/dev/null; }
	wait_for 60 _nl_gone "$1" || fail "ksink still runs 60 s after SIGTERM"
	wait "$1"
	_nl_rc=$?
	untrack_pid "$1"
	if [ "$_nl_rc" -ne 0 ]; then
		tail -n 30 "$2" >&2
		fail "ksink exited with status $_nl_rc after SIGTERM, expected 0 (log: $2)"
	fi
}
