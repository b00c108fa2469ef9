/* shared-secret-auth: the auth step for servers where the admin has the
 * registration shared secret instead of an admin account: Dendrite, or a
 * Synapse without one. It reads the secret (from `secret-file`, or
 * MXPROV_REGISTRATION_SECRET; never from the command line) and checks that
 * the server has shared-secret registration enabled, so that a wrong setup
 * fails before anything is attempted. */
#include "config.h"

#include <mxprov/mxprov.h>

#define REGISTER_PATH "/_synapse/admin/v1/register"

typedef struct {
  gchar *secret_file;
} SharedSecretAuth;

static void
shared_secret_auth_free (gpointer data)
{
  SharedSecretAuth *self = data;
  g_free (self->secret_file);
  g_free (self);
}

static gboolean
shared_secret_auth_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group,
                         GError **error)
{
  SharedSecretAuth *self = g_new0 (SharedSecretAuth, 1);

  mxprov_plugin_set_data (plugin, self, shared_secret_auth_free);
  return mxprov_config_get_string (config, group, "secret-file", NULL, &self->secret_file, error);
}

/* The environment wins over secret-file= of a config file, as users of
 * git, curl and ssh expect: a one-off run can use another secret without
 * editing the config. */
static gchar *
read_secret (SharedSecretAuth *self, GError **error)
{
  const gchar *env = g_getenv ("MXPROV_REGISTRATION_SECRET");

  if (env != NULL && *env != '\0')
    {
      gchar *secret = g_strdup (env);
      g_unsetenv ("MXPROV_REGISTRATION_SECRET");
      return secret;
    }
  if (self->secret_file != NULL)
    return mxprov_secret_read_file (self->secret_file, "registration shared secret", error);
  g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                       "no registration shared secret: set secret-file= in the [auth] group of "
                       "the config, or MXPROV_REGISTRATION_SECRET");
  return NULL;
}

static gboolean
shared_secret_auth_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SharedSecretAuth *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovSecret) secret = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;

  secret = read_secret (self, error);
  if (secret == NULL)
    return FALSE;

  /* Asking for a nonce changes nothing on the server and tells whether
   * the feature is on: Dendrite has no such endpoint without a secret
   * configured, Synapse refuses it. */
  answer = mxprov_http_request (mxprov_context_get_http (context), "GET", REGISTER_PATH, NULL,
                                NULL, NULL, &error_local);
  if (answer == NULL)
    {
      if (mxprov_matrix_error_get_status (error_local) == 404
          || mxprov_matrix_error_get_status (error_local) == 400)
        g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                     "the server does not offer shared-secret registration (%s); enable it "
                     "(Synapse: registration_shared_secret; Dendrite: "
                     "client_api.registration_shared_secret) or use the synapse-auth plugin",
                     error_local->message);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "checking for shared-secret registration: ");
      return FALSE;
    }
  mxprov_context_take (context, "registration.secret", g_steal_pointer (&secret),
                       MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

static const gchar *const provides[] = { "registration.secret", NULL };
static const gchar *const options[] = { "secret-file", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "shared-secret-auth",
  .step = "auth",
  .backend = "shared-secret",
  .description = "Registration shared secret (Dendrite, or Synapse without an admin account)",
  .requires = NULL,
  .provides = provides,
  .options = options,
  .init = shared_secret_auth_init,
  .run = shared_secret_auth_run,
)
