/* A dead letter as text for the DLQ view's detail pane: its fields (id,
 * type, reason, deaths, ...), its properties, headers or stream fields as
 * JSON, then its body pretty-printed when it is JSON, as escaped text, or
 * as a hex dump when binary, cut at 16 KiB on screen only. No drawing. */
#ifndef QDECK_DLQ_TEXT_H
#define QDECK_DLQ_TEXT_H

#include <stddef.h>

#include "dlq/dlq.h"

struct text_lines {
    char **v;
    size_t n;
};

/* Appends m's lines to l (start from {0}); free with text_lines_free. */
void dlq_message_lines(const struct dlq_message *m, struct text_lines *l);
void text_lines_free(struct text_lines *l);

#endif
