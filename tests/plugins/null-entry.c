/* Fixture: the entry symbol exists but returns NULL; qdeck must refuse it. */
#include <stddef.h>

#include "qdeck-plugin.h"

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return NULL;
}
