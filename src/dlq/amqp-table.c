/* AMQP headers tables: see amqp-table.h. */
#include "dlq/amqp-table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

int dlq_table_decode(const struct dlq_bytes *raw, amqp_pool_t *pool, amqp_table_t *out)
{
    memset(out, 0, sizeof *out);
    if (!raw || !raw->set || raw->len == 0)
        return 0;
    size_t offset = 0;
    amqp_bytes_t bytes = {.len = raw->len, .bytes = raw->data};
    return amqp_decode_table(bytes, pool, out, &offset) == AMQP_STATUS_OK ? 0 : -1;
}

int dlq_table_encode(const amqp_table_t *t, struct dlq_bytes *out)
{
    for (size_t cap = 4096;; cap *= 4) {
        char *buf = xmalloc(cap);
        size_t offset = 0;
        amqp_bytes_t bytes = {.len = cap, .bytes = buf};
        int st = amqp_encode_table(bytes, (amqp_table_t *)t, &offset);
        if (st == AMQP_STATUS_OK) {
            dlq_bytes_free(out);
            out->data = buf;
            out->len = offset;
            out->set = true;
            return 0;
        }
        free(buf);
        if (st != AMQP_STATUS_TABLE_TOO_BIG || cap > (64u << 20))
            return -1;
    }
}

const amqp_field_value_t *dlq_table_get(const amqp_table_t *t, const char *key)
{
    size_t klen = strlen(key);
    for (int i = 0; t && i < t->num_entries; i++)
        if (t->entries[i].key.len == klen && memcmp(t->entries[i].key.bytes, key, klen) == 0)
            return &t->entries[i].value;
    return NULL;
}

static cJSON *array_json(const amqp_array_t *a)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < a->num_entries; i++)
        cJSON_AddItemToArray(arr, dlq_field_value_json(&a->entries[i]));
    return arr;
}

cJSON *dlq_field_value_json(const amqp_field_value_t *v)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN: return cJSON_CreateBool(v->value.boolean);
    case AMQP_FIELD_KIND_I8: return cJSON_CreateNumber(v->value.i8);
    case AMQP_FIELD_KIND_U8: return cJSON_CreateNumber(v->value.u8);
    case AMQP_FIELD_KIND_I16: return cJSON_CreateNumber(v->value.i16);
    case AMQP_FIELD_KIND_U16: return cJSON_CreateNumber(v->value.u16);
    case AMQP_FIELD_KIND_I32: return cJSON_CreateNumber(v->value.i32);
    case AMQP_FIELD_KIND_U32: return cJSON_CreateNumber(v->value.u32);
    case AMQP_FIELD_KIND_I64: return cJSON_CreateNumber((double)v->value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: return cJSON_CreateNumber((double)v->value.u64);
    case AMQP_FIELD_KIND_F32: return cJSON_CreateNumber(v->value.f32);
    case AMQP_FIELD_KIND_F64: return cJSON_CreateNumber(v->value.f64);
    case AMQP_FIELD_KIND_DECIMAL:
        return cJSON_CreateNumber(v->value.decimal.value / pow(10, v->value.decimal.decimals));
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return dlq_bytes_json(v->value.bytes.bytes, v->value.bytes.len);
    case AMQP_FIELD_KIND_ARRAY: return array_json(&v->value.array);
    case AMQP_FIELD_KIND_TABLE: return dlq_table_json(&v->value.table);
    case AMQP_FIELD_KIND_VOID:
    default: return cJSON_CreateNull();
    }
}

cJSON *dlq_table_json(const amqp_table_t *t)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; t && i < t->num_entries; i++) {
        char *key = xstrndup(t->entries[i].key.bytes, t->entries[i].key.len);
        cJSON_AddItemToObject(o, key, dlq_field_value_json(&t->entries[i].value));
        free(key);
    }
    return o;
}

int dlq_table_set(struct dlq_bytes *raw, const char *key, amqp_field_value_t value)
{
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    int rc = -1;
    if (dlq_table_decode(raw, &pool, &t) == 0) {
        size_t klen = strlen(key);
        int found = -1;   /* the first of duplicate keys: the one dlq_table_get and the decoder read */
        for (int i = 0; i < t.num_entries && found < 0; i++)
            if (t.entries[i].key.len == klen && memcmp(t.entries[i].key.bytes, key, klen) == 0)
                found = i;
        amqp_table_entry_t *entries = amqp_pool_alloc(&pool, sizeof *entries * (size_t)(t.num_entries + 1));
        if (t.num_entries)
            memcpy(entries, t.entries, sizeof *entries * (size_t)t.num_entries);
        if (found >= 0) {
            entries[found].value = value;
        } else {
            entries[t.num_entries].key = amqp_cstring_bytes(key);
            entries[t.num_entries].value = value;
            t.num_entries++;
        }
        t.entries = entries;
        rc = dlq_table_encode(&t, raw);
    }
    empty_amqp_pool(&pool);
    return rc;
}

static int value_from_json(const cJSON *j, amqp_pool_t *pool, amqp_field_value_t *v)
{
    memset(v, 0, sizeof *v);
    if (cJSON_IsBool(j)) {
        v->kind = AMQP_FIELD_KIND_BOOLEAN;
        v->value.boolean = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15) {
            v->kind = AMQP_FIELD_KIND_I64;
            v->value.i64 = (int64_t)d;
        } else {
            v->kind = AMQP_FIELD_KIND_F64;
            v->value.f64 = d;
        }
    } else if (cJSON_IsString(j) || (cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "base64"))) {
        struct dlq_bytes b = {0};
        if (dlq_bytes_from_json(j, &b) < 0)
            return -1;
        v->kind = cJSON_IsString(j) ? AMQP_FIELD_KIND_UTF8 : AMQP_FIELD_KIND_BYTES;
        v->value.bytes.len = b.len;
        v->value.bytes.bytes = amqp_pool_alloc(pool, b.len ? b.len : 1);
        if (b.len)
            memcpy(v->value.bytes.bytes, b.data, b.len);
        dlq_bytes_free(&b);
    } else if (cJSON_IsArray(j)) {
        int n = cJSON_GetArraySize(j), i = 0;
        v->kind = AMQP_FIELD_KIND_ARRAY;
        v->value.array.num_entries = n;
        v->value.array.entries = amqp_pool_alloc(pool, sizeof(amqp_field_value_t) * (size_t)(n ? n : 1));
        const cJSON *e;
        cJSON_ArrayForEach(e, j)
            if (value_from_json(e, pool, &v->value.array.entries[i++]) < 0)
                return -1;
    } else if (cJSON_IsObject(j)) {
        v->kind = AMQP_FIELD_KIND_TABLE;
        return dlq_table_from_json(j, pool, &v->value.table);
    } else {
        v->kind = AMQP_FIELD_KIND_VOID;
    }
    return 0;
}

int dlq_table_from_json(const cJSON *j, amqp_pool_t *pool, amqp_table_t *out)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(j))
        return -1;
    int n = cJSON_GetArraySize(j), i = 0;
    out->entries = amqp_pool_alloc(pool, sizeof(amqp_table_entry_t) * (size_t)(n ? n : 1));
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        size_t klen = strlen(e->string);
        out->entries[i].key.len = klen;
        out->entries[i].key.bytes = amqp_pool_alloc(pool, klen ? klen : 1);
        memcpy(out->entries[i].key.bytes, e->string, klen);
        if (value_from_json(e, pool, &out->entries[i].value) < 0)
            return -1;
        i++;
    }
    out->num_entries = n;
    return 0;
}
