/* Changing a guardrail from the console: the `:set` command, the y that
 * confirms a name nothing knows, and the Guardrails view's toggles all
 * go through here. */
#ifndef QDECK_COMMAND_SET_H
#define QDECK_COMMAND_SET_H

#include <stdbool.h>

#include "ui/state.h"

/* `:set GUARDRAIL VALUE`: args is what followed "set". */
void ui_command_set(struct ui *ui, const char *args);
/* Validates and queues a guardrail change (refused when read-only). One on
 * a name nothing knows waits for ui_confirm_guardrail_key. */
void ui_set_guardrail(struct ui *ui, const char *name, const char *value);
/* The key after such a :set: y writes it, any other key drops it. false
 * when nothing waits (the key is then dispatched as usual). */
bool ui_confirm_guardrail_key(struct ui *ui, int key);
/* True (with a message) when this console may not change guardrails. */
bool ui_guardrails_read_only(struct ui *ui);

#endif
