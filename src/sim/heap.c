/* Binary min-heap of events (see heap.h): sift up on push, down on pop. */
#include "sim/heap.h"

#include <stdbool.h>
#include <stdlib.h>

#include "core/xalloc.h"

void sim_heap_init(struct sim_heap *h, size_t cap)
{
    h->cap = cap ? cap : 16;
    h->ev = xmalloc(h->cap * sizeof *h->ev);
    h->n = 0;
    h->seq = 0;
}

void sim_heap_free(struct sim_heap *h)
{
    free(h->ev);
    h->ev = NULL;
    h->n = h->cap = 0;
}

static bool before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void sim_heap_push(struct sim_heap *h, double time, int kind, uint32_t task)
{
    if (h->n == h->cap) {
        h->cap *= 2;
        h->ev = xrealloc(h->ev, h->cap * sizeof *h->ev);
    }
    struct sim_event e = {.time = time, .seq = h->seq++, .task = task, .kind = kind};
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(&e, &h->ev[up]))
            break;
        h->ev[i] = h->ev[up];
        i = up;
    }
    h->ev[i] = e;
}

struct sim_event sim_heap_pop(struct sim_heap *h)
{
    struct sim_event top = h->ev[0], last = h->ev[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&h->ev[c + 1], &h->ev[c]))
            c++;
        if (!before(&h->ev[c], &last))
            break;
        h->ev[i] = h->ev[c];
        i = c;
    }
    if (n > 0)
        h->ev[i] = last;
    return top;
}
