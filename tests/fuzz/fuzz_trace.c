/* libFuzzer target: the trace, outside input twice over. A line of a
 * trace file (`qdeck trace replay` reads files anyone may have edited)
 * parses or is refused with a reason; a parsed one has a type, a payload
 * that is JSON, t >= 0 and attempt >= 1. The same bytes cut at each NUL
 * are a qdeck:trace entry's fields (any process may XADD there): a record
 * built from them has t, type and service. And --since durations. */
#include <cJSON.h>
#include <hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/trace-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct trace_line tl;
    const char *why = NULL;
    int got = trace_parse_line(text, &tl, &why);
    if (got < 0 && !why)
        abort();
    if (got == 1) {
        cJSON *payload = cJSON_Parse(tl.payload);
        if (!tl.type || !tl.type[0] || !payload || !(tl.t >= 0) || tl.attempt < 1 || tl.priority > 255)
            abort();
        cJSON_Delete(payload);
        trace_line_free(&tl);
    }

    /* fields: the text cut at NULs (strlen stops each one) */
    redisReply *elems[64], fields = {.type = REDIS_REPLY_ARRAY, .element = elems};
    redisReply cells[64];
    for (size_t at = 0; at <= size && fields.elements < 64; at += strlen(text + at) + 1) {
        cells[fields.elements] = (redisReply){.type = REDIS_REPLY_STRING, .str = text + at, .len = strlen(text + at)};
        elems[fields.elements] = &cells[fields.elements];
        fields.elements++;
    }
    cJSON *rec = trace_record_from_fields(&fields);
    if (rec) {
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rec, "t")) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "type")) ||
            !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rec, "service")))
            abort();
        char *out = cJSON_PrintUnformatted(rec);
        if (!out)
            abort();
        free(out);
        cJSON_Delete(rec);
    }

    double secs;
    if (trace_parse_duration(text, &secs) == 0 && !(secs >= 0))
        abort();
    free(text);
    return 0;
}
