/* The demo's external dependencies, served in-process on 127.0.0.1: an
 * "LLM API" that is slow and fails in waves, and a "transcoder" that is
 * slower still but steady. The demo's http tasks call them, so the
 * newcomer sees retries, a breaker's worth of failures and a growing DLQ. */
#ifndef QDECK_DEMO_UPSTREAM_H
#define QDECK_DEMO_UPSTREAM_H

#include <stddef.h>

struct demo_upstream;

/* Listens on an ephemeral loopback port; base_url gets "http://127.0.0.1:PORT". */
struct demo_upstream *demo_upstream_start(char *base_url, size_t len, char *err, size_t errlen);
void demo_upstream_stop(struct demo_upstream *u);
/* Whether the LLM endpoint is in a failure wave at time t (seconds since start). */
int demo_upstream_failing(double t);

#endif
