/* libFuzzer target: queue addresses typed by operators. A parsed address
 * printed and parsed again must be the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct queue_address a, b;
    char err[512];
    if (queue_address_parse(text, NULL, &a, err, sizeof err) == 0) {
        char *printed = queue_address_format(&a);
        if (queue_address_parse(printed, NULL, &b, err, sizeof err) != 0 || a.kind != b.kind ||
            strcmp(a.name, b.name) != 0 || (a.group && strcmp(a.group, b.group) != 0))
            abort();
        queue_address_free(&b);
        free(printed);
        queue_address_free(&a);
    }
    free(text);
    return 0;
}
