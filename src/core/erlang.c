/* Erlang C through the Erlang B recursion, which stays finite for any c
 * (no factorials): B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), then
 * C = B / (1 - ρ (1 - B)) with ρ = a / c. */
#include "core/erlang.h"

#include <math.h>

double erlang_c(int c, double a)
{
    if (c <= 0 || !(a >= 0))
        return 1;
    if (a == 0)
        return 0;
    if (a >= c)
        return 1;
    double b = 1;
    for (int k = 1; k <= c; k++)
        b = a * b / (k + a * b);
    double rho = a / c;
    return b / (1 - rho * (1 - b));
}

double erlang_wait(double lambda, double mu, int c)
{
    if (!(lambda > 0))
        return 0;
    if (!(mu > 0) || c <= 0 || lambda >= c * mu)
        return INFINITY;
    return erlang_c(c, lambda / mu) / (c * mu - lambda);
}

int erlang_slots_for_wait(double lambda, double mu, double target, int max)
{
    if (!(mu > 0) || !(target >= 0))
        return -1;
    if (!(lambda > 0))
        return 0;
    int c = (int)floor(lambda / mu) + 1;   /* the fewest that keep up at all */
    for (; c <= max; c++)
        if (erlang_wait(lambda, mu, c) <= target)
            return c;
    return -1;
}
