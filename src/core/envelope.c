/* Message envelope recognition with cJSON; see envelope.h. */
#include "core/envelope.h"

#include <cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t fnv1a64(const char *data, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= 1099511628211ull;
    }
    return h;
}

double envelope_parse_time(const char *text)
{
    if (!text || !*text)
        return NAN;
    char *end;
    double v = strtod(text, &end);
    if (*end == '\0' && end != text)
        return v > 1e12 ? v / 1000.0 : v;

    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return NAN;
    double frac = 0;
    if (*rest == '.') {
        frac = strtod(rest, &end);
        rest = end;
    }
    if (*rest != 'Z' && strcmp(rest, "+00:00") != 0 && *rest != '\0')
        return NAN;
    return (double)timegm(&tm) + frac;
}

static double json_time(const cJSON *j)
{
    if (cJSON_IsNumber(j))
        return j->valuedouble > 1e12 ? j->valuedouble / 1000.0 : j->valuedouble;
    if (cJSON_IsString(j))
        return envelope_parse_time(j->valuestring);
    return NAN;
}

static void copy_string(char *dst, size_t cap, const cJSON *j)
{
    if (cJSON_IsString(j))
        snprintf(dst, cap, "%s", j->valuestring);
}

static bool looks_binary(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == 0 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t'))
            return true;
    }
    return false;
}

void envelope_inspect(const char *data, size_t len, struct envelope_info *out)
{
    memset(out, 0, sizeof *out);
    out->created_at = NAN;
    snprintf(out->identity, sizeof out->identity, "sha:%016llx", (unsigned long long)fnv1a64(data, len));
    out->format = looks_binary(data, len) ? ENVELOPE_BINARY : ENVELOPE_TEXT;
    if (out->format == ENVELOPE_BINARY)
        return;

    cJSON *json = cJSON_ParseWithLength(data, len);
    if (!json)
        return;
    out->format = ENVELOPE_JSON;
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(json, "headers");
    const cJSON *celery_task = cJSON_GetObjectItemCaseSensitive(headers, "task");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");

    if (cJSON_IsString(celery_task)) {
        out->format = ENVELOPE_CELERY;
        copy_string(out->type, sizeof out->type, celery_task);
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(headers, "id");
        if (cJSON_IsString(cid))
            copy_string(out->identity, sizeof out->identity, cid);
    } else if (cJSON_IsString(id) && cJSON_IsString(type) &&
               cJSON_GetObjectItemCaseSensitive(json, "payload")) {
        out->format = ENVELOPE_QDECK;
        copy_string(out->identity, sizeof out->identity, id);
        copy_string(out->type, sizeof out->type, type);
        out->created_at = json_time(cJSON_GetObjectItemCaseSensitive(json, "created_at"));
    }
    cJSON_Delete(json);
}

const char *envelope_format_name(enum envelope_format f)
{
    switch (f) {
    case ENVELOPE_QDECK: return "qdeck";
    case ENVELOPE_CELERY: return "celery";
    case ENVELOPE_JSON: return "json";
    case ENVELOPE_TEXT: return "text";
    case ENVELOPE_BINARY: return "binary";
    }
    return "?";
}
