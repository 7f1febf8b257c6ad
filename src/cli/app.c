/* Helpers every command uses: error lines, the "is anything configured"
 * check, the check of the TLS files, and blocking stdout/stderr. */
#include "cli/app.h"

#include <cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "net/tls.h"

const struct exit_code_doc exit_codes[] = {
    {EXIT_OK, "ok"},
    {EXIT_FAILED, "operation failed"},
    {EXIT_USAGE, "usage error"},
    {EXIT_UNREACHABLE, "cannot reach a broker"},
    {0, NULL},
};

static int inherited_flags[3] = {-1, -1, -1};

static void restore_stdio_flags(void)
{
    for (int fd = 1; fd <= 2; fd++)
        if (inherited_flags[fd] >= 0)
            fcntl(fd, F_SETFL, inherited_flags[fd]);
}

void stdio_blocking(void)
{
    bool changed = false;
    for (int fd = 1; fd <= 2; fd++) {
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0 && (flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0) {
            inherited_flags[fd] = flags;
            changed = true;
        }
    }
    if (changed)
        atexit(restore_stdio_flags);
}

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

int app_check_tls(const struct app *app)
{
    const struct context_config *c = app->ctx;
    char err[700];
    if (!c || (!c->tls.ca && !c->tls.cert && !c->tls.key) || tls_check_files(&c->tls, err, sizeof err) == 0)
        return EXIT_OK;
    return fail(EXIT_USAGE, "context %s: %s", c->name, err);
}

void print_json(cJSON *o)
{
    char *text = cJSON_Print(o);
    puts(text);
    cJSON_free(text);
    cJSON_Delete(o);
}

void print_result_json(const char *action, const char *target, bool ok, const char *result, cJSON *extra)
{
    cJSON *o = extra ? extra : cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", action);
    cJSON_AddStringToObject(o, "target", target ? target : "");
    cJSON_AddBoolToObject(o, "ok", ok);
    cJSON_AddStringToObject(o, "result", result ? result : "");
    print_json(o);
}

void json_add_count(cJSON *o, const char *key, int64_t v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)v);
}

void json_add_real(cJSON *o, const char *key, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, round(v * 1000) / 1000);
}
