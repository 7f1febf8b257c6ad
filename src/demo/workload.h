/* The demo's synthetic traffic: producers with waves and bursts, and
 * consumers of varying speed against a private Redis, with a dependency
 * that fails in waves so the dead-letter list grows. It exists so that
 * `qdeck demo` shows a live system without any broker of the user's. */
#ifndef QDECK_WORKLOAD_H
#define QDECK_WORKLOAD_H

struct workload;

/* Starts the traffic thread on its own connection to redis_url. */
struct workload *workload_start(const char *redis_url, char *err, unsigned errlen);
void workload_stop(struct workload *w);

#endif
