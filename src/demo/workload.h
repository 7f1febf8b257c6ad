/* The demo's synthetic producers: qdeck task envelopes pushed onto Redis
 * lists and a stream in waves and bursts, for the embedded worker pool to
 * consume, so that `qdeck demo` shows a live system without any broker of
 * the user's. */
#ifndef QDECK_WORKLOAD_H
#define QDECK_WORKLOAD_H

struct workload;

/* Starts the producer thread on its own connection to redis_url. */
struct workload *workload_start(const char *redis_url, char *err, unsigned errlen);
void workload_stop(struct workload *w);

#endif
