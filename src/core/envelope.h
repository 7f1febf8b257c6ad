/* Recognises what a message body is, without trusting it: qdeck's own task
 * envelope, a Celery/kombu envelope, other JSON, text, or binary. Used to
 * find a message's identity, task type and enqueue time. Never fails: input
 * it cannot parse is reported as text or binary, not dropped. */
#ifndef QDECK_ENVELOPE_H
#define QDECK_ENVELOPE_H

#include <stddef.h>

enum envelope_format { ENVELOPE_QDECK, ENVELOPE_CELERY, ENVELOPE_JSON, ENVELOPE_TEXT, ENVELOPE_BINARY };

struct envelope_info {
    enum envelope_format format;
    char identity[80];     /* the message id, or "sha:<fnv64>" of the bytes */
    char type[128];        /* task type / Celery task name, or "" */
    double created_at;     /* wall time, NAN when the message does not say */
};

void envelope_inspect(const char *data, size_t len, struct envelope_info *out);
/* Parses ISO-8601 UTC ("2026-11-25T03:31:25.123Z", "+00:00" accepted) or a
 * number of seconds / milliseconds since the epoch. NAN when neither. */
double envelope_parse_time(const char *text);
const char *envelope_format_name(enum envelope_format f);

#endif
