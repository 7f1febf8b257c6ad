/* The discrete-event engine (see engine.h). Tasks live in one array and
 * move between intrusive FIFOs (a queue, a worker's run queue, a bulkhead
 * line) by index; a running call's dependency permit sits in a small pool
 * of calls, one per slot. */
#include "sim/engine.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"
#include "sim/heap.h"
#include "worker/ratewait.h"
#include "worker/retry.h"

#define NIL UINT32_MAX

enum { EV_FINISH, EV_RETRY_DUE, EV_RATE_DUE };

struct task {
    uint32_t rec, next, call;    /* call: index into the call pool while running */
    double arrive, service, tokens_out, first_start;
    int attempt;
    int32_t worker;
    uint8_t rate_granted, outcome;   /* outcome of the running attempt */
};

struct fifo {
    uint32_t head, tail;
    long len;
};

struct sim_worker {
    int busy;
    struct fifo run;
    int *unacked;                /* per queue */
    struct dependency_set deps;
    struct fifo *bulkhead_line;  /* per dependency */
    int *room;                   /* tasks waiting for a rate permit, per dependency */
    struct shed_codel codel;
};

struct sim {
    const struct sim_trace *tr;
    const struct sim_fit *fits;
    const struct sim_params *p;
    double now;
    struct task *tasks;
    size_t ntasks;
    struct fifo *queues;
    int *rr;                     /* next worker to offer a queue's head to */
    struct sim_worker *w;
    int prefetch;
    struct sim_heap heap;
    struct dependency_call *calls;
    uint32_t *free_calls;
    size_t nfree_calls;
    struct ratelimit *fleet_rate;   /* per dependency, for fleet_rate ones */
    uint64_t rng;
    unsigned retry_seed;
    long waiting;
    double *type_in, *type_out;
    int min_priority;
    struct sim_result *r;
};

static double sim_now(void *ctx) { return ((struct sim *)ctx)->now; }

/* splitmix64: the engine's own draws. */
static double uniform(struct sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void fifo_push(struct sim *s, struct fifo *f, uint32_t i)
{
    s->tasks[i].next = NIL;
    if (f->tail == NIL)
        f->head = i;
    else
        s->tasks[f->tail].next = i;
    f->tail = i;
    f->len++;
}

static uint32_t fifo_pop(struct sim *s, struct fifo *f)
{
    uint32_t i = f->head;
    f->head = s->tasks[i].next;
    if (f->head == NIL)
        f->tail = NIL;
    f->len--;
    return i;
}

static const struct sim_record *rec_of(const struct sim *s, uint32_t i) { return &s->tr->recs[s->tasks[i].rec]; }

static bool in_focus(const struct sim *s, uint32_t i) { return rec_of(s, i)->priority >= s->min_priority; }

/* The task leaves its worker (acked, retried by republishing, or dead-lettered). */
static void settle(struct sim *s, uint32_t i)
{
    struct task *t = &s->tasks[i];
    s->w[t->worker].unacked[rec_of(s, i)->queue]--;
}

static void completed(struct sim *s, uint32_t i)
{
    s->r->completed++;
    if (in_focus(s, i))
        s->r->e2es[s->r->ne2es++] = s->now - s->tasks[i].arrive;
    settle(s, i);
}

static void enqueue(struct sim *s, uint32_t i)
{
    const struct sim_record *rec = rec_of(s, i);
    fifo_push(s, &s->queues[rec->queue], i);
    s->waiting++;
}

/* Not an attempt: back on its queue after delay (breaker open, room full). */
static void defer(struct sim *s, uint32_t i, double delay)
{
    settle(s, i);
    sim_heap_push(&s->heap, s->now + (delay < 0.01 ? 0.01 : delay), EV_RETRY_DUE, i);
}

static bool shed_at_start(struct sim *s, struct sim_worker *w, uint32_t i)
{
    const struct sim_params *p = s->p;
    const struct sim_record *rec = rec_of(s, i);
    long max_depth = p->queue_max_depth && p->queue_max_depth[rec->queue] >= 0 ? p->queue_max_depth[rec->queue]
                                                                                 : p->max_depth;
    struct shed_guardrails g = {.priority_below = p->shed_priority_below, .max_depth = max_depth,
                                .auto_shed = p->shed_auto, .auto_priority = p->shed_priority};
    if (g.priority_below < 0 && g.max_depth < 0 && !g.auto_shed)
        return false;
    bool codel = g.auto_shed && shed_codel_observe(&w->codel, s->now - s->tasks[i].arrive, s->now);
    struct shed_task st = {.priority = rec->priority, .queue_depth = s->queues[rec->queue].len};
    if (shed_decide(&g, &st, codel, NULL) == SHED_RUN)
        return false;
    s->r->shed++;
    settle(s, i);
    return true;
}

/* The rate room: a permit now (back to the run queue holding it) or a
 * wait until the limiter says one comes. */
static void rate_room(struct sim *s, struct sim_worker *w, uint32_t i, int dep)
{
    struct ratelimit *rl = s->fleet_rate[dep].rate > 0 && s->p->deps[dep].fleet_rate ? &s->fleet_rate[dep]
                                                                                      : &w->deps.deps[dep].rate;
    struct ratelimit_grant g;
    ratelimit_reserve(rl, NULL, 1, RATEWAIT_HORIZON, &g);
    if (g.granted > 0) {
        w->room[dep]--;
        s->tasks[i].rate_granted = 1;
        fifo_push(s, &w->run, i);
        s->waiting++;
        return;
    }
    sim_heap_push(&s->heap, s->now + g.retry_after, EV_RATE_DUE, i);
}

/* A slot took task i: false when it did not start a call (the slot is free). */
static bool start(struct sim *s, struct sim_worker *w, uint32_t i)
{
    struct task *t = &s->tasks[i];
    const struct sim_record *rec = rec_of(s, i);
    const struct sim_type_params *tp = &s->p->types[rec->type];
    if (rec->deadline > 0 && s->now > t->arrive + rec->deadline) {
        s->r->expired++;   /* dead-lettered as "expired": its own column, not in dead_lettered */
        settle(s, i);
        return false;
    }
    if (shed_at_start(s, w, i))
        return false;
    uint32_t call = NIL;
    if (tp->dep >= 0) {
        struct dependency *d = &w->deps.deps[tp->dep];
        call = s->free_calls[--s->nfree_calls];
        double retry_after = 0;
        unsigned flags = t->rate_granted ? DEP_RATE_GRANTED : DEP_RATE_QUEUED;
        t->rate_granted = 0;
        enum dependency_verdict v = dependency_begin(d, NULL, s->now, flags, &s->calls[call], &retry_after);
        if (v != DEP_CALL)
            s->free_calls[s->nfree_calls++] = call;
        switch (v) {
        case DEP_CALL: break;
        case DEP_FALLBACK:
            s->r->fallbacks++;
            completed(s, i);
            return false;
        case DEP_OPEN: {
            struct breaker_stats bs;
            breaker_stats(d->breaker, &bs);
            defer(s, i, bs.open_remaining + uniform(s));
            return false;
        }
        case DEP_THROTTLED:
            if (w->room[tp->dep] >= RATEWAIT_MAX) {
                defer(s, i, 0.5 + uniform(s));
                return false;
            }
            w->room[tp->dep]++;
            rate_room(s, w, i, tp->dep);
            return false;
        case DEP_FULL:
            fifo_push(s, &w->bulkhead_line[tp->dep], i);
            return false;
        }
    }
    t->attempt++;
    s->r->attempts++;
    if (t->first_start < 0) {
        t->first_start = s->now;
        if (in_focus(s, i))
            s->r->waits[s->r->nwaits++] = s->now - t->arrive;
    }
    /* the record's own outcome while the call runs about when it did;
     * otherwise the type's failure share at this time of the trace */
    int outcome = rec->outcome == SIM_SHED ? SIM_OK : rec->outcome;
    const struct sim_fit *f = &s->fits[rec->type];
    if (t->attempt > 1 || fabs(s->now - t->arrive) > f->fail.width)
        outcome = uniform(s) < sim_failure_share(f, s->now) ? SIM_FAIL : SIM_OK;
    double run = t->service;
    if (run > tp->timeout) {
        run = tp->timeout;
        outcome = SIM_TIMEOUT;
    }
    t->outcome = (uint8_t)outcome;
    t->call = call;
    w->busy++;
    s->r->busy_time += run;
    s->type_in[rec->type] += rec->tokens_in;
    s->type_out[rec->type] += t->tokens_out;
    sim_heap_push(&s->heap, s->now + run, EV_FINISH, i);
    return true;
}

/* Fills worker w's free slots from its run queue, and its consumers from
 * the queues, until neither moves. */
static void serve(struct sim *s, int wi)
{
    struct sim_worker *w = &s->w[wi];
    size_t nq = s->tr->queues.n;
    for (;;) {
        bool moved = false;
        while (w->busy < s->p->concurrency && w->run.len > 0) {
            uint32_t i = fifo_pop(s, &w->run);
            s->waiting--;
            start(s, w, i);
            moved = true;
        }
        for (size_t q = 0; q < nq; q++) {
            while (s->queues[q].len > 0 && w->unacked[q] < s->prefetch) {
                uint32_t i = fifo_pop(s, &s->queues[q]);
                s->tasks[i].worker = wi;
                w->unacked[q]++;
                fifo_push(s, &w->run, i);
                moved = true;
            }
        }
        if (!moved || w->busy >= s->p->concurrency)
            return;
    }
}

/* A task is on queue q: offered to the workers round robin. */
static void offer(struct sim *s, int q)
{
    int nw = s->p->workers;
    for (int k = 0; k < nw && s->queues[q].len > 0; k++) {
        int wi = (s->rr[q] + k) % nw;
        if (s->w[wi].unacked[q] < s->prefetch) {
            s->rr[q] = (wi + 1) % nw;
            serve(s, wi);
        }
    }
}

static void finish(struct sim *s, uint32_t i)
{
    struct task *t = &s->tasks[i];
    const struct sim_record *rec = rec_of(s, i);
    const struct sim_type_params *tp = &s->p->types[rec->type];
    int wi = t->worker;
    struct sim_worker *w = &s->w[wi];
    w->busy--;
    if (t->call != NIL) {
        struct dependency_call *c = &s->calls[t->call];
        dependency_end(c, t->outcome == SIM_OK ? BREAKER_SUCCESS : BREAKER_ERROR, s->now - c->permit.started);
        s->free_calls[s->nfree_calls++] = t->call;
        t->call = NIL;
        struct fifo *line = &w->bulkhead_line[tp->dep];
        if (line->len > 0) {
            fifo_push(s, &w->run, fifo_pop(s, line));
            s->waiting++;
        }
    }
    if (t->outcome == SIM_OK) {
        completed(s, i);
    } else if (t->outcome == SIM_DLQ || t->attempt >= tp->max_attempts) {
        s->r->dead_lettered++;
        settle(s, i);
    } else {
        double delay = retry_delay(s->p->retry_base, s->p->retry_cap, t->attempt, &s->retry_seed);
        settle(s, i);
        sim_heap_push(&s->heap, s->now + delay, EV_RETRY_DUE, i);
    }
    serve(s, wi);
}

/* The arrivals: each first attempt, copied `scale` times (whole copies
 * shifted by a fraction of the mean gap; the fraction by a seeded draw). */
static void make_tasks(struct sim *s)
{
    const struct sim_trace *tr = s->tr;
    double scale = s->p->scale > 0 ? s->p->scale : 1;
    int copies = (int)ceil(scale);
    double frac = scale - floor(scale);
    size_t firsts = 0;
    for (size_t k = 0; k < tr->n; k++)
        firsts += tr->recs[k].attempt == 1;
    double span = tr->n ? tr->recs[tr->n - 1].t - tr->recs[0].t : 0;
    double gap = firsts > 1 ? span / (double)(firsts - 1) : 0;
    s->tasks = xmalloc((firsts * (size_t)copies + 1) * sizeof *s->tasks);
    s->ntasks = 0;
    for (size_t k = 0; k < tr->n; k++) {
        const struct sim_record *rec = &tr->recs[k];
        if (rec->attempt != 1)
            continue;
        const struct sim_fit *f = &s->fits[rec->type];
        double out = rec->tokens_out, service = rec->service;
        if (s->p->max_response_tokens >= 0 && out > (double)s->p->max_response_tokens) {
            double cut = out - (double)s->p->max_response_tokens;
            out = (double)s->p->max_response_tokens;
            if (f->b > 0)
                service = service - f->b * cut > 0 ? service - f->b * cut : 0;
        }
        for (int c = 0; c < copies; c++) {
            if (c == copies - 1 && frac > 0 && uniform(s) >= frac)
                continue;
            s->tasks[s->ntasks++] = (struct task){.rec = (uint32_t)k, .next = NIL, .call = NIL,
                                                  .arrive = rec->t + c * gap / copies, .service = service,
                                                  .tokens_out = out, .first_start = -1};
        }
    }
}

static int by_arrival(const void *a, const void *b)
{
    const struct task *x = a, *y = b;
    if (x->arrive != y->arrive)
        return x->arrive < y->arrive ? -1 : 1;
    return x->rec < y->rec ? -1 : x->rec > y->rec;
}

static int setup(struct sim *s, char *err, size_t errlen)
{
    const struct sim_params *p = s->p;
    size_t nq = s->tr->queues.n, nd = p->ndeps;
    s->prefetch = p->prefetch > 0 ? p->prefetch : p->concurrency;
    s->queues = xmalloc((nq ? nq : 1) * sizeof *s->queues);
    for (size_t q = 0; q < nq; q++)
        s->queues[q] = (struct fifo){NIL, NIL, 0};
    s->rr = xcalloc(nq ? nq : 1, sizeof *s->rr);
    struct config depcfg = {.dependencies = p->deps, .ndependencies = nd};
    struct breaker_clock clock = {sim_now, s};
    s->w = xcalloc((size_t)p->workers, sizeof *s->w);
    for (int k = 0; k < p->workers; k++) {
        struct sim_worker *w = &s->w[k];
        w->run = (struct fifo){NIL, NIL, 0};
        w->unacked = xcalloc(nq ? nq : 1, sizeof *w->unacked);
        w->bulkhead_line = xmalloc((nd ? nd : 1) * sizeof *w->bulkhead_line);
        for (size_t d = 0; d < nd; d++)
            w->bulkhead_line[d] = (struct fifo){NIL, NIL, 0};
        w->room = xcalloc(nd ? nd : 1, sizeof *w->room);
        shed_codel_init(&w->codel, p->shed_target, SHED_CODEL_INTERVAL);
        if (dependency_set_init(&w->deps, &depcfg, &clock, NULL, NULL, err, errlen) < 0)
            return -1;
    }
    s->fleet_rate = xcalloc(nd ? nd : 1, sizeof *s->fleet_rate);
    struct ratelimit_clock rc = {sim_now, s};
    for (size_t d = 0; d < nd; d++)
        ratelimit_init(&s->fleet_rate[d], &p->deps[d], &rc);
    /* a call per running task: no more than the slots, nor the tasks */
    size_t slots = (size_t)p->workers * (size_t)p->concurrency;
    if (slots > s->ntasks + 1)
        slots = s->ntasks + 1;
    s->calls = xcalloc(slots, sizeof *s->calls);
    s->free_calls = xmalloc(slots * sizeof *s->free_calls);
    for (size_t k = 0; k < slots; k++)
        s->free_calls[k] = (uint32_t)k;
    s->nfree_calls = slots;
    s->type_in = xcalloc(s->tr->types.n + 1, sizeof *s->type_in);
    s->type_out = xcalloc(s->tr->types.n + 1, sizeof *s->type_out);
    return 0;
}

static void teardown(struct sim *s)
{
    for (int k = 0; s->w && k < s->p->workers; k++) {
        struct sim_worker *w = &s->w[k];
        if (w->deps.deps)
            dependency_set_fini(&w->deps);
        shed_codel_fini(&w->codel);
        free(w->unacked);
        free(w->bulkhead_line);
        free(w->room);
    }
    for (size_t d = 0; s->fleet_rate && d < s->p->ndeps; d++)
        ratelimit_fini(&s->fleet_rate[d]);
    free(s->fleet_rate);
    free(s->w);
    free(s->queues);
    free(s->rr);
    free(s->calls);
    free(s->free_calls);
    free(s->type_in);
    free(s->type_out);
    free(s->tasks);
    sim_heap_free(&s->heap);
}

static void run_events(struct sim *s)
{
    size_t next = 0;
    struct sim_result *r = s->r;
    for (;;) {
        bool arrival = next < s->ntasks && (s->heap.n == 0 || s->tasks[next].arrive < sim_heap_top_time(&s->heap));
        uint32_t i;
        int kind;
        if (arrival) {
            i = (uint32_t)next++;
            s->now = s->tasks[i].arrive;
            kind = -1;
        } else if (s->heap.n > 0) {
            struct sim_event ev = sim_heap_pop(&s->heap);
            s->now = ev.time;
            i = ev.task;
            kind = ev.kind;
        } else {
            break;
        }
        r->events++;
        switch (kind) {
        case -1:
        case EV_RETRY_DUE:
            enqueue(s, i);
            offer(s, rec_of(s, i)->queue);
            break;
        case EV_FINISH: finish(s, i); break;
        case EV_RATE_DUE: {
            int wi = s->tasks[i].worker;
            rate_room(s, &s->w[wi], i, s->p->types[rec_of(s, i)->type].dep);
            serve(s, wi);
            break;
        }
        }
        /* counted once the event is handled: a task taken at once never waited */
        if (s->waiting > r->peak_depth)
            r->peak_depth = s->waiting;
    }
    r->end_time = s->now;
}

int sim_run(const struct sim_trace *tr, const struct sim_fit *fits, const struct sim_params *p, int min_priority,
            struct sim_result *out, char *err, size_t errlen)
{
    clock_t c0 = clock();
    memset(out, 0, sizeof *out);
    struct sim s = {.tr = tr, .fits = fits, .p = p, .r = out, .min_priority = min_priority,
                    .rng = (uint64_t)p->seed * 0x2545F4914F6CDD1DULL + 1, .retry_seed = p->seed};
    int rc = -1;
    make_tasks(&s);
    if (setup(&s, err, errlen) < 0)
        goto done;
    if (p->scale > 1 && ceil(p->scale) > 1)
        qsort(s.tasks, s.ntasks, sizeof *s.tasks, by_arrival);
    out->arrivals = s.ntasks;
    out->slots = p->workers * p->concurrency;
    out->waits = xmalloc((s.ntasks + 1) * sizeof *out->waits);
    out->e2es = xmalloc((s.ntasks + 1) * sizeof *out->e2es);
    for (size_t k = 0; k < s.ntasks; k++)
        out->focus_arrivals += tr->recs[s.tasks[k].rec].priority >= min_priority;
    if (s.ntasks) {
        out->first_arrival = s.tasks[0].arrive;
        out->last_arrival = s.tasks[s.ntasks - 1].arrive;
    }
    sim_heap_init(&s.heap, s.ntasks < (size_t)out->slots ? s.ntasks + 64 : (size_t)out->slots * 2 + 64);
    run_events(&s);
    for (size_t k = 0; k < tr->types.n; k++) {
        out->tokens_in += s.type_in[k];
        out->tokens_out += s.type_out[k];
        out->cost += (s.type_in[k] * p->types[k].price_in + s.type_out[k] * p->types[k].price_out) / 1e6;
    }
    rc = 0;
done:
    teardown(&s);
    out->cpu_seconds = (double)(clock() - c0) / CLOCKS_PER_SEC;
    return rc;
}

void sim_result_free(struct sim_result *r)
{
    free(r->waits);
    free(r->e2es);
    r->waits = r->e2es = NULL;
}
