/* Reading the qdeck:trace stream; see trace-store.h. */
#include "control/trace-store.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/keys.h"

static const char *const number_fields[] = {"t", "priority", "wait", "service", "e2e", "attempt",
                                            "tokens_in", "tokens_out", NULL};

static bool is_number_field(const char *name)
{
    for (const char *const *f = number_fields; *f; f++)
        if (strcmp(*f, name) == 0)
            return true;
    return false;
}

cJSON *trace_record_from_fields(const redisReply *fields)
{
    if (!fields || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    cJSON *rec = cJSON_CreateObject();
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (is_number_field(k->str)) {
            char *end;
            errno = 0;
            double d = strtod(v->str, &end);
            if (errno == 0 && end != v->str && *end == '\0' && isfinite(d))
                cJSON_AddNumberToObject(rec, k->str, d);
        } else if (strcmp(k->str, "payload") == 0) {
            cJSON *payload = cJSON_Parse(v->str);
            cJSON_AddItemToObject(rec, "payload", payload ? payload : cJSON_CreateString(v->str));
        } else {
            cJSON_AddStringToObject(rec, k->str, v->str);
        }
    }
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rec, "t")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "type")) ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rec, "service"))) {
        cJSON_Delete(rec);
        return NULL;
    }
    return rec;
}

long trace_read(redisContext *c, double since_wall, const char *type, trace_record_fn fn, void *arg, char *err,
                size_t errlen)
{
    char start[64], count[16];
    if (since_wall > 0)
        snprintf(start, sizeof start, "%lld", (long long)(since_wall * 1000));
    else
        snprintf(start, sizeof start, "-");
    snprintf(count, sizeof count, "%d", TRACE_CHUNK);
    long n = 0;
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %s", KEY_TRACE, start, count);
        if (!r) {
            snprintf(err, errlen, "reading %s: %s", KEY_TRACE, c->errstr[0] ? c->errstr : "connection lost");
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "reading %s: %s", KEY_TRACE, r->str);
            freeReplyObject(r);
            return -1;
        }
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got; i++) {
            const redisReply *entry = r->element[i];
            if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 || entry->element[0]->type != REDIS_REPLY_STRING)
                continue;
            snprintf(start, sizeof start, "(%s", entry->element[0]->str);   /* the next chunk starts after it */
            cJSON *rec = trace_record_from_fields(entry->element[1]);
            if (!rec)
                continue;
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rec, "type");
            if (type && strcmp(ty->valuestring, type) != 0) {
                cJSON_Delete(rec);
                continue;
            }
            n++;
            fn(rec, arg);
        }
        freeReplyObject(r);
        if (got < TRACE_CHUNK)
            return n;
    }
}

static double field_number(const cJSON *rec, const char *name, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : fallback;
}

int trace_parse_line(const char *line, struct trace_line *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (line[strspn(line, " \t\r\n")] == '\0')
        return 0;
    cJSON *rec = cJSON_Parse(line);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "t"), *type = cJSON_GetObjectItemCaseSensitive(rec, "type");
    *why = !cJSON_IsObject(rec)                                                     ? "not a JSON object"
           : !cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble < 1e12) ? "no \"t\" (seconds, >= 0)"
           : !cJSON_IsString(type) || !type->valuestring[0]                         ? "no \"type\""
                                                                                    : NULL;
    if (*why) {
        cJSON_Delete(rec);
        return -1;
    }
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(rec, "payload");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    double prio = field_number(rec, "priority", -1), attempt = field_number(rec, "attempt", 1);
    out->t = t->valuedouble;
    out->type = strdup(type->valuestring);
    out->payload = payload ? cJSON_PrintUnformatted(payload) : strdup("{}");
    out->id = cJSON_IsString(id) ? strdup(id->valuestring) : NULL;
    out->priority = prio >= 0 && prio <= 255 ? (int)prio : -1;
    out->attempt = attempt >= 1 && attempt < 1e9 ? (int)attempt : 1;
    cJSON_Delete(rec);
    return 1;
}

void trace_line_free(struct trace_line *l)
{
    free(l->type);
    free(l->payload);
    free(l->id);
    memset(l, 0, sizeof *l);
}

int trace_parse_duration(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0)
        return -1;
    double unit = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60, end++;
    else if (*end == 'h')
        unit = 3600, end++;
    else if (*end == 'd')
        unit = 86400, end++;
    if (*end)
        return -1;
    *out = v * unit;
    return 0;
}
