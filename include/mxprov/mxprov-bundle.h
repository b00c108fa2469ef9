/* mxprov-bundle.h: the provisioning bundle the desktop client ingests.
 *
 * Compact JSON with keys in this order, then URL-safe Base64:
 *   version 1 (the original plan's, the default), no padding:
 *     {"v":1,"homeServer":"<base URL>","user":"@local:server","password":"…","roomId":"!…"}
 *   version 2 (what Lotti releases since 0.9.976, April 2026, accept), no padding:
 *     {"v":2,"kind":"provisioned","homeServer":…,"user":…,"password":…,"roomId":…}
 *   version 2, kind "handover": what the Lotti app itself makes for another
 *   device (its QR code), the same fields, Base64url *with* '=' padding. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The version mxprov makes unless told otherwise: the original plan's. */
#define MXPROV_BUNDLE_VERSION 1
/* The newest version mxprov reads and makes. */
#define MXPROV_BUNDLE_VERSION_LATEST 2

typedef enum {
  MXPROV_BUNDLE_KIND_NONE,        /* version 1: no "kind" */
  MXPROV_BUNDLE_KIND_PROVISIONED, /* version 2, made by a provisioning tool */
  MXPROV_BUNDLE_KIND_HANDOVER,    /* version 2, made by the app for another device */
} MxprovBundleKind;

typedef struct {
  gint version;
  gchar *home_server;
  gchar *user;
  gchar *password;    /* secret: wiped by mxprov_bundle_free */
  gchar *room_id;
  MxprovBundleKind kind; /* since mxprov 0.2; NONE for version 1 */
} MxprovBundle;

/* A version 1 bundle. */
MxprovBundle *mxprov_bundle_new (const gchar *home_server, const gchar *user,
                                 const gchar *password, const gchar *room_id);
/* Any version: 1 with MXPROV_BUNDLE_KIND_NONE, 2 with PROVISIONED or HANDOVER. */
MxprovBundle *mxprov_bundle_new_full (gint version, MxprovBundleKind kind,
                                      const gchar *home_server, const gchar *user,
                                      const gchar *password, const gchar *room_id);
void mxprov_bundle_free (MxprovBundle *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovBundle, mxprov_bundle_free)

/* "provisioned", "handover", or NULL for MXPROV_BUNDLE_KIND_NONE. */
const gchar *mxprov_bundle_kind_to_string (MxprovBundleKind kind);

/* The compact JSON text (a secret: free with mxprov_secret_free). */
gchar *mxprov_bundle_to_json (const MxprovBundle *self);
/* URL-safe Base64 of the JSON, padded only for handover bundles (a secret:
 * free with mxprov_secret_free). */
gchar *mxprov_bundle_encode (const MxprovBundle *self);
/* Decode and validate: version 1 (any "kind" ignored) or 2 with kind
 * "provisioned" or "handover"; homeServer an http(s) URL, user a full MXID,
 * password non-empty, roomId starting with '!'. The Base64url may carry
 * correct '=' padding (handover bundles do). */
MxprovBundle *mxprov_bundle_decode (const gchar *text, GError **error);
MxprovBundle *mxprov_bundle_from_json (const gchar *json, GError **error);

#define MXPROV_BUNDLE_ERROR (mxprov_bundle_error_quark ())
typedef enum {
  MXPROV_BUNDLE_ERROR_ENCODING,  /* not URL-safe Base64 (bad padding or characters, truncated) */
  MXPROV_BUNDLE_ERROR_JSON,      /* not a JSON object */
  MXPROV_BUNDLE_ERROR_FIELD,     /* missing or wrongly typed field */
  MXPROV_BUNDLE_ERROR_VERSION,   /* a version we do not know */
  MXPROV_BUNDLE_ERROR_KIND,      /* a version 2 bundle of a kind we do not know */
} MxprovBundleError;
GQuark mxprov_bundle_error_quark (void);

/* What the Lotti app's own decoder (decodeBundle, Lotti at b2c74d8f,
 * August 2026) would say of `text`: TRUE if it ingests it, else FALSE with
 * an MXPROV_LOTTI_ERROR naming the rule it breaks. Its rules differ from
 * mxprov_bundle_decode's: it takes both Base64 alphabets, padded or not,
 * only "v":2, kind provisioned or handover, an empty password, and only an
 * https:// homeServer. */
gboolean mxprov_bundle_lotti_accepts (const gchar *text, GError **error);
/* One line: which Lotti releases ingest a bundle of this version. */
const gchar *mxprov_bundle_lotti_releases (gint version);

#define MXPROV_LOTTI_ERROR (mxprov_lotti_error_quark ())
typedef enum {
  MXPROV_LOTTI_ERROR_FORMAT,              /* the app's FormatException: Base64, UTF-8 or JSON */
  MXPROV_LOTTI_ERROR_MALFORMED,           /* BundleDecodeException malformedPayload */
  MXPROV_LOTTI_ERROR_UNSUPPORTED_VERSION, /* BundleDecodeException unsupportedVersion */
} MxprovLottiError;
GQuark mxprov_lotti_error_quark (void);

G_END_DECLS
