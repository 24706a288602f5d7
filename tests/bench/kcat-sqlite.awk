# SPDX-License-Identifier: BSD-2-Clause
# tests/bench/kcat-sqlite.awk - the `kcat | sqlite3` peer of the SQLite
# sink in `make bench`: what a user might write instead of ksink to get a
# topic into SQLite.  It turns the lines of
#	kcat -C -e -q -X isolation.level=read_committed \
#	    -f '%t\t%p\t%o\t%T\t%k\t%s\n'
# into SQL for the sqlite3 shell: the same rows as the SQLite sink's
# default table (topic, partition, offset, timestamp, key, value; primary
# key topic, partition, offset), in WAL mode with synchronous=FULL like
# the sink, one transaction per `batch` lines (set with -v batch=N,
# default 5000, the sink's batch.max.records).  Values must not contain a
# tab or a newline.  Unlike the sink it stores no offsets: after a crash it
# can only start again from the beginning or from Kafka's committed
# offsets, so it is neither exactly-once nor at-least-once by itself.

BEGIN {
	FS = "\t"
	if (batch == "")
		batch = 5000
	print "PRAGMA journal_mode = WAL;"
	print "PRAGMA synchronous = FULL;"
	print "CREATE TABLE IF NOT EXISTS records(topic TEXT NOT NULL, " \
	    "partition INTEGER NOT NULL, offset INTEGER NOT NULL, " \
	    "timestamp INTEGER, key BLOB, value BLOB, " \
	    "PRIMARY KEY(topic, partition, offset));"
	print "BEGIN;"
	n = 0
}

{
	topic = $1
	key = $5
	value = $6
	gsub(/'/, "''", topic)
	gsub(/'/, "''", key)
	gsub(/'/, "''", value)
	printf "INSERT INTO records VALUES('%s',%s,%s,%s,'%s','%s');\n",
	    topic, $2, $3, $4, key, value
	if (++n == batch) {
		print "COMMIT;"
		print "BEGIN;"
		n = 0
	}
}

END {
	print "COMMIT;"
}
