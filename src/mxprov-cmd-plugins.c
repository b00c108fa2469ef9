/* mxprov-cmd-plugins.c: `mxprov plugins`, what is installed and what it needs. */
#include "config.h"

#include <stdio.h>
#include <sysexits.h>

#include <mxprov/mxprov-plugin.h>
#include "mxprov-commands.h"
#include "mxprov-exit.h"
#include "mxprov-loader.h"
#include "mxprov-log.h"
#include "mxprov-step-config.h"

static gchar *
join_keys (const gchar *const *keys)
{
  if (keys == NULL || keys[0] == NULL)
    return g_strdup ("-");
  return g_strjoinv (",", (gchar **) keys);
}

gint
mxprov_cmd_plugins (gint argc, gchar **argv)
{
  g_autofree gchar *config_file = NULL;
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = NULL;
  g_autoptr(GPtrArray) plugins = NULL;
  g_autoptr(GPtrArray) errors = NULL;
  g_autofree gchar *found_config = NULL;
  g_auto(GStrv) dirs = NULL;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "Step config file whose plugin-dir is searched too", "FILE" },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, mxprov_option_verbose_cb,
      "Say more (repeat for debug output)", NULL },
    { NULL }
  };

  options = g_option_context_new ("- list the step plugins found");
  g_option_context_set_summary (options,
    "Lists every plugin in the plugin search path: name, step, backend,\n"
    "the context keys it requires and provides, and its file. Plugins that\n"
    "fail to load are reported on standard error.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_log_error (error);
      return EX_USAGE;
    }
  mxprov_log_setup (mxprov_option_verbosity);

  found_config = mxprov_step_config_find (config_file, mxprov_step_config_sysconfdir ());
  /* without a file, the credentials in the environment choose (the
   * command line of provision may still choose otherwise) */
  config = found_config != NULL
           ? mxprov_step_config_load_file (found_config, &error)
           : mxprov_step_config_new_builtin (g_getenv ("MXPROV_ADMIN_PASSWORD") != NULL
                                             || g_getenv ("MXPROV_ADMIN_TOKEN") != NULL, &error);
  if (config == NULL)
    {
      mxprov_log_error (error);
      return mxprov_exit_code_for_error (error);
    }
  fprintf (stderr, "mxprov: step config: %s\n", config->source);
  dirs = mxprov_loader_search_path (config->plugin_dir);
  plugins = mxprov_loader_scan ((const gchar *const *) dirs, &errors);

  printf ("%-24s %-7s %-19s %-50s %-40s %s\n", "NAME", "STEP", "BACKEND", "REQUIRES",
          "PROVIDES", "FILE");
  for (guint i = 0; i < plugins->len; i++)
    {
      MxprovPlugin *plugin = g_ptr_array_index (plugins, i);
      const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
      g_autofree gchar *requires = join_keys (info->requires);
      g_autofree gchar *provides = join_keys (info->provides);

      printf ("%-24s %-7s %-19s %-50s %-40s %s\n", info->name, info->step, info->backend,
              requires, provides, mxprov_plugin_get_filename (plugin));
    }
  for (guint i = 0; i < errors->len; i++)
    g_warning ("%s", (const gchar *) g_ptr_array_index (errors, i));
  if (plugins->len == 0)
    {
      g_autofree gchar *searched = g_strjoinv (", ", dirs);
      fprintf (stderr, "mxprov: error: no plugins found in %s\n", searched);
      return EX_CONFIG;
    }
  return EX_OK;
}
