/* self-service-account.h: accounts on backends without an admin API
 * (shared-secret and registration-token registration), shared by their
 * user steps: the account undoes itself with its own session and
 * password, and its status is what its bundle's password says. Compiled
 * into each of those plugins (none exports it). */
#pragma once

#include <mxprov/mxprov.h>

G_BEGIN_DECLS

typedef struct {
  gchar *created_user_id; /* set once the account exists because of us (or revoke adopted it) */
  gchar *user_token;      /* secret: the registration's or status's session, logged out in cleanup */
} SelfServiceAccount;

void self_service_account_clear (SelfServiceAccount *self);

/* status: log in with the bundle's password (user.password); `backend`
 * names the backend in the error when there is no bundle. */
gboolean self_service_account_status (SelfServiceAccount *self, MxprovContext *context,
                                      const gchar *backend, json_object *report, GError **error);
/* revoke: take the account so that rollback deactivates it; needs the
 * session status opened with the bundle's password. */
gboolean self_service_account_adopt (SelfServiceAccount *self, MxprovContext *context,
                                     GError **error);
/* rollback: the account deactivates itself with its password. */
gboolean self_service_account_rollback (SelfServiceAccount *self, MxprovContext *context,
                                        GError **error);
/* cleanup: log the session out (its device goes). */
void self_service_account_cleanup (SelfServiceAccount *self, MxprovContext *context);

G_END_DECLS
