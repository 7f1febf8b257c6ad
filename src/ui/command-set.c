/* The console's `:set GUARDRAIL VALUE` (see command-set.h): validated here,
 * written by the control-plane collector (console/board.h), which audits it
 * and posts the result line back. A name no live worker, queue or config
 * knows waits for a typed y, so a typo does not silently set nothing. */
#include "ui/command-set.h"

#include <stdio.h>
#include <string.h>

#include "console/board.h"
#include "console/fleet-source.h"
#include "control/names.h"
#include "control/policy.h"
#include "ui/confirm.h"

bool ui_guardrails_read_only(struct ui *ui)
{
    if (ui->opt->ctx && ui->opt->ctx->read_only) {
        ui_message(ui, "read-only: guardrails cannot be changed from this console");
        return true;
    }
    return false;
}

static void write_guardrail(struct ui *ui, const char *name, const char *canonical)
{
    if (board_request_set(ui->opt->board, name, canonical))
        ui_message(ui, "setting %s = %s ...", name, canonical);
    else
        ui_message(ui, "a change is still being written; try again in a moment");
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

static void run_pending(struct ui *ui, void *arg)
{
    (void)arg;
    write_guardrail(ui, ui->confirm_name, ui->confirm_value);
}

void ui_set_guardrail(struct ui *ui, const char *name, const char *value)
{
    if (!ui->opt->board) {
        ui_message(ui, "no control plane: this context has no redis URL");
        return;
    }
    if (ui_guardrails_read_only(ui))
        return;
    char canonical[128], err[256];
    if (policy_validate(name, value, canonical, sizeof canonical, err, sizeof err) < 0) {
        ui_error(ui, "%s", err);
        return;
    }
    char what[300];
    if (!guardrail_known(ui, name, what, sizeof what)) {
        snprintf(ui->confirm_name, sizeof ui->confirm_name, "%s", name);
        snprintf(ui->confirm_value, sizeof ui->confirm_value, "%s", canonical);
        char cancelled[300];
        snprintf(cancelled, sizeof cancelled, "not set: %s", name);
        confirm_ask(ui, NULL, cancelled, run_pending, NULL, "no live worker, queue or config knows %s: y sets %s = %s anyway",
                    what, name, canonical);
        return;
    }
    write_guardrail(ui, name, canonical);
}

void ui_flip_guardrail(struct ui *ui, const char *name, const char *from, const char *to)
{
    if (!ui->opt->board) {
        ui_message(ui, "no control plane: this context has no redis URL");
        return;
    }
    if (ui_guardrails_read_only(ui))
        return;
    char canonical[128], err[256];
    if (policy_validate(name, to, canonical, sizeof canonical, err, sizeof err) < 0) {
        ui_error(ui, "%s", err);
        return;
    }
    snprintf(ui->confirm_name, sizeof ui->confirm_name, "%s", name);
    snprintf(ui->confirm_value, sizeof ui->confirm_value, "%s", canonical);
    confirm_ask(ui, NULL, NULL, run_pending, NULL, "set %s = %s for the whole fleet (now %s)", name, canonical, from);
}

void ui_command_set(struct ui *ui, const char *args)
{
    char name[192] = "", value[192] = "";
    if (sscanf(args, "%191s %191s", name, value) == 2)
        ui_set_guardrail(ui, name, value);
    else
        ui_message(ui, "usage: :set GUARDRAIL VALUE (e.g. :set shed.priority_below 3)");
}
