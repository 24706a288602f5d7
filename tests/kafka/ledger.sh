# SPDX-License-Identifier: BSD-2-Clause
# tests/kafka/ledger.sh - the ledger the database tests write (SQLite:
# tests/e2e/sqlite-common.sh; PostgreSQL: tests/postgres/pg-common.sh;
# both in the fault matrix, tests/chaos/lib.sh).  Source it (POSIX sh or
# bash).
#
# Every record {"user": U, "amount": N, "id": I} adds N to U's balance (an
# upsert) and appends a row (topic, part, off, id) to a table without any
# uniqueness constraint, so that a record applied twice, an aborted record
# applied, a record lost or a partition applied out of order all show.
# tests/e2e/check_sqlite.py, tests/postgres/check_pg.py and
# tests/chaos/check.py read these tables.
#
#   ledger_options SINK WHERE
#       print the options of a connector of type SINK that writes the
#       ledger: for sqlite, WHERE is the database file; for postgres, the
#       conninfo (the password is in the file $PG_PASSWORD_FILE);
#       postgres-batch is the same ledger written set-based, a batch at
#       a time, by postgres.batch.statement

ledger_options()
{
	case $1 in
	sqlite)
		cat <<EOF
sqlite.path = $2
sqlite.init = CREATE TABLE IF NOT EXISTS balances(user TEXT PRIMARY KEY, amount INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS records(seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, part INTEGER, off INTEGER, id TEXT);
sqlite.statement = INSERT INTO balances(user, amount) VALUES (json_extract(:value,'\$.user'), json_extract(:value,'\$.amount'))
    ON CONFLICT(user) DO UPDATE SET amount = amount + excluded.amount;
    INSERT INTO records(topic, part, off, id) VALUES (:topic, :partition, :offset, json_extract(:value,'\$.id'))
EOF
		;;
	postgres)
		cat <<EOF
postgres.conninfo = $2
postgres.password.file = ${PG_PASSWORD_FILE:?pg_require sets PG_PASSWORD_FILE}
postgres.init = CREATE TABLE IF NOT EXISTS balances("user" text PRIMARY KEY, amount bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS records(seq bigserial PRIMARY KEY, topic text, part integer, off bigint, id text)
postgres.statement = INSERT INTO balances("user", amount) VALUES (:value::jsonb->>'user', (:value::jsonb->>'amount')::bigint)
    ON CONFLICT ("user") DO UPDATE SET amount = balances.amount + excluded.amount;
    INSERT INTO records(topic, part, off, id) VALUES (:topic, :partition, :offset, :value::jsonb->>'id')
EOF
		;;
	postgres-batch)
		cat <<EOF
postgres.conninfo = $2
postgres.password.file = ${PG_PASSWORD_FILE:?pg_require sets PG_PASSWORD_FILE}
postgres.init = CREATE TABLE IF NOT EXISTS balances("user" text PRIMARY KEY, amount bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS records(seq bigserial PRIMARY KEY, topic text, part integer, off bigint, id text)
postgres.batch.statement = INSERT INTO balances("user", amount)
        SELECT convert_from(value, 'UTF8')::jsonb->>'user', sum((convert_from(value, 'UTF8')::jsonb->>'amount')::bigint)
        FROM pg_temp.ksink_batch GROUP BY 1
    ON CONFLICT ("user") DO UPDATE SET amount = balances.amount + excluded.amount;
    INSERT INTO records(topic, part, off, id)
        SELECT topic, "partition", "offset", convert_from(value, 'UTF8')::jsonb->>'id'
        FROM pg_temp.ksink_batch ORDER BY seq
EOF
		;;
	*)
		hard_error "ledger_options: no ledger for the $1 sink"
		;;
	esac
}
