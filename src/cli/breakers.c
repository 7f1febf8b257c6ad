/* `qdeck breakers [--json]`: the Breakers view (5) as a command — the same
 * table as `qdeck breaker list` (cli/breaker.c), which stays: each
 * dependency's breaker as every live worker reports it, with the operator
 * command in force. Exit 3 when Redis cannot be reached. */
#include <hiredis/hiredis.h>

#include "cli/app.h"

int cmd_breakers(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "breakers: unknown argument '%s' (usage: qdeck breakers [--json])", a->words[1]);
    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = breaker_list(c, args_flag(a, "json"));
    redisFree(c);
    return rc;
}
