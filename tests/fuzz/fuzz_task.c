/* libFuzzer target: the worker's reading of a delivery, any bytes a
 * publisher sent. task_new must either read a qdeck envelope or mark the
 * task poison with a reason; either way the copy a retry or the DLQ gets
 * is produced, and a dead item for a body that was not an envelope keeps
 * the original bytes (raw_base64), which a replay sends back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq/dlq.h"
#include "worker/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_raw_kept(const struct task *t, const char *item, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(item, len);
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(j, "raw_base64");
    char *bytes;
    size_t n;
    if (!cJSON_IsString(raw) || dlq_base64_decode(raw->valuestring, &bytes, &n) != 0 || n != t->len ||
        memcmp(bytes, t->body, n) != 0)
        abort();
    free(bytes);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct task *t = task_new(NULL, (const char *)data, size, 3);
    if (!memchr(t->id, '\0', sizeof t->id) || !memchr(t->type, '\0', sizeof t->type) ||
        !memchr(t->idem_key, '\0', sizeof t->idem_key) || !t->id[0] || t->attempt < 1 || t->max_attempts < 1)
        abort();
    if (!t->poison && (!t->env || !t->type[0] || !t->payload))
        abort();
    if (t->poison && !t->error[0])
        abort();

    char *out;
    size_t len;
    task_annotated_body(t, false, &out, &len);
    free(out);
    task_dead_item(t, "orders", &out, &len);
    if (!t->env)
        check_raw_kept(t, out, len);
    free(out);
    task_unref(t);
    return 0;
}
