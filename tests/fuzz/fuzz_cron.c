/* libFuzzer target: cron expressions come from config files. Parsing any
 * text must fail with a message or give an expression whose next run is
 * after the start and matches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char text[257], err[256];
    memcpy(text, data, size);
    text[size] = '\0';
    struct cron_expr e;
    if (cron_parse(text, &e, err, sizeof err) == 0) {
        time_t start = 1764000000;   /* 2025-11-24 */
        time_t next = cron_next(&e, start);
        if (next != (time_t)-1 && (next <= start || !cron_matches(&e, next)))
            abort();
    } else if (!err[0]) {
        abort();   /* a refusal always says why */
    }
    return 0;
}
