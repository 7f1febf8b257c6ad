/* The exporter's text from one round (console/exporter-text.h), built from
 * real snapshots, heartbeats and guardrails: exact sample lines; unknown
 * numbers left out rather than written as 0; a source that is down shown
 * as 0 with none of its series; a lost worker's state kept but its
 * histograms left out of the merge; guardrails at their default not
 * active; and the text's grammar: one HELP and TYPE per family, each
 * family's samples together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/exporter-text.h"
#include "core/histogram.h"
#include "core/xalloc.h"

static void expect_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
    fail_msg("missing line:\n%s\nin:\n%s", line, text);
}

static void expect_no(const char *text, const char *part)
{
    if (strstr(text, part))
        fail_msg("unexpected '%s' in:\n%s", part, text);
}

/* The family a sample line belongs to: its name up to { or space, less a
 * histogram suffix when that family is a histogram. */
static void family_of(const char *line, const char *current, char *out, size_t len)
{
    size_t n = strcspn(line, "{ ");
    snprintf(out, len, "%.*s", (int)n, line);
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t cl = strlen(current), sl = strlen(suffixes[i]);
        if (n == cl + sl && strncmp(line, current, cl) == 0 && strncmp(line + cl, suffixes[i], sl) == 0)
            snprintf(out, len, "%s", current);
    }
}

/* One TYPE per family, a HELP right before it, every sample under its own
 * family's TYPE. */
static void expect_grammar(const char *text)
{
    char *copy = xstrdup(text), *save = NULL, current[200] = "", seen[64][200];
    size_t nseen = 0;
    bool help_before = false;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0) {
            help_before = true;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_true(help_before);
            help_before = false;
            snprintf(current, sizeof current, "%.*s", (int)strcspn(line + 7, " "), line + 7);
            for (size_t i = 0; i < nseen; i++)
                if (strcmp(seen[i], current) == 0)
                    fail_msg("family %s written twice", current);
            assert_true(nseen < 64);
            snprintf(seen[nseen++], sizeof seen[0], "%s", current);
            continue;
        }
        char fam[200];
        family_of(line, current, fam, sizeof fam);
        if (strcmp(fam, current) != 0)
            fail_msg("sample '%s' outside its family (under %s)", line, current);
    }
    free(copy);
}

static struct snapshot *queues(void)
{
    struct snapshot *s = snapshot_new(2);
    struct queue_stat *q = snapshot_add(s, QUEUE_AMQP, "orders");
    q->ready = 37;
    q->unacked = 2;
    q->consumers = 1;
    q->rate_in = 12.5;
    q->rate_out = 0;
    q->head_age = 4.25;
    q = snapshot_add(s, QUEUE_REDIS_LIST, "jobs");
    q->ready = 5;
    snapshot_seal(s);
    return s;
}

static void queues_and_sources(void **state)
{
    (void)state;
    struct snapshot *snap = queues();
    const struct snapshot *snaps[] = {snap};
    struct exporter_source sources[] = {
        {"rabbitmq", "http://ops:***@rabbit:15672/", true, "ok", "", 1000, 0.25},
        {"redis", "redis://cache:6379/", false, "disconnected", "connection refused", NAN, NAN},
    };
    struct exporter_round r = {.now = 1001, .interval = 5, .collect_seconds = 0.5, .rounds = 3,
                               .sources = sources, .nsources = 2, .queues = snaps, .nqueues = 1};
    struct metrics_text t = {0};
    exporter_render(&r, &t);
    expect_line(t.buf, "qdeck_queue_messages{queue=\"amqp:orders\",state=\"ready\"} 37");
    expect_line(t.buf, "qdeck_queue_messages{queue=\"amqp:orders\",state=\"unacked\"} 2");
    expect_line(t.buf, "qdeck_queue_messages{queue=\"redis:jobs\",state=\"ready\"} 5");
    expect_no(t.buf, "queue=\"redis:jobs\",state=\"unacked\"");   /* unknown, not 0 */
    expect_line(t.buf, "qdeck_queue_consumers{queue=\"amqp:orders\"} 1");
    expect_no(t.buf, "qdeck_queue_consumers{queue=\"redis:jobs\"}");
    expect_line(t.buf, "qdeck_queue_oldest_message_age_seconds{queue=\"amqp:orders\"} 4.25");
    expect_line(t.buf, "qdeck_queue_messages_in_per_second{queue=\"amqp:orders\"} 12.5");
    expect_line(t.buf, "qdeck_queue_messages_out_per_second{queue=\"amqp:orders\"} 0");
    expect_line(t.buf, "qdeck_source_up{source=\"rabbitmq\",url=\"http://ops:***@rabbit:15672/\"} 1");
    expect_line(t.buf, "qdeck_source_up{source=\"redis\",url=\"redis://cache:6379/\"} 0");
    expect_line(t.buf, "qdeck_source_collect_duration_seconds{source=\"rabbitmq\"} 0.25");
    expect_no(t.buf, "qdeck_source_collect_duration_seconds{source=\"redis\"}");
    expect_line(t.buf, "qdeck_exporter_collections_total 3");
    expect_line(t.buf, "qdeck_exporter_interval_seconds 5");
    expect_no(t.buf, "qdeck_workers");          /* no fleet in this round */
    expect_no(t.buf, "qdeck_guardrails_active");   /* guardrails not read */
    expect_grammar(t.buf);

    struct metrics_text page = {0};
    exporter_render_index(&r, &page);
    assert_non_null(strstr(page.buf, "<td>redis</td><td>redis://cache:6379/</td><td>NO</td><td>disconnected</td>"
                                     "<td>connection refused</td>"));
    assert_non_null(strstr(page.buf, "<td>rabbitmq</td><td>http://ops:***@rabbit:15672/</td><td>yes</td>"));
    metrics_text_free(&page);
    metrics_text_free(&t);
    snapshot_unref(snap);
}

/* A heartbeat with 10 runs of 3 ms of type "t1" and a breaker. */
static char *heartbeat(const char *id, double at)
{
    struct histogram *h = histogram_new();
    histogram_record_n(h, 3000, 10);
    char *enc = histogram_encode(h);
    histogram_free(h);
    char *json = xasprintf("{\"id\":\"%s\",\"at\":%.3f,\"interval\":1,\"slots_busy\":2,\"slots_total\":4,"
                           "\"processed\":10,\"failed\":1,\"latency\":{\"t1\":{\"processed\":10,\"failed\":1,"
                           "\"run\":\"%s\",\"e2e\":\"%s\"}},"
                           "\"breakers\":{\"dep\":{\"state\":\"OPEN\",\"failure_rate\":75,\"slow_rate\":-1}}}",
                           id, at, enc, enc);
    free(enc);
    return json;
}

static void fleet_and_guardrails(void **state)
{
    (void)state;
    double now = 1000;
    struct fleet_worker workers[2];
    char *alive = heartbeat("w1", now - 0.5), *lost = heartbeat("w2", now - 60);
    assert_true(fleet_parse_report("w1", alive, now, &workers[0]));
    assert_true(fleet_parse_report("w2", lost, now, &workers[1]));
    assert_int_equal(workers[1].state, FLEET_LOST);
    struct fleet_table fleet = {.taken_at = now, .n = 2, .workers = workers, .running = 1, .lost = 1};
    struct policy_item guardrails[] = {
        {"dep.llm.rate", "50/s", NULL, NULL},
        {"queue.orders.paused", "false", NULL, NULL},   /* the default: not active */
        {"shed.priority_below", "3", NULL, NULL},
    };
    struct exporter_round r = {.now = now, .interval = 1, .fleet = &fleet, .guardrails = guardrails,
                               .nguardrails = 3, .guardrails_known = true};
    struct metrics_text t = {0};
    exporter_render(&r, &t);
    expect_line(t.buf, "qdeck_workers{state=\"running\"} 1");
    expect_line(t.buf, "qdeck_workers{state=\"lost\"} 1");
    expect_line(t.buf, "qdeck_worker_state{worker=\"w2\",state=\"lost\"} 1");
    expect_line(t.buf, "qdeck_worker_state{worker=\"w2\",state=\"running\"} 0");
    expect_line(t.buf, "qdeck_worker_heartbeat_age_seconds{worker=\"w1\"} 0.5");
    expect_line(t.buf, "qdeck_worker_slots{worker=\"w1\"} 4");
    expect_line(t.buf, "qdeck_worker_slots_busy{worker=\"w1\"} 2");
    expect_line(t.buf, "qdeck_worker_tasks_processed_total{worker=\"w1\"} 10");
    expect_line(t.buf, "qdeck_worker_tasks_failed_total{worker=\"w1\"} 1");
    /* the lost worker's 10 runs are not merged in */
    expect_line(t.buf, "qdeck_fleet_task_processed_total{type=\"t1\"} 10");
    expect_line(t.buf, "qdeck_fleet_task_run_seconds_count{type=\"t1\"} 10");
    expect_line(t.buf, "qdeck_fleet_task_run_seconds_bucket{type=\"t1\",le=\"0.001\"} 0");
    expect_line(t.buf, "qdeck_fleet_task_run_seconds_bucket{type=\"t1\",le=\"0.005\"} 10");
    expect_line(t.buf, "qdeck_fleet_task_run_seconds_bucket{type=\"t1\",le=\"+Inf\"} 10");
    expect_line(t.buf, "qdeck_fleet_task_run_seconds_sum{type=\"t1\"} 0.03");
    expect_line(t.buf, "qdeck_fleet_task_end_to_end_seconds_count{type=\"t1\"} 10");
    expect_line(t.buf, "qdeck_fleet_task_queue_wait_seconds_count{type=\"t1\"} 0");   /* not reported: empty */
    expect_line(t.buf, "qdeck_breaker_state{dependency=\"dep\",state=\"open\"} 1");
    expect_line(t.buf, "qdeck_breaker_state{dependency=\"dep\",state=\"closed\"} 0");
    expect_line(t.buf, "qdeck_breaker_workers{dependency=\"dep\",state=\"open\"} 1");
    expect_line(t.buf, "qdeck_breaker_failure_ratio{dependency=\"dep\"} 0.75");
    expect_line(t.buf, "qdeck_guardrails_active 2");
    expect_line(t.buf, "qdeck_guardrail_active{guardrail=\"shed.priority_below\"} 1");
    expect_line(t.buf, "qdeck_guardrail_active{guardrail=\"dep.llm.rate\"} 1");
    expect_no(t.buf, "guardrail=\"queue.orders.paused\"");
    expect_line(t.buf, "qdeck_guardrail_value{guardrail=\"dep.llm.rate\"} 50");
    expect_line(t.buf, "qdeck_guardrail_value{guardrail=\"shed.priority_below\"} 3");
    expect_grammar(t.buf);
    metrics_text_free(&t);
    fleet_worker_free(&workers[0]);
    fleet_worker_free(&workers[1]);
    free(alive);
    free(lost);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queues_and_sources),
        cmocka_unit_test(fleet_and_guardrails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
