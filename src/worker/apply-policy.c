/* A policy snapshot applied to the dependencies (see the header). */
#include "worker/apply-policy.h"

#include <stdatomic.h>
#include <string.h>

void dependency_set_apply_policy(struct dependency_set *s, const struct policy *p)
{
    for (size_t i = 0; i < s->n; i++) {
        struct dependency *d = &s->deps[i];
        const struct policy_dep *pd = policy_dep(p, d->name);
        double rate = pd && pd->rate >= 0 ? pd->rate : d->configured_rate;
        struct ratelimit_stats rs;
        ratelimit_stats(&d->rate, &rs);
        if (rs.rate != rate)
            ratelimit_set_rate(&d->rate, rate);
        atomic_store(&d->fallback_forced, pd && pd->fallback);
        for (size_t k = 0; k < p->nbreakers; k++)
            if (strcmp(p->breakers[k].dep, d->name) == 0)
                breaker_apply_command(d->breaker, p->breakers[k].command, p->breakers[k].generation);
    }
}
