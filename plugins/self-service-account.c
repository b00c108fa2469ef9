/* self-service-account.c: see self-service-account.h. */
#include "config.h"

#include "self-service-account.h"

void
self_service_account_clear (SelfServiceAccount *self)
{
  g_clear_pointer (&self->created_user_id, g_free);
  g_clear_pointer (&self->user_token, mxprov_secret_free);
}

/* All there is to go on is the bundle's password. It still logs in: the
 * account is unused so far (the room step then checks its room with that
 * session, logged out in cleanup). Refused: the app has rotated it. */
gboolean
self_service_account_status (SelfServiceAccount *self, MxprovContext *context,
                             const gchar *backend, json_object *report, GError **error)
{
  g_autoptr(MxprovSecret) token = NULL;
  const gchar *user_id, *password;

  if ((user_id = mxprov_context_lookup (context, "user.id", error)) == NULL)
    return FALSE;
  password = mxprov_context_get (context, "user.password");
  if (password == NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                   "%s: the %s backend has no admin API to look an account up; give its bundle "
                   "(--bundle FILE, or --input with a batch output)", user_id, backend);
      return FALSE;
    }
  if (!mxprov_matrix_report_password_login (mxprov_context_get_http (context), user_id, password,
                                            report, &token, error))
    return FALSE;
  if (token == NULL)
    return TRUE;
  g_clear_pointer (&self->user_token, mxprov_secret_free);
  self->user_token = g_strdup (token);
  mxprov_context_take (context, "user.token", g_steal_pointer (&token), MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

gboolean
self_service_account_adopt (SelfServiceAccount *self, MxprovContext *context, GError **error)
{
  const gchar *user_id = mxprov_context_lookup (context, "user.id", error);

  if (user_id == NULL)
    return FALSE;
  if (self->user_token == NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                   "%s cannot deactivate itself: its bundle's password no longer logs in (the app "
                   "has changed it); a server admin must deactivate it (on Synapse: POST "
                   "/_synapse/admin/v1/deactivate/%s, or mxprov revoke with the Synapse admin "
                   "pipeline)", user_id, user_id);
      return FALSE;
    }
  g_free (self->created_user_id);
  self->created_user_id = g_strdup (user_id);
  return TRUE;
}

gboolean
self_service_account_rollback (SelfServiceAccount *self, MxprovContext *context, GError **error)
{
  const gchar *password = mxprov_context_get (context, "user.password");

  if (self->created_user_id == NULL)
    return TRUE;
  if (self->user_token == NULL || password == NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                   "%s is left active: no session to deactivate it with", self->created_user_id);
      return FALSE;
    }
  if (!mxprov_matrix_deactivate_self (mxprov_context_get_http (context), self->created_user_id,
                                      self->user_token, password, error))
    {
      g_prefix_error (error, "%s is left active (with a password nobody has): ",
                      self->created_user_id);
      return FALSE;
    }
  g_message ("rolled back: %s deactivated itself; the name stays taken", self->created_user_id);
  /* deactivation ended the session too */
  self_service_account_clear (self);
  return TRUE;
}

void
self_service_account_cleanup (SelfServiceAccount *self, MxprovContext *context)
{
  g_autoptr(GError) error = NULL;

  if (self->user_token == NULL)
    return;
  if (!mxprov_matrix_logout (mxprov_context_get_http (context), self->user_token, &error))
    g_warning ("could not log out the new user's session: %s", error->message);
  g_clear_pointer (&self->user_token, mxprov_secret_free);
  mxprov_context_remove (context, "user.token");
}
