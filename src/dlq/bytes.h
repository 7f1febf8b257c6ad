/* Byte strings for the DLQ code (see bytes.c): owned copies that may hold
 * NUL, and their JSON and base64 forms. */
#ifndef QDECK_DLQ_BYTES_H
#define QDECK_DLQ_BYTES_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Bytes that may hold anything, NUL included; `set` tells absent from empty. */
struct dlq_bytes {
    char *data;
    size_t len;
    bool set;
};

void dlq_bytes_free(struct dlq_bytes *b);
void dlq_bytes_set(struct dlq_bytes *b, const void *data, size_t len);
/* An owned copy of src (unset stays unset). */
void dlq_bytes_copy(struct dlq_bytes *dst, const struct dlq_bytes *src);
size_t dlq_base64_encode(const void *data, size_t len, char **out);
int dlq_base64_decode(const char *text, char **out, size_t *outlen);
bool dlq_utf8_valid(const char *s, size_t len);
/* A JSON value for bytes: a string when valid UTF-8 without NUL, else {"base64": "..."}. */
cJSON *dlq_bytes_json(const char *data, size_t len);
int dlq_bytes_from_json(const cJSON *j, struct dlq_bytes *out);

#endif
