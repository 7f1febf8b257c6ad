/* `qdeck exporter`: what the console sees, for Prometheus. One background
 * thread (core/loop.h) collects once per interval from the same readers
 * the console uses: the context's queue sources (broker/: the RabbitMQ
 * management API, Redis lists and streams), the fleet's heartbeats
 * (console/fleet-source.h, with the latency histograms and breakers in
 * them), and the guardrails and breaker commands (control/policy-store.h).
 * It then writes the whole exposition text once (console/exporter-text.h)
 * and swaps it in under a mutex. A scrape only copies that text: however
 * often Prometheus asks, the brokers see one round of reads per interval.
 *
 * The readers of a round run side by side, each bounded by the context's
 * timeout, so a hung broker delays a round by one timeout at most; a
 * reader that fails is retried on its own jittered backoff (never faster
 * than the interval) while the others go on. */
#ifndef QDECK_EXPORTER_H
#define QDECK_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "net/metrics.h"

struct exporter;

/* Builds the readers of ctx (no network yet) and starts the thread; the
 * first collection begins at once. NULL with a reason in err. */
struct exporter *exporter_start(const struct context_config *ctx, double interval, char *err, size_t errlen);
/* Stops the thread (cutting a read short), frees everything. NULL is fine. */
void exporter_stop(struct exporter *ex);

/* For net/metrics.h's callbacks (the server's thread): */
/* Appends the last collection's metrics and the scrape counter. */
void exporter_metrics(void *ex, struct metrics_text *out);
/* The "/" page: which sources answer. */
void exporter_index(void *ex, struct metrics_text *out);
/* Ready once the first collection is done; else false and why. */
bool exporter_ready(void *ex, char *reason, size_t len);

#endif
