/* mxprov-bundle.h: the provisioning bundle the desktop client ingests.
 *
 * Compact JSON with keys in this order, then URL-safe Base64 without padding:
 *   {"v":1,"homeServer":"<base URL>","user":"@local:server","password":"…","roomId":"!…"} */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MXPROV_BUNDLE_VERSION 1

typedef struct {
  gint version;
  gchar *home_server;
  gchar *user;
  gchar *password;    /* secret: wiped by mxprov_bundle_free */
  gchar *room_id;
} MxprovBundle;

MxprovBundle *mxprov_bundle_new (const gchar *home_server, const gchar *user,
                                 const gchar *password, const gchar *room_id);
void mxprov_bundle_free (MxprovBundle *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovBundle, mxprov_bundle_free)

/* The compact JSON text (a secret: free with mxprov_secret_free). */
gchar *mxprov_bundle_to_json (const MxprovBundle *self);
/* URL-safe Base64 of the JSON (a secret: free with mxprov_secret_free). */
gchar *mxprov_bundle_encode (const MxprovBundle *self);
/* Decode and validate: version 1, homeServer an http(s) URL, user a full
 * MXID, password non-empty, roomId starting with '!'. */
MxprovBundle *mxprov_bundle_decode (const gchar *text, GError **error);
MxprovBundle *mxprov_bundle_from_json (const gchar *json, GError **error);

#define MXPROV_BUNDLE_ERROR (mxprov_bundle_error_quark ())
typedef enum {
  MXPROV_BUNDLE_ERROR_ENCODING,  /* not URL-safe Base64 (padding, bad characters, truncated) */
  MXPROV_BUNDLE_ERROR_JSON,      /* not a JSON object */
  MXPROV_BUNDLE_ERROR_FIELD,     /* missing or wrongly typed field */
  MXPROV_BUNDLE_ERROR_VERSION,   /* a version we do not know */
} MxprovBundleError;
GQuark mxprov_bundle_error_quark (void);

G_END_DECLS
