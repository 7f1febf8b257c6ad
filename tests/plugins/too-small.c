/* Fixture: declares a struct size smaller than the fields qdeck reads (a
 * plugin from before the ABI grew, or a corrupt one); qdeck must refuse it
 * rather than read past its end. */
#include "qdeck-plugin.h"

static const struct qdeck_plugin too_small_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = 16,
    .name = "too-small",
    .version = "1",
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &too_small_plugin;
}
