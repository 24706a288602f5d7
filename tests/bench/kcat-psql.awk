# SPDX-License-Identifier: BSD-2-Clause
# tests/bench/kcat-psql.awk - the `kcat | psql` peer of the PostgreSQL
# sink in `make bench`: what a user might write instead of ksink to get a
# topic into PostgreSQL.  It turns the lines of
#	kcat -C -e -q -X isolation.level=read_committed \
#	    -f '%t\t%p\t%o\t%T\t%k\t%s\n'
# into a script for psql: the same rows as the PostgreSQL sink's default
# table (ksink_records: topic, partition, offset, timestamp, key, value,
# headers; primary key topic, partition, offset), loaded with one
# `COPY ... FROM STDIN` of `batch` lines each (set with -v batch=N, default
# 5000, the sink's batch.max.records), each COPY its own transaction.
# With -v batch=0 it prints the COPY data only, for a file that
# `\copy ksink_records FROM 'FILE'` loads (the server's own limit).
# Keys and values go into bytea in its escape format, where every byte
# but the backslash stands for itself; they must not contain a tab or a
# newline, and an empty key is stored as NULL.  Unlike the sink it stores
# no offsets: after a crash it can only start again from the beginning or
# from Kafka's committed offsets, so it is neither exactly-once nor
# at-least-once by itself.

BEGIN {
	FS = "\t"
	if (batch == "")
		batch = 5000
	batch += 0
	copy = "COPY ksink_records(topic, \"partition\", \"offset\", " \
	    "\"timestamp\", key, value, headers) FROM STDIN;"
	if (batch > 0) {
		print "CREATE TABLE IF NOT EXISTS ksink_records(" \
		    "topic text NOT NULL, \"partition\" integer NOT NULL, " \
		    "\"offset\" bigint NOT NULL, \"timestamp\" timestamptz, " \
		    "key bytea, value bytea, headers jsonb, " \
		    "PRIMARY KEY(topic, \"partition\", \"offset\"));"
	}
	n = 0
}

# A backslash is \\ in bytea's escape format, and each of those is \\ in
# COPY's text format.
function bytea(s) {
	if (s == "")
		return "\\N"
	gsub(/\\/, "&&&&", s)
	return s
}

{
	if (batch > 0 && n == 0)
		print copy
	topic = $1
	gsub(/\\/, "&&", topic)
	if ($4 < 0)
		ts = "\\N"
	else
		ts = strftime("%Y-%m-%d %H:%M:%S", int($4 / 1000), 1) \
		    sprintf(".%03d+00", $4 % 1000)
	printf "%s\t%s\t%s\t%s\t%s\t%s\t\\N\n", topic, $2, $3, ts,
	    bytea($5), bytea($6)
	if (batch > 0 && ++n == batch) {
		print "\\."
		n = 0
	}
}

END {
	if (batch > 0 && n > 0)
		print "\\."
}
