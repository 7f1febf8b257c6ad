/* libFuzzer target: `qdeck dlq import` reads JSON Lines that anyone may
 * have written or edited by hand. A line is either refused with a reason
 * or imported; an imported message then decodes, prints as JSON, and
 * exports to a line that imports back to the same bytes and exports to
 * the same line again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq-same.h"
#include "dlq/dlq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dlq_message *import_or_abort(const char *line)
{
    struct dlq_message *m;
    char *queue, err[256] = "";
    if (dlq_import_line(line, &m, &queue, err, sizeof err) != 0)
        abort();
    free(queue);
    if (m->stream_id)
        dlq_stream_pick_body(m);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = '\0';
    struct dlq_message *m;
    char *queue, err[256] = "";
    if (dlq_import_line(line, &m, &queue, err, sizeof err) != 0) {
        if (!err[0] || m || queue)
            abort();
        free(line);
        return 0;
    }
    free(queue);
    if (m->stream_id)
        dlq_stream_pick_body(m);

    char name[] = "orders.dlq";
    enum queue_kind kind = m->props ? QUEUE_AMQP : m->stream_id ? QUEUE_STREAM : QUEUE_REDIS_LIST;
    struct dlq d = {.addr = {.kind = kind, .name = name}, .display = "amqp:orders.dlq"};
    dlq_decode(&d, m, false);
    cJSON_Delete(dlq_message_json(m, true));

    char *first = dlq_export_line(&d, m);
    struct dlq_message *back = import_or_abort(first);
    if (!dlq_messages_same(m, back))
        abort();
    dlq_decode(&d, back, false);
    char *second = dlq_export_line(&d, back);
    if (strcmp(first, second) != 0)
        abort();
    free(second);
    free(first);
    dlq_message_free(back);
    dlq_message_free(m);
    free(line);
    return 0;
}
