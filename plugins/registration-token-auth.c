/* registration-token-auth: the auth step for registration with a spec
 * registration token (m.login.registration_token, Matrix 1.2): Synapse with
 * registration_requires_token, and the Conduit family (Conduit, conduwuit,
 * Tuwunel, continuwuity), none of which needs an admin account for it.
 *
 * It reads the token (MXPROV_REGISTRATION_TOKEN, else token-file=; never
 * the command line) and, where the server has the validity endpoint, asks
 * whether the token is still good, so that a used-up or expired token is
 * reported before any account is attempted. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>

#define VALIDITY_PATH "/_matrix/client/v1/register/m.login.registration_token/validity"

typedef struct {
  gchar *token_file;
} RegistrationTokenAuth;

static void
registration_token_auth_free (gpointer data)
{
  RegistrationTokenAuth *self = data;
  g_free (self->token_file);
  g_free (self);
}

static gboolean
registration_token_auth_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group,
                              GError **error)
{
  RegistrationTokenAuth *self = g_new0 (RegistrationTokenAuth, 1);

  mxprov_plugin_set_data (plugin, self, registration_token_auth_free);
  return mxprov_config_get_string (config, group, "token-file", NULL, &self->token_file, error);
}

/* The environment wins over token-file= of a config file. */
static gchar *
read_token (RegistrationTokenAuth *self, GError **error)
{
  const gchar *env = g_getenv ("MXPROV_REGISTRATION_TOKEN");

  if (env != NULL && *env != '\0')
    {
      gchar *token = g_strdup (env);
      g_unsetenv ("MXPROV_REGISTRATION_TOKEN");
      return token;
    }
  if (self->token_file != NULL)
    return mxprov_secret_read_file (self->token_file, "registration token", error);
  g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                       "no registration token: set MXPROV_REGISTRATION_TOKEN, or token-file= in "
                       "the [auth] group of the config");
  return NULL;
}

/* Does the server register with a token at all? Asked before the token
 * is sent anywhere: POST /register with no name, password or auth answers
 * 401 with its flows and can make no account. Answers other than these
 * two are left for the registration itself to report. */
static gboolean
check_token_flow (MxprovHttp *http, GError **error)
{
  g_autoptr(json_object) empty = json_object_new_object ();
  g_autoptr(json_object) answer = NULL;
  g_autoptr(json_object) uia = NULL;
  g_autoptr(GError) error_local = NULL;
  json_object *flows = NULL;

  answer = mxprov_http_request (http, "POST", "/_matrix/client/v3/register", NULL, empty, NULL,
                                &error_local);
  if (answer != NULL)
    return TRUE;
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "the server does not register accounts (with a token or "
                                  "otherwise); nothing was sent: ");
      return FALSE;
    }
  if (mxprov_matrix_error_get_status (error_local) != 401
      || mxprov_matrix_error_get_body (error_local) == NULL
      || (uia = json_tokener_parse (mxprov_matrix_error_get_body (error_local))) == NULL
      || !json_object_object_get_ex (uia, "flows", &flows)
      || !json_object_is_type (flows, json_type_array))
    return TRUE;
  for (gsize i = 0; i < json_object_array_length (flows); i++)
    {
      json_object *stages = NULL;
      if (!json_object_object_get_ex (json_object_array_get_idx (flows, i), "stages", &stages)
          || !json_object_is_type (stages, json_type_array))
        continue;
      for (gsize k = 0; k < json_object_array_length (stages); k++)
        if (g_strcmp0 (json_object_get_string (json_object_array_get_idx (stages, k)),
                       "m.login.registration_token") == 0)
          return TRUE;
    }
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
               "the server offers no registration with a token (its flows: %s); nothing was sent; "
               "mxprov probe says what it offers",
               json_object_to_json_string_ext (flows, JSON_C_TO_STRING_PLAIN));
  return FALSE;
}

/* Valid, used up or expired; a server without the endpoint (Conduit) will
 * tell at registration instead. */
static gboolean
check_validity (MxprovHttp *http, const gchar *token, GError **error)
{
  g_autofree gchar *escaped = g_uri_escape_string (token, NULL, FALSE);
  g_autofree gchar *path = g_strdup_printf ("%s?token=%s", VALIDITY_PATH, escaped);
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;
  json_object *valid = NULL;

  answer = mxprov_http_request (http, "GET", path, NULL, NULL, NULL, &error_local);
  if (answer == NULL)
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNRECOGNIZED)
          || (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND)
              && mxprov_matrix_error_get_status (error_local) == 404))
        {
          g_debug ("the server has no registration token validity endpoint; the token is "
                   "checked when the account is registered");
          return TRUE;
        }
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                      "the server does not register accounts with a token: ");
          return FALSE;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "checking the registration token: ");
      return FALSE;
    }
  if (!json_object_object_get_ex (answer, "valid", &valid)
      || !json_object_is_type (valid, json_type_boolean))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "GET %s: the answer has no boolean \"valid\"", VALIDITY_PATH);
      return FALSE;
    }
  if (!json_object_get_boolean (valid))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_REFUSED,
                           "the registration token is not valid (used up, expired or unknown): "
                           "ask the server's admin for a new token; nothing was created");
      return FALSE;
    }
  return TRUE;
}

static gboolean
registration_token_auth_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  RegistrationTokenAuth *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovSecret) token = read_token (self, error);

  if (token == NULL)
    return FALSE;
  g_strstrip (token);
  if (*token == '\0')
    {
      g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                           "the registration token is empty");
      return FALSE;
    }
  if (!check_token_flow (mxprov_context_get_http (context), error)
      || !check_validity (mxprov_context_get_http (context), token, error))
    return FALSE;
  mxprov_context_take (context, "registration.token", g_steal_pointer (&token),
                       MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

static const gchar *const provides[] = { "registration.token", NULL };
static const gchar *const options[] = { "token-file", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "registration-token-auth",
  .step = "auth",
  .backend = "registration-token",
  .description = "Reads the registration token (MXPROV_REGISTRATION_TOKEN or token-file) and checks it is still valid",
  .requires = NULL,
  .provides = provides,
  .options = options,
  .init = registration_token_auth_init,
  .run = registration_token_auth_run,
)
