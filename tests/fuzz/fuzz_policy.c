/* libFuzzer target: guardrail names and values come from the command line,
 * the TUI and (written by anyone) the qdeck:policy hash. Input is split at
 * the first '=' into name and value: validation must never crash, and a
 * canonical value it accepts must validate again to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *value = strchr(text, '=');
    if (value)
        *value++ = '\0';
    char canonical[128], again[128], err[1024];
    if (policy_validate(text, value ? value : "", canonical, sizeof canonical, err, sizeof err) == 0) {
        if (policy_validate(text, canonical, again, sizeof again, err, sizeof err) != 0 || strcmp(canonical, again))
            abort();
        struct policy_entry e = {text, canonical};
        struct policy *p = policy_build(&e, 1, NULL, 0, 1);
        if (p->nentries != 1)
            abort();
        policy_release(p);
    }
    free(text);
    return 0;
}
