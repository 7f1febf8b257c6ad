/* libFuzzer target: histogram_decode reads heartbeats other processes wrote
 * to Redis. Any input must either decode into a histogram that re-encodes
 * to a string that decodes to the same buckets, or be refused with the
 * histogram left empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct histogram h, back;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (histogram_decode(&h, text) == 0) {
        char *again = histogram_encode(&h);
        if (histogram_decode(&back, again) != 0 || memcmp(h.buckets, back.buckets, sizeof h.buckets) != 0)
            abort();
        struct histogram_summary s;
        histogram_summarize(&h, &s);
        if (s.count && (s.p50 < s.min || s.p999 > s.max))
            abort();
        free(again);
    } else if (histogram_count(&h) != 0) {
        abort();
    }
    free(text);
    return 0;
}
