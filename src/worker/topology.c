/* Declaring the worker's RabbitMQ topology; see topology.h. */
#include "worker/topology.h"

#include <stdio.h>
#include <stdlib.h>

#include "control/keys.h"
#include "core/xalloc.h"
#include "worker/amqp-link.h"

char *topology_retry_queue(const char *queue, unsigned tier_ms) { return xasprintf("%s.retry.%u", queue, tier_ms); }

static int declare(amqp_connection_state_t conn, const char *queue, amqp_table_t args, char *err, size_t errlen)
{
    amqp_queue_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    char what[300];
    snprintf(what, sizeof what, "queue.declare %s", queue);
    return amqp_link_check(amqp_get_rpc_reply(conn), what, err, errlen);
}

int topology_declare_queue(amqp_connection_state_t conn, const char *queue, char *err, size_t errlen)
{
    amqp_table_entry_t e[2] = {
        {.key = amqp_cstring_bytes("x-dead-letter-exchange"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(AMQP_DLX)}},
        {.key = amqp_cstring_bytes("x-dead-letter-routing-key"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(queue)}},
    };
    if (topology_declare_dead(conn, queue, err, errlen) < 0)
        return -1;
    return declare(conn, queue, (amqp_table_t){.num_entries = 2, .entries = e}, err, errlen);
}

int topology_declare_dead(amqp_connection_state_t conn, const char *queue, char *err, size_t errlen)
{
    amqp_exchange_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(AMQP_DLX), amqp_cstring_bytes("direct"), 0, 1, 0,
                          0, amqp_empty_table);
    if (amqp_link_check(amqp_get_rpc_reply(conn), "exchange.declare " AMQP_DLX, err, errlen) < 0)
        return -1;
    char *dlq = xasprintf("%s%s", queue, DLQ_SUFFIX_AMQP);
    int rc = declare(conn, dlq, amqp_empty_table, err, errlen);
    if (rc == 0) {
        amqp_queue_bind(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(dlq), amqp_cstring_bytes(AMQP_DLX),
                        amqp_cstring_bytes(queue), amqp_empty_table);
        rc = amqp_link_check(amqp_get_rpc_reply(conn), "queue.bind", err, errlen);
    }
    free(dlq);
    return rc;
}

int topology_declare_retry(amqp_connection_state_t conn, const char *queue, unsigned tier_ms, char *err,
                           size_t errlen)
{
    amqp_table_entry_t e[3] = {
        {.key = amqp_cstring_bytes("x-message-ttl"), .value = {.kind = AMQP_FIELD_KIND_I64, .value.i64 = tier_ms}},
        {.key = amqp_cstring_bytes("x-dead-letter-exchange"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("")}},
        {.key = amqp_cstring_bytes("x-dead-letter-routing-key"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(queue)}},
    };
    char *name = topology_retry_queue(queue, tier_ms);
    int rc = declare(conn, name, (amqp_table_t){.num_entries = 3, .entries = e}, err, errlen);
    free(name);
    return rc;
}
