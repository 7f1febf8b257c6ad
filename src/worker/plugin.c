/* Handler plugin loader: dlopen, one dlsym, ABI and size checks, dlclose on
 * any failure (as Redis loads modules). */
#include "worker/plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"

/* The fields qdeck reads; a plugin built with fewer is refused. ABI 1 and 2
 * have the same struct qdeck_plugin and struct qdeck_task layouts (only the
 * type the cancelled flag is read through differs; see qdeck-plugin.h), so
 * one check serves both. */
#define PLUGIN_MIN_SIZE (offsetof(struct qdeck_plugin, cancel) + sizeof(void *))

char *plugin_default_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return xstrdup("plugins");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    char *dir = xasprintf("%s/plugins", exe);
#ifdef QDECK_INSTALL_PLUGIN_DIR
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(dir);
        dir = xstrdup(QDECK_INSTALL_PLUGIN_DIR);
    }
#endif
    return dir;
}

char *plugin_install_dir(void)
{
#ifdef QDECK_INSTALL_PLUGIN_DIR
    return xstrdup(QDECK_INSTALL_PLUGIN_DIR);
#else
    return NULL;
#endif
}

static bool valid_name(const char *name)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

struct plugin *plugin_load(const char *dir, const char *name, char *err, size_t errlen)
{
    if (!valid_name(name)) {
        snprintf(err, errlen, "plugin name '%s' is not a plain name (letters, digits, _ and -)", name);
        return NULL;
    }
    char *path = xasprintf("%s/%s.so", dir, name);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, errlen, "plugin %s: cannot load: %s", name, dlerror());
        free(path);
        return NULL;
    }
    qdeck_plugin_entry_fn entry;
    void *sym = dlsym(dl, QDECK_PLUGIN_ENTRY);
    memcpy(&entry, &sym, sizeof entry);   /* object to function pointer, as POSIX allows */
    const struct qdeck_plugin *api = entry ? entry() : NULL;
    const char *why = NULL;
    char buf[160];
    if (!entry) {
        why = "has no entry symbol " QDECK_PLUGIN_ENTRY;
    } else if (!api) {
        why = "entry returned NULL";
    } else if (api->abi < QDECK_PLUGIN_ABI_MIN || api->abi > QDECK_PLUGIN_ABI) {
        snprintf(buf, sizeof buf, "was built for plugin ABI %u, this qdeck speaks %u (and loads %u to %u)", api->abi,
                 QDECK_PLUGIN_ABI, QDECK_PLUGIN_ABI_MIN, QDECK_PLUGIN_ABI);
        why = buf;
    } else if (api->size < PLUGIN_MIN_SIZE) {
        snprintf(buf, sizeof buf, "declares size %u, smaller than the %zu bytes of ABI %u", api->size,
                 (size_t)PLUGIN_MIN_SIZE, QDECK_PLUGIN_ABI);
        why = buf;
    } else if (!api->create || (!api->run && !api->submit)) {
        why = "lacks create() or both run() and submit()";
    }
    if (why) {
        snprintf(err, errlen, "plugin %s (%s) refused: %s", name, path, why);
        dlclose(dl);
        free(path);
        return NULL;
    }
    struct plugin *p = xcalloc(1, sizeof *p);
    p->name = xstrdup(name);
    p->path = path;
    p->dl = dl;
    p->api = api;
    return p;
}

void plugin_unload(struct plugin *p)
{
    if (!p)
        return;
    dlclose(p->dl);
    free(p->name);
    free(p->path);
    free(p);
}
