/* Variant settings (see variants.h): one table of keys with where each
 * lands (the variant, a [task T], a [dependency D], a queue) and its type. */
#include "sim/variants.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"

enum key_scope { K_SIM, K_TASK, K_DEP, K_QUEUE };
enum key_kind { K_INT, K_INT_OFF, K_LONG_OFF, K_DOUBLE, K_BOOL };

struct key {
    enum key_scope scope;
    const char *name;        /* after the "task.T." / "dep.D." / "queue.Q." prefix */
    enum key_kind kind;
    size_t offset;
    double min, max;
    const char *help;      /* what it sets, for the reader (sim_usage in cli/sim.c names the keys) */
};

#define P(f) offsetof(struct sim_params, f)
#define T(f) offsetof(struct sim_type_params, f)
#define D(f) offsetof(struct dependency_config, f)

static const struct key keys[] = {
    {K_SIM, "workers", K_INT, P(workers), 1, 100000, "worker processes"},
    {K_SIM, "concurrency", K_INT, P(concurrency), 1, 4096, "slots per worker"},
    {K_SIM, "prefetch", K_INT, P(prefetch), 0, 65535, "unacked tasks per consumer (0: concurrency)"},
    {K_SIM, "max_attempts", K_INT, P(max_attempts), 1, 1000, "[worker] max_attempts"},
    {K_SIM, "retry_base", K_DOUBLE, P(retry_base), 0.001, 3600, "backoff base, seconds"},
    {K_SIM, "retry_cap", K_DOUBLE, P(retry_cap), 0.001, 86400, "backoff cap, seconds"},
    {K_SIM, "scale", K_DOUBLE, P(scale), 0.001, 1000, "arrivals multiplied by this"},
    {K_SIM, "shed.priority_below", K_INT_OFF, P(shed_priority_below), 0, 256, "shed priority below this (off)"},
    {K_SIM, "shed.auto", K_BOOL, P(shed_auto), 0, 1, "CoDel shedding"},
    {K_SIM, "shed.target", K_DOUBLE, P(shed_target), 0.001, 3600, "[worker] shed_target, seconds"},
    {K_SIM, "shed.priority", K_INT, P(shed_priority), 0, 256, "[worker] shed_priority"},
    {K_SIM, "max_depth", K_LONG_OFF, P(max_depth), 0, 1e12, "every queue's max_depth (off)"},
    {K_SIM, "budget.max_response_tokens", K_LONG_OFF, P(max_response_tokens), 0, 1e12, "token cap (off)"},
    {K_QUEUE, "max_depth", K_LONG_OFF, 0, 0, 1e12, "queue.Q.max_depth (off)"},
    {K_TASK, "timeout", K_DOUBLE, T(timeout), 0.001, 86400, "task.T.timeout, seconds"},
    {K_TASK, "max_attempts", K_INT, T(max_attempts), 1, 1000, "task.T.max_attempts"},
    {K_TASK, "price_in", K_DOUBLE, T(price_in), 0, 1e9, "task.T.price_in per million tokens"},
    {K_TASK, "price_out", K_DOUBLE, T(price_out), 0, 1e9, "task.T.price_out per million tokens"},
    {K_DEP, "rate", K_DOUBLE, D(rate), 0, 1e9, "dep.D.rate, calls per second (0: unlimited)"},
    {K_DEP, "burst", K_INT, D(burst), 0, 1000000, "dep.D.burst"},
    {K_DEP, "fleet_rate", K_BOOL, D(fleet_rate), 0, 1, "dep.D.fleet_rate"},
    {K_DEP, "max_concurrent", K_INT, D(max_concurrent), 0, 1000000, "dep.D.max_concurrent (0: unlimited)"},
    {K_DEP, "window_size", K_INT, D(window_size), 1, 100000, "dep.D.window_size"},
    {K_DEP, "minimum_calls", K_INT, D(minimum_calls), 1, 100000, "dep.D.minimum_calls"},
    {K_DEP, "failure_rate", K_DOUBLE, D(failure_rate), 0, 100, "dep.D.failure_rate, percent"},
    {K_DEP, "slow_rate", K_DOUBLE, D(slow_rate), 0, 100, "dep.D.slow_rate, percent"},
    {K_DEP, "slow_call", K_DOUBLE, D(slow_call), 0, 86400, "dep.D.slow_call, seconds"},
    {K_DEP, "open_wait", K_DOUBLE, D(open_wait), 0, 86400, "dep.D.open_wait, seconds"},
    {K_DEP, "half_open_calls", K_INT, D(half_open_calls), 1, 100000, "dep.D.half_open_calls"},
};

static const char *const scope_prefix[] = {"", "task.", "dep.", "queue."};

static int parse_value(const struct key *k, const char *value, void *field, char *why, size_t whylen)
{
    if (k->kind == K_BOOL) {
        bool b;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") || !strcmp(value, "1"))
            b = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcasecmp(value, "off") ||
                 !strcmp(value, "0"))
            b = false;
        else {
            snprintf(why, whylen, "wants true or false, got '%.60s'", value);
            return -1;
        }
        *(bool *)field = b;
        return 0;
    }
    if ((k->kind == K_INT_OFF || k->kind == K_LONG_OFF) && !strcasecmp(value, "off")) {
        if (k->kind == K_INT_OFF)
            *(int *)field = -1;
        else
            *(long *)field = -1;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    bool whole = k->kind != K_DOUBLE;
    if (end == value || *end || errno || !isfinite(d) || d < k->min || d > k->max || (whole && d != floor(d))) {
        snprintf(why, whylen, "wants %s from %g to %g%s, got '%.60s'", whole ? "a whole number" : "a number", k->min,
                 k->max, k->kind == K_INT_OFF || k->kind == K_LONG_OFF ? " or off" : "", value);
        return -1;
    }
    if (k->kind == K_DOUBLE)
        *(double *)field = d;
    else if (k->kind == K_LONG_OFF)
        *(long *)field = (long)d;
    else
        *(int *)field = (int)d;
    return 0;
}

static int find_name(const struct sim_names *set, const char *name, size_t len)
{
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->names[i]) == len && strncmp(set->names[i], name, len) == 0)
            return (int)i;
    return -1;
}

static int find_dep(const struct sim_params *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->ndeps; i++)
        if (strlen(p->deps[i].name) == len && strncmp(p->deps[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int sim_params_set(struct sim_params *p, const struct sim_trace *tr, const char *key, const char *value, char *why,
                   size_t whylen)
{
    enum key_scope scope = K_SIM;
    const char *rest = key;
    for (int s = K_TASK; s <= K_QUEUE; s++)
        if (strncmp(key, scope_prefix[s], strlen(scope_prefix[s])) == 0)
            scope = (enum key_scope)s, rest = key + strlen(scope_prefix[s]);
    void *base = p;
    if (scope != K_SIM) {
        const char *dot = strrchr(rest, '.');
        if (!dot || dot == rest) {
            snprintf(why, whylen, "unknown key '%.80s' (%sNAME.KEY)", key, scope_prefix[scope]);
            return -1;
        }
        size_t len = (size_t)(dot - rest);
        int idx = scope == K_TASK ? find_name(&tr->types, rest, len)
                  : scope == K_QUEUE ? find_name(&tr->queues, rest, len)
                                     : find_dep(p, rest, len);
        if (idx < 0) {
            snprintf(why, whylen, "%.80s: no %s '%.*s' in the %s", key,
                     scope == K_TASK ? "task type" : scope == K_QUEUE ? "queue" : "dependency", (int)len, rest,
                     scope == K_DEP ? "config" : "trace");
            return -1;
        }
        base = scope == K_TASK ? (void *)&p->types[idx]
               : scope == K_DEP ? (void *)&p->deps[idx]
                                : (void *)&p->queue_max_depth[idx];
        rest = dot + 1;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct key *k = &keys[i];
        if (k->scope != scope || strcmp(k->name, rest) != 0)
            continue;
        char inner[200];
        if (parse_value(k, value, (char *)base + k->offset, inner, sizeof inner) < 0) {
            snprintf(why, whylen, "%.80s: %s", key, inner);
            return -1;
        }
        return 0;
    }
    snprintf(why, whylen, "unknown key '%.80s'", key);
    return -1;
}

void sim_params_from_config(struct sim_params *p, const struct config *cfg, const struct sim_trace *tr)
{
    const struct worker_config *wc = &cfg->worker;
    *p = (struct sim_params){
        .name = xstrdup("base"), .workers = 1, .concurrency = wc->concurrency, .prefetch = wc->prefetch,
        .max_attempts = wc->max_attempts, .retry_base = wc->retry_base, .retry_cap = wc->retry_cap, .scale = 1,
        .shed_priority_below = -1, .shed_target = wc->shed_target, .shed_priority = wc->shed_priority,
        .max_depth = -1, .max_response_tokens = -1, .ndeps = cfg->ndependencies};
    p->deps = xmalloc((cfg->ndependencies + 1) * sizeof *p->deps);
    if (cfg->ndependencies)
        memcpy(p->deps, cfg->dependencies, cfg->ndependencies * sizeof *p->deps);
    p->queue_max_depth = xmalloc((tr->queues.n + 1) * sizeof *p->queue_max_depth);
    for (size_t q = 0; q < tr->queues.n; q++)
        p->queue_max_depth[q] = -1;
    p->types = xcalloc(tr->types.n + 1, sizeof *p->types);
    for (size_t k = 0; k < tr->types.n; k++) {
        struct sim_type_params *tp = &p->types[k];
        struct task_config def;
        const struct task_config *tc = config_task(cfg, tr->types.names[k]);
        if (!tc) {
            config_task_init(&def, tr->types.names[k]);
            tc = &def;
        }
        tp->timeout = tc->timeout;
        tp->max_attempts = tc->max_attempts > 0 ? tc->max_attempts : wc->max_attempts;
        tp->price_in = tc->price_in;
        tp->price_out = tc->price_out;
        tp->dep = tc->dependency ? find_dep(p, tc->dependency, strlen(tc->dependency)) : -1;
        if (tc == &def)
            config_task_free(&def);
    }
}

void sim_params_copy(struct sim_params *dst, const struct sim_params *src, const struct sim_trace *tr)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->deps = xmalloc((src->ndeps + 1) * sizeof *dst->deps);
    if (src->ndeps)
        memcpy(dst->deps, src->deps, src->ndeps * sizeof *dst->deps);
    dst->queue_max_depth = xmalloc((tr->queues.n + 1) * sizeof *dst->queue_max_depth);
    memcpy(dst->queue_max_depth, src->queue_max_depth, tr->queues.n * sizeof *dst->queue_max_depth);
    dst->types = xmalloc((tr->types.n + 1) * sizeof *dst->types);
    memcpy(dst->types, src->types, tr->types.n * sizeof *dst->types);
}

void sim_params_free(struct sim_params *p)
{
    free(p->name);
    free(p->deps);
    free(p->queue_max_depth);
    free(p->types);
    memset(p, 0, sizeof *p);
}

/* inih calls its handler for keys only, so a [variant NAME] with nothing
 * to change would vanish: the reader follows every section header with a
 * line of its own (SECTION_MARK = 1) and remembers where, so that errors
 * still name the file's own line numbers. */
#define SECTION_MARK "qdeck.sim.section"

struct marked_reader {
    FILE *f;
    bool pending;
    int line;          /* lines handed to inih */
    int *marks;        /* inih line numbers of the marks */
    size_t nmarks;
};

static char *read_marked(char *str, int num, void *stream)
{
    struct marked_reader *r = stream;
    r->line++;
    if (r->pending) {
        r->pending = false;
        r->marks = xrealloc(r->marks, (r->nmarks + 1) * sizeof *r->marks);
        r->marks[r->nmarks++] = r->line;
        snprintf(str, (size_t)num, "%s = 1\n", SECTION_MARK);
        return str;
    }
    if (!fgets(str, num, r->f))
        return NULL;
    const char *p = str + strspn(str, " \t");
    r->pending = *p == '[';
    return str;
}

static int file_line(const struct marked_reader *r, int inih_line)
{
    int before = 0;
    bool on_mark = false;
    for (size_t i = 0; i < r->nmarks; i++) {
        before += r->marks[i] < inih_line;
        on_mark |= r->marks[i] == inih_line;
    }
    return inih_line - before - (on_mark ? 1 : 0);
}

struct read_state {
    const struct sim_params *base;
    const struct sim_trace *tr;
    struct sim_variants *out;
    char error[300];
};

/* The reader's mark opens every section, so a variant is made there (and a
 * name given twice is caught even when the two sections follow each other). */
static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    struct read_state *st = user;
    if (strncmp(section, "variant ", 8) != 0 || !section[8 + strspn(section + 8, " ")]) {
        snprintf(st->error, sizeof st->error, "unknown section [%.80s] (want [variant NAME])", section);
        return 0;
    }
    if (strcmp(key, SECTION_MARK) != 0)
        return sim_params_set(&st->out->v[st->out->n - 1], st->tr, key, value, st->error, sizeof st->error) == 0;
    const char *name = section + 8 + strspn(section + 8, " ");
    for (size_t i = 0; i < st->out->n; i++)
        if (strcmp(st->out->v[i].name, name) == 0) {
            snprintf(st->error, sizeof st->error, "variant '%.80s' is defined twice", name);
            return 0;
        }
    st->out->v = xrealloc(st->out->v, (st->out->n + 1) * sizeof *st->out->v);
    struct sim_params *p = &st->out->v[st->out->n++];
    sim_params_copy(p, st->base, st->tr);
    free(p->name);
    p->name = xstrdup(name);
    return 1;
}

int sim_variants_read(const char *path, const struct sim_params *base, const struct sim_trace *tr,
                      struct sim_variants *out, char *err, size_t errlen)
{
    struct read_state st = {.base = base, .tr = tr, .out = out};
    struct marked_reader r = {.f = fopen(path, "r")};
    int rc = -1;
    if (!r.f)
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    else
        rc = ini_parse_stream(read_marked, &r, on_entry, &st);
    if (r.f)
        fclose(r.f);
    if (rc > 0)
        rc = file_line(&r, rc);
    free(r.marks);
    if (rc == -2)
        snprintf(err, errlen, "%s: out of memory while parsing", path);
    else if (rc > 0)
        snprintf(err, errlen, "%s:%d: %s", path, rc, st.error[0] ? st.error : "not an INI line (key = value or [section])");
    else if (out->n == 0)
        snprintf(err, errlen, "%s: no [variant NAME] section", path);
    if (rc != 0 || out->n == 0) {
        sim_variants_free(out);
        return -1;
    }
    return 0;
}

void sim_variants_free(struct sim_variants *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        sim_params_free(&vs->v[i]);
    free(vs->v);
    vs->v = NULL;
    vs->n = 0;
}
