/* libFuzzer target: AMQP headers tables as a DLQ message carries them
 * (x-death, x-qdeck-*, Celery's headers), in AMQP's own encoding: any
 * bytes a broker or publisher hands over. A table that decodes must
 *   - show as plain JSON, encode, and decode again to the same JSON;
 *   - take a typed edit (dlq_table_set, what a replay does) that reads back;
 *   - go JSON -> table (the hand-edited import path) and back to JSON
 *     stably: a second trip changes nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq/amqp-table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *table_text(const struct dlq_bytes *raw)
{
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    char *text = NULL;
    if (dlq_table_decode(raw, &pool, &t) == 0) {
        cJSON *j = dlq_table_json(&t);
        text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    empty_amqp_pool(&pool);
    return text;
}

/* JSON text -> table -> encoded -> JSON text, or NULL when the JSON is refused */
static char *json_trip(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    struct dlq_bytes raw = {0};
    char *out = NULL;
    if (dlq_table_from_json(j, &pool, &t) == 0 && dlq_table_encode(&t, &raw) == 0) {
        out = table_text(&raw);
        if (!out)
            abort();   /* what we encoded must decode */
    }
    dlq_bytes_free(&raw);
    empty_amqp_pool(&pool);
    cJSON_Delete(j);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dlq_bytes raw = {0};
    dlq_bytes_set(&raw, data, size);
    char *first = table_text(&raw);
    if (!first) {
        dlq_bytes_free(&raw);
        return 0;
    }

    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    struct dlq_bytes again = {0};
    if (dlq_table_decode(&raw, &pool, &t) != 0 || dlq_table_encode(&t, &again) != 0)
        abort();
    char *second = table_text(&again);
    if (!second || strcmp(first, second) != 0)
        abort();
    free(second);
    dlq_bytes_free(&again);
    empty_amqp_pool(&pool);

    amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_I64};
    v.value.i64 = 7;
    if (dlq_table_set(&raw, "x-qdeck-replays", v) == 0) {
        init_amqp_pool(&pool, 4096);
        const amqp_field_value_t *got = dlq_table_decode(&raw, &pool, &t) == 0
                                            ? dlq_table_get(&t, "x-qdeck-replays") : NULL;
        if (!got || got->kind != AMQP_FIELD_KIND_I64 || got->value.i64 != 7)
            abort();
        empty_amqp_pool(&pool);
    }

    char *trip1 = json_trip(first);
    if (trip1) {
        char *trip2 = json_trip(trip1);
        if (!trip2 || strcmp(trip1, trip2) != 0)
            abort();
        free(trip2);
    }
    free(trip1);
    free(first);
    dlq_bytes_free(&raw);
    return 0;
}
