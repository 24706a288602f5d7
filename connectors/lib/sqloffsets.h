/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/sqloffsets.h - the offsets table of SQLite databases:
 * ksink_offsets(connector, topic, partition, next_offset), one schema for
 * the SQLite sink's database and the HTTP sink's ledger, and the opening
 * of such a database.
 */
#ifndef KS_SQLOFFSETS_H
#define KS_SQLOFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define KS_SQLOFFSETS_TABLE	"ksink_offsets"

struct ks_sqloffsets {
	sqlite3 *db;
	sqlite3_stmt *get, *advance, *set, *forget;
};

int	ks_sqloffsets_opendb(sqlite3 **db, const char *option,
	    const char *path, char *errbuf, size_t errlen);
int	ks_sqloffsets_create(sqlite3 *db, const char *legacy, char *errbuf,
	    size_t errlen);
int	ks_sqloffsets_open(struct ks_sqloffsets *, sqlite3 *db,
	    const char *connector);
int	ks_sqloffsets_get(struct ks_sqloffsets *, const char *topic,
	    int32_t partition, int64_t *next);
int	ks_sqloffsets_advance(struct ks_sqloffsets *, const char *topic,
	    int32_t partition, int64_t next);
int	ks_sqloffsets_set(struct ks_sqloffsets *, const char *topic,
	    int32_t partition, int64_t next);
void	ks_sqloffsets_close(struct ks_sqloffsets *);

#endif
