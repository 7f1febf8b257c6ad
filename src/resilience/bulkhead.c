/* Bulkhead (see bulkhead.h): a compare-and-swap on the in-use count so it
 * never goes above max, even for an instant. */
#include "resilience/bulkhead.h"

#include "core/log.h"

void bulkhead_init(struct bulkhead *bh, int max_concurrent)
{
    bh->max = max_concurrent > 0 ? max_concurrent : 0;
    atomic_init(&bh->in_use, 0);
    atomic_init(&bh->rejected, 0);
}

int bulkhead_try_acquire(struct bulkhead *bh)
{
    if (bh->max == 0) {
        atomic_fetch_add_explicit(&bh->in_use, 1, memory_order_relaxed);
        return 0;
    }
    int cur = atomic_load_explicit(&bh->in_use, memory_order_relaxed);
    do {
        if (cur >= bh->max) {
            atomic_fetch_add_explicit(&bh->rejected, 1, memory_order_relaxed);
            return -1;
        }
    } while (!atomic_compare_exchange_weak_explicit(&bh->in_use, &cur, cur + 1, memory_order_acquire,
                                                    memory_order_relaxed));
    return 0;
}

void bulkhead_release(struct bulkhead *bh)
{
    int before = atomic_fetch_sub_explicit(&bh->in_use, 1, memory_order_release);
    if (before <= 0) {
        atomic_fetch_add_explicit(&bh->in_use, 1, memory_order_relaxed);
        log_error("bulkhead released more often than acquired (ignored)");
    }
}

int bulkhead_in_use(const struct bulkhead *bh) { return atomic_load_explicit(&bh->in_use, memory_order_relaxed); }
uint64_t bulkhead_rejected(const struct bulkhead *bh)
{
    return atomic_load_explicit(&bh->rejected, memory_order_relaxed);
}
