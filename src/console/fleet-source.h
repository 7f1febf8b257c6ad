/* The console's collector of the fleet (kind "fleet"): every refresh, the
 * fleet table (control/fleet.h) with the scheduler's leader and jobs, as a
 * snapshot carrying a struct fleet_table (fleet_table_of) and the latency
 * merged from it (fleet_latency_of).
 * It is a console collector, not protocol: control/fleet.h reads and
 * parses, this runs the reads on a thread (the console's scheduler
 * commands are write-queue jobs: console/control-writes.h). Unless the context is read-only or its
 * celery_events is off, it also runs a Celery events collector
 * (console/celery-collector.h), whose workers join the registry it reads:
 * rows of kind "celery". */
#ifndef QDECK_FLEET_SOURCE_H
#define QDECK_FLEET_SOURCE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "broker/source.h"
#include "control/fleet.h"
#include "core/config.h"
#include "core/snapshot.h"
#include "resilience/fleet-report.h"

/* Adds the scheduler's leader and every registered job (keys.h) to t. 0 or -1. */
int fleet_read_sched(redisContext *c, struct fleet_table *t, char *err, size_t errlen);

/* Builds the collector; start it with source_start. NULL with a reason. */
struct source *fleet_source_new(const char *redis_url, const struct context_config *ctx, double refresh,
                                int notify_fd, char *err, size_t errlen);
/* Stops (if running) and frees it. NULL is fine. */
void fleet_source_free(struct source *src);
/* The table a fleet snapshot carries, or NULL. */
const struct fleet_table *fleet_table_of(const struct snapshot *snap);
/* The latency per task type merged from that table's workers that are not
 * lost (resilience/fleet-report.h), built once per read on the collector's
 * thread so that no draw decodes a histogram; *reports (may be NULL) gets
 * how many workers' reports went in. NULL when snap is not a fleet
 * snapshot. Valid as long as the snapshot. */
const struct latency_table *fleet_latency_of(const struct snapshot *snap, size_t *reports);

#endif
