#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs, from Debian packages, what building ksink needs; with --test,
# also what its test suite needs (Java and Maven for the Kafka broker the
# end-to-end tests run, PostgreSQL 15 for the postgres sink's tests, a
# Java compiler for the tests' own Kafka clients, Python for the checkers
# (with its Avro and Kafka clients: the Avro test producer and oracle),
# mandoc for the man pages, ip(8) for the network namespaces of
# tests/postgres/hosts.test); with --deb, also what building and checking
# the Debian packages needs (make check-deb: debhelper, lintian,
# systemd-analyze, and the Build-Depends of debian/control).  Installs
# only what is missing; needs root or sudo for that.
set -euo pipefail
cd "$(dirname "$0")/.."

build=(gcc libc6-dev make autoconf automake libtool pkg-config
	librdkafka-dev libinih-dev libsqlite3-dev libcurl4-openssl-dev
	libmicrohttpd-dev libpq-dev libavro-dev libjansson-dev)
test=(libcmocka-dev mandoc sqlite3 python3 maven default-jdk-headless ca-certificates curl valgrind
	kcat procps util-linux iproute2 python3-avro python3-confluent-kafka
	postgresql-15 postgresql-client-15 passwd)
deb=(dpkg-dev debhelper fakeroot lintian git systemd adduser)

want=("${build[@]}")
with_deb=no
for arg in "$@"; do
	case $arg in
	--test) want+=("${test[@]}") ;;
	--deb) want+=("${deb[@]}"); with_deb=yes ;;
	*) echo "usage: $0 [--test] [--deb]" >&2; exit 64 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	# A JDK 17 or newer already on the PATH will do.
	if [ "$p" = default-jdk-headless ] && command -v java >/dev/null &&
	    command -v javac >/dev/null &&
	    java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then
		continue
	fi
	if [ "$p" = maven ] && command -v mvn >/dev/null; then
		continue
	fi
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

updated=no
apt_get()
{
	if [ "$(id -u)" -eq 0 ]; then
		sudo=()
	elif command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "ksink: need root or sudo to install packages" >&2
		exit 1
	fi
	if [ $updated = no ]; then
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
		updated=yes
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "$@"
}

if [ ${#missing[@]} -gt 0 ]; then
	echo "ksink: installing ${missing[*]}" >&2
	apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The packages' build dependencies are those debian/control names (the
# test suite's are left out: make check-deb builds with nocheck).
if [ $with_deb = yes ] && ! dpkg-checkbuilddeps -Pnocheck >/dev/null 2>&1; then
	echo "ksink: installing the Build-Depends of debian/control" >&2
	apt_get build-dep -y -qq -Pnocheck ./ >/dev/null
fi
