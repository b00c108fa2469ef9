/* mxprov-matrix.h: Matrix identifier rules, checked locally before any request. */
#pragma once

#include <glib.h>
#include <mxprov/mxprov-http.h>

G_BEGIN_DECLS

/* The longest user ID the spec allows, in bytes. */
#define MXPROV_MATRIX_USER_ID_MAX 255

/* TRUE if `localpart` is a valid user localpart for a new account on
 * `server_name`: non-empty, only a-z 0-9 . _ = - / (Synapse 1.67 refuses '+',
 * so we do too), no leading '_', not all digits, and the full ID
 * "@localpart:server_name" at most 255 bytes. The error says which rule. */
gboolean mxprov_matrix_validate_localpart (const gchar *localpart,
                                           const gchar *server_name,
                                           GError **error);
/* The server name of a user ID: everything after the first ':'. */
gchar *mxprov_matrix_server_name_from_user_id (const gchar *user_id, GError **error);
gchar *mxprov_matrix_user_id (const gchar *localpart, const gchar *server_name);

/* Log `access_token` out (POST /_matrix/client/v3/logout): deletes the
 * device a password login made, or just the token for a login-as-user
 * token. Call it from cleanup so no session outlives the run. A token the
 * server no longer knows counts as logged out. */
gboolean mxprov_matrix_logout (MxprovHttp *http, const gchar *access_token, GError **error);

/* A fresh device ID ("MXPROV" + 10 letters) for mxprov_matrix_password_login. */
gchar *mxprov_matrix_new_device_id (void);

/* Password login (m.login.password, m.id.user) on the device `device_id`,
 * retried safely after lost answers. The token is a secret (free with
 * mxprov_secret_free); log it out when done. */
gboolean mxprov_matrix_password_login (MxprovHttp *http, const gchar *user,
                                       const gchar *password, const gchar *device_id,
                                       gchar **out_user_id, gchar **out_token,
                                       GError **error);

/* For the status entry of a backend without an admin API: what the
 * account's password (from its bundle) says. It logs in: "state":"active"
 * and "login":"works" go into `report` and `out_token` is that session's
 * (log it out in cleanup); refused: "login":"refused" (the app has changed
 * the password); deactivated: "state":"deactivated". FALSE only for other
 * failures. Since mxprov 0.2. */
gboolean mxprov_matrix_report_password_login (MxprovHttp *http, const gchar *user_id,
                                              const gchar *password, json_object *report,
                                              gchar **out_token, GError **error);

/* Whether a server's version string ("1.9.0", "1.9.0 (abc123)", since 0.3
 * also "v1.22.0") is at least major.minor. FALSE for NULL or a string
 * without a number. Since 0.2. */
gboolean mxprov_matrix_version_at_least (const gchar *version, guint major, guint minor);

/* The user deactivates its own account (POST /_matrix/client/v3/account/
 * deactivate, erase) with its session and its password as
 * user-interactive auth: the undo of backends without an admin API. A
 * token the server stops knowing once the account is gone counts as done.
 * Since mxprov 0.2. */
gboolean mxprov_matrix_deactivate_self (MxprovHttp *http, const gchar *user_id,
                                        const gchar *access_token, const gchar *password,
                                        GError **error);

G_END_DECLS
