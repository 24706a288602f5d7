/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main.c - ksink: command line, signals, exit codes.
 *
 * The only place that exits.  Exit codes: 0 clean stop, 1 a connector
 * failed, 64 usage error, 78 configuration error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "admin.h"
#include "conf.h"
#include "demo.h"
#include "log.h"
#include "offsets.h"
#include "options.h"
#include "sink.h"
#include "status.h"
#include "util.h"
#include "worker.h"

static atomic_int ended;
static atomic_int any_failed;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ksink [-t] -c FILE\n"
	    "       ksink --list-options [--format=text|mdoc] [TYPE]\n"
	    "       ksink offsets -c FILE CONNECTOR [--reset earliest|latest|"
	    "TOPIC:PARTITION=OFFSET ...]\n"
	    "       ksink status -c FILE [--json]\n"
	    "       ksink demo [-d DIR]\n"
	    "       ksink --version\n");
}

static void
worker_done(struct ks_worker *w, int failed, void *arg)
{
	(void)w;
	(void)arg;
	if (failed)
		atomic_store(&any_failed, 1);
	atomic_fetch_add(&ended, 1);
}

static int
list_options(const char *type, int mdoc)
{
	char path[4096], err[1024];
	struct ks_plugin *pl;

	if (type == NULL) {
		if (!mdoc)
			printf("[worker]\n");
		ks_options_print(stdout, ks_options_worker, mdoc);
		if (!mdoc)
			printf("\n[connector NAME]\n");
		ks_options_print(stdout, ks_options_connector, mdoc);
		if (!mdoc)
			printf("kafka.PROPERTY\n    Any librdkafka property, "
			    "for this connector only; [kafka] sets them for "
			    "all.\n");
		return KS_EXIT_OK;
	}
	if (strcmp(type, "worker") == 0) {
		ks_options_print(stdout, ks_options_worker, mdoc);
		return KS_EXIT_OK;
	}
	if (strcmp(type, "connector") == 0) {
		ks_options_print(stdout, ks_options_connector, mdoc);
		return KS_EXIT_OK;
	}
	if (ks_sink_path(type, ks_sink_plugin_dir(NULL), path, sizeof(path),
	    err, sizeof(err)) == -1 ||
	    (pl = ks_sink_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ksink: error: %s\n", err);
		return KS_EXIT_CONFIG;
	}
	if (!mdoc)
		printf("[connector NAME] type = %s: %s (version %s)\n",
		    pl->desc->name, pl->desc->description ?
		    pl->desc->description : "", pl->desc->version ?
		    pl->desc->version : "?");
	ks_options_print(stdout, pl->desc->options, mdoc);
	ks_sink_unload(pl);
	return KS_EXIT_OK;
}

/* Runs the connectors until a signal or a failure. */
static int
run(const struct ks_conf *conf, struct ks_worker **ws, size_t n)
{
	const char *listen = ks_conf_str(ks_conf_section(conf,
	    KS_SEC_WORKER), ks_options_worker, "admin.listen");
	struct ks_admin *admin = NULL;
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	struct ks_worker_stats st;
	sigset_t set;
	size_t i, started = 0;
	int sig, stopping = 0, rc = KS_EXIT_OK, cfg;
	char err[2048];

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);

	for (i = 0; i < n; i++)
		if (ks_worker_open(ws[i], &cfg, err, sizeof(err)) == -1) {
			log_error("%s", err);
			return cfg ? KS_EXIT_CONFIG : KS_EXIT_FAILURE;
		}
	if (listen != NULL && *listen != '\0' &&
	    (admin = ks_admin_start(listen, ws, n, err, sizeof(err))) ==
	    NULL) {
		log_error("%s", err);
		return KS_EXIT_FAILURE;
	}
	for (i = 0; i < n; i++) {
		if (ks_worker_start(ws[i], worker_done, NULL) == -1) {
			log_error("cannot start a thread: %s",
			    strerror(errno));
			atomic_store(&any_failed, 1);
			break;
		}
		started++;
	}
	while ((size_t)atomic_load(&ended) < started) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGHUP) {
			log_warn("SIGHUP: configuration reload is not "
			    "supported; restart ksink to apply changes");
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			if (stopping) {
				log_error("second signal: exiting at once; the "
				    "sinks keep only committed batches");
				_exit(KS_EXIT_FAILURE);
			}
			log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" :
			    "SIGINT");
			stopping = 1;
		}
		if (atomic_load(&any_failed))
			stopping = 1;
		if (stopping)
			for (i = 0; i < started; i++)
				ks_worker_stop(ws[i]);
		if (!stopping && atomic_load(&ended) > 0) {
			/* A connector ended on its own: stop them all. */
			for (i = 0; i < started; i++)
				ks_worker_stop(ws[i]);
			stopping = 1;
		}
	}
	for (i = 0; i < started; i++) {
		if (ks_worker_join(ws[i]) != 0)
			rc = KS_EXIT_FAILURE;
		ks_worker_get_stats(ws[i], &st);
		log_info("connector %s: stopped; %llu records in %llu batches"
		    ", %llu skipped, %llu retries", ks_worker_name(ws[i]),
		    (unsigned long long)st.records,
		    (unsigned long long)st.batches,
		    (unsigned long long)st.poison,
		    (unsigned long long)st.retries);
	}
	ks_admin_stop(admin);
	if (atomic_load(&any_failed))
		rc = KS_EXIT_FAILURE;
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "list-options", no_argument, NULL, 'L' },
		{ "format", required_argument, NULL, 'F' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ks_errors errs = { 0 };
	struct ks_worker **ws = NULL;
	struct ks_conf *conf;
	const char *path = NULL;
	int ch, test = 0, list = 0, mdoc = 0, rc;
	size_t n = 0, i;

	ks_log_init();
	if (argc > 1 && strcmp(argv[1], "demo") == 0)
		return ks_demo_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "offsets") == 0)
		return ks_offsets_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return ks_status_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'L':
			list = 1;
			break;
		case 'F':
			if (strcmp(optarg, "mdoc") == 0)
				mdoc = 1;
			else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "ksink: --format takes text "
				    "or mdoc\n");
				return KS_EXIT_USAGE;
			}
			break;
		case 'V':
			printf("ksink %s (sink ABI %d.%d, librdkafka %s)\n",
			    PACKAGE_VERSION, KSINK_ABI_MAJOR, KSINK_ABI_MINOR,
			    rd_kafka_version_str());
			return KS_EXIT_OK;
		case 'h':
			usage(stdout);
			return KS_EXIT_OK;
		default:
			usage(stderr);
			return KS_EXIT_USAGE;
		}
	}
	if (list)
		return list_options(optind < argc ? argv[optind] : NULL, mdoc);
	if (optind != argc || path == NULL) {
		usage(stderr);
		return KS_EXIT_USAGE;
	}
	if (!test) {
		/* From here on, signals are waited for in run(); a SIGTERM
		 * during start-up is answered once the connectors run. */
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	conf = ks_conf_parse_file(path, &errs);
	if (conf != NULL)
		(void)ks_worker_load_all(conf, &errs, &ws, &n);
	if (errs.count > 0) {
		ks_errors_print(&errs, stderr);
		fprintf(stderr, "ksink: %s: %zu problem%s found\n", path,
		    errs.count, errs.count == 1 ? "" : "s");
		rc = KS_EXIT_CONFIG;
	} else if (test) {
		printf("ksink: %s: configuration OK (%zu connector%s)\n",
		    path, n, n == 1 ? "" : "s");
		rc = KS_EXIT_OK;
	} else
		rc = run(conf, ws, n);
	for (i = 0; i < n; i++)
		ks_worker_free(ws[i]);
	free(ws);
	ks_conf_free(conf);
	ks_errors_free(&errs);
	return rc;
}
