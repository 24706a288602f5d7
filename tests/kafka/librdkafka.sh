#!/usr/bin/env bash
# A librdkafka other than the system's, for a test leg or a bench run
# only: Debian 13's librdkafka 2.8.0 built on Debian 12 the Debian way.
#
#   tests/kafka/librdkafka.sh build        build the packages, unless cached
#   tests/kafka/librdkafka.sh root         build if needed; print the root
#   tests/kafka/librdkafka.sh configure    build if needed; print, one a
#                                          line, the VAR=VALUE arguments
#                                          that make ./configure use it
#   tests/kafka/librdkafka.sh check DIR    check that DIR's ksink and test
#                                          helpers load it, not the system's
#
# The source package comes from the trixie suite of the Debian archive
# through a deb-src entry in a sources file of this script's own, read by
# apt with private state (lists and cache under the cache folder): the
# system's apt configuration is never read for it or changed, and no
# binary package of trixie is installed.  Its Build-Depends come from the
# system's own suite (Debian 12's packages; installed with apt-get
# build-dep, needing root or sudo, only when missing).  dpkg-buildpackage
# builds the .debs (nocheck: librdkafka's own tests need a broker), which
# are kept in the cache.  They are never installed: dpkg-deb -x unpacks
# librdkafka1 and librdkafka-dev into a private root beside them, whose
# rdkafka.pc points into that root; the configure arguments add a run
# path, so ksink, its plugins and the test helpers load that library.
#
# A second run finds the .debs and the root in the cache and builds
# nothing.
#
# Environment:
#   KSINK_LIBRDKAFKA_DEB   Debian version of the source package (2.8.0-1)
#   KSINK_LIBRDKAFKA_SUITE Debian suite that serves it (trixie)
#   KSINK_LIBRDKAFKA_CACHE cache folder (default
#                          ${XDG_CACHE_HOME:-$HOME/.cache}/ksink/librdkafka-UPSTREAM)
#   KSINK_DEBIAN_MIRROR    the archive (default: the system's Debian mirror)
set -euo pipefail

DEB=${KSINK_LIBRDKAFKA_DEB:-2.8.0-1}
SUITE=${KSINK_LIBRDKAFKA_SUITE:-trixie}
UPSTREAM=${DEB%-*}
CACHE=${KSINK_LIBRDKAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksink/librdkafka-$UPSTREAM}
ROOT=$CACHE/root
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
work=
ARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
LIBDIR=$ROOT/usr/lib/$ARCH

die()
{
	echo "librdkafka.sh: $*" >&2
	exit 1
}

sudo_cmd()
{
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root or sudo to run: $*"
	fi
}

# The Debian mirror the system uses, from its deb822 or one-line sources.
mirror()
{
	local m

	if [ -n "${KSINK_DEBIAN_MIRROR:-}" ]; then
		echo "$KSINK_DEBIAN_MIRROR"
		return
	fi
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	    awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' |
	    grep -E '/debian/?$' | head -n 1 || true)
	if [ -z "$m" ]; then
		m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		    2>/dev/null | awk '$1 == "deb" && $0 !~ /\[/ { print $2 }' |
		    grep -E '/debian/?$' | head -n 1 || true)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

debs_cached()
{
	[ -f "$CACHE/librdkafka1_${DEB}_$(dpkg --print-architecture).deb" ] &&
	    [ -f "$CACHE/librdkafka-dev_${DEB}_$(dpkg --print-architecture).deb" ]
}

build()
{
	local apt_dir src start arch
	local -a apt

	debs_cached && return 0
	[ -r "$KEYRING" ] ||
		die "no $KEYRING: install the debian-archive-keyring package"
	command -v dpkg-buildpackage >/dev/null ||
		sudo_cmd apt-get install -y -qq --no-install-recommends \
		    dpkg-dev build-essential >/dev/null
	start=$(date +%s)
	work=$(mktemp -d "${TMPDIR:-/tmp}/ksink-librdkafka.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	apt_dir=$work/apt
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	echo "deb-src [signed-by=$KEYRING] $(mirror) $SUITE main" \
	    >"$apt_dir/sources.list"
	apt=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	    -o Dir::Etc::SourceParts=/nonexistent
	    -o "Dir::State::Lists=$apt_dir/lists"
	    -o "Dir::Cache=$apt_dir/cache"
	    -o APT::Sandbox::User=root)
	echo "librdkafka.sh: fetching librdkafka $DEB from $SUITE" >&2
	apt-get "${apt[@]}" -qq update ||
		die "cannot read the $SUITE sources (see above)"
	(cd "$work" && apt-get "${apt[@]}" -qq source "librdkafka=$DEB") \
	    >"$work/source.log" 2>&1 || {
		cat "$work/source.log" >&2
		die "cannot fetch the source package librdkafka $DEB from $SUITE"
	}
	src=$work/librdkafka-$UPSTREAM
	[ -d "$src" ] || die "no $src after apt-get source"

	# The Build-Depends, from the system's own suite.
	if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
		echo "librdkafka.sh: installing its Build-Depends" >&2
		export DEBIAN_FRONTEND=noninteractive
		sudo_cmd apt-get update -qq
		sudo_cmd apt-get build-dep -y -qq --no-install-recommends \
		    "$src" >/dev/null
		(cd "$src" && dpkg-checkbuilddeps) ||
			die "the Build-Depends of librdkafka $DEB are not met"
	fi

	echo "librdkafka.sh: building librdkafka $DEB (log: $CACHE/build.log)" >&2
	(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
	    dpkg-buildpackage -us -uc -b) >"$CACHE/build.log" 2>&1 || {
		tail -n 40 "$CACHE/build.log" >&2
		die "dpkg-buildpackage failed (log: $CACHE/build.log)"
	}
	arch=$(dpkg --print-architecture)
	cp "$work"/librdkafka1_"${DEB}_$arch".deb \
	    "$work"/librdkafka-dev_"${DEB}_$arch".deb "$CACHE"/
	rm -rf "$ROOT"
	echo "librdkafka.sh: built in $(($(date +%s) - start)) s" >&2
}

# librdkafka1 and librdkafka-dev unpacked, never installed.
unpack()
{
	local arch pc

	[ -f "$ROOT/.done" ] && return 0
	arch=$(dpkg --print-architecture)
	rm -rf "$ROOT"
	mkdir -p "$ROOT"
	dpkg-deb -x "$CACHE/librdkafka1_${DEB}_$arch.deb" "$ROOT"
	dpkg-deb -x "$CACHE/librdkafka-dev_${DEB}_$arch.deb" "$ROOT"
	pc=$LIBDIR/pkgconfig/rdkafka.pc
	[ -f "$pc" ] || die "no rdkafka.pc in librdkafka-dev $DEB"
	# The prefix moves into the root.  Installed, the headers would be in
	# /usr/include, a system directory, where the compiler does not warn
	# about the headers' own code (2.8.0's rdkafka.h declares a function
	# returning "const int", which -Wextra flags); -isystem keeps that
	# so.  Warnings at ksink's uses of its API, deprecations among them,
	# are still given.
	sed -i "s|^prefix=.*|prefix=$ROOT/usr|;s|=/usr/|=\${prefix}/|" "$pc"
	sed -i 's|^Cflags: -I|Cflags: -isystem |' "$pc"
	grep -q '^Cflags: -isystem ' "$pc" ||
		die "unexpected Cflags in librdkafka-dev's rdkafka.pc: $(grep '^Cflags' "$pc")"
	touch "$ROOT/.done"
}

# pkg-config must resolve the .pc, whose Requires.private name the -dev
# packages of librdkafka's Build-Depends.
usable()
{
	PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --cflags --libs rdkafka \
	    >/dev/null 2>&1 && return 0
	die "pkg-config cannot use $LIBDIR/pkgconfig/rdkafka.pc: $(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --cflags rdkafka 2>&1 | head -n 1); install the -dev packages it names (librdkafka's Build-Depends), or remove $CACHE to build again"
}

prepare()
{
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	build
	unpack
	usable
	flock -u 9
}

# The librdkafka.so.1 that ldd resolves for a program or plugin.
resolved()
{
	ldd "$1" | awk '$1 == "librdkafka.so.1" { print $3 }'
}

check()
{
	local dir=$1 f lib v bad=0

	[ -x "$dir/ksink" ] || die "no ksink built in $dir"
	# ksink and the test helpers must load this librdkafka; the unit
	# tests and the plugins that link any must load no other.
	for f in "$dir/ksink" "$dir/tests/kafka/txproducer" \
	    "$dir/tests/kafka/oracle" "$dir/tests/badinput/produce" \
	    "$dir"/tests/unit/test_* "$dir"/connectors/.libs/*.so; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		lib=$(resolved "$f")
		case $f:$lib in
		*:"$LIBDIR"/*) echo "$f: $lib" ;;
		*/tests/unit/*: | */connectors/*:) ;;
		*) echo "librdkafka.sh: $f loads ${lib:-no librdkafka}, not $LIBDIR/librdkafka.so.1" >&2
		   bad=1 ;;
		esac
	done
	v=$("$dir/ksink" --version)
	echo "$v"
	case $v in
	*"librdkafka $UPSTREAM)"*) ;;
	*) echo "librdkafka.sh: ksink runs with another librdkafka than $UPSTREAM: $v" >&2
	   bad=1 ;;
	esac
	return $bad
}

case ${1:-} in
build)
	prepare
	;;
root)
	prepare
	echo "$ROOT"
	;;
configure)
	prepare
	echo "PKG_CONFIG_PATH=$LIBDIR/pkgconfig"
	echo "LDFLAGS=-Wl,-rpath,$LIBDIR"
	;;
check)
	[ $# -eq 2 ] || die "usage: $0 check BUILDDIR"
	check "$2"
	;;
*)
	echo "usage: $0 build | root | configure | check BUILDDIR" >&2
	exit 2
	;;
esac
