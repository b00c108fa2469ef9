/* shared-secret-user: the user step through shared-secret registration
 * (POST /_synapse/admin/v1/register), which Synapse and Dendrite both
 * offer. Registration refuses an existing name (M_USER_IN_USE), so an
 * existing account is never touched. The answer carries a token for a new
 * device of the user, used by the room step and logged out at the end.
 * Rollback: the new user deactivates itself with its password, which works
 * on both servers without any admin API. Without one, status and revoke
 * work from the account's bundle: its password logs in or it does not. */
#include "config.h"

#include <mxprov/mxprov.h>
#include "self-service-account.h"
#include "shared-secret-mac.h"

#define REGISTER_PATH "/_synapse/admin/v1/register"
#define DEFAULT_PASSWORD_BYTES 32
/* Attempts at registering when answers keep getting lost. */
#define MAX_REGISTER_ATTEMPTS 3

typedef struct {
  guint password_bytes;
  gchar *server_name;     /* option; else learnt from the registration */
  SelfServiceAccount account; /* the account made (or adopted) and its session */
} SharedSecretUser;

static void
shared_secret_user_free (gpointer data)
{
  SharedSecretUser *self = data;
  g_free (self->server_name);
  self_service_account_clear (&self->account);
  g_free (self);
}

static gboolean
shared_secret_user_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group,
                         GError **error)
{
  SharedSecretUser *self = g_new0 (SharedSecretUser, 1);

  mxprov_plugin_set_data (plugin, self, shared_secret_user_free);
  /* Dendrite refuses passwords over 72 bytes (bcrypt): 48 bytes = 64 characters. */
  return mxprov_config_get_uint (config, group, "password-bytes", DEFAULT_PASSWORD_BYTES, 16, 48,
                                 &self->password_bytes, error)
         && mxprov_config_get_string (config, group, "server-name", NULL, &self->server_name,
                                      error);
}

static gchar *
get_nonce (MxprovHttp *http, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  const gchar *nonce;

  answer = mxprov_http_request (http, "GET", REGISTER_PATH, NULL, NULL, NULL, error);
  if (answer == NULL)
    return NULL;
  nonce = mxprov_json_get_string (answer, "nonce", error);
  return g_strdup (nonce);
}

/* The name as the Synapse path would print it: the full ID when the
 * server name is known (option server-name), else the localpart. */
static gchar *
display_user (SharedSecretUser *self, const gchar *localpart)
{
  return self->server_name != NULL ? mxprov_matrix_user_id (localpart, self->server_name)
                                   : g_strdup (localpart);
}

static void
set_user_exists_error (SharedSecretUser *self, const gchar *localpart, GError **error)
{
  g_autofree gchar *who = display_user (self, localpart);
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
               "user %s already exists; mxprov never modifies an existing account: "
               "choose another --username", who);
}

/* After a lost answer the name is taken: by our registration only if our
 * freshly generated password logs in. If so, that login's session is the
 * one we go on with. */
static gboolean
adopt_if_ours (SharedSecretUser *self, MxprovHttp *http, const gchar *localpart,
               const gchar *password, gchar **out_user_id, gchar **out_token, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();

  if (mxprov_matrix_password_login (http, localpart, password, device_id, out_user_id, out_token,
                                    &error_local))
    {
      g_warning ("the registration of %s succeeded but its answer was lost: the device it made "
                 "('shared_secret_registration') stays; the desktop client can remove it",
                 *out_user_id);
      return TRUE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
    set_user_exists_error (self, localpart, error);
  else
    g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                "checking whether %s is the account mxprov just registered: ",
                                localpart);
  return FALSE;
}

static gboolean
register_user (SharedSecretUser *self, MxprovHttp *http, const gchar *secret,
               const gchar *localpart, const gchar *password, const gchar *displayname,
               gchar **out_user_id, gchar **out_token, GError **error)
{
  gboolean answer_lost = FALSE;

  for (guint attempt = 1;; attempt++)
    {
      g_autoptr(MxprovSecretJson) body = json_object_new_object ();
      g_autoptr(MxprovSecretJson) answer = NULL;
      g_autoptr(GError) error_local = NULL;
      g_autofree gchar *nonce = NULL;
      g_autofree gchar *mac = NULL;
      const gchar *user_id;
      const gchar *token;

      /* A fresh nonce each time: Synapse's are single-use, even when the
       * request that used one failed. */
      nonce = get_nonce (http, error);
      if (nonce == NULL)
        {
          g_prefix_error (error, "getting a registration nonce: ");
          return FALSE;
        }
      mac = shared_secret_registration_mac (secret, nonce, localpart, password, FALSE, NULL);
      json_object_object_add (body, "nonce", json_object_new_string (nonce));
      json_object_object_add (body, "username", json_object_new_string (localpart));
      json_object_object_add (body, "password", json_object_new_string (password));
      json_object_object_add (body, "admin", json_object_new_boolean (FALSE));
      json_object_object_add (body, "mac", json_object_new_string (mac));
      if (displayname != NULL)
        json_object_object_add (body, "displayname", json_object_new_string (displayname));

      answer = mxprov_http_request (http, "POST", REGISTER_PATH, NULL, body, NULL, &error_local);
      if (answer != NULL)
        {
          if ((user_id = mxprov_json_get_string (answer, "user_id", error)) == NULL
              || (token = mxprov_json_get_string (answer, "access_token", error)) == NULL)
            {
              g_prefix_error (error, "registering %s: ", localpart);
              return FALSE;
            }
          *out_user_id = g_strdup (user_id);
          *out_token = g_strdup (token);
          return TRUE;
        }
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_IN_USE))
        {
          if (answer_lost)
            return adopt_if_ours (self, http, localpart, password, out_user_id, out_token, error);
          set_user_exists_error (self, localpart, error);
          return FALSE;
        }
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                      "registering %s: the server refused the registration MAC; "
                                      "is the shared secret the server's? ", localpart);
          return FALSE;
        }
      if (!mxprov_error_maybe_applied (error_local) || attempt >= MAX_REGISTER_ATTEMPTS)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "registering %s: ",
                                      localpart);
          return FALSE;
        }
      g_message ("registering %s: %s; trying again with a new nonce", localpart,
                 error_local->message);
      answer_lost = TRUE;
    }
}

static gboolean
shared_secret_user_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SharedSecretUser *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  g_autoptr(MxprovSecret) password = NULL;
  g_autoptr(MxprovSecret) token = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *server_name = NULL;
  const gchar *secret;
  const gchar *localpart;

  if ((secret = mxprov_context_lookup (context, "registration.secret", error)) == NULL
      || (localpart = mxprov_context_lookup (context, "user.localpart", error)) == NULL)
    return FALSE;
  if (!mxprov_matrix_validate_localpart (localpart, self->server_name, error))
    return FALSE;
  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL)
    return FALSE;
  if (!register_user (self, http, secret, localpart, password,
                      mxprov_context_get (context, "user.displayname"), &user_id, &token, error))
    return FALSE;

  self->account.created_user_id = g_strdup (user_id);
  self->account.user_token = g_strdup (token);
  server_name = mxprov_matrix_server_name_from_user_id (user_id, error);
  if (server_name == NULL)
    return FALSE;
  mxprov_context_set (context, "user.id", user_id, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "server.name", server_name, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_take (context, "user.password", g_steal_pointer (&password),
                       MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_take (context, "user.token", g_steal_pointer (&token), MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("registered %s", user_id);
  return TRUE;
}

/* No admin API: the account deactivates itself with its password. */
static gboolean
shared_secret_user_rollback (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SharedSecretUser *self = mxprov_plugin_get_data (plugin);
  return self_service_account_rollback (&self->account, context, error);
}

/* The registration (or status) logged in on a device: logging out deletes it. */
static void
shared_secret_user_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  SharedSecretUser *self = mxprov_plugin_get_data (plugin);
  self_service_account_cleanup (&self->account, context);
}

/* --- accounts made earlier: status, revoke (adopt) ------------------------ */

static gboolean
shared_secret_user_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                           GError **error)
{
  SharedSecretUser *self = mxprov_plugin_get_data (plugin);
  return self_service_account_status (&self->account, context, "shared-secret", report, error);
}

static gboolean
shared_secret_user_adopt (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SharedSecretUser *self = mxprov_plugin_get_data (plugin);
  return self_service_account_adopt (&self->account, context, error);
}

static const gchar *const requires[] = { "registration.secret", "user.localpart", NULL };
static const gchar *const provides[] = { "user.id", "user.password", "user.token", "server.name", NULL };
static const gchar *const options[] = { "password-bytes", "server-name", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "shared-secret-user",
  .step = "user",
  .backend = "shared-secret",
  .description = "Creates the account by shared-secret registration (Synapse and Dendrite)",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = shared_secret_user_init,
  .run = shared_secret_user_run,
  .rollback = shared_secret_user_rollback,
  .cleanup = shared_secret_user_cleanup,
  .status = shared_secret_user_status,
  .adopt = shared_secret_user_adopt,
)
