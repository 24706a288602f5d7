/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_file_recovery.c - the file sink's exactly-once state
 * (connectors/file/manifest.c, recovery.c): the fence and the replay,
 * abort and recovery truncating what the manifest does not list, the
 * manifest missing, corrupt or refused, the lock, and reset_offsets().
 * The fixture is tests/unit/file-fx.h.
 */
#include "file-fx.h"

static void
spit(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	fputs(text, f);
	fclose(f);
}

/* ------------------------------------------------------------------
 * Exactly-once: fence, abort, recovery, refusals
 */

static void
test_fence_and_replay(void **state)
{
	struct ksink_record r[3];
	struct sink *fs;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	r[1] = rec("t", 0, 1, "b");
	assert_int_equal(batch(s, r, 2), KSINK_OK);
	desc->close(s);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	fs = s;
	/* A zombie's replay: only offset 2 is new. */
	r[2] = rec("t", 0, 2, "c");
	assert_int_equal(batch(s, r, 3), KSINK_OK);
	assert_int_equal(fs->n_fenced, 2);
	desc->close(s);
	assert_file("out.log", "a\nb\nc\n");
}

static void
test_abort_truncates(void **state)
{
	struct ksink_record r[2];
	char big[300000];
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", "file.buffer.bytes=4096",
	    NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "kept");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r[1] = rec("t", 0, 1, big);
	/* Larger than the buffer: written before the commit. */
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r + 1, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r + 1, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	desc->abort(s);
	assert_file("out.log", "kept\n");
	assert_int_equal(stored(s, "t", 0), 1);
	desc->close(s);
}

static void
test_recovery_truncates(void **state)
{
	struct ksink_record r[1];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "committed");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);
	/* What a crash between the data's write and the manifest leaves. */
	spit("out.log", "committed\ngarbage of a lost batch\n");
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_file("out.log", "committed\n");
	assert_non_null(strstr(logbuf, "out.log: discarded 24 bytes "
	    "past the committed length 10"));
	desc->close(s);
}

static void
test_manifest_missing(void **state)
{
	void *s;

	(void)state;
	spit("out-0.log", "someone's data\n");
	assert_int_equal(open_sink(&s, "out-{partition}.log", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "out-0.log exists but its manifest"));
	assert_non_null(strstr(errbuf, "ksink-unit.manifest does not"));
	/* Closed files count too. */
	remove(strcat(strcpy(errbuf, dir), "/out-0.log"));
	spit("out-0.t+0+0000000000000000000.log", "x\n");
	assert_int_equal(open_sink(&s, "out-{partition}.log", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "exists but its manifest"));
}

static void
test_manifest_corrupt(void **state)
{
	struct ksink_record r[1];
	char *m, *p;
	size_t len;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);
	m = slurp("ksink-unit.manifest", &len);

	/* One changed digit. */
	p = strstr(m, "offset t 0 1");
	p[11] = '7';
	spit("ksink-unit.manifest", m);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "is unreadable: its checksum does not "
	    "match"));
	assert_non_null(strstr(errbuf, "restore the manifest"));
	p[11] = '1';

	/* Cut short. */
	m[len - 5] = '\0';
	spit("ksink-unit.manifest", m);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "is unreadable"));

	/* Empty. */
	spit("ksink-unit.manifest", "");
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "is unreadable"));
	free(m);
}

static void
test_manifest_refusals(void **state)
{
	struct ksink_record r[1];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "abc");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);

	/* Another pattern, another format. */
	assert_int_equal(open_sink(&s, "{topic}-{partition}.log", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "was written for file names "
	    "{topic}.log"));
	assert_int_equal(open_sink(&s, "{topic}.log", "file.format=json", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "file.format = value"));

	/* A committed data file shortened outside ksink. */
	spit("t.log", "ab");
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "has 2 bytes, but manifest"));

	/* ... or gone. */
	remove(strcat(strcpy(errbuf, dir), "/t.log"));
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "t.log is missing"));
}

static void
test_unlisted_file_refused(void **state)
{
	struct ksink_record r[1];
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_OK);
	spit("other.log", "not ours\n");
	r[0] = rec("other", 0, 0, "x");
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_int_equal(done, 0);
	assert_non_null(strstr(errbuf, "other.log exists but manifest does "
	    "not list it"));
	desc->abort(s);
	desc->close(s);
	assert_file("other.log", "not ours\n");
}

static void
test_bad_topic_refused(void **state)
{
	struct ksink_record r[1];
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_OK);
	r[0] = rec("../escape", 0, 0, "x");
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "../escape/0: not a Kafka topic name"));
	desc->abort(s);
	desc->close(s);
}

static void
test_lock_names_pid(void **state)
{
	int up[2], down[2];
	void *s, *s2;
	char pidtext[32], c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	if ((pid = fork()) == 0) {
		if (open_sink(&s, "out.log", NULL) != KSINK_OK)
			_exit(1);
		(void)!write(up[1], "x", 1);
		(void)!read(down[0], &c, 1);
		desc->close(s);
		_exit(0);
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	snprintf(pidtext, sizeof(pidtext), "locked by pid %ld", (long)pid);
	assert_non_null(strstr(errbuf, pidtext));
	(void)!write(down[1], "x", 1);
	waitpid(pid, NULL, 0);

	/* Two connectors of one process. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(open_sink(&s2, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "another connector of this ksink"));
	desc->close(s);
	/* Released at close. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	desc->close(s);
}

/* ------------------------------------------------------------------
 * reset_offsets() (ABI 1.1)
 */

/* Lowers, forgets and sets offsets in one manifest write; the data files
 * are untouched and what is applied next follows the new offsets. */
static void
test_reset_offsets(void **state)
{
	struct ksink_record r[4];
	struct ksink_offset set[3] = {
		{ "t", 0, 1 },
		{ "t", 1, KSINK_OFFSET_NONE },
		{ "t", 2, 5 },
	};
	char *m;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_true(KSINK_SINK_HAS(desc, reset_offsets, 1));
	r[0] = rec("t", 0, 0, "a");
	r[1] = rec("t", 0, 1, "b");
	r[2] = rec("t", 0, 2, "c");
	r[3] = rec("t", 1, 0, "p");
	assert_int_equal(batch(s, r, 4), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, set, 3, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(stored(s, "t", 1), KSINK_OFFSET_NONE);
	assert_int_equal(stored(s, "t", 2), 5);
	assert_file("out.log", "a\nb\nc\np\n");
	m = slurp("ksink-unit.manifest", NULL);
	assert_non_null(strstr(m, "\noffset t 0 1\noffset t 2 5\n"));
	assert_null(strstr(m, "offset t 1"));
	free(m);
	desc->close(s);

	/* Durable: a restart starts from the new offsets, and appends. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(stored(s, "t", 1), KSINK_OFFSET_NONE);
	r[0] = rec("t", 0, 1, "b");
	r[1] = rec("t", 0, 2, "c");
	r[2] = rec("t", 1, 0, "p");
	r[3] = rec("t", 2, 4, "skipped");
	assert_int_equal(batch(s, r, 4), KSINK_OK);
	r[0] = rec("t", 2, 5, "f");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	assert_file("out.log", "a\nb\nc\np\nb\nc\np\nf\n");
	assert_int_equal(stored(s, "t", 0), 3);
	assert_int_equal(stored(s, "t", 1), 1);
	assert_int_equal(stored(s, "t", 2), 6);

	/* Forgetting a partition never seen, and an empty reset. */
	set[0].topic = "never";
	set[0].next_offset = KSINK_OFFSET_NONE;
	assert_int_equal(desc->reset_offsets(s, set, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, set, 0, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(stored(s, "never", 0), KSINK_OFFSET_NONE);
	desc->close(s);
}

/* Refusals that leave the sink as it was, and usable. */
static void
test_reset_offsets_refused(void **state)
{
	struct ksink_record r[1];
	struct ksink_offset bad[2] = {
		{ "t", 0, 0 },
		{ "../escape", 0, 3 },
	};
	struct ksink_offset neg = { "t", 0, -5 };
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, bad, 2, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "../escape/0"));
	assert_int_equal(desc->reset_offsets(s, &neg, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_int_equal(stored(s, "t", 0), 1);

	/* Not inside a batch. */
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, bad, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "inside begin()/commit()"));
	desc->abort(s);

	assert_int_equal(desc->reset_offsets(s, bad, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 0);
	desc->close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fence_and_replay, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort_truncates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recovery_truncates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_missing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unlisted_file_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_topic_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_names_pid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets_refused,
		    setup, teardown),
	};

	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
