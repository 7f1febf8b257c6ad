/* History rings behind sparklines and "top growing": wrap-around keeps the
 * newest N samples oldest-first, growth is depth change per second over a
 * window of the newest samples, the hash table survives rehashing, a
 * snapshot is recorded with its source totals under "@KIND" (unknown rates
 * staying unknown), and rings of vanished queues are pruned. The 10-minute
 * depth window keeps the last depth of each 5 s slot, carries a depth over
 * skipped slots for a minute and no longer, and wraps keeping the newest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "core/snapshot.h"
#include "ui/history.h"

static void ring_wraps_around_keeping_the_newest(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 4);
    for (int i = 0; i < 6; i++)
        history_add(&h, "amqp:q", 100 + i, i * 10, i, NAN);
    const struct queue_history *q = history_get(&h, "amqp:q");
    assert_non_null(q);
    assert_int_equal(q->count, 4);
    double v[8];
    assert_int_equal(history_series(q, SERIES_DEPTH, v, 8), 4);
    assert_true(v[0] == 20 && v[1] == 30 && v[2] == 40 && v[3] == 50);
    assert_int_equal(history_series(q, SERIES_IN, v, 2), 2);      /* the newest two */
    assert_true(v[0] == 4 && v[1] == 5);
    assert_int_equal(history_series(q, SERIES_OUT, v, 8), 4);
    assert_true(isnan(v[0]) && isnan(v[3]));
    assert_int_equal(history_series(NULL, SERIES_DEPTH, v, 8), 0);
    history_free(&h);
}

static void ring_before_it_fills(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 60);
    history_add(&h, "redis:jobs", 1, 3, NAN, NAN);
    history_add(&h, "redis:jobs", 2, 5, NAN, NAN);
    double v[60];
    assert_int_equal(history_series(history_get(&h, "redis:jobs"), SERIES_DEPTH, v, 60), 2);
    assert_true(v[0] == 3 && v[1] == 5);
    assert_null(history_get(&h, "redis:other"));
    history_free(&h);
}

static void capacity_is_at_least_two(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 0);
    assert_int_equal(h.capacity, 2);
    history_add(&h, "q", 1, 1, NAN, NAN);
    history_add(&h, "q", 2, 2, NAN, NAN);
    history_add(&h, "q", 3, 4, NAN, NAN);
    assert_true(fabs(history_growth(history_get(&h, "q"), 10) - 2.0) < 1e-9);
    history_free(&h);
}

static void growth_over_the_newest_window(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 60);
    /* flat for 20 s, then +5 messages every 2 s */
    for (int t = 0; t < 20; t++)
        history_add(&h, "amqp:slow", t, 100, NAN, NAN);
    for (int i = 1; i <= 10; i++)
        history_add(&h, "amqp:slow", 20 + 2 * i, 100 + 5 * i, NAN, NAN);
    const struct queue_history *q = history_get(&h, "amqp:slow");
    /* last 10 samples: t 22..40, depth 105..150 -> 45 over 18 s */
    assert_true(fabs(history_growth(q, 10) - 2.5) < 1e-9);
    /* last 2 samples only */
    assert_true(fabs(history_growth(q, 2) - 2.5) < 1e-9);
    /* a window wider than the ring uses what there is: 50 over 40 s */
    assert_true(fabs(history_growth(q, 1000) - 50.0 / 40.0) < 1e-9);

    history_add(&h, "amqp:drain", 0, 50, NAN, NAN);
    history_add(&h, "amqp:drain", 5, 0, NAN, NAN);
    assert_true(fabs(history_growth(history_get(&h, "amqp:drain"), 10) - -10.0) < 1e-9);
    history_free(&h);
}

static void growth_unknown_without_two_timed_known_samples(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 8);
    assert_true(isnan(history_growth(NULL, 10)));
    history_add(&h, "one", 1, 5, NAN, NAN);
    assert_true(isnan(history_growth(history_get(&h, "one"), 10)));
    history_add(&h, "same-time", 1, 5, NAN, NAN);
    history_add(&h, "same-time", 1, 9, NAN, NAN);
    assert_true(isnan(history_growth(history_get(&h, "same-time"), 10)));
    history_add(&h, "unknown-depth", 1, NAN, NAN, NAN);
    history_add(&h, "unknown-depth", 2, 9, NAN, NAN);
    assert_true(isnan(history_growth(history_get(&h, "unknown-depth"), 10)));
    history_free(&h);
}

static void table_survives_rehashing(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 4);
    history_add(&h, "amqp:first", 1, 42, NAN, NAN);
    for (int i = 0; i < 3000; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "redis:k%d", i);
        history_add(&h, addr, 1, i, NAN, NAN);
    }
    assert_int_equal(h.nentries, 3001);
    assert_true(h.nbuckets >= 3001);
    double v[4];
    for (int i = 0; i < 3000; i += 277) {
        char addr[32];
        snprintf(addr, sizeof addr, "redis:k%d", i);
        assert_int_equal(history_series(history_get(&h, addr), SERIES_DEPTH, v, 4), 1);
        assert_true(v[0] == i);
    }
    assert_int_equal(history_series(history_get(&h, "amqp:first"), SERIES_DEPTH, v, 4), 1);
    assert_true(v[0] == 42);
    history_free(&h);
}

static void snapshot_recorded_with_source_totals(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 8);
    struct snapshot *s = snapshot_new(4);
    s->taken_at = 50;
    struct queue_stat *a = snapshot_add(s, QUEUE_AMQP, "a");
    a->total = 7;
    a->ready = 5;
    a->rate_in = 1.5;
    struct queue_stat *b = snapshot_add(s, QUEUE_REDIS_LIST, "b");
    b->ready = 3;                       /* no total: depth is ready */
    history_record(&h, "mixed", s);
    snapshot_unref(s);

    double v[2];
    assert_int_equal(history_series(history_get(&h, "amqp:a"), SERIES_DEPTH, v, 2), 1);
    assert_true(v[0] == 7);
    assert_int_equal(history_series(history_get(&h, "redis:b"), SERIES_DEPTH, v, 2), 1);
    assert_true(v[0] == 3);
    assert_int_equal(history_series(history_get(&h, "redis:b"), SERIES_IN, v, 2), 1);
    assert_true(isnan(v[0]));           /* Redis has no rates: never a made-up 0 */
    assert_int_equal(history_series(history_get(&h, "@mixed"), SERIES_DEPTH, v, 2), 1);
    assert_true(v[0] == 10);
    assert_int_equal(history_series(history_get(&h, "@mixed"), SERIES_IN, v, 2), 1);
    assert_true(v[0] == 1.5);
    assert_int_equal(history_series(history_get(&h, "@mixed"), SERIES_OUT, v, 2), 1);
    assert_true(isnan(v[0]));

    struct snapshot *empty = snapshot_new(1);
    empty->taken_at = 51;
    history_record(&h, "mixed", empty);
    snapshot_unref(empty);
    assert_int_equal(history_series(history_get(&h, "@mixed"), SERIES_DEPTH, v, 2), 2);
    assert_true(v[1] == 0);             /* no queues at all is a known 0 */
    history_free(&h);
}

static void prune_drops_only_stale_rings(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 4);
    history_add(&h, "amqp:gone", 100, 1, NAN, NAN);
    history_add(&h, "amqp:alive", 100, 1, NAN, NAN);
    history_add(&h, "amqp:alive", 900, 2, NAN, NAN);
    for (int i = 0; i < 300; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "amqp:amq.gen-%d", i);
        history_add(&h, addr, 200 + i, 0, NAN, NAN);
    }
    assert_int_equal(history_prune(&h, 500), 301);
    assert_int_equal(h.nentries, 1);
    assert_null(history_get(&h, "amqp:gone"));
    assert_null(history_get(&h, "amqp:amq.gen-299"));
    assert_non_null(history_get(&h, "amqp:alive"));
    assert_int_equal(history_prune(&h, 500), 0);
    history_add(&h, "amqp:gone", 1000, 7, NAN, NAN);     /* comes back with a fresh ring */
    double v[4];
    assert_int_equal(history_series(history_get(&h, "amqp:gone"), SERIES_DEPTH, v, 4), 1);
    assert_true(v[0] == 7);
    history_free(&h);
}

static void window_keeps_the_last_depth_of_each_slot(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 4);
    double w[HISTORY_WINDOW_SLOTS];
    assert_int_equal(history_window(history_get(&h, "amqp:q"), w), 0);
    history_add(&h, "amqp:q", 1000, 5, NAN, NAN);
    history_add(&h, "amqp:q", 1001, 7, NAN, NAN);          /* same 5 s slot: the last wins */
    history_add(&h, "amqp:q", 1002, NAN, NAN, NAN);        /* unknown: the known depth stays */
    history_add(&h, "amqp:q", 1005, 9, NAN, NAN);          /* the next slot */
    assert_int_equal(history_window(history_get(&h, "amqp:q"), w), HISTORY_WINDOW_SLOTS);
    assert_true(w[HISTORY_WINDOW_SLOTS - 1] == 9 && w[HISTORY_WINDOW_SLOTS - 2] == 7);
    assert_true(isnan(w[0]) && isnan(w[HISTORY_WINDOW_SLOTS - 3]));   /* before the first sample */
    history_free(&h);
}

static void window_carries_over_gaps_for_a_minute_and_wraps(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 4);
    double w[HISTORY_WINDOW_SLOTS];
    history_add(&h, "amqp:q", 1000, 3, NAN, NAN);
    history_add(&h, "amqp:q", 1020, 4, NAN, NAN);          /* 3 slots skipped: carried */
    history_window(history_get(&h, "amqp:q"), w);
    size_t last = HISTORY_WINDOW_SLOTS - 1;
    assert_true(w[last] == 4 && w[last - 1] == 3 && w[last - 2] == 3 && w[last - 3] == 3 && w[last - 4] == 3);
    history_add(&h, "amqp:q", 1120, 6, NAN, NAN);          /* 19 skipped: 12 carried (60 s), 7 unknown */
    history_window(history_get(&h, "amqp:q"), w);
    assert_true(w[last] == 6 && isnan(w[last - 1]) && isnan(w[last - 7]) && w[last - 8] == 4 && w[last - 19] == 4);
    /* a whole window later, only the newest remains */
    for (int i = 1; i <= HISTORY_WINDOW_SLOTS; i++)
        history_add(&h, "amqp:q", 1120 + i * HISTORY_WINDOW_STEP, i, NAN, NAN);
    history_window(history_get(&h, "amqp:q"), w);
    assert_true(w[0] == 1 && w[last] == HISTORY_WINDOW_SLOTS);
    history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_wraps_around_keeping_the_newest),
        cmocka_unit_test(ring_before_it_fills),
        cmocka_unit_test(capacity_is_at_least_two),
        cmocka_unit_test(growth_over_the_newest_window),
        cmocka_unit_test(growth_unknown_without_two_timed_known_samples),
        cmocka_unit_test(table_survives_rehashing),
        cmocka_unit_test(snapshot_recorded_with_source_totals),
        cmocka_unit_test(prune_drops_only_stale_rings),
        cmocka_unit_test(window_keeps_the_last_depth_of_each_slot),
        cmocka_unit_test(window_carries_over_gaps_for_a_minute_and_wraps),
    };
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
