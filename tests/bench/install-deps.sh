#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs, from Debian packages, what `make bench` needs besides the build
# and test dependencies (tests/install-deps.sh --test): kcat (the limit and
# the kcat | sqlite3 peer), sqlite3, GNU time (CPU and peak RSS of each
# contender), nginx (the HTTP receiver), gnuplot (the chart), Java and
# Maven (the broker and Kafka Connect), PostgreSQL 15's server and psql
# (the PostgreSQL rows; tests/install-deps.sh --test installs them too).
# Installs only what is missing;
# needs root or sudo for that.
set -euo pipefail

want=(kcat sqlite3 time nginx-light gnuplot-nox python3 maven
	default-jre-headless ca-certificates procps util-linux
	postgresql-15 postgresql-client-15)

missing=()
for p in "${want[@]}"; do
	case $p in
	default-jre-headless)
		command -v java >/dev/null &&
		    java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])' &&
		    continue ;;
	maven) command -v mvn >/dev/null && continue ;;
	python3) command -v python3 >/dev/null && continue ;;
	nginx-light) command -v nginx >/dev/null && continue ;;
	gnuplot-nox) command -v gnuplot >/dev/null && continue ;;
	time) [ -x /usr/bin/time ] && continue ;;
	postgresql-15) [ -x /usr/lib/postgresql/15/bin/initdb ] && continue ;;
	postgresql-client-15) [ -x /usr/lib/postgresql/15/bin/psql ] && continue ;;
	esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bench: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	echo "bench: need root or sudo to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
