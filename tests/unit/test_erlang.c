/* Erlang C against known values: M/M/1 (C = ρ, Wq = ρ/(μ-λ)), M/M/2 at
 * a = 1 (C = 1/3), and M/M/4 at λ = 32/s, mean service 100 ms (ρ = 0.8,
 * C = 0.59643, Wq = 74.55 ms, the queueing tables' figure); the inverse
 * finds the fewest slots for a target wait. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/erlang.h"

static void known_values(void **state)
{
    (void)state;
    assert_true(fabs(erlang_c(1, 0.7) - 0.7) < 1e-12);
    assert_true(fabs(erlang_wait(7, 10, 1) - 0.7 / 3) < 1e-12);
    assert_true(fabs(erlang_c(2, 1.0) - 1.0 / 3) < 1e-12);
    assert_true(fabs(erlang_c(4, 3.2) - 0.5964325) < 1e-6);
    assert_true(fabs(erlang_wait(32, 10, 4) - 0.0745541) < 1e-6);
    double big = erlang_c(1000, 900);   /* large c stays finite (no factorials) */
    assert_true(big > 0 && big < 1);
}

static void edges(void **state)
{
    (void)state;
    assert_true(erlang_wait(0, 10, 4) == 0);
    assert_true(isinf(erlang_wait(40, 10, 4)));   /* λ = cμ: never keeps up */
    assert_true(isinf(erlang_wait(5, 0, 4)));
    assert_true(erlang_c(4, 5) == 1);
}

static void inverse(void **state)
{
    (void)state;
    /* λ = 32, μ = 10: 4 slots wait 74.6 ms, 5 slots 16.0 ms */
    assert_int_equal(erlang_slots_for_wait(32, 10, 0.08, 1000), 4);
    assert_int_equal(erlang_slots_for_wait(32, 10, 0.05, 1000), 5);
    int c = erlang_slots_for_wait(32, 10, 0.001, 1000);
    assert_true(erlang_wait(32, 10, c) <= 0.001 && erlang_wait(32, 10, c - 1) > 0.001);
    assert_int_equal(erlang_slots_for_wait(0, 10, 0.1, 1000), 0);
    assert_int_equal(erlang_slots_for_wait(1e6, 1, 0.1, 1000), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_values),
        cmocka_unit_test(edges),
        cmocka_unit_test(inverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
