#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The example plugin of ksink-plugins(7): its files, each between a
# `.\" BEGIN EXAMPLE NAME` line and the next `.\" END EXAMPLE` line of the
# page, in a .Bd -literal display escaped for mdoc.
#
#	plugins-example.sh extract PAGE NAME
#		prints the C text of the example file NAME
#	plugins-example.sh update PAGE SRCDIR NAME:SOURCE...
#		prints PAGE with each example NAME replaced by SRCDIR/SOURCE
#
# tests/e2e/plugin-oot.test extracts; `make update-plugins-example`
# (connectors/null/local.mk) updates.

usage()
{
	echo "usage: $0 extract PAGE NAME | update PAGE SRCDIR NAME:SOURCE..." >&2
	exit 2
}

[ $# -ge 3 ] || usage
mode=$1 page=$2
shift 2
case $mode in
extract)
	grep -qxF ".\\\" BEGIN EXAMPLE $1" "$page" || {
		echo "$page: no example between \".\\\" BEGIN EXAMPLE $1\" and \".\\\" END EXAMPLE\" lines" >&2
		exit 1
	}
	awk -v name="$1" '
	    $0 == ".\\\" BEGIN EXAMPLE " name { on = 1; next }
	    on && $0 == ".\\\" END EXAMPLE" { exit }
	    on && !/^\.Bd/ && !/^\.Ed/ { print }' "$page" |
	    sed -e 's/^\\&//' -e 's/\\e/\\/g'
	;;
update)
	srcdir=$1
	shift
	tmp=$(mktemp) || exit 1
	trap 'rm -f "$tmp" "$tmp.src"' EXIT
	cat "$page" >"$tmp" || exit 1
	for ex; do
		name=${ex%%:*} src=$srcdir/${ex#*:}
		grep -qxF ".\\\" BEGIN EXAMPLE $name" "$tmp" || {
			echo "$page: no \".\\\" BEGIN EXAMPLE $name\" line" >&2
			exit 1
		}
		sed -e 's/\\/\\e/g' -e 's/^[.'\'']/\\\&&/' "$src" >"$tmp.src" ||
			exit 1
		awk -v name="$name" -v src="$tmp.src" '
		    $0 == ".\\\" BEGIN EXAMPLE " name {
			print; print ".Bd -literal"
			while ((getline l <src) > 0)
				print l
			print ".Ed"; skip = 1; next
		    }
		    skip && $0 == ".\\\" END EXAMPLE" { skip = 0 }
		    !skip { print }' "$tmp" >"$tmp.new" &&
		    mv "$tmp.new" "$tmp" || exit 1
	done
	cat "$tmp"
	;;
*)
	usage ;;
esac
