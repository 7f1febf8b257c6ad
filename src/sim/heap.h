/* The simulation's event queue: a binary min-heap of (time, sequence)
 * pairs. The sequence number breaks ties in the order events were made,
 * so equal times always come out the same way (determinism). */
#ifndef QDECK_SIM_HEAP_H
#define QDECK_SIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct sim_event {
    double time;
    uint64_t seq;
    uint32_t task;
    int kind;
};

struct sim_heap {
    struct sim_event *ev;
    size_t n, cap;
    uint64_t seq;
};

void sim_heap_init(struct sim_heap *h, size_t cap);
void sim_heap_free(struct sim_heap *h);
void sim_heap_push(struct sim_heap *h, double time, int kind, uint32_t task);
/* The earliest event; the heap must not be empty. */
struct sim_event sim_heap_pop(struct sim_heap *h);
static inline double sim_heap_top_time(const struct sim_heap *h) { return h->ev[0].time; }

#endif
