/* Every Redis key and channel qdeck itself writes (docs/control-plane.md,
 * docs/envelope.md), named once so the worker, the console
 * and the CLI cannot drift apart. */
#ifndef QDECK_KEYS_H
#define QDECK_KEYS_H

#define KEY_WORKER_PREFIX   "qdeck:worker:"      /* + id: heartbeat JSON, TTL 3 x interval */
#define CHANNEL_WORKERS     "qdeck:workers"      /* PUBLISH of each heartbeat's worker id */
/* Registries, so nothing periodic walks the keyspace (SCAN costs Redis in
 * proportion to every key it holds, queues or not): */
#define KEY_WORKER_REGISTRY "qdeck:registry:workers"    /* ZSET: worker id scored by its last beat (wall s);
                                                           a clean stop removes it, readers prune stale ones */
#define KEY_PROCESSING_REGISTRY "qdeck:registry:processing" /* + ":" + list key: SET of the worker ids with a
                                                           processing list of it, until that is empty */
#define KEY_SCHED_REGISTRY  "qdeck:registry:jobs"       /* SET: names of the jobs with a KEY_SCHED_PREFIX hash */
#define KEY_REGISTRY_PREFIX "qdeck:registry:"
#define KEY_POLICY          "qdeck:policy"       /* hash: guardrail name -> value */
#define KEY_POLICY_META     "qdeck:policy:meta"  /* hash: name -> JSON {by, at} of the last change */
#define CHANNEL_POLICY      "qdeck:policy:changed"
#define KEY_BREAKER_CMD     "qdeck:breaker"      /* hash: dependency -> forced state (open|disabled|reset) */
#define KEY_RATE_PREFIX     "qdeck:rate:"        /* + dependency: GCRA theoretical arrival time (µs, server TIME) */
#define KEY_AUDIT           "qdeck:audit"        /* stream of audit records */
#define KEY_EVENTS          "qdeck:events"       /* stream: breaker transitions, joins, losses, alerts */
#define KEY_SCHED_LEADER    "qdeck:sched:leader" /* SET NX PX lease holding the leader's worker id */
#define KEY_CELERY_LEASE_PREFIX "qdeck:celery:writer:" /* + events source (redacted URL): SET NX PX lease
                                                           held by the Celery collector that writes */
#define KEY_SCHED_PREFIX    "qdeck:sched:job:"   /* + name: hash last_run, next_run, last_result, paused */
#define KEY_TRACE           "qdeck:trace"        /* stream: one record per finished attempt (XADD MAXLEN ~
                                                    [worker] trace_max), read by `qdeck trace export` */
#define KEY_TASK_PREFIX     "qdeck:task:"        /* + task id: result store hash */
#define KEY_DONE_PREFIX     "qdeck:done:"        /* + idempotency key: SET NX PX once completed */
#define KEY_PROCESSING_PREFIX "qdeck:processing:" /* + worker id + ":" + list key: in-flight items */
#define KEY_DELAYED_PREFIX  "qdeck:delayed:"     /* + list key: ZSET of retries scored by due time (ms) */
#define DLQ_SUFFIX_REDIS    ":dlq"               /* <list or stream key>:dlq */
#define DLQ_SUFFIX_AMQP     ".dlq"               /* <queue>.dlq, bound to the dead-letter exchange */
#define AMQP_DLX            "qdeck.dlx"          /* direct exchange, routing key = original queue */

#endif
