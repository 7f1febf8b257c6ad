/* libFuzzer target: message recognition must accept any bytes a broker
 * hands over — recognise, never crash, never read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct envelope_info info;
    envelope_inspect((const char *)data, size, &info);
    if (memchr(info.identity, '\0', sizeof info.identity) == NULL || memchr(info.type, '\0', sizeof info.type) == NULL)
        abort();   /* both must be terminated strings */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    (void)envelope_parse_time(text);
    free(text);
    return 0;
}
