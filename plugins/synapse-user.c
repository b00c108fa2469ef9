/* synapse-user: the user step on Synapse's admin API.
 *
 * Synapse has no create-only call: PUT /_synapse/admin/v2/users/<id> on an
 * existing account answers 200 and replaces its password. So we look the
 * user up first (404 = absent), create only then, and still treat a 200
 * from the PUT as a failure. An existing account is never taken over. */
#include "config.h"

#include <mxprov/mxprov.h>

#define DEFAULT_TOKEN_LIFETIME_S 600
#define DEFAULT_PASSWORD_BYTES 32

typedef struct {
  guint token_lifetime_s;
  guint password_bytes;
  gchar *user_token; /* secret, logged out in cleanup */
} SynapseUser;

static void
synapse_user_free (gpointer data)
{
  SynapseUser *self = data;
  mxprov_secret_free (self->user_token);
  g_free (self);
}

static gboolean
synapse_user_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  g_autofree SynapseUser *self = g_new0 (SynapseUser, 1);

  if (!mxprov_config_get_uint (config, group, "token-lifetime", DEFAULT_TOKEN_LIFETIME_S,
                               60, 86400, &self->token_lifetime_s, error))
    return FALSE;
  if (!mxprov_config_get_uint (config, group, "password-bytes", DEFAULT_PASSWORD_BYTES,
                               16, 48, &self->password_bytes, error))
    return FALSE;
  mxprov_plugin_set_data (plugin, g_steal_pointer (&self), synapse_user_free);
  return TRUE;
}

/* TRUE when the user does not exist; FALSE with USER_EXISTS or the lookup's
 * own error otherwise. Only a 404 M_NOT_FOUND counts as "absent". */
static gboolean
check_user_absent (MxprovHttp *http, const gchar *admin_token, const gchar *user_id,
                   const gchar *user_path, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;

  answer = mxprov_http_request (http, "GET", user_path, admin_token, NULL, NULL, &error_local);
  if (answer != NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                   "user %s already exists; mxprov never modifies an existing account: "
                   "choose another --username", user_id);
      return FALSE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND)
      && mxprov_matrix_error_get_status (error_local) == 404)
    return TRUE;
  g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                              "cannot tell whether %s exists, so nothing was created: ", user_id);
  return FALSE;
}

static gboolean
create_user (MxprovHttp *http, const gchar *admin_token, const gchar *user_id,
             const gchar *user_path, const gchar *password, const gchar *displayname,
             GError **error)
{
  g_autoptr(MxprovSecretJson) body = json_object_new_object ();
  g_autoptr(MxprovSecretJson) answer = NULL;
  guint status = 0;

  json_object_object_add (body, "password", json_object_new_string (password));
  json_object_object_add (body, "admin", json_object_new_boolean (FALSE));
  if (displayname != NULL)
    json_object_object_add (body, "displayname", json_object_new_string (displayname));
  answer = mxprov_http_request (http, "PUT", user_path, admin_token, body, &status, error);
  if (answer == NULL)
    {
      g_prefix_error (error, "creating %s: ", user_id);
      return FALSE;
    }
  if (status != 201)
    {
      /* Someone created the account between our lookup and our PUT, and
       * Synapse applied our PUT to it. Say exactly that. */
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                   "user %s was created by someone else while mxprov was running (HTTP %u instead "
                   "of 201); Synapse applied mxprov's request to it, replacing its password and "
                   "logging out its devices. Check that account; it was not provisioned",
                   user_id, status);
      return FALSE;
    }
  return TRUE;
}

static gboolean
synapse_user_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SynapseUser *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  g_autoptr(MxprovSecret) password = NULL;
  g_autoptr(MxprovSecretJson) login_body = NULL;
  g_autoptr(MxprovSecretJson) login_answer = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *user_path = NULL;
  g_autofree gchar *login_path = NULL;
  const gchar *admin_token;
  const gchar *server_name;
  const gchar *localpart;
  const gchar *token;

  if ((admin_token = mxprov_context_lookup (context, "admin.token", error)) == NULL
      || (server_name = mxprov_context_lookup (context, "server.name", error)) == NULL
      || (localpart = mxprov_context_lookup (context, "user.localpart", error)) == NULL)
    return FALSE;
  if (!mxprov_matrix_validate_localpart (localpart, server_name, error))
    return FALSE;

  user_id = mxprov_matrix_user_id (localpart, server_name);
  escaped = mxprov_http_escape (user_id);
  user_path = g_strdup_printf ("/_synapse/admin/v2/users/%s", escaped);
  if (!check_user_absent (http, admin_token, user_id, user_path, error))
    return FALSE;

  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL)
    return FALSE;
  if (!create_user (http, admin_token, user_id, user_path, password,
                    mxprov_context_get (context, "user.displayname"), error))
    return FALSE;
  mxprov_context_set (context, "user.id", user_id, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_take (context, "user.password", g_steal_pointer (&password),
                       MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("created %s", user_id);

  /* Login-as-user hands out a token without checking the user exists, so
   * it comes only after the 201 above. The token expires by itself and is
   * also logged out in cleanup. */
  login_path = g_strdup_printf ("/_synapse/admin/v1/users/%s/login", escaped);
  login_body = json_object_new_object ();
  json_object_object_add (login_body, "valid_until_ms",
                          json_object_new_int64 (g_get_real_time () / 1000
                                                 + (gint64) self->token_lifetime_s * 1000));
  login_answer = mxprov_http_request (http, "POST", login_path, admin_token, login_body, NULL,
                                      error);
  if (login_answer == NULL)
    {
      g_prefix_error (error, "getting a token for %s: ", user_id);
      return FALSE;
    }
  token = mxprov_json_get_string (login_answer, "access_token", error);
  if (token == NULL)
    {
      g_prefix_error (error, "getting a token for %s: ", user_id);
      return FALSE;
    }
  self->user_token = g_strdup (token);
  mxprov_context_set (context, "user.token", token, MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

static void
synapse_user_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  SynapseUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(GError) error = NULL;

  if (self->user_token == NULL)
    return;
  if (!mxprov_matrix_logout (mxprov_context_get_http (context), self->user_token, &error))
    g_warning ("could not log out the new user's short-lived token (it expires by itself): %s",
               error->message);
  g_clear_pointer (&self->user_token, mxprov_secret_free);
  mxprov_context_remove (context, "user.token");
}

static const gchar *const requires[] = { "admin.token", "server.name", "user.localpart", NULL };
static const gchar *const provides[] = { "user.id", "user.password", "user.token", NULL };
static const gchar *const options[] = { "token-lifetime", "password-bytes", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "synapse-user",
  .step = "user",
  .backend = "synapse",
  .description = "Creates the account with Synapse's admin API, never touching an existing one",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = synapse_user_init,
  .run = synapse_user_run,
  .cleanup = synapse_user_cleanup,
)
