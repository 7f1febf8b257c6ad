/* libFuzzer target: decoding a dead message as the DLQ code reads it from
 * a broker, whoever wrote it: qdeck envelopes, Celery protocol v2, raw or
 * binary bodies, x-death and x-qdeck-* headers, stream fields.
 *
 * Input: byte 0 picks the backend (low two bits: 0 RabbitMQ, 1 Redis list,
 * 2 Redis stream, 3 RabbitMQ without headers; bit 2 sets a message_id,
 * bit 3 a type property). RabbitMQ: a 2-byte big-endian length, that many
 * bytes of headers table (AMQP encoding), the body. List: the body.
 * Stream: name\nvalue\nname\nvalue... fields.
 *
 * Decoding must not crash; the message must then print as JSON, match a
 * --grep, export to a line that imports back to the same bytes, and
 * prepare a replay (with --set edits) that decodes again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq-same.h"
#include "dlq/dlq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add_field(struct dlq_message *m, const char *p, size_t len)
{
    struct dlq_bytes *b;
    if (m->nfields && !m->fields[m->nfields - 1].value.set) {
        b = &m->fields[m->nfields - 1].value;
    } else {
        m->fields = realloc(m->fields, (m->nfields + 1) * sizeof *m->fields);
        memset(&m->fields[m->nfields], 0, sizeof *m->fields);
        b = &m->fields[m->nfields++].name;
    }
    dlq_bytes_set(b, p, len);
}

static struct dlq_message *message_from(const uint8_t *data, size_t size, enum queue_kind *kind)
{
    struct dlq_message *m = calloc(1, sizeof *m);
    m->body_field = -1;
    unsigned mode = size ? data[0] : 0;
    const char *p = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    switch (mode & 3) {
    case 0:
    case 3:
        *kind = QUEUE_AMQP;
        m->props = calloc(1, sizeof *m->props);
        m->props->has_delivery_mode = true;
        m->props->delivery_mode = 2;
        if (mode & 4)
            dlq_bytes_set(&m->props->message_id, "m-42", 4);
        if (mode & 8)
            dlq_bytes_set(&m->props->type, "orders.create", 13);
        if ((mode & 3) == 0 && len >= 2) {
            size_t hlen = (size_t)((unsigned char)p[0] << 8 | (unsigned char)p[1]);
            p += 2;
            len -= 2;
            if (hlen > len)
                hlen = len;
            dlq_bytes_set(&m->props->headers, p, hlen);
            p += hlen;
            len -= hlen;
        }
        dlq_bytes_set(&m->body, p, len);
        break;
    case 1:
        *kind = QUEUE_REDIS_LIST;
        dlq_bytes_set(&m->body, p, len);
        break;
    default:
        *kind = QUEUE_STREAM;
        m->stream_id = strdup("1700000000000-0");
        for (const char *nl; (nl = memchr(p, '\n', len)) != NULL; len -= (size_t)(nl - p) + 1, p = nl + 1)
            add_field(m, p, (size_t)(nl - p));
        add_field(m, p, len);
        if (!m->fields[m->nfields - 1].value.set)
            dlq_bytes_set(&m->fields[m->nfields - 1].value, "", 0);
        dlq_stream_pick_body(m);
        break;
    }
    return m;
}

static void check_export(struct dlq *d, const struct dlq_message *m)
{
    char *line = dlq_export_line(d, m);
    struct dlq_message *back;
    char *queue, err[256];
    if (dlq_import_line(line, &back, &queue, err, sizeof err) != 0 || !queue || strcmp(queue, d->display) != 0)
        abort();
    if (back->stream_id)
        dlq_stream_pick_body(back);
    if (!dlq_messages_same(m, back))
        abort();
    dlq_decode(d, back, false);
    if (strcmp(back->info.id, m->info.id) != 0 || strcmp(back->info.type, m->info.type) != 0)
        abort();
    dlq_message_free(back);
    free(queue);
    free(line);
}

static void check_replay(struct dlq *d, const struct dlq_message *m)
{
    char *sets[] = {"payload.note=fuzz", "header:x-fuzz=1"};
    struct dlq_replay r = {.to = "orders", .sets = sets, .nsets = 2};
    struct dlq_message *out;
    char target[512], why[256] = "";
    if (dlq_prepare_replay(d, &r, m, &out, target, sizeof target, why, sizeof why) == 0) {
        if (strcmp(target, "orders") != 0)
            abort();
        dlq_decode(d, out, false);
        cJSON_Delete(dlq_message_json(out, true));
        dlq_message_free(out);
    } else if (!why[0]) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum queue_kind kind;
    struct dlq_message *m = message_from(data, size, &kind);
    char amqp_name[] = "orders.dlq", redis_name[] = "orders:dlq";
    struct dlq d = {.addr = {.kind = kind, .name = kind == QUEUE_AMQP ? amqp_name : redis_name},
                    .display = kind == QUEUE_AMQP ? "amqp:orders.dlq" : kind == QUEUE_STREAM ? "stream:orders:dlq"
                                                                                               : "redis:orders:dlq"};
    dlq_decode(&d, m, false);
    if (!memchr(m->info.id, '\0', sizeof m->info.id) || !memchr(m->info.type, '\0', sizeof m->info.type) ||
        !memchr(m->info.original_queue, '\0', sizeof m->info.original_queue) ||
        !memchr(m->info.reason, '\0', sizeof m->info.reason))
        abort();

    cJSON *j = dlq_message_json(m, true);
    char *text = cJSON_PrintUnformatted(j);
    if (!text)
        abort();
    free(text);
    cJSON_Delete(j);

    struct dlq_select sel = {.grep = "boom"};
    (void)dlq_select_match(&sel, m);
    struct dlq_message *copy = dlq_message_clone(m);
    if (!dlq_messages_same(m, copy))
        abort();
    dlq_message_free(copy);

    check_export(&d, m);
    check_replay(&d, m);
    dlq_message_free(m);
    return 0;
}
