/* mxprov-step-config.c: parse and validate the step config file. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov-error.h>
#include "mxprov-step-config.h"

const gchar *const mxprov_step_names[] = { "auth", "user", "room", "bundle", NULL };

const gchar mxprov_step_config_default_text[] =
  "[pipeline]\n"
  "steps=auth;user;room;bundle\n"
  "\n"
  "[auth]\n"
  "plugin=synapse-auth\n"
  "\n"
  "[user]\n"
  "plugin=synapse-user\n"
  "\n"
  "[room]\n"
  "plugin=matrix-room\n"
  "\n"
  "[bundle]\n"
  "plugin=lotti-bundle\n";

/* Groups the host reads itself; every other group must be a step. */
static const gchar *const pipeline_keys[] = { "steps", "plugin-dir", NULL };
static const gchar *const provision_keys[] = {
  "homeserver", "admin-user", "admin-password-file", "admin-token-file", "display-name", "cacert",
  "timeout", "request-timeout", "retries", NULL
};

gboolean
mxprov_step_name_is_valid (const gchar *step)
{
  return step != NULL && g_strv_contains (mxprov_step_names, step);
}

gint
mxprov_step_order (const gchar *step)
{
  for (gint i = 0; mxprov_step_names[i] != NULL; i++)
    if (g_strcmp0 (mxprov_step_names[i], step) == 0)
      return i;
  return -1;
}

void
mxprov_step_config_free (MxprovStepConfig *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  g_free (self->source);
  g_strfreev (self->steps);
  g_strfreev (self->plugins);
  g_free (self->plugin_dir);
  g_free (self);
}

/* Plugin names become file names: keep them to a safe alphabet so a config
 * cannot load "../../tmp/evil". */
static gboolean
plugin_name_is_valid (const gchar *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const gchar *p = name; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
check_known_keys (GKeyFile *keyfile, const gchar *group, const gchar *const *known,
                  const gchar *source, GError **error)
{
  g_auto(GStrv) keys = g_key_file_get_keys (keyfile, group, NULL, NULL);

  for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      if (!g_strv_contains (known, keys[i]))
        {
          g_autofree gchar *list = g_strjoinv (", ", (gchar **) known);
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s: unknown key '%s' in [%s] (known: %s)",
                       source, keys[i], group, list);
          return FALSE;
        }
    }
  return TRUE;
}

MxprovStepConfig *
mxprov_step_config_load_data (const gchar *data, const gchar *source, GError **error)
{
  g_autoptr(MxprovStepConfig) self = g_new0 (MxprovStepConfig, 1);
  g_autoptr(GError) error_local = NULL;
  g_auto(GStrv) groups = NULL;
  g_autoptr(GPtrArray) plugins = g_ptr_array_new_with_free_func (g_free);
  gsize n_steps = 0;
  gint last_index = -1;

  self->source = g_strdup (source);
  self->keyfile = g_key_file_new ();
  if (!g_key_file_load_from_data (self->keyfile, data, (gsize) -1, G_KEY_FILE_NONE,
                                  &error_local))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "%s: %s", source, error_local->message);
      return NULL;
    }

  if (!g_key_file_has_group (self->keyfile, "pipeline"))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                   "%s: no [pipeline] group; it needs at least steps=auth;user;room;bundle",
                   source);
      return NULL;
    }
  if (!check_known_keys (self->keyfile, "pipeline", pipeline_keys, source, error))
    return NULL;
  if (g_key_file_has_group (self->keyfile, "provision")
      && !check_known_keys (self->keyfile, "provision", provision_keys, source, error))
    return NULL;

  self->steps = g_key_file_get_string_list (self->keyfile, "pipeline", "steps", &n_steps,
                                            &error_local);
  if (self->steps == NULL || n_steps == 0)
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                   "%s: [pipeline] steps is missing or empty (e.g. steps=auth;user;room;bundle)",
                   source);
      return NULL;
    }
  for (gsize i = 0; i < n_steps; i++)
    {
      gint index;
      g_autofree gchar *plugin = NULL;

      g_strstrip (self->steps[i]);
      index = mxprov_step_order (self->steps[i]);
      if (index < 0)
        {
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                       "%s: [pipeline] steps: unknown step '%s' (steps are auth, user, room, bundle)",
                       source, self->steps[i]);
          return NULL;
        }
      /* Each step consumes what earlier ones made; running them out of order
       * or twice cannot be right. */
      if (index <= last_index)
        {
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                       "%s: [pipeline] steps: '%s' is repeated or out of order (the order is auth;user;room;bundle)",
                       source, self->steps[i]);
          return NULL;
        }
      last_index = index;
      if (!g_key_file_has_group (self->keyfile, self->steps[i]))
        {
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                       "%s: step '%s' is in [pipeline] steps but has no [%s] group with plugin=NAME",
                       source, self->steps[i], self->steps[i]);
          return NULL;
        }
      plugin = g_key_file_get_string (self->keyfile, self->steps[i], "plugin", NULL);
      if (plugin == NULL)
        {
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                       "%s: [%s] has no plugin=NAME", source, self->steps[i]);
          return NULL;
        }
      g_strstrip (plugin);
      if (!plugin_name_is_valid (plugin))
        {
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                       "%s: [%s] plugin='%s' is not a plugin name (a-z, 0-9, '-' and '_'; run 'mxprov plugins' for the list)",
                       source, self->steps[i], plugin);
          return NULL;
        }
      g_ptr_array_add (plugins, g_steal_pointer (&plugin));
    }
  g_ptr_array_add (plugins, NULL);
  self->plugins = (gchar **) g_ptr_array_free (g_steal_pointer (&plugins), FALSE);

  /* A group for a step that is not in the pipeline is most likely a typo
   * ([rooom]) or a forgotten step: say so instead of ignoring it. */
  groups = g_key_file_get_groups (self->keyfile, NULL);
  for (gsize i = 0; groups[i] != NULL; i++)
    {
      if (g_strcmp0 (groups[i], "pipeline") == 0 || g_strcmp0 (groups[i], "provision") == 0)
        continue;
      if (!g_strv_contains ((const gchar *const *) self->steps, groups[i]))
        {
          g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s: group [%s] is neither [pipeline], [provision] nor a step listed in [pipeline] steps",
                       source, groups[i]);
          return NULL;
        }
    }

  self->plugin_dir = g_key_file_get_string (self->keyfile, "pipeline", "plugin-dir", NULL);
  if (self->plugin_dir != NULL && !g_path_is_absolute (g_strstrip (self->plugin_dir)))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "%s: [pipeline] plugin-dir '%s' must be an absolute path",
                   source, self->plugin_dir);
      return NULL;
    }
  return g_steal_pointer (&self);
}

MxprovStepConfig *
mxprov_step_config_load_file (const gchar *filename, GError **error)
{
  g_autofree gchar *data = NULL;
  g_autoptr(GError) error_local = NULL;

  if (!g_file_get_contents (filename, &data, NULL, &error_local))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                   "cannot read config file: %s", error_local->message);
      return NULL;
    }
  return mxprov_step_config_load_data (data, filename, error);
}

MxprovStepConfig *
mxprov_step_config_new_default (void)
{
  g_autoptr(GError) error = NULL;
  MxprovStepConfig *self = mxprov_step_config_load_data (mxprov_step_config_default_text,
                                                         "built-in default", &error);
  g_assert_no_error (error);
  return self;
}

static const gchar builtin_shared_secret_text[] =
  "[pipeline]\nsteps=auth;user;room;bundle\n"
  "[auth]\nplugin=shared-secret-auth\n"
  "[user]\nplugin=shared-secret-user\n"
  "[room]\nplugin=matrix-room\n"
  "[bundle]\nplugin=lotti-bundle\n";

static const gchar builtin_registration_token_text[] =
  "[pipeline]\nsteps=auth;user;room;bundle\n"
  "[auth]\nplugin=registration-token-auth\n"
  "[user]\nplugin=registration-token-user\n"
  "[room]\nplugin=matrix-room\n"
  "[bundle]\nplugin=lotti-bundle\n";

static gboolean
env_is_set (const gchar *name)
{
  const gchar *value = g_getenv (name);
  return value != NULL && *value != '\0';
}

MxprovStepConfig *
mxprov_step_config_new_builtin (gboolean admin_credential, GError **error)
{
  gboolean secret = env_is_set ("MXPROV_REGISTRATION_SECRET");
  gboolean token = env_is_set ("MXPROV_REGISTRATION_TOKEN");
  g_autoptr(GError) error_local = NULL;
  MxprovStepConfig *self;

  if ((guint) admin_credential + (guint) secret + (guint) token > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "without a config file the credential chooses the pipeline, and %s%s%s%s%s "
                   "were given: give one, or name the pipeline with --config",
                   admin_credential ? "an admin password or token" : "",
                   admin_credential && (secret || token) ? " and " : "",
                   secret ? "MXPROV_REGISTRATION_SECRET" : "",
                   secret && token ? " and " : "",
                   token ? "MXPROV_REGISTRATION_TOKEN" : "");
      return NULL;
    }
  if (secret)
    self = mxprov_step_config_load_data (builtin_shared_secret_text,
                                         "built-in shared-secret pipeline "
                                         "(MXPROV_REGISTRATION_SECRET is set)", &error_local);
  else if (token)
    self = mxprov_step_config_load_data (builtin_registration_token_text,
                                         "built-in registration-token pipeline "
                                         "(MXPROV_REGISTRATION_TOKEN is set)", &error_local);
  else
    self = mxprov_step_config_new_default ();
  g_assert_no_error (error_local);
  return self;
}

const gchar *
mxprov_step_config_sysconfdir (void)
{
  const gchar *dir = g_getenv ("MXPROV_SYSCONFDIR");
  return dir != NULL && *dir != '\0' ? dir : SYSCONFDIR;
}

gchar *
mxprov_step_config_find (const gchar *explicit_file, const gchar *sysconfdir)
{
  g_autofree gchar *user_file = NULL;
  g_autofree gchar *system_file = NULL;

  if (explicit_file != NULL)
    return g_strdup (explicit_file);
  user_file = g_build_filename (g_get_user_config_dir (), "mxprov", "mxprov.conf", NULL);
  if (g_file_test (user_file, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&user_file);
  if (sysconfdir != NULL)
    {
      system_file = g_build_filename (sysconfdir, "mxprov", "mxprov.conf", NULL);
      if (g_file_test (system_file, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&system_file);
    }
  return NULL;
}

const gchar *
mxprov_step_config_plugin_for (MxprovStepConfig *self, const gchar *step)
{
  for (gsize i = 0; self->steps[i] != NULL; i++)
    if (g_strcmp0 (self->steps[i], step) == 0)
      return self->plugins[i];
  return NULL;
}
