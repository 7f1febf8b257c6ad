/* Full-jitter backoff draws and RabbitMQ delay tiers; see retry.h. */
#include "worker/retry.h"

#include <math.h>
#include <stdlib.h>

const unsigned retry_tiers_ms[] = {100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000,
                                   120000, 300000, 600000, 1800000, 3600000};
const size_t retry_ntiers = sizeof retry_tiers_ms / sizeof retry_tiers_ms[0];

double retry_ceiling(double base, double cap, int attempts_made)
{
    int n = attempts_made - 1;
    if (n < 0)
        n = 0;
    if (n > 60)
        n = 60;
    double c = base * ldexp(1.0, n);
    return c < cap ? c : cap;
}

double retry_delay(double base, double cap, int attempts_made, unsigned *seed)
{
    double unit = (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
    return unit * retry_ceiling(base, cap, attempts_made);
}

unsigned retry_tier_ms(double delay)
{
    unsigned best = 0;
    for (size_t i = 0; i < retry_ntiers; i++)
        if ((double)retry_tiers_ms[i] <= delay * 1000.0)
            best = retry_tiers_ms[i];
    return best;
}
