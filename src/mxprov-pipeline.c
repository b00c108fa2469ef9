/* mxprov-pipeline.c: contract checking and the step runner.
 *
 * The runner follows fwupd's plugin runner: a NULL vfunc means "nothing to
 * do", FALSE without a GError is a plugin bug the host reports itself, and
 * errors are prefixed with the plugin's name so the admin knows which step
 * failed. */
#include "config.h"

#include <mxprov/mxprov-plugin.h>
#include "mxprov-loader.h"
#include "mxprov-pipeline.h"

G_DEFINE_QUARK (mxprov-pipeline-error-quark, mxprov_pipeline_error)

struct _MxprovPipeline {
  GPtrArray *plugins; /* MxprovPlugin, in step order */
  guint first;        /* the first step execute ran */
  guint n_ran;        /* steps before this index had their run called */
};

/* Inputs the host fills from the command line or [provision]; the hint
 * tells the admin how to give them. */
static const struct {
  const gchar *key;
  const gchar *hint;
} input_hints[] = {
  { "homeserver", "--homeserver URL (or homeserver= in [provision])" },
  { "admin.user", "--admin-user NAME (or admin-user= in [provision])" },
  { "admin.password", "--admin-password-file FILE, MXPROV_ADMIN_PASSWORD, a terminal to prompt on, "
                      "or an admin token (--admin-token-file FILE, MXPROV_ADMIN_TOKEN)" },
  { "user.localpart", "--username NAME" },
  { "user.displayname", "--display-name NAME (or display-name= in [provision])" },
};

const gchar *
mxprov_pipeline_input_hint (const gchar *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (input_hints); i++)
    if (g_strcmp0 (input_hints[i].key, key) == 0)
      return input_hints[i].hint;
  return NULL;
}

MxprovPipeline *
mxprov_pipeline_new_from_plugins (GPtrArray *plugins)
{
  MxprovPipeline *self = g_new0 (MxprovPipeline, 1);
  self->plugins = plugins;
  return self;
}

void
mxprov_pipeline_free (MxprovPipeline *self)
{
  if (self == NULL)
    return;
  /* Later steps may hold data from earlier ones' modules: free in reverse. */
  while (self->plugins->len > 0)
    g_ptr_array_remove_index (self->plugins, self->plugins->len - 1);
  g_ptr_array_unref (self->plugins);
  g_free (self);
}

static gboolean
check_plugin_options (MxprovPlugin *plugin, GKeyFile *keyfile, const gchar *group,
                      const gchar *source, GError **error)
{
  const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
  g_auto(GStrv) keys = g_key_file_get_keys (keyfile, group, NULL, NULL);

  for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      if (g_strcmp0 (keys[i], "plugin") == 0)
        continue;
      if (info->options == NULL || !g_strv_contains (info->options, keys[i]))
        {
          g_autofree gchar *known = info->options != NULL
                                    ? g_strjoinv (", ", (gchar **) info->options)
                                    : g_strdup ("none");
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s: [%s] '%s' is not an option of plugin '%s' (its options: %s)",
                       source, group, keys[i], info->name, known);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
init_plugin (MxprovPlugin *plugin, MxprovStepConfig *config, const gchar *step, GError **error)
{
  const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
  g_autoptr(GError) error_local = NULL;

  if (info->init == NULL || info->init (plugin, config->keyfile, step, &error_local))
    return TRUE;
  if (error_local == NULL)
    g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG,
                 "%s: init failed without saying why (a bug in the plugin)", info->name);
  else
    g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "%s: ", info->name);
  return FALSE;
}

MxprovPipeline *
mxprov_pipeline_new (MxprovStepConfig *config, const gchar *const *plugin_dirs,
                     GError **error)
{
  g_autoptr(GPtrArray) plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) mxprov_plugin_free);

  for (gsize i = 0; config->steps[i] != NULL; i++)
    {
      const gchar *step = config->steps[i];
      g_autoptr(MxprovPlugin) plugin = NULL;

      plugin = mxprov_loader_load (plugin_dirs, config->plugins[i], step, error);
      if (plugin == NULL)
        return NULL;
      if (!check_plugin_options (plugin, config->keyfile, step, config->source, error)
          || !init_plugin (plugin, config, step, error))
        return NULL;
      g_ptr_array_add (plugins, g_steal_pointer (&plugin));
    }
  return mxprov_pipeline_new_from_plugins (g_steal_pointer (&plugins));
}

MxprovPipeline *
mxprov_pipeline_new_instances (MxprovPipeline *loaded, MxprovStepConfig *config,
                               GError **error)
{
  g_autoptr(GPtrArray) plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) mxprov_plugin_free);

  for (guint i = 0; i < loaded->plugins->len; i++)
    {
      g_autoptr(MxprovPlugin) plugin = mxprov_plugin_new_instance (g_ptr_array_index (loaded->plugins, i));

      if (!init_plugin (plugin, config, config->steps[i], error))
        return NULL;
      g_ptr_array_add (plugins, g_steal_pointer (&plugin));
    }
  return mxprov_pipeline_new_from_plugins (g_steal_pointer (&plugins));
}

guint
mxprov_pipeline_get_n_steps (MxprovPipeline *self)
{
  return self->plugins->len;
}

MxprovPlugin *
mxprov_pipeline_get_plugin (MxprovPipeline *self, guint index)
{
  return g_ptr_array_index (self->plugins, index);
}

gchar **
mxprov_pipeline_get_inputs (MxprovPipeline *self)
{
  g_autoptr(GHashTable) provided = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GStrvBuilder) inputs = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < self->plugins->len; i++)
    {
      const MxprovPluginInfo *info =
        mxprov_plugin_get_info_struct (g_ptr_array_index (self->plugins, i));
      for (gsize k = 0; info->requires != NULL && info->requires[k] != NULL; k++)
        {
          const gchar *key = info->requires[k];
          if (!g_hash_table_contains (provided, key) && !g_hash_table_contains (seen, key))
            {
              g_hash_table_add (seen, (gpointer) key);
              g_strv_builder_add (inputs, key);
            }
        }
      for (gsize k = 0; info->provides != NULL && info->provides[k] != NULL; k++)
        g_hash_table_add (provided, (gpointer) info->provides[k]);
    }
  return g_strv_builder_end (inputs);
}

gboolean
mxprov_pipeline_check (MxprovPipeline *self, MxprovContext *context,
                       const gchar *const *deferred, const gchar *const *outputs,
                       GError **error)
{
  g_autoptr(GHashTable) provided = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < self->plugins->len; i++)
    {
      const MxprovPluginInfo *info =
        mxprov_plugin_get_info_struct (g_ptr_array_index (self->plugins, i));
      for (gsize k = 0; info->requires != NULL && info->requires[k] != NULL; k++)
        {
          const gchar *key = info->requires[k];
          const gchar *hint;

          if (mxprov_context_has (context, key) || g_hash_table_contains (provided, key)
              || (deferred != NULL && g_strv_contains (deferred, key)))
            continue;
          hint = mxprov_pipeline_input_hint (key);
          if (hint != NULL)
            g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT,
                         "step '%s' (plugin %s) needs '%s': give %s",
                         info->step, info->name, key, hint);
          else
            g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_CONTRACT,
                         "step '%s' (plugin %s) needs '%s', which no earlier step provides; "
                         "check [pipeline] steps and the plugins chosen (mxprov plugins shows what each provides)",
                         info->step, info->name, key);
          return FALSE;
        }
      for (gsize k = 0; info->provides != NULL && info->provides[k] != NULL; k++)
        g_hash_table_add (provided, (gpointer) info->provides[k]);
    }
  for (gsize k = 0; outputs != NULL && outputs[k] != NULL; k++)
    {
      if (mxprov_context_has (context, outputs[k]) || g_hash_table_contains (provided, outputs[k]))
        continue;
      g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_CONTRACT,
                   "no step of the pipeline provides '%s', which mxprov needs to print the bundle; "
                   "the pipeline must end with a bundle step",
                   outputs[k]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
run_step (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
  g_autoptr(GError) error_local = NULL;

  g_debug ("step %s: running plugin %s", info->step, info->name);
  if (!info->run (plugin, context, &error_local))
    {
      if (error_local == NULL)
        {
          g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG,
                       "%s: step '%s' failed without saying why (a bug in the plugin; please report it)",
                       info->name, info->step);
          return FALSE;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "%s: ", info->name);
      return FALSE;
    }
  for (gsize k = 0; info->provides != NULL && info->provides[k] != NULL; k++)
    {
      if (!mxprov_context_has (context, info->provides[k]))
        {
          g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG,
                       "%s: step '%s' succeeded but did not set '%s', which it declares it provides "
                       "(a bug in the plugin; please report it)",
                       info->name, info->step, info->provides[k]);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
mxprov_pipeline_execute_from (MxprovPipeline *self, MxprovContext *context,
                              const gchar *first_step, GError **error)
{
  gint wanted = mxprov_step_order (first_step);
  guint first = self->plugins->len;

  g_return_val_if_fail (self->n_ran == 0, FALSE);
  /* steps are in the canonical order (the config enforces it): start at
   * the first one that is not before first_step */
  for (guint i = 0; i < self->plugins->len; i++)
    {
      const MxprovPluginInfo *info =
        mxprov_plugin_get_info_struct (g_ptr_array_index (self->plugins, i));
      if (mxprov_step_order (info->step) >= wanted)
        {
          first = i;
          break;
        }
    }
  self->first = first;
  self->n_ran = self->first;
  for (guint i = self->first; i < self->plugins->len; i++)
    {
      self->n_ran = i + 1;
      if (!run_step (g_ptr_array_index (self->plugins, i), context, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
mxprov_pipeline_execute (MxprovPipeline *self, MxprovContext *context, const gchar *last_step,
                         GError **error)
{
  guint n_steps = self->plugins->len;

  g_return_val_if_fail (self->n_ran == 0, FALSE);

  /* With last_step, run up to and including it, and nothing at all if the
   * pipeline lacks it: --check must never reach a step that creates. */
  if (last_step != NULL)
    {
      n_steps = 0;
      for (guint i = 0; i < self->plugins->len; i++)
        {
          const MxprovPluginInfo *info =
            mxprov_plugin_get_info_struct (g_ptr_array_index (self->plugins, i));
          if (g_strcmp0 (info->step, last_step) == 0)
            n_steps = i + 1;
        }
    }
  for (guint i = 0; i < n_steps; i++)
    {
      self->n_ran = i + 1;
      if (!run_step (g_ptr_array_index (self->plugins, i), context, error))
        return FALSE;
    }
  return TRUE;
}

/* Rollback and cleanup talk to the server after a failure that may have
 * been the run's --timeout running out: give them time of their own. */
static void
grant_grace_time (MxprovContext *context)
{
  MxprovHttp *http = mxprov_context_get_http (context);
  if (http != NULL)
    mxprov_http_set_deadline (http, g_get_monotonic_time () + MXPROV_PIPELINE_GRACE_US);
}

gboolean
mxprov_pipeline_rollback (MxprovPipeline *self, MxprovContext *context)
{
  gboolean all_undone = TRUE;

  grant_grace_time (context);
  /* The failed step too: it may have made something before it failed
   * (a user whose token request then failed). Rollback is best effort:
   * failures are warnings, the original error stays the one reported. */
  for (guint i = self->n_ran; i > self->first; i--)
    {
      MxprovPlugin *plugin = g_ptr_array_index (self->plugins, i - 1);
      const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
      g_autoptr(GError) error = NULL;

      if (info->rollback == NULL)
        continue;
      g_debug ("step %s: rollback by plugin %s", info->step, info->name);
      if (!info->rollback (plugin, context, &error))
        {
          g_warning ("%s: rollback failed: %s", info->name,
                     error != NULL ? error->message : "no reason given (a bug in the plugin)");
          all_undone = FALSE;
        }
    }
  return all_undone;
}

void
mxprov_pipeline_cleanup (MxprovPipeline *self, MxprovContext *context)
{
  grant_grace_time (context);
  /* Cleanup runs for the failed step too: it may have logged in before it
   * failed, and that session must not outlive the run. */
  for (guint i = self->n_ran; i > self->first; i--)
    {
      MxprovPlugin *plugin = g_ptr_array_index (self->plugins, i - 1);
      const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
      if (info->cleanup != NULL)
        {
          g_debug ("step %s: cleanup by plugin %s", info->step, info->name);
          info->cleanup (plugin, context);
        }
    }
}

MxprovPlugin *
mxprov_pipeline_get_plugin_for_step (MxprovPipeline *self, const gchar *step)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      MxprovPlugin *plugin = g_ptr_array_index (self->plugins, i);
      if (g_strcmp0 (mxprov_plugin_get_info_struct (plugin)->step, step) == 0)
        return plugin;
    }
  return NULL;
}

static const gchar *
entry_name (MxprovPipelineEntry entry)
{
  switch (entry)
    {
    case MXPROV_PIPELINE_ENTRY_STATUS:
      return "status";
    case MXPROV_PIPELINE_ENTRY_ADOPT:
      return "adopt";
    case MXPROV_PIPELINE_ENTRY_SET_PASSWORD:
    default:
      return "set_password";
    }
}

static gboolean
has_entry (const MxprovPluginInfo *info, MxprovPipelineEntry entry)
{
  switch (entry)
    {
    case MXPROV_PIPELINE_ENTRY_STATUS:
      return info->status != NULL;
    case MXPROV_PIPELINE_ENTRY_ADOPT:
      return info->adopt != NULL;
    case MXPROV_PIPELINE_ENTRY_SET_PASSWORD:
    default:
      return info->set_password != NULL;
    }
}

/* A step that ran (or whose entry was called) gets rollback and cleanup. */
static void
mark_ran (MxprovPipeline *self, guint index)
{
  if (self->n_ran == 0)
    self->first = index;
  self->first = MIN (self->first, index);
  self->n_ran = MAX (self->n_ran, index + 1);
}

gboolean
mxprov_pipeline_check_entry (MxprovPipeline *self, MxprovPipelineEntry entry,
                             const gchar *step, GError **error)
{
  MxprovPlugin *plugin = mxprov_pipeline_get_plugin_for_step (self, step);

  if (plugin != NULL && has_entry (mxprov_plugin_get_info_struct (plugin), entry))
    return TRUE;
  g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_UNSUPPORTED,
               "not supported by %s: the plugin of step '%s' has no %s entry "
               "(mxprov-plugin(7), since mxprov 0.2)",
               plugin != NULL ? mxprov_plugin_get_name (plugin) : "this pipeline",
               step, entry_name (entry));
  return FALSE;
}

gboolean
mxprov_pipeline_call_entry (MxprovPipeline *self, MxprovContext *context,
                            MxprovPipelineEntry entry, const gchar *first_step,
                            const gchar *required_step, json_object *report, GError **error)
{
  gint wanted = mxprov_step_order (first_step);

  if (!mxprov_pipeline_check_entry (self, entry, required_step, error))
    return FALSE;
  for (guint i = 0; i < self->plugins->len; i++)
    {
      MxprovPlugin *plugin = g_ptr_array_index (self->plugins, i);
      const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
      g_autoptr(GError) error_local = NULL;
      gboolean ok;

      if (mxprov_step_order (info->step) < wanted || !has_entry (info, entry))
        continue;
      mark_ran (self, i);
      g_debug ("step %s: %s by plugin %s", info->step, entry_name (entry), info->name);
      switch (entry)
        {
        case MXPROV_PIPELINE_ENTRY_STATUS:
          ok = info->status (plugin, context, report, &error_local);
          break;
        case MXPROV_PIPELINE_ENTRY_ADOPT:
          ok = info->adopt (plugin, context, &error_local);
          break;
        case MXPROV_PIPELINE_ENTRY_SET_PASSWORD:
        default:
          ok = info->set_password (plugin, context, &error_local);
          break;
        }
      if (ok)
        continue;
      if (error_local == NULL)
        g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG,
                     "%s: %s failed without saying why (a bug in the plugin; please report it)",
                     info->name, entry_name (entry));
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "%s: ", info->name);
      return FALSE;
    }
  return TRUE;
}

gboolean
mxprov_pipeline_execute_step (MxprovPipeline *self, MxprovContext *context, const gchar *step,
                              GError **error)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      MxprovPlugin *plugin = g_ptr_array_index (self->plugins, i);
      if (g_strcmp0 (mxprov_plugin_get_info_struct (plugin)->step, step) != 0)
        continue;
      mark_ran (self, i);
      return run_step (plugin, context, error);
    }
  g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_CONTRACT,
               "the pipeline has no %s step", step);
  return FALSE;
}

gchar *
mxprov_pipeline_describe_results (MxprovPipeline *self, MxprovContext *context)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = self->first; i < self->n_ran; i++)
    {
      const MxprovPluginInfo *info =
        mxprov_plugin_get_info_struct (g_ptr_array_index (self->plugins, i));
      for (gsize k = 0; info->provides != NULL && info->provides[k] != NULL; k++)
        {
          const gchar *key = info->provides[k];
          const gchar *value = mxprov_context_get (context, key);

          /* secrets are named, never shown */
          if (value == NULL || mxprov_context_is_secret (context, key))
            continue;
          g_string_append_printf (text, "%s%s=%s", text->len > 0 ? ", " : "", key, value);
        }
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

gboolean
mxprov_pipeline_run (MxprovPipeline *self, MxprovContext *context, const gchar *last_step,
                     gboolean rollback_on_failure, GError **error)
{
  gboolean ok = mxprov_pipeline_execute (self, context, last_step, error);

  if (!ok && rollback_on_failure)
    mxprov_pipeline_rollback (self, context);
  mxprov_pipeline_cleanup (self, context);
  return ok;
}
