/* Loading handler plugins (see src/qdeck-plugin.h for the ABI).
 * plugin_load() opens plugins/NAME.so with dlopen(RTLD_NOW|RTLD_LOCAL),
 * looks up the one entry symbol and checks abi and size; any failure is a
 * clear sentence in err and nothing stays loaded. */
#ifndef QDECK_WORKER_PLUGIN_H
#define QDECK_WORKER_PLUGIN_H

#include <stddef.h>

#include "qdeck-plugin.h"

struct plugin {
    char *name;
    char *path;
    void *dl;
    const struct qdeck_plugin *api;
};

/* The default plugin directory: plugins/ next to the running binary (the
 * build tree), else, when that is no directory, the one `make install` put
 * them in (QDECK_INSTALL_PLUGIN_DIR, compiled in from LIBDIR). */
char *plugin_default_dir(void);
/* QDECK_INSTALL_PLUGIN_DIR (caller frees), or NULL when none was compiled in. */
char *plugin_install_dir(void);
/* Loads dir/name.so; NULL with a reason in err. */
struct plugin *plugin_load(const char *dir, const char *name, char *err, size_t errlen);
void plugin_unload(struct plugin *p);

#endif
