/* libFuzzer target: what a worker's policy watcher reads back from Redis,
 * where anyone may have written it: the whole qdeck:policy hash (lines
 * name=value) and qdeck:breaker (lines breaker:dep=command). The snapshot
 * built from it keeps exactly the valid pairs, each readable back as its
 * canonical value, answers queue/dep/task lookups, and reports itself as
 * the JSON a heartbeat carries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char none[1];
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct policy_entry pairs[64];
    struct policy_breaker breakers[16];
    size_t n = 0, nb = 0, valid = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *value = strchr(line, '=');
        if (value)
            *value++ = '\0';
        if (strncmp(line, "breaker:", 8) == 0 && nb < 16) {
            breakers[nb] = (struct policy_breaker){line + 8, value ? value : none, nb + 1};
            nb++;
        } else if (n < 64) {
            pairs[n++] = (struct policy_entry){line, value ? value : none};
        }
    }
    for (size_t i = 0; i < n; i++) {
        char canonical[128], err[1024];
        valid += policy_validate(pairs[i].name, pairs[i].value, canonical, sizeof canonical, err, sizeof err) == 0;
    }
    struct policy *p = policy_build(pairs, n, breakers, nb, 1);
    if (p->nentries != valid || p->nbreakers != nb)
        abort();
    for (size_t i = 0; i < p->nentries; i++) {
        const char *v = policy_value(p, p->entries[i].name);
        if (!v || (i + 1 < p->nentries && strcmp(p->entries[i].name, p->entries[i + 1].name) > 0))
            abort();
    }
    for (size_t i = 0; i < n; i++) {
        (void)policy_queue(p, pairs[i].name);
        (void)policy_dep(p, pairs[i].name);
        (void)policy_task(p, pairs[i].name);
    }
    struct shed_guardrails g;
    policy_shed_guardrails(p, "amqp:orders", 5, &g);
    cJSON *applied = policy_applied_json(p);
    char *json = cJSON_PrintUnformatted(applied);
    if (!json || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(applied, "values")))
        abort();
    free(json);
    if (g.max_depth < -1)
        abort();
    cJSON_Delete(applied);
    policy_release(p);
    free(text);
    return 0;
}
