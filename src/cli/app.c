/* Helpers every command uses: error lines and the "is anything configured"
 * check. */
#include "cli/app.h"

#include <stdarg.h>
#include <stdio.h>

int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qdeck: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int app_require_sources(struct app *app)
{
    const struct context_config *c = app->ctx;
    if (!c || (!c->amqp && !c->mgmt && !c->redis))
        return fail(EXIT_USAGE, "nothing to watch: give --amqp/--mgmt/--redis URLs, set QDECK_*_URL, "
                                "or write a [context NAME] in qdeck.conf (see --help-config)");
    return EXIT_OK;
}
