/* The DLQ view's `e`: a dead letter's body in $EDITOR (then $VISUAL, then
 * vi), on the terminal curses gives back for the while. A JSON body is
 * edited pretty-printed and must come back as valid JSON; it goes out
 * compact again, as it came. */
#ifndef QDECK_UI_DLQ_EDIT_H
#define QDECK_UI_DLQ_EDIT_H

#include <stddef.h>

#include "dlq/dlq.h"

/* 0 with the edited body in out (free with dlq_bytes_free), or -1 with why
 * nothing is to be replayed (editor failed, unchanged, not JSON). */
int dlq_edit_body(const struct dlq_message *m, struct dlq_bytes *out, char *why, size_t len);

#endif
