/* `qdeck alerts [--json]`: the alerts the console's Overview shows, from
 * one reading: every source's queues (read in parallel, as `qdeck status`
 * does), the fleet's heartbeats and the guardrails in force (Redis), put
 * through the same pure function (console/alerts.h). One reading has no
 * baseline, so the two alerts measured over time — the fleet's error rate
 * and a dead-letter queue's growth — are the console's only. Exit 3 when
 * a source or the control plane could not be read. */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker/source.h"
#include "cli/app.h"
#include "console/alerts.h"
#include "control/policy-store.h"
#include "core/clock.h"
#include "core/xalloc.h"

const struct arg_option view_options[] = {
    OPT_FLAG("json", 0, "one JSON value on stdout"),
    OPT_END,
};

static void print_alerts_json(const struct alert_set *set)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < set->n; i++) {
        const struct alert *a = &set->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "severity", alert_severity_name(a->severity));
        cJSON_AddStringToObject(o, "kind", a->kind);
        cJSON_AddStringToObject(o, "subject", a->subject);
        cJSON_AddStringToObject(o, "text", a->text);
        cJSON_AddItemToArray(arr, o);
    }
    print_json(arr);
}

static void print_table(const struct alert_set *set, bool complete)
{
    if (!set->n) {
        if (complete)
            fprintf(stderr, "no alerts\n");
        return;
    }
    printf("%-9s %-8s %-32s %s\n", "SEVERITY", "KIND", "SUBJECT", "ALERT");
    for (size_t i = 0; i < set->n; i++) {
        const struct alert *a = &set->items[i];
        printf("%-9s %-8s %-32s %s\n", alert_severity_name(a->severity), a->kind, a->subject, a->text);
    }
}

int cmd_alerts(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "alerts: unknown argument '%s' (usage: qdeck alerts [--json])", a->words[1]);
    struct source **srcs;
    size_t n;
    int rc = cli_open_sources(app, &srcs, &n);
    if (rc != EXIT_OK)
        return rc;
    struct fleet_table *fleet = NULL;
    struct policy *policy = NULL;
    int control_rc = cli_read_control(app, &fleet, &policy);
    sources_collect_parallel(srcs, n);
    struct feed_view *views = xcalloc(n ? n : 1, sizeof *views);
    for (size_t i = 0; i < n; i++) {
        feed_get(&srcs[i]->feed, &views[i]);
        if (views[i].status != SOURCE_OK) {
            fprintf(stderr, "qdeck: %s %s: %s: %s\n", srcs[i]->ops->kind, srcs[i]->display_url,
                    source_status_name(views[i].status), views[i].message);
            rc = EXIT_UNREACHABLE;
        }
    }
    struct alert_input in = {
        .thresholds = &app->cfg.alerts, .feeds = views, .nfeeds = n, .fleet = fleet, .policy = policy};
    struct alert_baseline baseline = {0};
    struct alert_set set = {0};
    alerts_evaluate(&in, &baseline, &set);
    if (args_flag(a, "json"))
        print_alerts_json(&set);
    else
        print_table(&set, rc == EXIT_OK && control_rc == EXIT_OK);
    alerts_free(&set);
    for (size_t i = 0; i < n; i++)
        feed_view_release(&views[i]);
    free(views);
    if (fleet)
        fleet_table_free(fleet);
    if (policy)
        policy_release(policy);
    sources_free(srcs, n);
    return control_rc != EXIT_OK ? control_rc : rc;
}
