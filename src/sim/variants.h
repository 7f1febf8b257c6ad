/* The settings `qdeck sim` runs a trace under: the base from the config
 * file (the worker's own [worker], [task T] and [dependency D] sections)
 * and the command line, and the variants of a variants file, each the base
 * with its own overrides:
 *
 *   [variant peak-plus-4]
 *   workers = 5
 *   scale = 2
 *   shed.priority_below = 3
 *   budget.max_response_tokens = 256
 *   dep.llm.rate = 40
 *   task.summarise.timeout = 20
 *   queue.default.max_depth = 5000
 *
 * The file is read with inih. Every key is in one table below with its
 * type and range; an unknown key, section, type, queue or dependency, or a
 * bad value is an error naming FILE:LINE and the key. */
#ifndef QDECK_SIM_VARIANTS_H
#define QDECK_SIM_VARIANTS_H

#include <stddef.h>
#include <stdio.h>

#include "core/config.h"
#include "sim/engine.h"
#include "sim/trace.h"

struct sim_variants {
    struct sim_params *v;
    size_t n;
};

/* The base from cfg for the trace's types and queues; name "base". */
void sim_params_from_config(struct sim_params *p, const struct config *cfg, const struct sim_trace *tr);
/* Sets one key ("workers", "dep.llm.rate", ...) of p. 0, or -1 with why. */
int sim_params_set(struct sim_params *p, const struct sim_trace *tr, const char *key, const char *value, char *why,
                   size_t whylen);
void sim_params_copy(struct sim_params *dst, const struct sim_params *src, const struct sim_trace *tr);
void sim_params_free(struct sim_params *p);

/* Every [variant NAME] of path, in file order, each a copy of base with its
 * keys applied. 0, or -1 with "FILE:LINE: ..." in err. */
int sim_variants_read(const char *path, const struct sim_params *base, const struct sim_trace *tr,
                      struct sim_variants *out, char *err, size_t errlen);
void sim_variants_free(struct sim_variants *vs);

#endif
