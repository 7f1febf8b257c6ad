/* The warning a config file earns when it holds passwords and others may
 * read it (main.c prints it once, at start). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/xalloc.h"

static bool has_secret(const char *url)
{
    if (!url)
        return false;
    const char *at = strchr(url, '@');
    const char *scheme_end = strstr(url, "://");
    return at && scheme_end && memchr(scheme_end + 3, ':', (size_t)(at - scheme_end - 3)) != NULL;
}

char *config_permission_warning(const char *path, const struct config *cfg)
{
    struct stat st;
    if (!path || stat(path, &st) < 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
        return NULL;
    for (size_t i = 0; i < cfg->ncontexts; i++) {
        const struct context_config *c = &cfg->contexts[i];
        if (has_secret(c->amqp) || has_secret(c->mgmt) || has_secret(c->redis))
            return xasprintf("%s holds passwords and is readable by others (mode %03o); chmod 600 it",
                             path, (unsigned)(st.st_mode & 0777));
    }
    return NULL;
}
