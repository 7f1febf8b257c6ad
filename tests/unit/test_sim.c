/* qdeck sim's pieces that the end-to-end test sees only through a table:
 * the event heap's order (time, then the order events were made), the
 * least-squares fit and its error, a record's defaults and refusals, and
 * variant keys with their ranges and scopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/fit.h"
#include "sim/heap.h"
#include "sim/trace.h"
#include "sim/variants.h"

static void heap_pops_by_time_then_order_made(void **state)
{
    (void)state;
    struct sim_heap h;
    sim_heap_init(&h, 2);
    unsigned seed = 3;
    for (uint32_t i = 0; i < 1000; i++)
        sim_heap_push(&h, (double)(rand_r(&seed) % 50), 0, i);
    double last_t = -1;
    uint64_t last_seq = 0;
    for (int i = 0; i < 1000; i++) {
        struct sim_event e = sim_heap_pop(&h);
        assert_true(e.time > last_t || (e.time == last_t && e.seq > last_seq));
        last_t = e.time;
        last_seq = e.seq;
    }
    assert_int_equal(h.n, 0);
    sim_heap_free(&h);
}

static void record_defaults_and_refusals(void **state)
{
    (void)state;
    struct sim_trace tr = {0};
    struct sim_record r;
    char err[200];
    const char *ok = "{\"t\":2,\"type\":\"a\",\"service\":0.5,\"payload\":{\"x\":1}}";
    assert_int_equal(sim_trace_parse_line(&tr, ok, strlen(ok), &r, err, sizeof err), 0);
    assert_int_equal(r.priority, 5);
    assert_int_equal(r.attempt, 1);
    assert_int_equal(r.outcome, SIM_OK);
    assert_string_equal(tr.queues.names[r.queue], "default");
    assert_int_equal(sim_trace_parse_line(&tr, "  \r", 3, &r, err, sizeof err), 1);
    const struct {
        const char *line, *err;
    } bad[] = {
        {"{\"type\":\"a\",\"service\":1}", "t: missing (required)"},
        {"{\"t\":1,\"type\":\"\",\"service\":1}", "type: not a non-empty string"},
        {"{\"t\":1,\"type\":\"a\",\"service\":-1}", "service: -1 is below 0"},
        {"{\"t\":1,\"type\":\"a\",\"service\":1,\"priority\":2.5}", "priority: wants a whole number from 0 to 255, got 2.5"},
        {"{\"t\":1,\"type\":\"a\",\"service\":1,\"outcome\":\"meh\"}", "outcome: 'meh' is not ok, fail, timeout, shed or dlq"},
        {"[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sim_trace_parse_line(&tr, bad[i].line, strlen(bad[i].line), &r, err, sizeof err), -1);
        assert_string_equal(err, bad[i].err);
    }
    sim_trace_free(&tr);
}

static void fit_is_least_squares_with_its_error(void **state)
{
    (void)state;
    struct sim_trace tr = {0};
    char err[200];
    /* service = 0.1 + 0.001 * tokens_out, residuals +-0.01 */
    const double tokens[] = {100, 200, 300, 400};
    for (int i = 0; i < 4; i++) {
        char line[200];
        snprintf(line, sizeof line, "{\"t\":%d,\"type\":\"a\",\"service\":%g,\"tokens_out\":%g}", i,
                 0.1 + 0.001 * tokens[i] + (i % 2 ? 0.01 : -0.01), tokens[i]);
        tr.recs = realloc(tr.recs, (tr.n + 1) * sizeof *tr.recs);
        assert_int_equal(sim_trace_parse_line(&tr, line, strlen(line), &tr.recs[tr.n++], err, sizeof err), 0);
    }
    struct sim_fit *f = sim_fit_trace(&tr);
    /* x centred -150,-50,50,150; residual pattern -,+,-,+ has slope 0.01*20/50000 */
    assert_true(fabs(f[0].b - (0.001 + 0.01 * 200 / 50000.0)) < 1e-12);
    assert_true(f[0].rmse > 0.0085 && f[0].rmse < 0.01);
    assert_true(f[0].r2 > 0.99 && f[0].r2 < 1);
    assert_int_equal(f[0].n, 4);
    sim_fit_free(f, tr.types.n);
    sim_trace_free(&tr);
}

static void variant_keys_by_scope_and_range(void **state)
{
    (void)state;
    struct sim_trace tr = {0};
    sim_names_intern(&tr.types, "chat");
    sim_names_intern(&tr.queues, "llm");
    struct config cfg;
    config_defaults(&cfg);
    char err[300];
    assert_int_equal(config_parse_string("[task chat]\nprice_out = 15\ndependency = api\n[dependency api]\nrate = 5\n",
                                         "t", &cfg, err, sizeof err), 0);
    struct sim_params p;
    sim_params_from_config(&p, &cfg, &tr);
    assert_true(p.types[0].price_out == 15);
    assert_int_equal(p.types[0].dep, 0);
    assert_int_equal(sim_params_set(&p, &tr, "dep.api.rate", "40", err, sizeof err), 0);
    assert_true(p.deps[0].rate == 40 && cfg.dependencies[0].rate == 5);   /* the variant's copy only */
    assert_int_equal(sim_params_set(&p, &tr, "queue.llm.max_depth", "off", err, sizeof err), 0);
    assert_int_equal(p.queue_max_depth[0], -1);
    assert_int_equal(sim_params_set(&p, &tr, "budget.max_response_tokens", "256", err, sizeof err), 0);
    assert_int_equal(p.max_response_tokens, 256);
    assert_int_equal(sim_params_set(&p, &tr, "task.chat.timeout", "0", err, sizeof err), -1);
    assert_string_equal(err, "task.chat.timeout: wants a number from 0.001 to 86400, got '0'");
    assert_int_equal(sim_params_set(&p, &tr, "task.nope.timeout", "1", err, sizeof err), -1);
    assert_string_equal(err, "task.nope.timeout: no task type 'nope' in the trace");
    assert_int_equal(sim_params_set(&p, &tr, "frobs", "1", err, sizeof err), -1);
    assert_string_equal(err, "unknown key 'frobs'");
    sim_params_free(&p);
    config_free(&cfg);
    sim_trace_free(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heap_pops_by_time_then_order_made),
        cmocka_unit_test(record_defaults_and_refusals),
        cmocka_unit_test(fit_is_least_squares_with_its_error),
        cmocka_unit_test(variant_keys_by_scope_and_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
