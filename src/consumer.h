/* consumer.h - librdkafka: configuration, assignment, offsets. */
#ifndef KS_CONSUMER_H
#define KS_CONSUMER_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct ks_conf;
struct ks_section;
struct ks_errors;

/* Where a partition the sink has never seen starts. */
enum ks_reset {
	KS_RESET_EARLIEST,
	KS_RESET_LATEST,
	KS_RESET_ERROR
};

rd_kafka_conf_t *ks_consumer_conf(const struct ks_conf *conf,
	    const struct ks_section *conn, int *reset, struct ks_errors *errs);
rd_kafka_conf_t *ks_consumer_producer_conf(const struct ks_conf *conf,
	    const struct ks_section *conn, struct ks_errors *errs);
int	ks_consumer_subscribe(rd_kafka_t *rk, const char *topics,
	    char *errbuf, size_t errlen);
int	ks_consumer_is_cooperative(rd_kafka_t *rk);
void	ks_consumer_pause(rd_kafka_t *rk, int pause);
int	ks_consumer_rdkafka_at_least(int version_hex);
rd_kafka_resp_err_t ks_consumer_watermarks(rd_kafka_t *rk, const char *topic,
	    int32_t partition, int64_t *low, int64_t *high, int timeout_ms);
void	ks_consumer_commit(rd_kafka_t *rk, const char *const *topics,
	    const int32_t *partitions, const int64_t *next, size_t n);

/* Keeps librdkafka < 2.2 fetching when the prefetch queue drains (see
 * consumer.c); NULL when not needed.  Start it once the consumer exists,
 * stop it before the consumer is closed. */
struct ks_waker;
struct ks_waker *ks_waker_start(rd_kafka_t *rk, const char *who);
void	ks_waker_took(struct ks_waker *wk, uint64_t records, uint64_t bytes);
void	ks_waker_reassigned(struct ks_waker *wk);
void	ks_waker_stop(struct ks_waker *wk);

#endif
