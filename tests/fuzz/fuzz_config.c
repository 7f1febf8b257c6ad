/* libFuzzer target: the INI config. Any text either parses or is refused
 * with "name:line: reason"; everything parsed is released by config_free
 * (LeakSanitizer checks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct config cfg;
    char err[512] = "";
    config_defaults(&cfg);
    if (config_parse_string(text, "fuzz", &cfg, err, sizeof err) < 0 && strncmp(err, "fuzz", 4) != 0)
        abort();
    config_free(&cfg);
    free(text);
    return 0;
}
