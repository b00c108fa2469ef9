/* mxprov-plugin.c: the plugin instance and the option readers plugins use. */
#include "config.h"

#include <mxprov/mxprov-plugin.h>
#include "mxprov-plugin-private.h"

struct _MxprovPlugin {
  GModule *module;
  const MxprovPluginInfo *info; /* points into module */
  gchar *filename;
  gpointer data;
  GDestroyNotify data_destroy;
};

MxprovPlugin *
mxprov_plugin_new (GModule *module, const MxprovPluginInfo *info, const gchar *filename)
{
  MxprovPlugin *self = g_new0 (MxprovPlugin, 1);
  self->module = module;
  self->info = info;
  self->filename = g_strdup (filename);
  return self;
}

MxprovPlugin *
mxprov_plugin_new_instance (MxprovPlugin *loaded)
{
  /* No module: `loaded` keeps it open for both. */
  return mxprov_plugin_new (NULL, loaded->info, loaded->filename);
}

void
mxprov_plugin_free (MxprovPlugin *self)
{
  if (self == NULL)
    return;
  if (self->info->finalize != NULL)
    self->info->finalize (self);
  if (self->data_destroy != NULL && self->data != NULL)
    self->data_destroy (self->data);
  g_free (self->filename);
  /* Close last: info and every callback live in the module's memory. */
  if (self->module != NULL)
    g_module_close (self->module);
  g_free (self);
}

const MxprovPluginInfo *
mxprov_plugin_get_info_struct (MxprovPlugin *self)
{
  return self->info;
}

const gchar *
mxprov_plugin_get_name (MxprovPlugin *self)
{
  return self->info->name;
}

const gchar *
mxprov_plugin_get_filename (MxprovPlugin *self)
{
  return self->filename;
}

void
mxprov_plugin_set_data (MxprovPlugin *self, gpointer data, GDestroyNotify destroy)
{
  if (self->data_destroy != NULL && self->data != NULL)
    self->data_destroy (self->data);
  self->data = data;
  self->data_destroy = destroy;
}

gpointer
mxprov_plugin_get_data (MxprovPlugin *self)
{
  return self->data;
}

gboolean
mxprov_config_get_string (GKeyFile *config, const gchar *group, const gchar *key,
                          const gchar *default_value, gchar **out_value, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *value = NULL;

  if (config == NULL || !g_key_file_has_key (config, group, key, NULL))
    {
      *out_value = g_strdup (default_value);
      return TRUE;
    }
  value = g_key_file_get_string (config, group, key, &error_local);
  if (value == NULL)
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "[%s] %s: %s", group, key, error_local->message);
      return FALSE;
    }
  if (*g_strstrip (value) == '\0')
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "[%s] %s is empty; remove the line to use the default", group, key);
      return FALSE;
    }
  *out_value = g_steal_pointer (&value);
  return TRUE;
}

gboolean
mxprov_config_get_uint (GKeyFile *config, const gchar *group, const gchar *key,
                        guint default_value, guint min_value, guint max_value,
                        guint *out_value, GError **error)
{
  g_autofree gchar *text = NULL;
  guint64 value;

  if (config == NULL || !g_key_file_has_key (config, group, key, NULL))
    {
      *out_value = default_value;
      return TRUE;
    }
  if (!mxprov_config_get_string (config, group, key, NULL, &text, error))
    return FALSE;
  if (!g_ascii_string_to_unsigned (text, 10, min_value, max_value, &value, NULL))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "[%s] %s = '%s' is not a whole number from %u to %u",
                   group, key, text, min_value, max_value);
      return FALSE;
    }
  *out_value = (guint) value;
  return TRUE;
}
