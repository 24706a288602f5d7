/* consumer.h - librdkafka: configuration, assignment, offsets. */
#ifndef KS_CONSUMER_H
#define KS_CONSUMER_H

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
void	ks_consumer_commit(rd_kafka_t *rk, const char *const *topics,
	    const int32_t *partitions, const int64_t *next, size_t n);

#endif
