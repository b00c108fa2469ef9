/* mas-common.h: what mas-auth and mas-user share: reaching the Matrix
 * Authentication Service (MAS), its client-credentials admin token, and
 * the shape of its admin API's answers (backends-2026.md section 1).
 *
 * MAS lives on its own origin, found from the homeserver's auth_metadata
 * (token_endpoint) or given as mas-url=. Its admin API is
 * {base}/api/admin/v1, with a token of scope urn:mas:admin that expires
 * (expires_in, 300 s by default) and has no refresh token: a new one is
 * asked for with the same client credentials.
 *
 * Context keys (set by mas-auth, read by mas-user):
 *   mas.url            MAS's public base ("https://auth.example.com")
 *   mas.token          the admin token (secret); never sent to Synapse
 *   mas.token_expires  when it lapses, in milliseconds since the epoch
 *   mas.token_lifetime its expires_in, in milliseconds
 *   mas.client_id, mas.client_secret (secret)  to ask for a new one
 *   mas.version        MAS's version, when its admin API says (>= 1.4)
 */
#pragma once

#include <mxprov/mxprov.h>

G_BEGIN_DECLS

#define MAS_ADMIN_PREFIX "/api/admin/v1"
#define MAS_TOKEN_PATH "/oauth2/token"
#define MAS_REVOKE_PATH "/oauth2/revoke"
#define MAS_ADMIN_SCOPE "urn:mas:admin"

/* MAS's base URL from its token endpoint (".../oauth2/token" without that
 * suffix); NULL and an error naming mas-url= when it has another shape. */
gchar *mas_base_from_token_endpoint (const gchar *token_endpoint, GError **error);

/* A client for MAS's origin with the run's settings (mxprov_http_new_like).
 * Plain http:// only when the homeserver itself is plain http:// (which
 * the host allows only to this machine or with --allow-insecure-http). */
MxprovHttp *mas_http_new (MxprovContext *context, const gchar *base_url, GError **error);

/* POST /oauth2/token, client_credentials for urn:mas:admin. The token is a
 * secret; *out_expires_ms is when it lapses (milliseconds since the epoch).
 * MAS's refusals come back with what to change in its config. */
gchar *mas_request_admin_token (MxprovHttp *mas, const gchar *client_id,
                                const gchar *client_secret, gint64 *out_expires_ms,
                                gint64 *out_lifetime_ms, GError **error);
/* mas.token, mas.token_expires and mas.token_lifetime */
void mas_put_admin_token (MxprovContext *context, const gchar *token, gint64 expires_ms,
                          gint64 lifetime_ms);

/* A valid admin token for the next request: the context's, unless it
 * lapses within a minute or a fifth of its lifetime (or `renew`: MAS said it expired), then a newer
 * one another account of this batch got, or a new one from MAS. Shared
 * by every instance of the calling plugin, under a lock, so a long batch
 * asks MAS once per token lifetime, not once per account; wiped when the
 * plugin is unloaded. */
const gchar *mas_admin_token (MxprovHttp *mas, MxprovContext *context, gboolean renew,
                              GError **error);

/* An admin API request (path below /api/admin/v1) with a valid admin token;
 * a 401 "Access token expired" gets one new token and one more try. */
json_object *mas_admin_request (MxprovHttp *mas, MxprovContext *context, const gchar *method,
                                const gchar *path, json_object *body, MxprovHttpFlags flags,
                                guint *out_status, GError **error);

/* The HTTP status of a failed request's answer, JSON or not (MAS answers
 * a route it does not have with an HTML 404 page); 0 without one. */
guint mas_error_status (const GError *error);

/* Whether `error` is MAS's answer `status` with an error whose title
 * starts with `title` (MAS has no error codes: status and title are all). */
gboolean mas_error_is (const GError *error, guint status, const gchar *title);

/* data.id and data.attributes of a single-resource answer */
const gchar *mas_resource_id (json_object *answer, GError **error);
json_object *mas_resource_attributes (json_object *answer, GError **error);

G_END_DECLS
