/* AMQP headers tables for the DLQ code: decoding the stored encoding
 * (amqp_decode_table), plain JSON for people, typed edits (set one key),
 * and building a table from plain JSON for hand-edited imports. Tables
 * live in an amqp_pool_t the caller owns. */
#ifndef QDECK_DLQ_AMQP_TABLE_H
#define QDECK_DLQ_AMQP_TABLE_H

#include <amqp.h>
#include <cJSON.h>

#include "dlq/bytes.h"

/* Empty raw bytes give an empty table. -1 when the bytes are not a table. */
int dlq_table_decode(const struct dlq_bytes *raw, amqp_pool_t *pool, amqp_table_t *out);
int dlq_table_encode(const amqp_table_t *t, struct dlq_bytes *out);
cJSON *dlq_table_json(const amqp_table_t *t);
cJSON *dlq_field_value_json(const amqp_field_value_t *v);
/* Replaces or appends key in the encoded table raw. */
int dlq_table_set(struct dlq_bytes *raw, const char *key, amqp_field_value_t value);
const amqp_field_value_t *dlq_table_get(const amqp_table_t *t, const char *key);
/* Plain JSON object → table: strings S, integers l, other numbers d,
 * booleans t, objects F, arrays A, null V. -1 when j is not an object. */
int dlq_table_from_json(const cJSON *j, amqp_pool_t *pool, amqp_table_t *out);

#endif
