/* The console's write queue (console/writes.h): jobs run in order on one
 * thread, each result comes back once with whether it failed, every
 * argument is freed, and a stop with jobs still queued frees theirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_run_in_order_and_report_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
