/* mas-user: the user step through MAS's admin API (backends-2026.md 1.4,
 * 1.5, 1.7).
 *
 * MAS's POST /users is create-only (409 for a name it has, or one the
 * homeserver has), and it makes the Synapse account in the same call. We
 * still look the name up first, so an existing account is reported
 * before anything is sent. Then the generated password is set, and the
 * new user gets a Matrix token for the room step: a personal session
 * (MAS 1.5+) scoped to the client API and a device of its own, revoked in
 * cleanup; on an older MAS, a password login through MAS's compatibility
 * layer, logged out in cleanup.
 *
 * Rollback deactivates the user in MAS, which deactivates it in Synapse,
 * ends its sessions and parts its rooms. MAS cannot delete a user: the
 * name stays taken. */
#include "config.h"

#include <string.h>

#include "mas-common.h"

#define DEFAULT_TOKEN_LIFETIME_S 600
#define DEFAULT_PASSWORD_BYTES 32
/* MAS's compat login limit sends no retry_after_ms (backends-2026.md 1.7):
 * its per-address bucket refills 3 a minute, so wait 5 s, then 10, 20, up
 * to this, within --timeout. */
#define COMPAT_BACKOFF_FIRST_MS 5000
#define COMPAT_BACKOFF_MAX_MS 30000
/* Synapse takes the stable scope names from 1.138 on (backends-2026.md 1.6) */
#define STABLE_SCOPE_PREFIX "urn:matrix:client:"
#define UNSTABLE_SCOPE_PREFIX "urn:matrix:org.matrix.msc2967.client:"

typedef enum {
  USER_TOKEN_AUTO,
  USER_TOKEN_PERSONAL_SESSION,
  USER_TOKEN_COMPAT_LOGIN,
} UserTokenSource;

typedef struct {
  guint token_lifetime_s;
  guint password_bytes;
  UserTokenSource token_source;
  MxprovHttp *mas;
  gchar *user_ulid;     /* the MAS user this run made (or revoke adopted) */
  gchar *user_id;       /* its Matrix ID */
  gchar *session_id;    /* personal session to revoke in cleanup */
  gchar *compat_token;  /* secret: compat session to log out in cleanup */
} MasUser;

static void
mas_user_free (gpointer data)
{
  MasUser *self = data;

  g_clear_pointer (&self->mas, mxprov_http_free);
  g_free (self->user_ulid);
  g_free (self->user_id);
  g_free (self->session_id);
  mxprov_secret_free (self->compat_token);
  g_free (self);
}

static gboolean
mas_user_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  MasUser *self = g_new0 (MasUser, 1);
  g_autofree gchar *source = NULL;

  mxprov_plugin_set_data (plugin, self, mas_user_free);
  if (!mxprov_config_get_uint (config, group, "token-lifetime", DEFAULT_TOKEN_LIFETIME_S,
                               60, 86400, &self->token_lifetime_s, error)
      || !mxprov_config_get_uint (config, group, "password-bytes", DEFAULT_PASSWORD_BYTES,
                                  16, 48, &self->password_bytes, error)
      || !mxprov_config_get_string (config, group, "user-token", "auto", &source, error))
    return FALSE;
  if (g_strcmp0 (source, "auto") == 0)
    self->token_source = USER_TOKEN_AUTO;
  else if (g_strcmp0 (source, "personal-session") == 0)
    self->token_source = USER_TOKEN_PERSONAL_SESSION;
  else if (g_strcmp0 (source, "compat-login") == 0)
    self->token_source = USER_TOKEN_COMPAT_LOGIN;
  else
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "[%s] user-token=%s: expected auto, personal-session or compat-login",
                   group, source);
      return FALSE;
    }
  return TRUE;
}

/* MAS's client, made on first use; every entry point takes the run's
 * current deadline (rollback and cleanup get a fresh one). */
static MxprovHttp *
mas_for (MasUser *self, MxprovContext *context, GError **error)
{
  const gchar *base;

  if (self->mas != NULL)
    {
      mxprov_http_follow_deadline (self->mas, mxprov_context_get_http (context));
      return self->mas;
    }
  if ((base = mxprov_context_lookup (context, "mas.url", error)) == NULL)
    return NULL;
  self->mas = mas_http_new (context, base, error);
  return self->mas;
}

/* prefix + the escaped segment + suffix */
static gchar *
escaped_path (const gchar *prefix, const gchar *segment, const gchar *suffix)
{
  g_autofree gchar *escaped = mxprov_http_escape (segment);
  return g_strconcat (prefix, escaped, suffix, NULL);
}

/* GET /users/by-username/<localpart>: the user's answer, or NULL with
 * *out_missing for a 404 "not found"; any other failure is an error,
 * never "absent". */
static json_object *
lookup_user (MxprovHttp *mas, MxprovContext *context, const gchar *localpart,
             gboolean *out_missing, GError **error)
{
  g_autofree gchar *path = escaped_path ("/users/by-username/", localpart, "");
  g_autoptr(GError) error_local = NULL;
  json_object *answer;

  *out_missing = FALSE;
  answer = mas_admin_request (mas, context, "GET", path, NULL, MXPROV_HTTP_FLAG_NONE, NULL,
                              &error_local);
  if (answer != NULL)
    return answer;
  if (mas_error_is (error_local, 404, "User with username"))
    {
      *out_missing = TRUE;
      return NULL;
    }
  g_propagate_error (error, g_steal_pointer (&error_local));
  return NULL;
}

static gboolean
attribute_is_set (json_object *attributes, const gchar *name)
{
  json_object *value = NULL;

  return json_object_object_get_ex (attributes, name, &value) && value != NULL
         && !json_object_is_type (value, json_type_null);
}

/* POST /users; the answer's ULID. A lost answer is followed by a lookup:
 * a name MAS did not have a moment ago and has now was made by us, since
 * MAS makes each name once. */
static gchar *
create_user (MxprovHttp *mas, MxprovContext *context, const gchar *localpart,
             const gchar *user_id, GError **error)
{
  g_autoptr(json_object) body = json_object_new_object ();
  g_autoptr(json_object) answer = NULL;
  g_autoptr(json_object) found = NULL;
  g_autoptr(GError) error_local = NULL;
  gboolean missing = FALSE;
  const gchar *ulid;

  json_object_object_add (body, "username", json_object_new_string (localpart));
  answer = mas_admin_request (mas, context, "POST", "/users", body, MXPROV_HTTP_FLAG_NONE, NULL,
                              &error_local);
  if (answer != NULL)
    {
      ulid = mas_resource_id (answer, error);
      return ulid != NULL ? g_strdup (ulid) : NULL;
    }
  if (mas_error_is (error_local, 409, "User already exists"))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                   "user %s was created by someone else while mxprov was running; choose "
                   "another --username", user_id);
      return NULL;
    }
  if (mas_error_is (error_local, 409, "Username is reserved"))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                   "%s exists on the homeserver but not in MAS (made through Synapse's admin API, "
                   "so it cannot log in); mxprov never modifies an existing account: choose "
                   "another --username", user_id);
      return NULL;
    }
  if (mas_error_is (error_local, 400, "Username is not valid"))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                   "MAS refuses the name '%s' (1 to 255 of a-z 0-9 = _ - . /, no leading _): %s",
                   localpart, error_local->message);
      return NULL;
    }
  if (!mxprov_error_maybe_applied (error_local))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "creating %s in MAS: ",
                                  user_id);
      return NULL;
    }
  g_message ("creating %s in MAS: %s; checking whether it was created anyway", user_id,
             error_local->message);
  found = lookup_user (mas, context, localpart, &missing, error);
  if (found == NULL)
    {
      if (missing)
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "creating %s in MAS (it was not created): ", user_id);
      else
        g_prefix_error (error, "creating %s in MAS: the answer was lost, and then: ", user_id);
      return NULL;
    }
  g_info ("%s was created by the request whose answer was lost", user_id);
  ulid = mas_resource_id (found, error);
  return ulid != NULL ? g_strdup (ulid) : NULL;
}

/* POST /users/<id>/set-password: 204; setting the same password twice is
 * harmless, so it may be repeated. */
static gboolean
set_password (MxprovHttp *mas, MxprovContext *context, const gchar *ulid, const gchar *user_id,
              const gchar *password, guint password_bytes, GError **error)
{
  g_autofree gchar *path = escaped_path ("/users/", ulid, "/set-password");
  g_autoptr(MxprovSecretJson) body = json_object_new_object ();
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;

  json_object_object_add (body, "password", json_object_new_string (password));
  json_object_object_add (body, "skip_password_check", json_object_new_boolean (FALSE));
  answer = mas_admin_request (mas, context, "POST", path, body, MXPROV_HTTP_FLAG_RETRY_SAFE, NULL,
                              &error_local);
  if (answer != NULL)
    return TRUE;
  if (mas_error_is (error_local, 403, "Password auth is disabled"))
    g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                 "MAS has password auth disabled, so %s cannot get a password: set passwords: "
                 "enabled: true in MAS's config", user_id);
  else if (mas_error_is (error_local, 400, "Password is too weak"))
    {
      g_autofree gchar *text = g_strdup_printf (
        "MAS refused the generated password of %s (%u random bytes) as too weak for its "
        "passwords.minimum_complexity: raise password-bytes= in [user], or lower that setting",
        user_id, password_bytes);
      g_propagate_error (error, mxprov_matrix_error_new (400, "M_WEAK_PASSWORD", text, -1));
    }
  else
    g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                "setting the password of %s in MAS: ", user_id);
  return FALSE;
}

/* The scope of a personal session that acts as the user on Synapse's
 * client API (and, with a device ID, as that device, which MAS makes). */
static gchar *
personal_session_scope (MxprovContext *context, const gchar *device_id)
{
  const gchar *version = mxprov_context_get (context, "server.version");
  const gchar *prefix = version == NULL || mxprov_matrix_version_at_least (version, 1, 138)
                          ? STABLE_SCOPE_PREFIX : UNSTABLE_SCOPE_PREFIX;

  if (device_id == NULL)
    return g_strconcat (prefix, "api:*", NULL);
  return g_strconcat (prefix, "api:* ", prefix, "device:", device_id, NULL);
}

/* After a personal session request whose answer was lost: every active
 * session of a user this run made a moment ago is that request's, so
 * revoke them before asking again, and none outlives the run. */
static gboolean
revoke_lost_sessions (MxprovHttp *mas, MxprovContext *context, const gchar *ulid, GError **error)
{
  g_autofree gchar *escaped = mxprov_http_escape (ulid);
  g_autofree gchar *path = g_strdup_printf ("/personal-sessions?filter%%5Bactor_user%%5D=%s"
                                            "&filter%%5Bstatus%%5D=active", escaped);
  g_autoptr(json_object) answer = NULL;
  json_object *data = NULL;

  answer = mas_admin_request (mas, context, "GET", path, NULL, MXPROV_HTTP_FLAG_NONE, NULL, error);
  if (answer == NULL)
    return FALSE;
  if (!json_object_object_get_ex (answer, "data", &data) || !json_object_is_type (data, json_type_array))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                           "MAS's list of personal sessions has no \"data\" list");
      return FALSE;
    }
  for (gsize i = 0; i < json_object_array_length (data); i++)
    {
      json_object *id = NULL;
      g_autofree gchar *revoke_path = NULL;
      g_autoptr(json_object) revoked = NULL;
      g_autoptr(GError) error_local = NULL;

      if (!json_object_object_get_ex (json_object_array_get_idx (data, i), "id", &id)
          || !json_object_is_type (id, json_type_string))
        continue;
      revoke_path = escaped_path ("/personal-sessions/", json_object_get_string (id), "/revoke");
      revoked = mas_admin_request (mas, context, "POST", revoke_path, NULL,
                                   MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error_local);
      if (revoked == NULL && !mas_error_is (error_local, 409, NULL))
        {
          g_propagate_error (error, g_steal_pointer (&error_local));
          return FALSE;
        }
    }
  return TRUE;
}

/* POST /personal-sessions: a token for the user, owned by the admin
 * client, expiring by itself. NULL with *out_unavailable when this MAS
 * has no personal sessions (before 1.5). With `recover` (a user this run
 * made), a lost answer is cleaned up and the request made once more. */
static gchar *
open_personal_session (MasUser *self, MxprovHttp *mas, MxprovContext *context, const gchar *ulid,
                       const gchar *device_id, guint lifetime_s, gboolean recover,
                       gboolean *out_unavailable, GError **error)
{
  g_autoptr(json_object) body = json_object_new_object ();
  g_autoptr(MxprovSecretJson) answer = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *scope = personal_session_scope (context, device_id);
  json_object *attributes;
  const gchar *id, *token;

  *out_unavailable = FALSE;
  json_object_object_add (body, "actor_user_id", json_object_new_string (ulid));
  json_object_object_add (body, "human_name", json_object_new_string ("mxprov provisioning"));
  json_object_object_add (body, "scope", json_object_new_string (scope));
  json_object_object_add (body, "expires_in", json_object_new_int64 (lifetime_s));
  /* Not repeated after a lost answer: a second session would be one
   * nobody revokes (it expires, and rollback's deactivation ends it). */
  answer = mas_admin_request (mas, context, "POST", "/personal-sessions", body,
                              MXPROV_HTTP_FLAG_NONE, NULL, &error_local);
  if (answer == NULL && recover && mxprov_error_maybe_applied (error_local))
    {
      g_message ("opening a personal session for %s: %s; revoking what it may have made and "
                 "asking again", self->user_id, error_local->message);
      g_clear_error (&error_local);
      if (!revoke_lost_sessions (mas, context, ulid, &error_local))
        g_prefix_error (&error_local, "cleaning up after a lost answer: ");
      else
        answer = mas_admin_request (mas, context, "POST", "/personal-sessions", body,
                                    MXPROV_HTTP_FLAG_NONE, NULL, &error_local);
    }
  if (answer == NULL)
    {
      /* a route this MAS lacks: its HTML 404 page (crates/handlers/src/lib.rs) */
      if (mas_error_status (error_local) == 404
          && !mas_error_is (error_local, 404, "User not found"))
        {
          *out_unavailable = TRUE;
          return NULL;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "opening a personal session for %s in MAS: ", self->user_id);
      return NULL;
    }
  if ((id = mas_resource_id (answer, error)) == NULL
      || (attributes = mas_resource_attributes (answer, error)) == NULL
      || (token = mxprov_json_get_string (attributes, "access_token", error)) == NULL)
    {
      g_prefix_error (error, "opening a personal session for %s in MAS: ", self->user_id);
      return NULL;
    }
  g_free (self->session_id);
  self->session_id = g_strdup (id);
  return g_strdup (token);
}

/* Password login through MAS's compatibility layer (what the reverse
 * proxy sends /_matrix/client/v3/login to), waiting out its rate limit by
 * itself: MAS says neither how long nor when. */
static gchar *
compat_login (MasUser *self, MxprovContext *context, const gchar *localpart,
              const gchar *password, GError **error)
{
  MxprovHttp *homeserver = mxprov_context_get_http (context);
  g_autoptr(MxprovHttp) http = NULL;
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();
  guint wait_ms = COMPAT_BACKOFF_FIRST_MS;

  /* without the client's own 429 retries: they would wait a second,
   * which MAS's limit (3 a minute per address) cannot use */
  http = mxprov_http_new_like (homeserver, mxprov_http_get_base_url (homeserver), error);
  if (http == NULL)
    return NULL;
  mxprov_http_set_rate_limit_policy (http, 0, 0);
  for (;;)
    {
      g_autoptr(GError) error_local = NULL;
      g_autofree gchar *user_id = NULL;
      gchar *token = NULL;

      if (mxprov_matrix_password_login (http, localpart, password, device_id, &user_id, &token,
                                        &error_local))
        return token;
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED))
        {
          /* a proxy in front may say how long after all */
          gint64 asked_ms = mxprov_matrix_error_get_retry_after_ms (error_local);
          gint64 pause_ms = asked_ms >= 0 ? asked_ms : wait_ms;

          if (pause_ms + 1000 < mxprov_http_get_time_left_ms (http))
            {
              if (asked_ms >= 0)
                g_message ("logins are limited; trying again in %.1f s as asked", pause_ms / 1000.0);
              else
                g_message ("MAS limits logins and says not for how long; trying again in %u s",
                           wait_ms / 1000);
              g_usleep ((gulong) pause_ms * 1000);
              if (asked_ms < 0)
                wait_ms = MIN (wait_ms * 2, COMPAT_BACKOFF_MAX_MS);
              continue;
            }
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                      "MAS still limits logins from this address (3, then 3 a "
                                      "minute) when --timeout runs out; try again in a minute, "
                                      "or use MAS 1.5+, whose personal sessions need no login: ");
          return NULL;
        }
      if (mxprov_matrix_error_get_status (error_local) == 400
          && mxprov_matrix_error_get_errcode (error_local) != NULL
          && g_strcmp0 (mxprov_matrix_error_get_errcode (error_local), "M_UNKNOWN") == 0)
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "MAS does not take password logins (passwords disabled, or "
                                    "its compatibility layer is off): ");
      else if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "the password of %s does not log in at "
                                    "/_matrix/client/v3/login (changed since it was set, or the "
                                    "reverse proxy does not send login to MAS): ", self->user_id);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "logging in as %s through MAS: ", self->user_id);
      return NULL;
    }
}

static gboolean
personal_sessions_known_absent (MxprovContext *context)
{
  const gchar *version = mxprov_context_get (context, "mas.version");

  /* GET /version exists from 1.4, personal sessions from 1.5; a MAS that
   * does not say is tried, and its 404 tells */
  return version != NULL && !mxprov_matrix_version_at_least (version, 1, 5);
}

/* The user's token for the room step (and for status, without a device). */
static gchar *
user_token (MasUser *self, MxprovHttp *mas, MxprovContext *context, const gchar *ulid,
            const gchar *localpart, const gchar *password, gboolean with_device, GError **error)
{
  gboolean unavailable = FALSE;
  gchar *token;

  if (self->token_source == USER_TOKEN_PERSONAL_SESSION
      || (self->token_source == USER_TOKEN_AUTO && !personal_sessions_known_absent (context)))
    {
      g_autofree gchar *device_id = with_device ? mxprov_matrix_new_device_id () : NULL;

      /* with_device: run, for a user it just made */
      token = open_personal_session (self, mas, context, ulid, device_id,
                                     with_device ? self->token_lifetime_s : 300, with_device,
                                     &unavailable, error);
      if (token != NULL || !unavailable)
        return token;
      if (self->token_source == USER_TOKEN_PERSONAL_SESSION)
        {
          g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                       "this MAS has no personal sessions (they came in MAS 1.5): set "
                       "user-token=auto or compat-login in [user]");
          return NULL;
        }
    }
  if (password == NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                   "this MAS (%s) has no personal sessions, and without the account's password "
                   "mxprov cannot act as %s", mxprov_context_get (context, "mas.version") != NULL
                                                 ? mxprov_context_get (context, "mas.version")
                                                 : "before 1.4", self->user_id);
      return NULL;
    }
  g_info ("MAS has no personal sessions (before 1.5): logging in as %s through its "
          "compatibility layer", self->user_id);
  token = compat_login (self, context, localpart, password, error);
  if (token != NULL)
    self->compat_token = g_strdup (token);
  return token;
}

static gboolean
mas_user_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MasUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(json_object) existing = NULL;
  g_autoptr(MxprovSecret) password = NULL;
  g_autoptr(MxprovSecret) token = NULL;
  const gchar *server_name, *localpart;
  gboolean missing = FALSE;
  MxprovHttp *mas;

  if ((server_name = mxprov_context_lookup (context, "server.name", error)) == NULL
      || (localpart = mxprov_context_lookup (context, "user.localpart", error)) == NULL)
    return FALSE;
  if (!mxprov_matrix_validate_localpart (localpart, server_name, error))
    return FALSE;
  if ((mas = mas_for (self, context, error)) == NULL)
    return FALSE;
  self->user_id = mxprov_matrix_user_id (localpart, server_name);

  existing = lookup_user (mas, context, localpart, &missing, error);
  if (existing != NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                   "user %s already exists in MAS; mxprov never modifies an existing account: "
                   "choose another --username", self->user_id);
      return FALSE;
    }
  if (!missing)
    {
      g_prefix_error (error, "cannot tell whether %s exists in MAS, so nothing was created: ",
                      self->user_id);
      return FALSE;
    }

  self->user_ulid = create_user (mas, context, localpart, self->user_id, error);
  if (self->user_ulid == NULL)
    return FALSE;
  mxprov_context_set (context, "user.id", self->user_id, MXPROV_CONTEXT_FLAG_NONE);
  g_info ("created %s in MAS (user %s)", self->user_id, self->user_ulid);

  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL
      || !set_password (mas, context, self->user_ulid, self->user_id, password,
                        self->password_bytes, error))
    return FALSE;
  mxprov_context_set (context, "user.password", password, MXPROV_CONTEXT_FLAG_SECRET);

  token = user_token (self, mas, context, self->user_ulid, localpart, password, TRUE, error);
  if (token == NULL)
    {
      g_prefix_error (error, "getting a token for %s: ", self->user_id);
      return FALSE;
    }
  mxprov_context_set (context, "user.token", token, MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

/* Deactivate in MAS: it deactivates in Synapse too, ends every session and
 * parts the rooms (erasing, MAS's default since 0.20). */
static gboolean
mas_user_rollback (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MasUser *self = mxprov_plugin_get_data (plugin);
  g_autofree gchar *path = NULL;
  g_autoptr(json_object) body = json_object_new_object ();
  g_autoptr(json_object) answer = NULL;
  MxprovHttp *mas;

  if (self->user_ulid == NULL)
    return TRUE;
  if ((mas = mas_for (self, context, error)) == NULL)
    return FALSE;
  path = escaped_path ("/users/", self->user_ulid, "/deactivate");
  answer = mas_admin_request (mas, context, "POST", path, body, MXPROV_HTTP_FLAG_RETRY_SAFE, NULL,
                              error);
  if (answer == NULL)
    {
      g_prefix_error (error, "%s is left active in MAS (with a password nobody has); deactivate "
                      "it with POST %s" MAS_ADMIN_PREFIX "/users/%s/deactivate: ",
                      self->user_id, mxprov_http_get_base_url (mas), self->user_ulid);
      return FALSE;
    }
  g_message ("rolled back: deactivated %s in MAS (and so in Synapse), which ends its sessions; "
             "MAS cannot delete users, so the name stays taken", self->user_id);
  g_clear_pointer (&self->user_ulid, g_free);
  return TRUE;
}

static void
mas_user_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  MasUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(GError) error = NULL;

  if (self->session_id != NULL && mas_for (self, context, &error) != NULL)
    {
      g_autofree gchar *path = escaped_path ("/personal-sessions/", self->session_id, "/revoke");
      g_autoptr(json_object) answer = NULL;

      answer = mas_admin_request (self->mas, context, "POST", path, NULL,
                                  MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error);
      /* 409: already revoked, and a deactivated user's sessions end too */
      if (answer == NULL && !mas_error_is (error, 409, NULL) && !mas_error_is (error, 404, NULL))
        g_warning ("could not revoke the personal session of %s (it expires by itself): %s",
                   self->user_id, error->message);
      g_clear_error (&error);
      g_clear_pointer (&self->session_id, g_free);
    }
  if (error != NULL)
    g_warning ("could not reach MAS to revoke the personal session of %s: %s", self->user_id,
               error->message);
  if (self->compat_token != NULL)
    {
      g_clear_error (&error);
      if (!mxprov_matrix_logout (mxprov_context_get_http (context), self->compat_token, &error))
        g_warning ("could not log out the login session of %s: %s", self->user_id,
                   error->message);
      g_clear_pointer (&self->compat_token, mxprov_secret_free);
    }
  mxprov_context_remove (context, "user.token");
}

/* --- accounts made earlier: status, revoke (adopt), reissue ------------ */

/* The MAS user behind user.id, or NULL with *out_missing. */
static json_object *
lookup_account (MasUser *self, MxprovContext *context, gchar **out_localpart,
                gboolean *out_missing, GError **error)
{
  g_autofree gchar *localpart = NULL;
  json_object *answer;
  const gchar *user_id, *colon;
  MxprovHttp *mas;

  if ((user_id = mxprov_context_lookup (context, "user.id", error)) == NULL
      || (mas = mas_for (self, context, error)) == NULL)
    return NULL;
  colon = strchr (user_id, ':');
  if (user_id[0] != '@' || colon == NULL
      || g_strcmp0 (colon + 1, mxprov_context_get (context, "server.name")) != 0)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                   "%s is not a user of this server (%s)", user_id,
                   mxprov_context_get (context, "server.name"));
      return NULL;
    }
  g_free (self->user_id);
  self->user_id = g_strdup (user_id);
  localpart = g_strndup (user_id + 1, colon - user_id - 1);
  answer = lookup_user (mas, context, localpart, out_missing, error);
  if (answer != NULL && out_localpart != NULL)
    *out_localpart = g_steal_pointer (&localpart);
  return answer;
}

/* The MAS ID of the account behind user.id, which must exist (revoke,
 * reissue). */
static gchar *
account_id (MasUser *self, MxprovContext *context, gchar **out_localpart, GError **error)
{
  g_autoptr(json_object) user = NULL;
  gboolean missing = FALSE;
  const gchar *ulid;

  user = lookup_account (self, context, out_localpart, &missing, error);
  if (user == NULL)
    {
      if (missing)
        g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                     "%s does not exist in MAS", mxprov_context_get (context, "user.id"));
      return NULL;
    }
  ulid = mas_resource_id (user, error);
  return g_strdup (ulid);
}

/* The active compat sessions: how the app (and any other client with the
 * password) logs in under MAS, so they are the account's devices. */
static json_object *
list_compat_devices (MasUser *self, MxprovContext *context, const gchar *ulid, GError **error)
{
  g_autofree gchar *escaped = mxprov_http_escape (ulid);
  g_autofree gchar *path = g_strdup_printf ("/compat-sessions?filter%%5Buser%%5D=%s"
                                            "&filter%%5Bstatus%%5D=active", escaped);
  g_autoptr(json_object) answer = NULL;
  json_object *data = NULL;
  json_object *devices;

  answer = mas_admin_request (self->mas, context, "GET", path, NULL, MXPROV_HTTP_FLAG_NONE, NULL,
                              error);
  if (answer == NULL)
    return NULL;
  if (!json_object_object_get_ex (answer, "data", &data)
      || !json_object_is_type (data, json_type_array))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                           "MAS's list of compat sessions has no \"data\" list");
      return NULL;
    }
  devices = json_object_new_array ();
  for (gsize i = 0; i < json_object_array_length (data); i++)
    {
      json_object *attributes = NULL, *value = NULL;
      json_object *entry = json_object_new_object ();

      json_object_object_get_ex (json_object_array_get_idx (data, i), "attributes", &attributes);
      if (json_object_object_get_ex (attributes, "device_id", &value))
        json_object_object_add (entry, "device_id", json_object_get (value));
      if (json_object_object_get_ex (attributes, "human_name", &value))
        json_object_object_add (entry, "display_name", json_object_get (value));
      if (json_object_object_get_ex (attributes, "last_active_at", &value))
        json_object_object_add (entry, "last_seen", json_object_get (value));
      json_object_array_add (devices, entry);
    }
  return devices;
}

/* missing, deactivated, locked or active (MAS's record, which Synapse
 * follows); the compat sessions as devices; and, where MAS has personal
 * sessions, a short-lived device-less token for the room step to read the
 * account's rooms with, revoked in cleanup. */
static gboolean
mas_user_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                 GError **error)
{
  MasUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(json_object) user = NULL;
  g_autoptr(MxprovSecret) token = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *localpart = NULL;
  json_object *attributes, *devices, *admin = NULL;
  const gchar *password = mxprov_context_get (context, "user.password");
  gboolean missing = FALSE;
  const gchar *ulid;

  user = lookup_account (self, context, &localpart, &missing, error);
  if (user == NULL)
    {
      if (!missing)
        return FALSE;
      json_object_object_add (report, "state", json_object_new_string ("missing"));
      return TRUE;
    }
  if ((ulid = mas_resource_id (user, error)) == NULL
      || (attributes = mas_resource_attributes (user, error)) == NULL)
    return FALSE;
  if (attribute_is_set (attributes, "deactivated_at"))
    {
      json_object_object_add (report, "state", json_object_new_string ("deactivated"));
      return TRUE;
    }
  json_object_object_add (report, "state", json_object_new_string ("active"));
  if (json_object_object_get_ex (attributes, "admin", &admin))
    json_object_object_add (report, "admin", json_object_new_boolean (json_object_get_boolean (admin)));
  if (attribute_is_set (attributes, "locked_at"))
    json_object_object_add (report, "locked", json_object_new_boolean (TRUE));
  devices = list_compat_devices (self, context, ulid, error);
  if (devices == NULL)
    {
      g_prefix_error (error, "listing the sessions of %s in MAS: ", self->user_id);
      return FALSE;
    }
  json_object_object_add (report, "devices", devices);

  /* the listing above came first: a password login here (an older MAS,
   * with the bundle's password) is a compat session of its own */
  token = user_token (self, self->mas, context, ulid, localpart, password, FALSE, &error_local);
  if (token != NULL)
    mxprov_context_set (context, "user.token", token, MXPROV_CONTEXT_FLAG_SECRET);
  else
    g_message ("cannot read the rooms of %s, so status says nothing of them: %s", self->user_id,
               error_local->message);
  return TRUE;
}

/* revoke: the account is the one rollback deactivates, as if this run had
 * made it; a token (a personal session) lets the room step leave its room
 * first. */
static gboolean
mas_user_adopt (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MasUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovSecret) token = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *localpart = NULL;

  g_free (self->user_ulid);
  self->user_ulid = account_id (self, context, &localpart, error);
  if (self->user_ulid == NULL)
    return FALSE;
  token = user_token (self, self->mas, context, self->user_ulid, localpart,
                      mxprov_context_get (context, "user.password"), FALSE, &error_local);
  if (token != NULL)
    mxprov_context_set (context, "user.token", token, MXPROV_CONTEXT_FLAG_SECRET);
  else
    g_message ("%s: no session to leave its room with (%s); deactivating it parts its rooms",
               self->user_id, error_local->message);
  return TRUE;
}

/* reissue: a new random password in MAS, and nothing else. */
static gboolean
mas_user_set_password (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MasUser *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovSecret) password = NULL;
  g_autofree gchar *ulid = account_id (self, context, NULL, error);

  if (ulid == NULL)
    return FALSE;
  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL
      || !set_password (self->mas, context, ulid, self->user_id, password, self->password_bytes,
                        error))
    return FALSE;
  mxprov_context_take (context, "user.password", g_steal_pointer (&password),
                       MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("set a new password for %s in MAS", self->user_id);
  return TRUE;
}

static const gchar *const requires[] = { "mas.url", "mas.token", "server.name", "user.localpart", NULL };
static const gchar *const provides[] = { "user.id", "user.password", "user.token", NULL };
static const gchar *const options[] = { "token-lifetime", "password-bytes", "user-token", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "mas-user",
  .step = "user",
  .backend = "mas",
  .description = "Creates the account in the Matrix Authentication Service, never touching an existing one",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = mas_user_init,
  .run = mas_user_run,
  .rollback = mas_user_rollback,
  .cleanup = mas_user_cleanup,
  .status = mas_user_status,
  .adopt = mas_user_adopt,
  .set_password = mas_user_set_password,
)
