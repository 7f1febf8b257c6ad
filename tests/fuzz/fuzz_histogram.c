/* libFuzzer target: histogram encodings arrive in other workers'
 * heartbeats. Decoding garbage must fail cleanly; whatever decodes must
 * encode and decode again to the same counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct histogram *h = histogram_new(), *again = histogram_new();
    if (histogram_decode(h, text) == 0) {
        char *enc = histogram_encode(h);
        if (histogram_decode(again, enc) != 0 || histogram_count(again) != histogram_count(h) ||
            histogram_percentile(again, 0.99) != histogram_percentile(h, 0.99))
            abort();
        free(enc);
    }
    histogram_free(h);
    histogram_free(again);
    free(text);
    return 0;
}
