/* mxprov-discovery.h: from what the admin typed to the client API base URL. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when `homeserver` is a bare server name ("example.com",
 * "example.com:8448") rather than a URL. */
gboolean mxprov_discovery_is_server_name (const gchar *homeserver);

/* Resolve a bare server name as the Matrix spec says: GET
 * https://NAME/.well-known/matrix/client; a 404 means "no delegation, use
 * https://NAME"; any other failure is an error; otherwise its
 * m.homeserver.base_url. A loopback address (127.0.0.1:PORT) is asked over
 * http, which is what the tests use. `ca_file` may be NULL. */
gchar *mxprov_discovery_resolve (const gchar *server_name, const gchar *ca_file,
                                 guint request_timeout_ms, gint64 deadline_us,
                                 GError **error);

G_END_DECLS
