#!/usr/bin/env bash
# Installs, from Debian packages, what building ksink needs; with --test,
# also what its test suite needs (Java and Maven for the Kafka broker the
# end-to-end tests run, PostgreSQL 15 for the postgres sink's tests, a
# Java compiler for the tests' own Kafka clients,
# Python for the checkers, mandoc for the man pages).  Installs only what
# is missing; needs root or sudo for that.
set -euo pipefail

build=(gcc libc6-dev make autoconf automake libtool pkg-config
	librdkafka-dev libinih-dev libsqlite3-dev libcurl4-openssl-dev
	libmicrohttpd-dev libpq-dev)
test=(libcmocka-dev mandoc sqlite3 python3 maven default-jdk-headless ca-certificates curl valgrind
	kcat procps util-linux
	postgresql-15 postgresql-client-15 passwd)

want=("${build[@]}")
if [ "${1:-}" = "--test" ]; then
	want+=("${test[@]}")
fi

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
[ ${#missing[@]} -eq 0 ] && exit 0

echo "ksink: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	echo "ksink: need root or sudo to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
