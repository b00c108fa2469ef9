/* mxprov-loader.c: GModule-based plugin loader. */
#include "config.h"

#include <gmodule.h>

#include <mxprov/mxprov-plugin.h>
#include "mxprov-loader.h"
#include "mxprov-step-config.h"

G_DEFINE_QUARK (mxprov-loader-error-quark, mxprov_loader_error)

gchar **
mxprov_loader_search_path (const gchar *config_dir)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const gchar *env = g_getenv ("MXPROV_PLUGIN_PATH");

  if (env != NULL && *env != '\0')
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (gsize i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_strv_builder_add (builder, parts[i]);
    }
  if (config_dir != NULL)
    g_strv_builder_add (builder, config_dir);
  g_strv_builder_add (builder, PLUGINDIR);
  return g_strv_builder_end (builder);
}

static gboolean
check_descriptor (const MxprovPluginInfo *info, const gchar *filename, GError **error)
{
  if (info == NULL)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                   "%s: %s() returned NULL", filename, MXPROV_PLUGIN_GETTER_SYMBOL);
      return FALSE;
    }
  /* abi_version and struct_size never move, so they are safe to read
   * whatever the plugin was built against. */
  if (info->abi_version != MXPROV_PLUGIN_ABI_VERSION)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_ABI_MISMATCH,
                   "%s: plugin ABI version %u, but this mxprov needs version %u; "
                   "rebuild the plugin against mxprov %s",
                   filename, info->abi_version, MXPROV_PLUGIN_ABI_VERSION, MXPROV_VERSION);
      return FALSE;
    }
  if (info->struct_size < sizeof (MxprovPluginInfo))
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_ABI_MISMATCH,
                   "%s: descriptor is %u bytes, expected at least %u; rebuild the plugin",
                   filename, info->struct_size, (guint) sizeof (MxprovPluginInfo));
      return FALSE;
    }
  if (info->name == NULL || *info->name == '\0')
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                   "%s: the descriptor has no name", filename);
      return FALSE;
    }
  if (!mxprov_step_name_is_valid (info->step))
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                   "%s: plugin '%s' declares step '%s'; expected auth, user, room or bundle",
                   filename, info->name, info->step != NULL ? info->step : "(none)");
      return FALSE;
    }
  if (info->backend == NULL || *info->backend == '\0')
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                   "%s: plugin '%s' has no backend", filename, info->name);
      return FALSE;
    }
  if (info->run == NULL)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                   "%s: plugin '%s' has no run function", filename, info->name);
      return FALSE;
    }
  /* Entries added since ABI 1 came out of the padding: the size a plugin
   * built for ABI 1 reports must stay what this host expects. */
  G_STATIC_ASSERT (sizeof (MxprovPluginInfo) == 2 * sizeof (guint32) + 20 * sizeof (gpointer));
  for (gsize i = 0; i < G_N_ELEMENTS (info->padding); i++)
    {
      if (info->padding[i] != NULL)
        {
          g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                       "%s: plugin '%s' sets reserved descriptor fields; rebuild it against mxprov %s",
                       filename, info->name, MXPROV_VERSION);
          return FALSE;
        }
    }
  return TRUE;
}

MxprovPlugin *
mxprov_loader_open (const gchar *filename, GError **error)
{
  GModule *module;
  MxprovPluginGetInfoFunc get_info = NULL;
  const MxprovPluginInfo *info;

  /* BIND_LOCAL: plugins cannot see each other's symbols; not LAZY, so an
   * unresolved symbol fails here instead of in the middle of a run. */
  module = g_module_open (filename, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_OPEN,
                   "%s: cannot load: %s", filename, g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, MXPROV_PLUGIN_GETTER_SYMBOL, (gpointer *) &get_info)
      || get_info == NULL)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_NO_GETTER,
                   "%s: not an mxprov plugin: it does not export %s() (use MXPROV_PLUGIN_DEFINE)",
                   filename, MXPROV_PLUGIN_GETTER_SYMBOL);
      g_module_close (module);
      return NULL;
    }
  info = get_info ();
  if (!check_descriptor (info, filename, error))
    {
      g_module_close (module);
      return NULL;
    }
  return mxprov_plugin_new (module, info, filename);
}

MxprovPlugin *
mxprov_loader_load (const gchar *const *dirs, const gchar *name, const gchar *step,
                    GError **error)
{
  g_autofree gchar *basename = g_strconcat (name, ".", G_MODULE_SUFFIX, NULL);
  g_autoptr(MxprovPlugin) plugin = NULL;
  const MxprovPluginInfo *info;

  for (gsize i = 0; dirs[i] != NULL; i++)
    {
      g_autofree gchar *filename = g_build_filename (dirs[i], basename, NULL);
      if (!g_file_test (filename, G_FILE_TEST_EXISTS))
        continue;
      plugin = mxprov_loader_open (filename, error);
      if (plugin == NULL)
        return NULL;
      break;
    }
  if (plugin == NULL)
    {
      g_autofree gchar *searched = g_strjoinv (", ", (gchar **) dirs);
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_NOT_FOUND,
                   "plugin '%s' for step '%s' not found (looked for %s in %s; "
                   "run 'mxprov plugins' to list the installed ones)",
                   name, step, basename, searched);
      return NULL;
    }
  info = mxprov_plugin_get_info_struct (plugin);
  if (g_strcmp0 (info->name, name) != 0)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID,
                   "%s: the file is named for plugin '%s' but its descriptor says '%s'",
                   mxprov_plugin_get_filename (plugin), name, info->name);
      return NULL;
    }
  if (g_strcmp0 (info->step, step) != 0)
    {
      g_set_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_WRONG_STEP,
                   "%s: plugin '%s' implements step '%s' but is configured for step '%s'",
                   mxprov_plugin_get_filename (plugin), name, info->step, step);
      return NULL;
    }
  return g_steal_pointer (&plugin);
}

static gint
compare_plugin_names (gconstpointer a, gconstpointer b)
{
  MxprovPlugin *pa = *(MxprovPlugin *const *) a;
  MxprovPlugin *pb = *(MxprovPlugin *const *) b;
  const MxprovPluginInfo *ia = mxprov_plugin_get_info_struct (pa);
  const MxprovPluginInfo *ib = mxprov_plugin_get_info_struct (pb);
  gint step_cmp = mxprov_step_order (ia->step) - mxprov_step_order (ib->step);

  return step_cmp != 0 ? step_cmp : g_strcmp0 (ia->name, ib->name);
}

GPtrArray *
mxprov_loader_scan (const gchar *const *dirs, GPtrArray **out_errors)
{
  g_autoptr(GPtrArray) plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) mxprov_plugin_free);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (gsize i = 0; dirs[i] != NULL; i++)
    {
      g_autoptr(GDir) dir = g_dir_open (dirs[i], 0, NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const gchar *entry;

      if (dir == NULL)
        continue;
      while ((entry = g_dir_read_name (dir)) != NULL)
        if (g_str_has_suffix (entry, "." G_MODULE_SUFFIX))
          g_ptr_array_add (names, g_strdup (entry));
      for (guint j = 0; j < names->len; j++)
        {
          const gchar *basename = g_ptr_array_index (names, j);
          g_autofree gchar *filename = g_build_filename (dirs[i], basename, NULL);
          g_autoptr(GError) error = NULL;
          MxprovPlugin *plugin;

          if (g_hash_table_contains (seen, basename))
            continue;
          g_hash_table_add (seen, g_strdup (basename));
          plugin = mxprov_loader_open (filename, &error);
          if (plugin == NULL)
            g_ptr_array_add (errors, g_strdup (error->message));
          else
            g_ptr_array_add (plugins, plugin);
        }
    }
  g_ptr_array_sort (plugins, compare_plugin_names);
  if (out_errors != NULL)
    *out_errors = g_steal_pointer (&errors);
  return g_steal_pointer (&plugins);
}
