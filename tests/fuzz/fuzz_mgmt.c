/* libFuzzer target: the RabbitMQ management API's answers (anything a
 * proxy or a broken server sends back). The input up to its first NUL is
 * parsed as an /api/overview answer and as one /api/queues page; the rest
 * (or the whole input, without a NUL) as /api/bindings, whose bindings
 * resolve the page's dead-letter targets. Every parser either succeeds or
 * says why; a parsed page seals into a snapshot where each queue is found
 * again by its address (LeakSanitizer checks the frees). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mgmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *page = (const char *)data;
    const char *nul = memchr(data, '\0', size);
    size_t page_len = nul ? (size_t)(nul - page) : size;
    const char *rest = nul ? nul + 1 : page;
    size_t rest_len = nul ? size - page_len - 1 : size;
    char err[512] = "";

    char *server = NULL;
    if (mgmt_parse_overview(page, page_len, &server, err, sizeof err) == SOURCE_OK) {
        if (strncmp(server, "RabbitMQ ", 9) != 0)
            abort();
        free(server);
    } else if (!err[0]) {
        abort();
    }

    struct mgmt_binding_view *bindings;
    size_t nbindings;
    err[0] = '\0';
    if (mgmt_parse_bindings(rest, rest_len, &bindings, &nbindings, err, sizeof err) != SOURCE_OK && !err[0])
        abort();

    struct snapshot *snap = snapshot_new(4);
    int page_count = 0;
    err[0] = '\0';
    if (mgmt_parse_queue_page(page, page_len, 1764000000.0, bindings, nbindings, snap, &page_count, err,
                              sizeof err) == SOURCE_OK) {
        snapshot_seal(snap);
        for (size_t i = 0; i < snap->nqueues; i++)
            if (!snapshot_find(snap, snap->queues[i].addr) || snap->queues[i].kind != QUEUE_AMQP)
                abort();
    } else if (!err[0]) {
        abort();
    }
    snapshot_unref(snap);
    mgmt_bindings_free(bindings, nbindings);
    return 0;
}
