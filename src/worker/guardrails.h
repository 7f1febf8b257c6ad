/* What the worker applies of the guardrails, as the heartbeat reports it
 * (worker/guardrails.c). Part of worker.h's public API. */
#ifndef QDECK_WORKER_GUARDRAILS_H
#define QDECK_WORKER_GUARDRAILS_H

struct worker;
struct cJSON;

/* Adds "breakers" (each dependency's breaker, limiter and bulkhead),
 * "limiters", "policy" (the guardrails applied, policy_applied_json), "shed",
 * "fallbacks" and "paused" (queues not read from) to a heartbeat report. */
struct cJSON;
void worker_report_resilience(struct worker *w, struct cJSON *report);

#endif
