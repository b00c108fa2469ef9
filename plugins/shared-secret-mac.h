/* shared-secret-mac.h: the MAC of shared-secret registration
 * (POST /_synapse/admin/v1/register), shared by the shared-secret plugins
 * and their tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Lowercase hex HMAC-SHA1 keyed by `secret` over
 * nonce \0 username \0 password \0 ("admin" | "notadmin") [\0 user_type].
 * Synapse appends user_type only when one is sent; Dendrite never does. */
gchar *shared_secret_registration_mac (const gchar *secret, const gchar *nonce,
                                       const gchar *username, const gchar *password,
                                       gboolean admin, const gchar *user_type);

G_END_DECLS
