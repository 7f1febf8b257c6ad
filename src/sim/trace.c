/* The trace reader (see trace.h): the file is read whole, cut into lines,
 * and each line parsed with cJSON into a compact record. */
#include "sim/trace.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The fields a record may have, each read once: a line's members are
 * walked once and matched here (a dozen lookups per line by name would
 * cost more than the parse). */
enum field { F_T, F_TYPE, F_SERVICE, F_QUEUE, F_PRIORITY, F_ATTEMPT, F_TOKENS_IN, F_TOKENS_OUT, F_DEADLINE, F_WAIT,
             F_E2E, F_OUTCOME, NFIELDS };
static const char *const field_names[NFIELDS] = {"t", "type", "service", "queue", "priority", "attempt",
                                                 "tokens_in", "tokens_out", "deadline", "wait", "e2e", "outcome"};

static int number_of(const cJSON *v, const char *key, double min, double *out, char *err, size_t errlen)
{
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

static int whole_of(const cJSON *v, const char *key, int min, int max, int *out, char *err, size_t errlen)
{
    double d;
    if (number_of(v, key, -INFINITY, &d, err, errlen) < 0)
        return -1;
    if (d != floor(d) || d < min || d > max) {
        snprintf(err, errlen, "%s: wants a whole number from %d to %d, got %g", key, min, max, d);
        return -1;
    }
    *out = (int)d;
    return 0;
}

static int string_of(const cJSON *v, const char *key, const char **out, char *err, size_t errlen)
{
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        snprintf(err, errlen, "%s: not a non-empty string", key);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

static int read_field(int f, const cJSON *v, struct sim_record *r, const char **type, const char **queue,
                      const char **outcome, char *err, size_t errlen)
{
    const char *key = field_names[f];
    double ignored;
    switch (f) {
    case F_T: return number_of(v, key, -INFINITY, &r->t, err, errlen);
    case F_TYPE: return string_of(v, key, type, err, errlen);
    case F_SERVICE: return number_of(v, key, 0, &r->service, err, errlen);
    case F_QUEUE: return string_of(v, key, queue, err, errlen);
    case F_PRIORITY: return whole_of(v, key, 0, 255, &r->priority, err, errlen);
    case F_ATTEMPT: return whole_of(v, key, 1, 1000000, &r->attempt, err, errlen);
    case F_TOKENS_IN: return number_of(v, key, 0, &r->tokens_in, err, errlen);
    case F_TOKENS_OUT: return number_of(v, key, 0, &r->tokens_out, err, errlen);
    case F_DEADLINE: return number_of(v, key, 0, &r->deadline, err, errlen);
    case F_OUTCOME: return string_of(v, key, outcome, err, errlen);
    default: return number_of(v, key, 0, &ignored, err, errlen);   /* wait, e2e: checked, not used */
    }
}

static int parse_object(struct sim_trace *tr, const cJSON *o, struct sim_record *r, char *err, size_t errlen)
{
    const char *type = NULL, *queue = "default", *outcome = "ok";
    unsigned seen = 0;
    *r = (struct sim_record){.priority = 5, .attempt = 1};
    for (const cJSON *v = o->child; v; v = v->next) {
        int f = 0;
        while (f < NFIELDS && strcmp(v->string, field_names[f]) != 0)
            f++;
        if (f == NFIELDS || cJSON_IsNull(v) || (seen & 1u << f))
            continue;   /* other members (payload, id, ...) are not the simulation's; the first of a name counts */
        seen |= 1u << f;
        if (read_field(f, v, r, &type, &queue, &outcome, err, errlen) < 0)
            return -1;
    }
    static const int required[] = {F_T, F_TYPE, F_SERVICE};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!(seen & 1u << required[i])) {
            snprintf(err, errlen, "%s: missing (required)", field_names[required[i]]);
            return -1;
        }
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

/* The whole file: mapped when it is a regular file, else read (stdin). */
static char *load(const char *path, size_t *len, bool *mapped, char *err, size_t errlen)
{
    bool std = strcmp(path, "-") == 0;
    int fd = std ? 0 : open(path, O_RDONLY);
    struct stat st;
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    *mapped = false;
    if (!std && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            *mapped = true;
            *len = (size_t)st.st_size;
            return m;
        }
    }
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (cap - *len < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            text = xrealloc(text, cap);
        }
        ssize_t got = read(fd, text + *len, cap - *len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
            free(text);
            text = NULL;
            break;
        }
        if (got == 0)
            break;
        *len += (size_t)got;
    }
    if (!std)
        close(fd);
    return text;
}

int sim_trace_read(struct sim_trace *tr, const char *path, char *err, size_t errlen)
{
    size_t len;
    bool mapped;
    char *text = load(path, &len, &mapped, err, errlen);
    if (!text)
        return -1;
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
    if (mapped)
        munmap(text, len);
    else
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
