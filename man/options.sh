#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# man/options.sh - the option lists that manual pages embed, generated from
# the option tables by `ksink --list-options --format=mdoc TYPE`.
#
# usage: options.sh check|update KSINK SRCDIR PAGE...
#
# A generated region of a page is the lines between
#
#	.\" BEGIN GENERATED OPTIONS TYPE
#	.\" END GENERATED OPTIONS
#
# where TYPE is worker, connector, or the type of a sink (sqlite, file,
# http, ...).  When a BEGIN line names no TYPE, it is taken from the page's
# name: ksink-TYPE.N.  A page may hold several regions; pages without any
# are left alone.  Plugin types are loaded from KSINK_PLUGIN_DIR.
#
# check:  prints a diff for every region that differs from what KSINK
#         prints now, and exits 1 if any does.
# update: rewrites the pages whose regions differ.
#
# PAGE names are relative to SRCDIR, as in dist_man_MANS.  Exits 2 on a
# malformed page or when KSINK cannot list a type's options.
set -u

me=options.sh
if [ $# -lt 3 ]; then
	echo "usage: $me check|update KSINK SRCDIR PAGE..." >&2
	exit 2
fi
mode=$1 ksink=$2 srcdir=$3
shift 3
case $mode in
check|update) ;;
*)	echo "$me: unknown mode \"$mode\"" >&2; exit 2 ;;
esac
if [ ! -x "$ksink" ]; then
	echo "$me: $ksink: no ksink binary there; build it first" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ksink-man.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

marker='^\.\\" BEGIN GENERATED OPTIONS'
drift=0 regions=0
for page in "$@"; do
	f=$srcdir/$page
	if [ ! -r "$f" ]; then
		echo "$me: $f: cannot read the page" >&2
		exit 2
	fi
	grep -q "$marker" "$f" || continue

	# The default type: ksink-TYPE.N names TYPE.
	base=${page##*/}
	case $base in
	ksink-*.[0-9]*)	deftype=${base#ksink-}; deftype=${deftype%.*} ;;
	*)		deftype= ;;
	esac

	# One word per region: its type, or - when it names none.
	types=$(sed -n \
	    -e 's/^\.\\" BEGIN GENERATED OPTIONS[ 	]*$/-/p' \
	    -e 's/^\.\\" BEGIN GENERATED OPTIONS[ 	]\{1,\}\([^ 	]*\).*$/\1/p' \
	    "$f")
	for t in $types; do
		[ "$t" != - ] || t=$deftype
		if [ -z "$t" ]; then
			echo "$f: a BEGIN GENERATED OPTIONS line names no type," \
			    "and the page's name is not ksink-TYPE.N;" \
			    "write: .\\\" BEGIN GENERATED OPTIONS TYPE" >&2
			exit 2
		fi
		case $t in
		*[!A-Za-z0-9_-]*)
			echo "$f: \"$t\" is not an option type" >&2
			exit 2 ;;
		esac
		[ -f "$tmp/$t.mdoc" ] && continue
		if ! "$ksink" --list-options --format=mdoc "$t" \
		    >"$tmp/$t.mdoc" 2>"$tmp/err"; then
			cat "$tmp/err" >&2
			echo "$f: \`ksink --list-options --format=mdoc $t\`" \
			    "failed; is the $t plugin built, and" \
			    "KSINK_PLUGIN_DIR set?" >&2
			exit 2
		fi
	done

	# Rebuild the page with fresh regions.
	if ! awk -v dir="$tmp" -v deftype="$deftype" -v file="$f" '
		function bad(msg) {
			printf "%s:%d: %s\n", file, NR, msg > "/dev/stderr"
			failed = 1
			exit 2
		}
		/^\.\\" BEGIN GENERATED OPTIONS/ {
			if (inside)
				bad("BEGIN GENERATED OPTIONS inside a region " \
				    "opened at line " start)
			type = (NF >= 5) ? $5 : deftype
			print
			src = dir "/" type ".mdoc"
			while ((r = (getline line < src)) > 0)
				print line
			if (r < 0)
				bad("cannot read the options of " type)
			close(src)
			inside = 1
			start = NR
			n++
			next
		}
		/^\.\\" END GENERATED OPTIONS/ {
			if (!inside)
				bad("END GENERATED OPTIONS without BEGIN")
			inside = 0
			print
			next
		}
		!inside { print }
		END {
			if (failed)
				exit 2
			if (inside) {
				printf "%s: the region opened at line %d has " \
				    "no END GENERATED OPTIONS line\n", file, \
				    start > "/dev/stderr"
				exit 2
			}
			print n > (dir "/count")
		}' "$f" >"$tmp/new"; then
		exit 2
	fi
	regions=$((regions + $(cat "$tmp/count")))

	if cmp -s "$f" "$tmp/new"; then
		continue
	fi
	if [ "$mode" = update ]; then
		# Keep the file (and its mode): overwrite its contents.
		cat "$tmp/new" >"$f" || exit 2
		echo "$me: updated $f"
		continue
	fi
	drift=1
	echo "$f: the generated option lists differ from the option tables:"
	diff -u "$f" "$tmp/new" | sed "2s|$tmp/new|$f (from the tables)|"
	echo
done

if [ "$drift" -ne 0 ]; then
	cat <<EOF
The option lists in the pages above no longer match the option tables
(the source of truth: src/options.c and each plugin's option table).
Fix: run \`make update-man\` in the build directory, review the change
with git diff, and commit it.  If the text itself is wrong, fix the .doc
string of the option in its table, not the page.
EOF
	exit 1
fi
echo "$me: $regions generated region(s) checked in $# page(s)"
exit 0
