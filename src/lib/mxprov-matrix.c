/* mxprov-matrix.c: Matrix identifier grammar (spec appendix "Identifiers"). */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-matrix.h>
#include <mxprov/mxprov-secret.h>

static gboolean
localpart_char_ok (gchar c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
         || c == '.' || c == '_' || c == '=' || c == '-' || c == '/';
}

gboolean
mxprov_matrix_validate_localpart (const gchar *localpart, const gchar *server_name,
                                  GError **error)
{
  gboolean all_digits = TRUE;
  gsize full_len;

  if (localpart == NULL || *localpart == '\0')
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                           "the username is empty");
      return FALSE;
    }
  for (const gchar *p = localpart; *p != '\0'; p++)
    {
      if (!localpart_char_ok (*p))
        {
          if (g_ascii_isupper (*p))
            g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                         "invalid username '%s': upper-case '%c' is not allowed; Matrix user names are lower case",
                         localpart, *p);
          else if (g_ascii_isprint (*p))
            g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                         "invalid username '%s': '%c' is not allowed; use only a-z, 0-9 and . _ = - /",
                         localpart, *p);
          else
            g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                         "invalid username: byte 0x%02x at offset %d is not allowed; use only a-z, 0-9 and . _ = - /",
                         (guint) (guchar) *p, (gint) (p - localpart));
          return FALSE;
        }
      if (!g_ascii_isdigit (*p))
        all_digits = FALSE;
    }
  /* Synapse reserves a leading '_' for application services and refuses
   * all-digit localparts (they collide with guest accounts). */
  if (localpart[0] == '_')
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                   "invalid username '%s': it may not start with '_'", localpart);
      return FALSE;
    }
  if (all_digits)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                   "invalid username '%s': it may not be all digits", localpart);
      return FALSE;
    }
  full_len = 1 + strlen (localpart) + 1 + (server_name != NULL ? strlen (server_name) : 0);
  if (full_len > MXPROV_MATRIX_USER_ID_MAX)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                   "invalid username: the user ID would be %" G_GSIZE_FORMAT " bytes, more than the %d allowed",
                   full_len, MXPROV_MATRIX_USER_ID_MAX);
      return FALSE;
    }
  return TRUE;
}

gchar *
mxprov_matrix_server_name_from_user_id (const gchar *user_id, GError **error)
{
  const gchar *colon;

  if (user_id == NULL || user_id[0] != '@' || (colon = strchr (user_id, ':')) == NULL
      || colon == user_id + 1 || colon[1] == '\0')
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "'%s' is not a Matrix user ID (@localpart:server)",
                   user_id != NULL ? user_id : "(null)");
      return NULL;
    }
  return g_strdup (colon + 1);
}

gchar *
mxprov_matrix_user_id (const gchar *localpart, const gchar *server_name)
{
  return g_strdup_printf ("@%s:%s", localpart, server_name);
}

gboolean
mxprov_matrix_logout (MxprovHttp *http, const gchar *access_token, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;

  answer = mxprov_http_request_full (http, "POST", "/_matrix/client/v3/logout", access_token,
                                     NULL, MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error_local);
  if (answer != NULL)
    return TRUE;
  /* Already gone: an earlier attempt whose answer was lost, a deactivation
   * by rollback, or expiry. Either way the session no longer exists. */
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&error_local));
  return FALSE;
}

gchar *
mxprov_matrix_new_device_id (void)
{
  static const gchar alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  GString *id = g_string_new ("MXPROV");

  for (guint i = 0; i < 10; i++)
    g_string_append_c (id, alphabet[g_random_int_range (0, sizeof alphabet - 1)]);
  return g_string_free (id, FALSE);
}

gboolean
mxprov_matrix_password_login (MxprovHttp *http, const gchar *user, const gchar *password,
                              const gchar *device_id, gchar **out_user_id, gchar **out_token,
                              GError **error)
{
  g_autoptr(MxprovSecretJson) body = json_object_new_object ();
  g_autoptr(MxprovSecretJson) answer = NULL;
  json_object *identifier = json_object_new_object ();
  const gchar *user_id;
  const gchar *token;

  json_object_object_add (body, "type", json_object_new_string ("m.login.password"));
  json_object_object_add (identifier, "type", json_object_new_string ("m.id.user"));
  json_object_object_add (identifier, "user", json_object_new_string (user));
  json_object_object_add (body, "identifier", identifier);
  json_object_object_add (body, "password", json_object_new_string (password));
  json_object_object_add (body, "device_id", json_object_new_string (device_id));
  json_object_object_add (body, "initial_device_display_name", json_object_new_string ("mxprov"));

  /* Retry-safe because of the fixed device_id: a repeated login reuses
   * the device instead of making a second one, and the logout at the end
   * deletes it with every token it had, seen or not. */
  answer = mxprov_http_request_full (http, "POST", "/_matrix/client/v3/login", NULL, body,
                                     MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, error);
  if (answer == NULL)
    return FALSE;
  if ((user_id = mxprov_json_get_string (answer, "user_id", error)) == NULL
      || (token = mxprov_json_get_string (answer, "access_token", error)) == NULL)
    return FALSE;
  *out_user_id = g_strdup (user_id);
  *out_token = g_strdup (token);
  return TRUE;
}

/* The UIA session of a 401 answer, or NULL. */
static gchar *
uia_session_of (const GError *error)
{
  g_autoptr(json_object) uia = NULL;
  json_object *member = NULL;

  if (mxprov_matrix_error_get_status (error) != 401 || mxprov_matrix_error_get_body (error) == NULL)
    return NULL;
  uia = json_tokener_parse (mxprov_matrix_error_get_body (error));
  if (uia == NULL || !json_object_object_get_ex (uia, "session", &member)
      || !json_object_is_type (member, json_type_string))
    return NULL;
  return g_strdup (json_object_get_string (member));
}

/* The first call answers 401 with a session (or, on a server that needs
 * none, deactivates at once); the second proves the password. */
gboolean
mxprov_matrix_deactivate_self (MxprovHttp *http, const gchar *user_id, const gchar *access_token,
                               const gchar *password, GError **error)
{
  g_autoptr(json_object) first = json_object_new_object ();
  g_autoptr(json_object) answer = NULL;
  g_autoptr(MxprovSecretJson) body = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *session = NULL;
  json_object *auth;
  json_object *identifier;

  json_object_object_add (first, "erase", json_object_new_boolean (TRUE));
  answer = mxprov_http_request (http, "POST", "/_matrix/client/v3/account/deactivate",
                                access_token, first, NULL, &error_local);
  if (answer != NULL)
    return TRUE;
  session = uia_session_of (error_local);
  g_clear_error (&error_local);

  body = json_object_new_object ();
  auth = json_object_new_object ();
  identifier = json_object_new_object ();
  json_object_object_add (identifier, "type", json_object_new_string ("m.id.user"));
  json_object_object_add (identifier, "user", json_object_new_string (user_id));
  json_object_object_add (auth, "type", json_object_new_string ("m.login.password"));
  json_object_object_add (auth, "identifier", identifier);
  json_object_object_add (auth, "password", json_object_new_string (password));
  if (session != NULL)
    json_object_object_add (auth, "session", json_object_new_string (session));
  json_object_object_add (body, "auth", auth);
  json_object_object_add (body, "erase", json_object_new_boolean (TRUE));
  /* retry-safe: deactivating twice is deactivating */
  answer = mxprov_http_request_full (http, "POST", "/_matrix/client/v3/account/deactivate",
                                     access_token, body, MXPROV_HTTP_FLAG_RETRY_SAFE, NULL,
                                     &error_local);
  if (answer != NULL
      || g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN))
    return TRUE;
  g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "%s deactivating itself: ",
                              user_id);
  return FALSE;
}

gboolean
mxprov_matrix_version_at_least (const gchar *version, guint major, guint minor)
{
  guint64 got_major, got_minor = 0;
  gchar *end = NULL;

  /* MAS says "v1.22.0" (git describe of its release tag) */
  if (version != NULL && (version[0] == 'v' || version[0] == 'V'))
    version++;
  if (version == NULL || !g_ascii_isdigit (version[0]))
    return FALSE;
  got_major = g_ascii_strtoull (version, &end, 10);
  if (end != NULL && *end == '.')
    got_minor = g_ascii_strtoull (end + 1, NULL, 10);
  return got_major > major || (got_major == major && got_minor >= minor);
}

gboolean
mxprov_matrix_report_password_login (MxprovHttp *http, const gchar *user_id, const gchar *password,
                                     json_object *report, gchar **out_token, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();
  g_autofree gchar *logged_in_as = NULL;

  *out_token = NULL;
  if (mxprov_matrix_password_login (http, user_id, password, device_id, &logged_in_as, out_token,
                                    &error_local))
    {
      json_object_object_add (report, "state", json_object_new_string ("active"));
      json_object_object_add (report, "login", json_object_new_string ("works"));
      return TRUE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_DEACTIVATED))
    {
      json_object_object_add (report, "state", json_object_new_string ("deactivated"));
      return TRUE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
    {
      json_object_object_add (report, "login", json_object_new_string ("refused"));
      return TRUE;
    }
  g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                              "logging in as %s with its bundle's password: ", user_id);
  return FALSE;
}
