/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.c - logging to stderr.
 *
 * One line per message: "ksink: LEVEL: WHO: message".  When stderr is
 * connected to systemd-journald (JOURNAL_STREAM names our stderr), each line
 * starts with the sd-daemon priority prefix "<N>" instead, so the journal
 * records the right priority.  Lines are written with one write(2) each so
 * that threads never interleave within a line.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "log.h"
#include "testing.h"
#include "util.h"

static int log_level = KSINK_LOG_INFO;
static int log_journal;

/* ks_log_capture(): where the tests keep the lines. */
static pthread_mutex_t capture_mtx = PTHREAD_MUTEX_INITIALIZER;
static char *capture_buf;
static size_t capture_size, capture_len;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_prio[] = { 3, 4, 6, 7 };

void
ks_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (js != NULL && sscanf(js, "%lu:%lu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long)st.st_dev == dev && (unsigned long)st.st_ino == ino)
		log_journal = 1;
}

void
ks_log_set_level(int level)
{
	log_level = level;
}

int
ks_log_get_level(void)
{
	return log_level;
}

int
ks_log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < KS_ARRAY_SIZE(level_names); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
capture(const char *line, size_t n)
{
	pthread_mutex_lock(&capture_mtx);
	if (capture_buf != NULL && capture_len + n < capture_size) {
		memcpy(capture_buf + capture_len, line, n);
		capture_len += n;
		capture_buf[capture_len] = '\0';
	}
	pthread_mutex_unlock(&capture_mtx);
}

void
ks_log_capture(char *buf, size_t size)
{
	pthread_mutex_lock(&capture_mtx);
	capture_buf = size > 0 ? buf : NULL;
	capture_size = size;
	capture_len = 0;
	if (capture_buf != NULL)
		capture_buf[0] = '\0';
	pthread_mutex_unlock(&capture_mtx);
}

void
ks_log_vmsg(int level, const char *who, const char *fmt, va_list ap)
{
	char line[4096];
	int n, m;

	if (level > log_level)
		return;
	if (level < KSINK_LOG_ERROR)
		level = KSINK_LOG_ERROR;
	if (level > KSINK_LOG_DEBUG)
		level = KSINK_LOG_DEBUG;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s%s", level_prio[level],
		    who ? who : "", who ? ": " : "");
	else
		n = snprintf(line, sizeof(line), "ksink: %s: %s%s",
		    level_names[level], who ? who : "", who ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One message, one line: fold embedded newlines. */
	for (m = 0; m < n; m++)
		if (line[m] == '\n' || line[m] == '\r')
			line[m] = ' ';
	line[n++] = '\n';
	capture(line, (size_t)n);
	(void)!write(STDERR_FILENO, line, n);
}

void
ks_log_msg(int level, const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ks_log_vmsg(level, who, fmt, ap);
	va_end(ap);
}

/* librdkafka's log callback: its lines at our levels. */
void
ks_log_kafka(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	int l;

	/* Errors of the client reach the connector's error callback too,
	 * which says what to check: keep librdkafka's own lines for
	 * debugging. */
	if (strcmp(fac, "FAIL") == 0 || strcmp(fac, "ERROR") == 0)
		l = KSINK_LOG_DEBUG;
	else if (level <= 3)
		l = KSINK_LOG_ERROR;
	else if (level == 4)
		l = KSINK_LOG_WARN;
	else if (level <= 6)
		l = KSINK_LOG_INFO;
	else
		l = KSINK_LOG_DEBUG;
	ks_log_msg(l, rd_kafka_name(rk), "librdkafka %s: %s", fac, buf);
}
