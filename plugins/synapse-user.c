/* synapse-user: the user step on Synapse's admin API.
 *
 * Synapse has no create-only call: PUT /_synapse/admin/v2/users/<id> on an
 * existing account answers 200 and replaces its password. So we look the
 * user up first (404 = absent), create only then, and still treat a 200
 * from the PUT as a failure. An existing account is never taken over.
 *
 * When the PUT's answer is lost, we look again before anything else: a
 * user that now exists is ours only if our freshly generated password
 * logs into it, which nobody else can do. */
#include "config.h"

#include <mxprov/mxprov.h>

#define DEFAULT_TOKEN_LIFETIME_S 600
#define DEFAULT_PASSWORD_BYTES 32
/* Attempts at the PUT when its answers keep getting lost. */
#define MAX_CREATE_ATTEMPTS 3

typedef struct {
  guint token_lifetime_s;
  guint password_bytes;
  gchar *created_user_id; /* set once the account exists because of us */
  gchar *user_token;      /* secret, logged out in cleanup */
} SynapseUser;

static void
synapse_user_free (gpointer data)
{
  SynapseUser *self = data;
  g_free (self->created_user_id);
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

/* Does the user exist? Only a 404 M_NOT_FOUND counts as "no"; any other
 * failure is an error, never "absent". */
static gboolean
lookup_user (MxprovHttp *http, const gchar *admin_token, const gchar *user_path,
             gboolean *out_exists, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;

  answer = mxprov_http_request (http, "GET", user_path, admin_token, NULL, NULL, &error_local);
  if (answer != NULL)
    {
      *out_exists = TRUE;
      return TRUE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND)
      && mxprov_matrix_error_get_status (error_local) == 404)
    {
      *out_exists = FALSE;
      return TRUE;
    }
  g_propagate_error (error, g_steal_pointer (&error_local));
  return FALSE;
}

/* After a lost PUT answer the account exists: did our PUT make it? Only
 * the holder of the password we just generated can log in. */
static gboolean
prove_ownership (MxprovHttp *http, const gchar *user_id, const gchar *password,
                 gboolean *out_ours, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();
  g_autofree gchar *logged_in_as = NULL;
  g_autoptr(MxprovSecret) token = NULL;

  if (!mxprov_matrix_password_login (http, user_id, password, device_id, &logged_in_as, &token,
                                     &error_local))
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        {
          *out_ours = FALSE;
          return TRUE;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "checking whether %s is the account mxprov just made: ", user_id);
      return FALSE;
    }
  /* That login made a device for the new user: remove it again. */
  if (!mxprov_matrix_logout (http, token, &error_local))
    g_warning ("could not log out the check session of %s: %s", user_id, error_local->message);
  *out_ours = TRUE;
  return TRUE;
}

static gboolean
create_user (SynapseUser *self, MxprovHttp *http, const gchar *admin_token, const gchar *user_id,
             const gchar *user_path, const gchar *password, const gchar *displayname,
             gboolean answers_200_on_create, GError **error)
{
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr(MxprovSecretJson) body = json_object_new_object ();
      g_autoptr(MxprovSecretJson) answer = NULL;
      g_autoptr(GError) error_local = NULL;
      gboolean exists = FALSE;
      gboolean ours = FALSE;
      guint status = 0;

      json_object_object_add (body, "password", json_object_new_string (password));
      json_object_object_add (body, "admin", json_object_new_boolean (FALSE));
      if (displayname != NULL)
        json_object_object_add (body, "displayname", json_object_new_string (displayname));
      answer = mxprov_http_request (http, "PUT", user_path, admin_token, body, &status,
                                    &error_local);
      if (answer != NULL && status == 201)
        break;
      /* Tuwunel's PUT answers 200 for a new account too (backends-2026.md
       * 3.2): there, and only right after a lookup that found no account,
       * a 200 is "created" */
      if (answer != NULL && status == 200 && answers_200_on_create)
        break;
      if (answer != NULL)
        {
          /* Someone created the account between our lookup and our PUT,
           * and Synapse applied our PUT to it. Say exactly that. */
          g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                       "user %s was created by someone else while mxprov was running (HTTP %u "
                       "instead of 201); Synapse applied mxprov's request to it, replacing its "
                       "password and logging out its devices. Check that account; it was not "
                       "provisioned", user_id, status);
          return FALSE;
        }
      if (!mxprov_error_maybe_applied (error_local) || attempt >= MAX_CREATE_ATTEMPTS)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "creating %s: ",
                                      user_id);
          return FALSE;
        }
      g_message ("creating %s: %s; checking whether it was created anyway", user_id,
                 error_local->message);
      if (!lookup_user (http, admin_token, user_path, &exists, error))
        {
          g_prefix_error (error, "creating %s: the answer was lost, and then: ", user_id);
          return FALSE;
        }
      if (!exists)
        continue;
      if (!prove_ownership (http, user_id, password, &ours, error))
        return FALSE;
      if (!ours)
        {
          g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                       "user %s was created by someone else while mxprov was running; "
                       "choose another --username", user_id);
          return FALSE;
        }
      g_info ("%s was created by the request whose answer was lost", user_id);
      break;
    }
  self->created_user_id = g_strdup (user_id);
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
  gboolean exists = FALSE;

  if ((admin_token = mxprov_context_lookup (context, "admin.token", error)) == NULL
      || (server_name = mxprov_context_lookup (context, "server.name", error)) == NULL
      || (localpart = mxprov_context_lookup (context, "user.localpart", error)) == NULL)
    return FALSE;
  if (!mxprov_matrix_validate_localpart (localpart, server_name, error))
    return FALSE;

  user_id = mxprov_matrix_user_id (localpart, server_name);
  escaped = mxprov_http_escape (user_id);
  user_path = g_strdup_printf ("/_synapse/admin/v2/users/%s", escaped);
  if (!lookup_user (http, admin_token, user_path, &exists, error))
    {
      g_prefix_error (error, "cannot tell whether %s exists, so nothing was created: ", user_id);
      return FALSE;
    }
  if (exists)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                   "user %s already exists; mxprov never modifies an existing account: "
                   "choose another --username", user_id);
      return FALSE;
    }

  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL)
    return FALSE;
  if (!create_user (self, http, admin_token, user_id, user_path, password,
                    mxprov_context_get (context, "user.displayname"),
                    g_strcmp0 (mxprov_context_get (context, "server.software"), "Tuwunel") == 0,
                    error))
    return FALSE;
  mxprov_context_set (context, "user.id", user_id, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_take (context, "user.password", g_steal_pointer (&password),
                       MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("created %s", user_id);

  /* Login-as-user hands out a token without checking the user exists, so
   * it comes only after the creation above. Retrying it is safe: a token
   * whose answer was lost expires by itself (valid_until_ms), and rollback
   * revokes it with the account. */
  login_path = g_strdup_printf ("/_synapse/admin/v1/users/%s/login", escaped);
  login_body = json_object_new_object ();
  json_object_object_add (login_body, "valid_until_ms",
                          json_object_new_int64 (g_get_real_time () / 1000
                                                 + (gint64) self->token_lifetime_s * 1000));
  login_answer = mxprov_http_request_full (http, "POST", login_path, admin_token, login_body,
                                           MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, error);
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

/* Synapse cannot delete accounts: deactivate with erase, which logs out
 * every session, leaves every room and removes the profile. */
static gboolean
synapse_user_rollback (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SynapseUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(json_object) body = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *path = NULL;
  const gchar *admin_token;

  if (self->created_user_id == NULL)
    return TRUE;
  admin_token = mxprov_context_lookup (context, "admin.token", error);
  if (admin_token == NULL)
    return FALSE;
  escaped = mxprov_http_escape (self->created_user_id);
  path = g_strdup_printf ("/_synapse/admin/v1/deactivate/%s", escaped);
  body = json_object_new_object ();
  json_object_object_add (body, "erase", json_object_new_boolean (TRUE));
  answer = mxprov_http_request_full (mxprov_context_get_http (context), "POST", path, admin_token,
                                     body, MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, error);
  if (answer == NULL)
    {
      g_prefix_error (error, "%s is left active (with a password nobody has); deactivate it "
                      "with POST /_synapse/admin/v1/deactivate/%s: ",
                      self->created_user_id, self->created_user_id);
      return FALSE;
    }
  g_message ("rolled back: deactivated %s and erased its profile; Synapse cannot delete "
             "accounts, so the name stays taken", self->created_user_id);
  g_clear_pointer (&self->created_user_id, g_free);
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

/* --- accounts made earlier: status, revoke (adopt), reissue ------------ */

static gchar *
user_path_for (const gchar *prefix, const gchar *user_id, const gchar *suffix)
{
  g_autofree gchar *escaped = mxprov_http_escape (user_id);
  return g_strdup_printf ("%s%s%s", prefix, escaped, suffix != NULL ? suffix : "");
}

/* The account's devices, as {device_id, display_name, last_seen_ts}: any
 * device means someone (the app) logged in with the password. */
static json_object *
list_devices (MxprovHttp *http, const gchar *admin_token, const gchar *user_id, GError **error)
{
  g_autofree gchar *path = user_path_for ("/_synapse/admin/v2/users/", user_id, "/devices");
  g_autoptr(json_object) answer = NULL;
  json_object *devices = NULL;
  json_object *list;

  answer = mxprov_http_request (http, "GET", path, admin_token, NULL, NULL, error);
  if (answer == NULL)
    return NULL;
  if (!json_object_object_get_ex (answer, "devices", &devices)
      || !json_object_is_type (devices, json_type_array))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "GET %s: the answer has no \"devices\" list", path);
      return NULL;
    }
  list = json_object_new_array ();
  for (gsize i = 0; i < json_object_array_length (devices); i++)
    {
      json_object *device = json_object_array_get_idx (devices, i);
      json_object *entry = json_object_new_object ();
      static const gchar *const members[] = { "device_id", "display_name", "last_seen_ts" };

      for (gsize k = 0; k < G_N_ELEMENTS (members); k++)
        {
          json_object *value = NULL;
          if (json_object_object_get_ex (device, members[k], &value))
            json_object_object_add (entry, members[k], json_object_get (value));
        }
      json_object_array_add (list, entry);
    }
  return list;
}

/* GET /_synapse/admin/v2/users/<id>: missing, deactivated or active, an
 * admin or not; then the devices. Reads only. */
static gboolean
synapse_user_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                     GError **error)
{
  MxprovHttp *http = mxprov_context_get_http (context);
  g_autoptr(json_object) user = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *path = NULL;
  const gchar *admin_token, *user_id;
  gboolean deactivated = FALSE, admin = FALSE, locked = FALSE;
  json_object *devices;

  (void) plugin;
  if ((admin_token = mxprov_context_lookup (context, "admin.token", error)) == NULL
      || (user_id = mxprov_context_lookup (context, "user.id", error)) == NULL)
    return FALSE;
  path = user_path_for ("/_synapse/admin/v2/users/", user_id, NULL);
  user = mxprov_http_request (http, "GET", path, admin_token, NULL, NULL, &error_local);
  if (user == NULL)
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND)
          && mxprov_matrix_error_get_status (error_local) == 404)
        {
          json_object_object_add (report, "state", json_object_new_string ("missing"));
          return TRUE;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "looking up %s: ", user_id);
      return FALSE;
    }
  if (!mxprov_json_get_bool (user, "deactivated", &deactivated, error)
      || !mxprov_json_get_bool (user, "admin", &admin, error))
    {
      g_prefix_error (error, "looking up %s: ", user_id);
      return FALSE;
    }
  /* "locked" exists since Synapse 1.91 only */
  if (json_object_object_get_ex (user, "locked", NULL)
      && !mxprov_json_get_bool (user, "locked", &locked, error))
    return FALSE;
  json_object_object_add (report, "state",
                          json_object_new_string (deactivated ? "deactivated" : "active"));
  json_object_object_add (report, "admin", json_object_new_boolean (admin));
  if (locked)
    json_object_object_add (report, "locked", json_object_new_boolean (TRUE));
  if (deactivated)
    return TRUE;
  devices = list_devices (http, admin_token, user_id, error);
  if (devices == NULL)
    {
      g_prefix_error (error, "listing the devices of %s: ", user_id);
      return FALSE;
    }
  json_object_object_add (report, "devices", devices);
  return TRUE;
}

/* revoke: the account is the one rollback undoes, as if this run had made it. */
static gboolean
synapse_user_adopt (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SynapseUser *self = mxprov_plugin_get_data (plugin);
  const gchar *user_id = mxprov_context_lookup (context, "user.id", error);

  if (user_id == NULL)
    return FALSE;
  g_free (self->created_user_id);
  self->created_user_id = g_strdup (user_id);
  return TRUE;
}

/* reissue: a new random password, and nothing else: logout_devices false
 * (the command refuses accounts in use before it gets here). */
static gboolean
synapse_user_set_password (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SynapseUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovSecret) password = NULL;
  g_autoptr(MxprovSecretJson) body = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autofree gchar *path = NULL;
  const gchar *admin_token, *user_id;

  if ((admin_token = mxprov_context_lookup (context, "admin.token", error)) == NULL
      || (user_id = mxprov_context_lookup (context, "user.id", error)) == NULL)
    return FALSE;
  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL)
    return FALSE;
  path = user_path_for ("/_synapse/admin/v1/reset_password/", user_id, NULL);
  body = json_object_new_object ();
  json_object_object_add (body, "new_password", json_object_new_string (password));
  json_object_object_add (body, "logout_devices", json_object_new_boolean (FALSE));
  /* setting the same password twice is harmless: safe to repeat */
  answer = mxprov_http_request_full (mxprov_context_get_http (context), "POST", path, admin_token,
                                     body, MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, error);
  if (answer == NULL)
    {
      g_prefix_error (error, "setting a new password for %s: ", user_id);
      return FALSE;
    }
  mxprov_context_take (context, "user.password", g_steal_pointer (&password),
                       MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("set a new password for %s", user_id);
  return TRUE;
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
  .rollback = synapse_user_rollback,
  .cleanup = synapse_user_cleanup,
  .status = synapse_user_status,
  .adopt = synapse_user_adopt,
  .set_password = synapse_user_set_password,
)
