/* mxprov-matrix.c: Matrix identifier grammar (spec appendix "Identifiers"). */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-matrix.h>

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

  answer = mxprov_http_request (http, "POST", "/_matrix/client/v3/logout", access_token,
                                NULL, NULL, error);
  return answer != NULL;
}
