/* mxprov-context.h: the key/value store that carries a run's inputs and
 * each step's results to the next step.
 *
 * Values are strings. Keys marked secret are never printed (the host
 * redacts them in every listing) and are wiped when replaced or freed.
 *
 * Keys of the built-in pipeline (see mxprov-plugin(7)):
 *   inputs:  homeserver, admin.user, admin.password (secret),
 *            user.localpart, user.displayname (optional)
 *   auth:    admin.token (secret), admin.user_id, server.name
 *   user:    user.id, user.password (secret), user.token (secret)
 *   room:    room.id
 *   bundle:  bundle.json (secret), bundle.base64 (secret)
 */
#pragma once

#include <glib.h>
#include <mxprov/mxprov-http.h>

G_BEGIN_DECLS

typedef struct _MxprovContext MxprovContext;

typedef enum {
  MXPROV_CONTEXT_FLAG_NONE = 0,
  MXPROV_CONTEXT_FLAG_SECRET = 1 << 0,
} MxprovContextFlags;

MxprovContext *mxprov_context_new (void);
void mxprov_context_free (MxprovContext *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovContext, mxprov_context_free)

/* Copy `value` in under `key`; a previous value is wiped and freed. */
void mxprov_context_set (MxprovContext *self, const gchar *key,
                         const gchar *value, MxprovContextFlags flags);
/* Like set, but takes ownership of `value` (and wipes it later if secret). */
void mxprov_context_take (MxprovContext *self, const gchar *key,
                          gchar *value, MxprovContextFlags flags);
/* NULL when absent; the string stays owned by the context. */
const gchar *mxprov_context_get (MxprovContext *self, const gchar *key);
/* Like get, but a missing key is an MXPROV_CONFIG_ERROR_MISSING error. */
const gchar *mxprov_context_lookup (MxprovContext *self, const gchar *key,
                                    GError **error);
gboolean mxprov_context_has (MxprovContext *self, const gchar *key);
gboolean mxprov_context_is_secret (MxprovContext *self, const gchar *key);
void mxprov_context_remove (MxprovContext *self, const gchar *key);
/* Sorted keys; free with g_strfreev. */
gchar **mxprov_context_list_keys (MxprovContext *self);

/* The run's HTTP client, shared by all steps (one connection). */
MxprovHttp *mxprov_context_get_http (MxprovContext *self);
void mxprov_context_set_http (MxprovContext *self, MxprovHttp *http);

G_END_DECLS
