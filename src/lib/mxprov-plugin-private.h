/* mxprov-plugin-private.h: the plugin instance, for the host's loader.
 * Not installed: plugins see MxprovPlugin as opaque. */
#pragma once

#include <mxprov/mxprov-plugin.h>

G_BEGIN_DECLS

/* Takes ownership of `module` (may be NULL for built-in test plugins). */
MxprovPlugin *mxprov_plugin_new (GModule *module, const MxprovPluginInfo *info,
                                 const gchar *filename);
/* Another instance of a loaded plugin (its own private data), sharing its
 * module: `loaded` must outlive it. */
MxprovPlugin *mxprov_plugin_new_instance (MxprovPlugin *loaded);
void mxprov_plugin_free (MxprovPlugin *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovPlugin, mxprov_plugin_free)
const gchar *mxprov_plugin_get_filename (MxprovPlugin *self);

G_END_DECLS
