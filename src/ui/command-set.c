/* The console's guardrail changes (see command-set.h): validated here,
 * asked about in the one confirmation policy (confirm.h: what is set, how
 * many running workers it reaches, what it was), then written as a job on
 * the console's write queue (console/control-writes.h), which audits it;
 * its result line names what was done and on how many workers. A name no
 * live worker, queue or config knows says so in the question, so a typo
 * does not silently set nothing. */
#include "ui/command-set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/board.h"
#include "console/control-writes.h"
#include "console/fleet-source.h"
#include "control/names.h"
#include "control/policy.h"
#include "core/xalloc.h"
#include "ui/confirm.h"

bool ui_guardrails_read_only(struct ui *ui)
{
    if (ui->opt->ctx && ui->opt->ctx->read_only) {
        ui_message(ui, "read-only: guardrails cannot be changed from this console");
        return true;
    }
    return false;
}

/* Does a worker's "amqp:orders, redis:jobs" list hold queue (with or
 * without its kind, control/names.h)? */
static bool consumes(const char *queues, const char *queue)
{
    for (const char *p = queues; p && *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ",");
        char one[256];
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        if (n && queue_names_same(one, queue))
            return true;
        p += n;
    }
    return false;
}

/* The live workers a guardrail reaches: those consuming its queue for a
 * queue.NAME.* one, else all of them. */
static size_t workers_reached(const struct ui *ui, const char *name)
{
    const struct fleet_table *t = ui->opt->fleet ? fleet_table_of(ui->fleet.snap) : NULL;
    char queue[256];
    bool one_queue = guardrail_queue(name, queue, sizeof queue);
    size_t n = 0;
    for (size_t i = 0; t && i < t->n; i++)
        n += t->workers[i].state == FLEET_RUNNING && (!one_queue || consumes(t->workers[i].queues, queue));
    return n;
}

static void write_guardrail(struct ui *ui, const char *name, const char *canonical)
{
    if (control_write_guardrail(ui->writes, ui->opt->cfg, ui->opt->ctx, name, canonical, workers_reached(ui, name)))
        ui_message(ui, "setting %s = %s…", name, canonical);
    else
        ui_write_refused(ui);
}

/* Is the queue, dependency or task that name refers to known to the
 * console: the fleet's live heartbeats, every source's queues, the config,
 * or a row already set? what: the unknown part, for the message. */
static bool guardrail_known(const struct ui *ui, const char *name, char *what, size_t len)
{
    if (ui->board && board_guardrail(ui->board, name))
        return true;
    struct known_names k = {0};
    known_names_add_config(&k, ui->opt->cfg);
    if (ui->opt->fleet && ui->fleet.status == SOURCE_OK)
        known_names_add_fleet(&k, fleet_table_of(ui->fleet.snap));
    for (size_t s = 0; s < ui->opt->nsources; s++)
        for (size_t q = 0; ui->feeds[s].snap && q < ui->feeds[s].snap->nqueues; q++)
            known_names_add(&k, NAME_QUEUE, ui->feeds[s].snap->queues[q].addr);
    bool known = known_names_guardrail(&k, name, what, len);
    known_names_free(&k);
    return known;
}

/* A guardrail change waiting for y (owned by the question, confirm.h). */
struct guardrail_ask {
    char name[192], value[128];
};

static void run_pending(struct ui *ui, void *arg)
{
    struct guardrail_ask *ask = arg;
    write_guardrail(ui, ask->name, ask->value);
    free(ask);
}

/* Validated and not refused: canonical in *canonical; false when it said why. */
static bool may_set(struct ui *ui, const char *name, const char *value, char *canonical, size_t len)
{
    if (!ui->opt->board || !ui->opt->ctx) {
        ui_message(ui, "no control plane: this context has no redis URL");
        return false;
    }
    if (ui_guardrails_read_only(ui))
        return false;
    char err[256];
    if (policy_validate(name, value, canonical, len, err, sizeof err) < 0) {
        ui_error(ui, "%s", err);
        return false;
    }
    return true;
}

/* The one question every guardrail change asks (confirm.h): what it sets,
 * whom it reaches and what it was. A name nothing knows says so instead,
 * so that a typo does not quietly set nothing. */
static void ask_guardrail(struct ui *ui, const char *name, const char *canonical, const char *from)
{
    struct guardrail_ask *ask = xcalloc(1, sizeof *ask);
    snprintf(ask->name, sizeof ask->name, "%s", name);
    snprintf(ask->value, sizeof ask->value, "%s", canonical);
    char what[300], cancelled[300];
    snprintf(cancelled, sizeof cancelled, "not set: %s", name);
    if (!guardrail_known(ui, name, what, sizeof what)) {
        confirm_ask(ui, NULL, cancelled, run_pending, ask, free, "no live worker, queue or config knows %s: y sets %s = %s anyway",
                    what, name, canonical);
        return;
    }
    size_t n = workers_reached(ui, name);
    char queue[256];
    if (guardrail_queue(name, queue, sizeof queue))
        confirm_ask(ui, NULL, cancelled, run_pending, ask, free, "set %s = %s: %zu running worker%s consume%s %s (now %s)",
                    name, canonical, n, n == 1 ? "" : "s", n == 1 ? "s" : "", queue, from);
    else
        confirm_ask(ui, NULL, cancelled, run_pending, ask, free, "set %s = %s for the whole fleet: %zu running worker%s (now %s)",
                    name, canonical, n, n == 1 ? "" : "s", from);
}

void ui_set_guardrail(struct ui *ui, const char *name, const char *value)
{
    char canonical[128];
    if (!may_set(ui, name, value, canonical, sizeof canonical))
        return;
    const struct policy_item *cur = ui->board ? board_guardrail(ui->board, name) : NULL;
    const char *from = cur && cur->value ? cur->value : policy_default(name);
    ask_guardrail(ui, name, canonical, from ? from : "unset");
}

void ui_flip_guardrail(struct ui *ui, const char *name, const char *from, const char *to)
{
    char canonical[128];
    if (may_set(ui, name, to, canonical, sizeof canonical))
        ask_guardrail(ui, name, canonical, from);
}

void ui_command_set(struct ui *ui, const char *args)
{
    char name[192] = "", value[192] = "";
    if (sscanf(args, "%191s %191s", name, value) == 2)
        ui_set_guardrail(ui, name, value);
    else
        ui_message(ui, "usage: :set GUARDRAIL VALUE (e.g. :set shed.priority_below 3)");
}
