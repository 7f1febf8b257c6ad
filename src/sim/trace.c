/* The trace reader (see trace.h): the file is read whole, cut into lines,
 * and each line parsed with cJSON into a compact record. */
#include "sim/trace.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static const char *const outcome_names[] = {"ok", "fail", "timeout", "shed", "dlq"};

const char *sim_outcome_name(int outcome)
{
    return outcome >= 0 && outcome <= SIM_DLQ ? outcome_names[outcome] : "?";
}

int sim_names_intern(struct sim_names *set, const char *name)
{
    for (size_t i = set->n; i-- > 0;)
        if (strcmp(set->names[i], name) == 0)
            return (int)i;
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 8;
        set->names = xrealloc(set->names, set->cap * sizeof *set->names);
    }
    set->names[set->n] = xstrdup(name);
    return (int)set->n++;
}

void sim_names_free(struct sim_names *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->names[i]);
    free(set->names);
    *set = (struct sim_names){0};
}

/* A number field: 0 with *out (fallback when absent and not required), or -1. */
static int number_field(const cJSON *o, const char *key, bool required, double min, double fallback, double *out,
                        char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(err, errlen, "%s: missing (required)", key);
            return -1;
        }
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        snprintf(err, errlen, "%s: not a number", key);
        return -1;
    }
    if (v->valuedouble < min) {
        snprintf(err, errlen, "%s: %g is below %g", key, v->valuedouble, min);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int whole_field(const cJSON *o, const char *key, int min, int max, int fallback, int *out, char *err,
                       size_t errlen)
{
    double d;
    if (number_field(o, key, false, -INFINITY, fallback, &d, err, errlen) < 0)
        return -1;
    if (d != floor(d) || d < min || d > max) {
        snprintf(err, errlen, "%s: wants a whole number from %d to %d, got %g", key, min, max, d);
        return -1;
    }
    *out = (int)d;
    return 0;
}

static int string_field(const cJSON *o, const char *key, bool required, const char *fallback, const char **out,
                        char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(err, errlen, "%s: missing (required)", key);
            return -1;
        }
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        snprintf(err, errlen, "%s: not a non-empty string", key);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

static int parse_object(struct sim_trace *tr, const cJSON *o, struct sim_record *r, char *err, size_t errlen)
{
    const char *type, *queue, *outcome;
    double ignored;
    if (number_field(o, "t", true, -INFINITY, 0, &r->t, err, errlen) < 0 ||
        string_field(o, "type", true, NULL, &type, err, errlen) < 0 ||
        number_field(o, "service", true, 0, 0, &r->service, err, errlen) < 0 ||
        string_field(o, "queue", false, "default", &queue, err, errlen) < 0 ||
        whole_field(o, "priority", 0, 255, 5, &r->priority, err, errlen) < 0 ||
        whole_field(o, "attempt", 1, 1000000, 1, &r->attempt, err, errlen) < 0 ||
        number_field(o, "tokens_in", false, 0, 0, &r->tokens_in, err, errlen) < 0 ||
        number_field(o, "tokens_out", false, 0, 0, &r->tokens_out, err, errlen) < 0 ||
        number_field(o, "deadline", false, 0, 0, &r->deadline, err, errlen) < 0 ||
        number_field(o, "wait", false, 0, 0, &ignored, err, errlen) < 0 ||
        number_field(o, "e2e", false, 0, 0, &ignored, err, errlen) < 0 ||
        string_field(o, "outcome", false, "ok", &outcome, err, errlen) < 0)
        return -1;
    r->outcome = -1;
    for (int i = 0; i <= SIM_DLQ; i++)
        if (strcmp(outcome, outcome_names[i]) == 0)
            r->outcome = i;
    if (r->outcome < 0) {
        snprintf(err, errlen, "outcome: '%.40s' is not ok, fail, timeout, shed or dlq", outcome);
        return -1;
    }
    r->type = sim_names_intern(&tr->types, type);
    r->queue = sim_names_intern(&tr->queues, queue);
    return 0;
}

int sim_trace_parse_line(struct sim_trace *tr, const char *line, size_t len, struct sim_record *out, char *err,
                         size_t errlen)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return 1;
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "not a JSON object");
        cJSON_Delete(o);
        return -1;
    }
    int rc = parse_object(tr, o, out, err, errlen);
    cJSON_Delete(o);
    return rc;
}

static const struct sim_record *sort_base;

static int by_time(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double ti = sort_base[i].t, tj = sort_base[j].t;
    if (ti != tj)
        return ti < tj ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Stable by t: most traces are in order already and cost one pass. */
static void sort_records(struct sim_trace *tr)
{
    size_t n = tr->n, k = 1;
    while (k < n && tr->recs[k - 1].t <= tr->recs[k].t)
        k++;
    if (k >= n)
        return;
    size_t *idx = xmalloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_base = tr->recs;
    qsort(idx, n, sizeof *idx, by_time);
    struct sim_record *sorted = xmalloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = tr->recs[idx[i]];
    free(idx);
    free(tr->recs);
    tr->recs = sorted;
    tr->cap = n;
}

int sim_trace_read(struct sim_trace *tr, const char *path, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            text = xrealloc(text, cap);
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed) {
        snprintf(err, errlen, "%s: read error", path);
        free(text);
        return -1;
    }
    int rc = 0;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        if (tr->n == tr->cap) {
            tr->cap = tr->cap ? tr->cap * 2 : 4096;
            tr->recs = xrealloc(tr->recs, tr->cap * sizeof *tr->recs);
        }
        char why[200];
        int r = sim_trace_parse_line(tr, text + pos, end - pos, &tr->recs[tr->n], why, sizeof why);
        if (r < 0) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            rc = -1;
            break;
        }
        if (r == 0)
            tr->n++;
        pos = end + 1;
    }
    free(text);
    if (rc == 0 && tr->n == 0) {
        snprintf(err, errlen, "%s: no records", path);
        rc = -1;
    }
    if (rc == 0)
        sort_records(tr);
    return rc;
}

void sim_trace_free(struct sim_trace *tr)
{
    free(tr->recs);
    sim_names_free(&tr->types);
    sim_names_free(&tr->queues);
    *tr = (struct sim_trace){0};
}
