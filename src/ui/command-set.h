/* Changing a guardrail from the console: the `:set` command, the y that
 * confirms a name nothing knows, and the Guardrails view's toggles all
 * go through here; what asks goes through confirm.h. */
#ifndef QDECK_COMMAND_SET_H
#define QDECK_COMMAND_SET_H

#include <stdbool.h>

#include "ui/state.h"

/* `:set GUARDRAIL VALUE`: args is what followed "set". */
void ui_command_set(struct ui *ui, const char *args);
/* Validates a guardrail change (refused when read-only), asks y/n
 * (confirm.h) naming the switch, the running workers it reaches and its
 * value now, then queues it on the write queue. */
void ui_set_guardrail(struct ui *ui, const char *name, const char *value);
/* The Guardrails view's flip (Enter, o): asks first (confirm.h), naming
 * the switch, its value now and the one it gets, for the whole fleet. */
void ui_flip_guardrail(struct ui *ui, const char *name, const char *from, const char *to);
/* True (with a message) when this console may not change guardrails. */
bool ui_guardrails_read_only(struct ui *ui);

#endif
