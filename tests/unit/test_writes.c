/* The console's write queue (console/writes.h): jobs run in order on its
 * thread and each leaves one result line (a failure flagged), every
 * argument is freed, and a stop with jobs still queued frees theirs; tickets say
 * when a job ended; a job's progress replaces its label in the status
 * line; an interrupt sets the running job's cancel flag, waits for it to
 * settle and gives its line, and nothing starts after it. The result
 * lines of guardrail sets (console/control-writes.h) name what was done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "console/control-writes.h"
#include "console/writes.h"

static int freed;
static void free_arg(void *arg) { free(arg); freed++; }

static int run(void *arg, char *result, size_t len)
{
    int n = *(int *)arg;
    snprintf(result, len, "job %d", n);
    return n == 2 ? -1 : 0;
}

static void jobs_run_in_order_and_report_failures(void **state)
{
    (void)state;
    freed = 0;
    struct console_writes *w = writes_start(-1);
    assert_non_null(w);
    for (int i = 1; i <= 3; i++) {
        int *n = malloc(sizeof *n);
        *n = i;
        assert_true(writes_submit(w, "counting", run, free_arg, n));
    }
    char line[64];
    bool failed;
    for (int i = 1; i <= 3; i++) {
        int waited = 0;
        while (!writes_take(w, line, sizeof line, &failed) && waited++ < 500)
            usleep(10000);
        char want[16];
        snprintf(want, sizeof want, "job %d", i);
        assert_string_equal(line, want);
        assert_int_equal(failed, i == 2);
    }
    assert_false(writes_take(w, line, sizeof line, &failed));
    writes_stop(w);
    assert_int_equal(freed, 3);
}

static void nap(void)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

struct step {
    int n;
    bool fail;
};

static int run_step(void *arg, char *result, size_t len)
{
    struct step *s = arg;
    snprintf(result, len, "step %d", s->n);
    return s->fail ? -1 : 0;
}

static void jobs_run_in_order_with_results(void **state)
{
    (void)state;
    struct console_writes *w = writes_start(-1);
    assert_non_null(w);
    struct step a = {1, false}, b = {2, true};
    unsigned long ta = writes_enqueue(w, "one", run_step, NULL, &a);
    unsigned long tb = writes_enqueue(w, "two", run_step, NULL, &b);
    assert_true(ta > 0 && tb > ta);
    for (int i = 0; i < 5000 && !writes_finished(w, tb); i++)
        nap();
    assert_true(writes_finished(w, ta));
    assert_true(writes_finished(w, tb));
    char line[64];
    bool failed = true;
    assert_true(writes_take(w, line, sizeof line, &failed));
    assert_string_equal(line, "step 1");
    assert_false(failed);
    assert_true(writes_take(w, line, sizeof line, &failed));
    assert_string_equal(line, "step 2");
    assert_true(failed);
    assert_false(writes_take(w, line, sizeof line, &failed));
    writes_status(w, line, sizeof line);
    assert_string_equal(line, "");
    writes_stop(w);
}

/* A long job: says how far it is, stops when its cancel flag is set. */
struct long_job {
    struct console_writes *w;
    atomic_int started;
};

static int run_long(void *arg, char *result, size_t len)
{
    struct long_job *j = arg;
    atomic_int *cancel = writes_cancel_flag(j->w);
    int moved = 0;
    writes_progress(j->w, "moving: %d so far", moved);
    atomic_store(&j->started, 1);
    while (!atomic_load(cancel))
        nap();
    snprintf(result, len, "interrupted: moved %d", moved);
    return 1;
}

static void interrupt_settles_the_running_job(void **state)
{
    (void)state;
    struct console_writes *w = writes_start(-1);
    struct long_job j = {.w = w};
    atomic_init(&j.started, 0);
    struct step later = {3, false};
    assert_true(writes_submit(w, "long", run_long, NULL, &j));
    unsigned long tl = writes_enqueue(w, "later", run_step, NULL, &later);
    for (int i = 0; i < 5000 && !atomic_load(&j.started); i++)
        nap();
    char line[128];
    writes_status(w, line, sizeof line);
    assert_string_equal(line, "moving: 0 so far");
    assert_true(writes_interrupt(w, line, sizeof line));
    assert_string_equal(line, "interrupted: moved 0");
    assert_false(writes_finished(w, tl));                /* nothing starts after an interrupt */
    freed = 0;
    assert_int_equal(writes_enqueue(w, "refused", run_step, free_arg, calloc(1, 8)), 0);
    assert_int_equal(freed, 1);                          /* a refused job's argument is freed at once */
    assert_false(writes_interrupt(w, line, sizeof line)); /* none running now */
    writes_stop(w);
    /* a job that finished is not reported at quit */
    w = writes_start(-1);
    struct step quick = {4, false};
    unsigned long tq = writes_enqueue(w, "quick", run_step, NULL, &quick);
    for (int i = 0; i < 5000 && !writes_finished(w, tq); i++)
        nap();
    assert_false(writes_interrupt(w, line, sizeof line));
    writes_stop(w);
    assert_false(writes_interrupt(NULL, line, sizeof line));
}

static void guardrail_lines_name_what_was_done(void **state)
{
    (void)state;
    char line[300];
    control_guardrail_line("queue.amqp:orders.paused", "true", NULL, 3, line, sizeof line);
    assert_string_equal(line, "paused amqp:orders on 3 workers (queue.amqp:orders.paused = true, was false)");
    control_guardrail_line("queue.redis:jobs.paused", "false", "true", 1, line, sizeof line);
    assert_string_equal(line, "resumed redis:jobs on 1 worker (queue.redis:jobs.paused = false, was true)");
    control_guardrail_line("shed.auto", "true", "false", 0, line, sizeof line);
    assert_string_equal(line, "shed.auto = true (was false) on 0 workers");
    control_guardrail_line("queue.orders.max_depth", "100", NULL, 2, line, sizeof line);
    assert_string_equal(line, "queue.orders.max_depth = 100 (was off) on 2 workers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_run_in_order_and_report_failures),
        cmocka_unit_test(jobs_run_in_order_with_results),
        cmocka_unit_test(interrupt_settles_the_running_job),
        cmocka_unit_test(guardrail_lines_name_what_was_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
