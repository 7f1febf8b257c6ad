/* One worker's heartbeat, scheduler and metrics server together (see the
 * header). Stop order matters: metrics first (its callbacks read the
 * worker), then the heartbeat (its report reads the scheduler's state),
 * then the scheduler (releasing the lease). */
#include "worker/plane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/heartbeat-thread.h"
#include "net/metrics.h"
#include "worker/worker-report.h"
#include "core/log.h"
#include "core/xalloc.h"

struct control_plane {
    struct control_plane_options opt;
    char *id;
    struct heartbeat *hb;
    struct sched *sched;
    struct metrics_server *metrics;
};

static cJSON *report(void *arg)
{
    struct control_plane *cp = arg;
    cJSON *o = cp->opt.worker ? worker_report(cp->opt.worker) : cJSON_CreateObject();
    if (cp->sched)
        cJSON_AddBoolToObject(o, "sched_leader", sched_is_leader(cp->sched));
    return o;
}

static bool ready(void *arg, char *reason, size_t len)
{
    struct control_plane *cp = arg;
    char why[400];
    if (cp->hb && !heartbeat_ok(cp->hb, why, sizeof why)) {
        snprintf(reason, len, "control plane: %s", why);
        return false;
    }
    return cp->opt.ready ? cp->opt.ready(cp->opt.ready_arg, reason, len) : true;
}

static void collect(void *arg, struct metrics_text *out)
{
    struct control_plane *cp = arg;
    if (cp->opt.worker)
        worker_metrics(cp->opt.worker, out);
    if (cp->hb) {
        metrics_family(out, "qdeck_heartbeats_total", "counter", "heartbeats written to the control plane");
        metrics_sample(out, "qdeck_heartbeats_total", NULL, (double)heartbeat_beats(cp->hb));
    }
    if (cp->sched) {
        metrics_family(out, "qdeck_scheduler_leader", "gauge", "1 while this process leads the scheduler");
        metrics_sample(out, "qdeck_scheduler_leader", NULL, sched_is_leader(cp->sched) ? 1 : 0);
    }
}

struct control_plane *control_plane_start(const struct control_plane_options *opt, char *err, size_t errlen)
{
    struct control_plane *cp = xcalloc(1, sizeof *cp);
    cp->opt = *opt;
    char id[320];
    if (opt->id && *opt->id)
        snprintf(id, sizeof id, "%s", opt->id);
    else if (opt->worker)
        snprintf(id, sizeof id, "%s", worker_id(opt->worker));
    else
        heartbeat_make_id(id, sizeof id);
    cp->id = xstrdup(id);
    const char *redis = opt->ctx ? opt->ctx->redis : NULL;
    if (redis && *redis) {
        /* the scheduler first: the heartbeat's report reads it */
        if (!opt->no_scheduler) {
            struct sched_options so = {.redis_url = redis, .node_id = cp->id, .jobs = opt->cfg->schedules,
                                       .njobs = opt->cfg->nschedules, .ctx = opt->ctx, .publish = opt->publish,
                                       .replay = opt->replay, .hook_ctx = opt->hook_ctx};
            if (!(cp->sched = sched_start(&so, err, errlen)))
                goto fail;
        }
        struct heartbeat_options ho = {.redis_url = redis, .interval = opt->cfg->worker.heartbeat, .id = cp->id,
                                       .version = opt->version, .report = report, .ctx = cp};
        if (!(cp->hb = heartbeat_start(&ho, err, errlen)))
            goto fail;
    } else {
        log_warn("no Redis configured: no heartbeat (consoles will not see this worker) and no scheduler");
    }
    const char *addr = opt->metrics_addr ? opt->metrics_addr : opt->cfg->worker.metrics_addr;
    if (addr && *addr) {
        struct metrics_options mo = {.addr = addr, .ready = ready, .collect = collect, .ctx = cp};
        if (!(cp->metrics = metrics_start(&mo, err, errlen)))
            goto fail;
        log_info("serving /healthz /readyz /metrics on %s (port %d)", addr, metrics_port(cp->metrics));
    }
    return cp;
fail:
    control_plane_stop(cp);
    return NULL;
}

void control_plane_stop(struct control_plane *cp)
{
    if (!cp)
        return;
    metrics_stop(cp->metrics);
    heartbeat_stop(cp->hb);
    cp->hb = NULL;
    sched_stop(cp->sched);
    free(cp->id);
    free(cp);
}

const char *control_plane_id(const struct control_plane *cp) { return cp->id; }

int control_plane_metrics_port(const struct control_plane *cp)
{
    return cp && cp->metrics ? metrics_port(cp->metrics) : -1;
}
