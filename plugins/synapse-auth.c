/* synapse-auth: the auth step on Synapse. Logs in as the admin with a
 * password, learns the server name from the returned user ID, proves the
 * account is a server admin, and logs that session out at the end so
 * repeated runs leave no devices behind.
 *
 * With an admin access token the admin gave (the host puts it in the
 * context as admin.token before the step runs) there is no login at all,
 * so Synapse's login rate limit never applies: whoami names the admin,
 * the admin check is the same, and the token is never logged out (mxprov
 * did not make it). */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>

typedef struct {
  gchar *access_token; /* secret */
} SynapseAuth;

static void
synapse_auth_free (gpointer data)
{
  SynapseAuth *self = data;
  mxprov_secret_free (self->access_token);
  g_free (self);
}

static gboolean
synapse_auth_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  mxprov_plugin_set_data (plugin, g_new0 (SynapseAuth, 1), synapse_auth_free);
  return TRUE;
}

/* Servers that delegate login to an OIDC provider (MAS, MSC3861) accept
 * no password and cannot puppet users: refuse them before sending one. */
static gboolean
check_password_login (MxprovHttp *http, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  json_object *flows = NULL;

  answer = mxprov_http_request (http, "GET", "/_matrix/client/v3/login", NULL, NULL, NULL, error);
  if (answer == NULL)
    return FALSE;
  if (json_object_object_get_ex (answer, "flows", &flows)
      && json_object_is_type (flows, json_type_array))
    {
      for (gsize i = 0; i < json_object_array_length (flows); i++)
        {
          json_object *type = NULL;
          if (json_object_object_get_ex (json_object_array_get_idx (flows, i), "type", &type)
              && g_strcmp0 (json_object_get_string (type), "m.login.password") == 0)
            return TRUE;
        }
    }
  g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                       "the server does not offer password login (m.login.password); its login is "
                       "probably delegated to an OIDC provider, where accounts created through the "
                       "admin API cannot log in. Provision accounts in that provider instead");
  return FALSE;
}

/* Synapse's admin API, as these plugins use it, exists on Synapse and on
 * Tuwunel from 1.9 on (backends-2026.md 3.1); behind an OAuth service
 * (MAS) accounts made through it cannot log in. The host identified the
 * server before this step (server.* keys): refuse what cannot work before
 * any credential is sent, with the host's advice on what to use. */
static gboolean
check_server_software (MxprovContext *context, GError **error)
{
  const gchar *software = mxprov_context_get (context, "server.software");
  const gchar *version = mxprov_context_get (context, "server.version");
  const gchar *issuer = mxprov_context_get (context, "server.oauth_issuer");
  const gchar *advice = mxprov_context_get (context, "server.advice");

  if (issuer != NULL && g_strcmp0 (software, "Tuwunel") != 0)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                   "%s; nothing was sent or created", advice != NULL ? advice : issuer);
      return FALSE;
    }
  if (software == NULL || g_strcmp0 (software, "Synapse") == 0
      || (g_strcmp0 (software, "Tuwunel") == 0 && mxprov_matrix_version_at_least (version, 1, 9)))
    return TRUE;
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
               "this is %s%s%s, which the Synapse admin pipeline cannot serve: %s; nothing was sent "
               "or created", software, version != NULL ? " " : "", version != NULL ? version : "",
               advice != NULL ? advice : "see mxprov probe");
  return FALSE;
}

/* The admin a given token belongs to; a refused token says so. */
static gchar *
whoami (MxprovHttp *http, const gchar *token, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;
  const gchar *user_id;

  answer = mxprov_http_request (http, "GET", "/_matrix/client/v3/account/whoami", token, NULL,
                                NULL, &error_local);
  if (answer == NULL)
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN)
          || g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_MISSING_TOKEN))
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "the admin token was refused (expired, revoked, or not this "
                                    "server's); get a new one: ");
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "checking the admin token: ");
      return NULL;
    }
  user_id = mxprov_json_get_string (answer, "user_id", error);
  return g_strdup (user_id);
}

/* The token the admin gave: whoami says whose it is. */
static gchar *
use_given_token (MxprovContext *context, const gchar *token, GError **error)
{
  const gchar *admin_user = mxprov_context_get (context, "admin.user");
  gchar *user_id = whoami (mxprov_context_get_http (context), token, error);

  if (user_id == NULL)
    return NULL;
  if (admin_user != NULL && g_strcmp0 (admin_user, user_id) != 0
      && !(g_str_has_prefix (user_id + 1, admin_user) && user_id[strlen (admin_user) + 1] == ':'))
    g_warning ("the admin token belongs to %s, not to --admin-user %s; going on as %s",
               user_id, admin_user, user_id);
  return user_id;
}

/* A password login on a fresh device; the token goes into the context
 * (and is logged out in cleanup). */
static gchar *
log_in_with_password (SynapseAuth *self, MxprovContext *context, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();
  g_autoptr(MxprovSecret) token = NULL;
  gchar *user_id = NULL;
  const gchar *admin_user, *password;

  if ((admin_user = mxprov_context_lookup (context, "admin.user", error)) == NULL
      || (password = mxprov_context_lookup (context, "admin.password", error)) == NULL)
    return NULL;
  if (!mxprov_matrix_password_login (mxprov_context_get_http (context), admin_user, password,
                                     device_id, &user_id, &token, &error_local))
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "admin login as '%s' refused; check the admin user and password: ",
                                    admin_user);
      else if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_LOCKED))
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "the admin account '%s' is locked; another admin must unlock it "
                                    "(PUT /_synapse/admin/v2/users/<id> {\"locked\": false}): ",
                                    admin_user);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "admin login as '%s' failed: ", admin_user);
      return NULL;
    }
  /* Keep the token before anything else can fail, so cleanup logs it out. */
  self->access_token = g_strdup (token);
  mxprov_context_set (context, "admin.token", token, MXPROV_CONTEXT_FLAG_SECRET);
  return user_id;
}

static gboolean
synapse_auth_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SynapseAuth *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  g_autoptr(json_object) admin_answer = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *server_name = NULL;
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *user_id = NULL;
  const gchar *given_token = mxprov_context_get (context, "admin.token");
  gboolean is_admin = FALSE;

  if (!check_server_software (context, error))
    return FALSE;
  /* the new user logs in with a password: the server must offer that */
  if (!check_password_login (http, error))
    return FALSE;
  user_id = given_token != NULL ? use_given_token (context, given_token, error)
                                : log_in_with_password (self, context, error);
  if (user_id == NULL)
    return FALSE;
  mxprov_context_set (context, "admin.user_id", user_id, MXPROV_CONTEXT_FLAG_NONE);

  /* The server name is the part after ':' of our own ID; it may differ
   * from the URL's host (matrix.example.com serving example.com). */
  server_name = mxprov_matrix_server_name_from_user_id (user_id, error);
  if (server_name == NULL)
    return FALSE;
  mxprov_context_set (context, "server.name", server_name, MXPROV_CONTEXT_FLAG_NONE);

  escaped = mxprov_http_escape (user_id);
  path = g_strdup_printf ("/_synapse/admin/v1/users/%s/admin", escaped);
  admin_answer = mxprov_http_request (http, "GET", path,
                                      mxprov_context_get (context, "admin.token"), NULL, NULL,
                                      &error_local);
  if (admin_answer == NULL)
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN,
                     "%s is not a server admin; log in with an admin account "
                     "(synapse: register_new_matrix_user --admin, or set admin in the users table)",
                     user_id);
      else if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNRECOGNIZED)
               || g_error_matches (error_local, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_NOT_JSON))
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "the Synapse admin API (/_synapse/admin) is not reachable; "
                                    "is it blocked by a reverse proxy, or is this not Synapse? ");
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "checking that %s is a server admin: ", user_id);
      return FALSE;
    }
  if (!mxprov_json_get_bool (admin_answer, "admin", &is_admin, error))
    return FALSE;
  if (!is_admin)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN,
                   "%s is not a server admin; log in with an admin account", user_id);
      return FALSE;
    }
  g_info ("%s as server admin %s (server name %s)",
          given_token != NULL ? "using the admin token" : "logged in", user_id, server_name);
  return TRUE;
}

static void
synapse_auth_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  SynapseAuth *self = mxprov_plugin_get_data (plugin);
  g_autoptr(GError) error = NULL;

  if (self->access_token == NULL)
    return;
  /* Every password login made a device; logging out deletes it. */
  if (!mxprov_matrix_logout (mxprov_context_get_http (context), self->access_token, &error))
    g_warning ("could not log the admin session out, so it keeps a device named 'mxprov': %s",
               error->message);
  g_clear_pointer (&self->access_token, mxprov_secret_free);
  mxprov_context_remove (context, "admin.token");
}

static const gchar *const requires[] = { "admin.user", "admin.password", NULL };
static const gchar *const provides[] = { "admin.token", "admin.user_id", "server.name", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "synapse-auth",
  .step = "auth",
  .backend = "synapse",
  .description = "Login as a Synapse server admin (password, or a given admin token); logs out what it made",
  .requires = requires,
  .provides = provides,
  .options = NULL,
  .init = synapse_auth_init,
  .run = synapse_auth_run,
  .cleanup = synapse_auth_cleanup,
)
