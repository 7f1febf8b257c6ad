/* Bulkhead: at most max_concurrent calls to one dependency at a time.
 * Non-blocking: a call that finds it full is refused at once (the worker
 * then retries the task later instead of holding a slot waiting). One atomic
 * counter; every successful try_acquire must be paired with one release. */
#ifndef QDECK_BULKHEAD_H
#define QDECK_BULKHEAD_H

#include <stdatomic.h>
#include <stdint.h>

struct bulkhead {
    int max;                    /* 0: unlimited */
    _Atomic int in_use;
    _Atomic uint64_t rejected;
};

void bulkhead_init(struct bulkhead *bh, int max_concurrent);
/* 0 when a place was taken, -1 when full. */
int bulkhead_try_acquire(struct bulkhead *bh);
void bulkhead_release(struct bulkhead *bh);
int bulkhead_in_use(const struct bulkhead *bh);
uint64_t bulkhead_rejected(const struct bulkhead *bh);

#endif
