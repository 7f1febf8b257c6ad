/* libFuzzer target: `qdeck sim`'s trace records, any bytes in a JSONL
 * file. Each line must parse into a record that keeps the reader's
 * promises (required fields there, ranges kept, names interned) or be
 * refused with one line saying which field; blank lines are skipped. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sim_trace tr = {0};
    const char *text = (const char *)data;
    for (size_t pos = 0; pos <= size;) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - text) : size;
        struct sim_record r;
        char err[200] = "";
        int rc = sim_trace_parse_line(&tr, text + pos, end - pos, &r, err, sizeof err);
        if (rc == 0) {
            if (r.type < 0 || (size_t)r.type >= tr.types.n || r.queue < 0 || (size_t)r.queue >= tr.queues.n ||
                !isfinite(r.t) || !(r.service >= 0) || r.priority < 0 || r.priority > 255 || r.attempt < 1 ||
                r.outcome < SIM_OK || r.outcome > SIM_DLQ || !(r.tokens_in >= 0) || !(r.tokens_out >= 0) ||
                !(r.deadline >= 0) || !tr.types.names[r.type][0])
                abort();
        } else if (rc < 0) {
            if (!err[0] || strchr(err, '\n'))
                abort();   /* one line, and it says something */
        } else if (rc != 1) {
            abort();
        }
        pos = end + 1;
    }
    sim_trace_free(&tr);
    return 0;
}
