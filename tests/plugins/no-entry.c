/* Fixture: a shared object without the qdeck_plugin_entry symbol (a typo in
 * the entry's name, say); qdeck must refuse it. */
#include "qdeck-plugin.h"

const struct qdeck_plugin *qdeck_plugin_entri(void);
const struct qdeck_plugin *qdeck_plugin_entri(void)
{
    return NULL;
}
