/* mxprov-bundle.c: encode and decode the provisioning bundle. */
#include "config.h"

#include <string.h>
#include <json-c/json.h>

#include <mxprov/mxprov-bundle.h>
#include <mxprov/mxprov-http.h>
#include <mxprov/mxprov-secret.h>

G_DEFINE_QUARK (mxprov-bundle-error-quark, mxprov_bundle_error)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_tokener, json_tokener_free)

MxprovBundle *
mxprov_bundle_new (const gchar *home_server, const gchar *user,
                   const gchar *password, const gchar *room_id)
{
  return mxprov_bundle_new_full (MXPROV_BUNDLE_VERSION, MXPROV_BUNDLE_KIND_NONE, home_server,
                                 user, password, room_id);
}

MxprovBundle *
mxprov_bundle_new_full (gint version, MxprovBundleKind kind, const gchar *home_server,
                        const gchar *user, const gchar *password, const gchar *room_id)
{
  MxprovBundle *self;

  g_return_val_if_fail ((version == 1 && kind == MXPROV_BUNDLE_KIND_NONE)
                        || (version == 2 && kind != MXPROV_BUNDLE_KIND_NONE), NULL);
  self = g_new0 (MxprovBundle, 1);
  self->version = version;
  self->kind = kind;
  self->home_server = g_strdup (home_server);
  self->user = g_strdup (user);
  self->password = g_strdup (password);
  self->room_id = g_strdup (room_id);
  return self;
}

void
mxprov_bundle_free (MxprovBundle *self)
{
  if (self == NULL)
    return;
  g_free (self->home_server);
  g_free (self->user);
  mxprov_secret_free (self->password);
  g_free (self->room_id);
  g_free (self);
}

const gchar *
mxprov_bundle_kind_to_string (MxprovBundleKind kind)
{
  switch (kind)
    {
    case MXPROV_BUNDLE_KIND_PROVISIONED:
      return "provisioned";
    case MXPROV_BUNDLE_KIND_HANDOVER:
      return "handover";
    case MXPROV_BUNDLE_KIND_NONE:
    default:
      return NULL;
    }
}

/* json-c keeps insertion order, which gives the seed's key order (and for
 * version 2 the Lotti reference encoder's: v, kind, then the seed's). */
gchar *
mxprov_bundle_to_json (const MxprovBundle *self)
{
  g_autoptr(json_object) obj = json_object_new_object ();
  const gchar *kind = mxprov_bundle_kind_to_string (self->kind);
  const gchar *text;
  gchar *copy;

  json_object_object_add (obj, "v", json_object_new_int (self->version));
  if (kind != NULL)
    json_object_object_add (obj, "kind", json_object_new_string (kind));
  json_object_object_add (obj, "homeServer", json_object_new_string (self->home_server));
  json_object_object_add (obj, "user", json_object_new_string (self->user));
  json_object_object_add (obj, "password", json_object_new_string (self->password));
  json_object_object_add (obj, "roomId", json_object_new_string (self->room_id));
  text = json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN
                                              | JSON_C_TO_STRING_NOSLASHESCAPE);
  copy = g_strdup (text);
  mxprov_secret_wipe ((gpointer) text, strlen (text));
  mxprov_secret_wipe ((gpointer) json_object_get_string (json_object_object_get (obj, "password")),
                      strlen (self->password));
  return copy;
}

gchar *
mxprov_bundle_encode (const MxprovBundle *self)
{
  g_autoptr(MxprovSecret) json = mxprov_bundle_to_json (self);
  g_autoptr(MxprovSecret) text = mxprov_base64url_encode ((const guint8 *) json, strlen (json));
  gsize len = strlen (text);
  gchar *padded;

  /* the app pads its handover bundles (Dart's base64UrlEncode) */
  if (self->kind != MXPROV_BUNDLE_KIND_HANDOVER || len % 4 == 0)
    return g_steal_pointer (&text);
  padded = g_malloc (len + 3);
  memcpy (padded, text, len);
  while (len % 4 != 0)
    padded[len++] = '=';
  padded[len] = '\0';
  return padded;
}

static const gchar *
bundle_string (json_object *obj, const gchar *member, GError **error)
{
  json_object *value = NULL;

  if (!json_object_object_get_ex (obj, member, &value))
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle has no \"%s\"", member);
      return NULL;
    }
  if (!json_object_is_type (value, json_type_string) || json_object_get_string_len (value) == 0)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's \"%s\" is not a non-empty string", member);
      return NULL;
    }
  /* A "\u0000" escape would silently cut the C string short: a password
   * that is not the one in the bundle, a user ID that is another one. */
  if (strlen (json_object_get_string (value)) != (gsize) json_object_get_string_len (value))
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's \"%s\" contains a NUL character", member);
      return NULL;
    }
  return json_object_get_string (value);
}

/* Version 2's "kind": a string, and one of the two the app knows. */
static gboolean
bundle_kind (json_object *obj, MxprovBundleKind *out_kind, GError **error)
{
  json_object *value = NULL;
  const gchar *kind;

  if (!json_object_object_get_ex (obj, "kind", &value))
    {
      g_set_error_literal (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                           "the version 2 bundle has no \"kind\"");
      return FALSE;
    }
  if (!json_object_is_type (value, json_type_string))
    {
      g_set_error_literal (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                           "the bundle's \"kind\" is not a string");
      return FALSE;
    }
  kind = json_object_get_string (value);
  if (g_strcmp0 (kind, "provisioned") == 0)
    *out_kind = MXPROV_BUNDLE_KIND_PROVISIONED;
  else if (g_strcmp0 (kind, "handover") == 0)
    *out_kind = MXPROV_BUNDLE_KIND_HANDOVER;
  else
    {
      g_autofree gchar *shown = g_strescape (kind, NULL);
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_KIND,
                   "bundle kind \"%.64s\" is not supported (version 2 bundles are of kind "
                   "\"provisioned\" or \"handover\")", shown);
      return FALSE;
    }
  return TRUE;
}

MxprovBundle *
mxprov_bundle_from_json (const gchar *json, GError **error)
{
  g_autoptr(json_tokener) tok = json_tokener_new ();
  g_autoptr(json_object) obj = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  json_object *version = NULL;
  MxprovBundleKind kind = MXPROV_BUNDLE_KIND_NONE;
  const gchar *home_server, *user, *password, *room_id;
  gsize len = strlen (json);

  obj = json_tokener_parse_ex (tok, json, (int) len);
  if (obj == NULL || json_tokener_get_parse_end (tok) != len
      || !json_object_is_type (obj, json_type_object))
    {
      g_set_error_literal (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_JSON,
                           "the bundle is not a JSON object");
      return NULL;
    }
  if (!json_object_object_get_ex (obj, "v", &version))
    {
      g_set_error_literal (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                           "the bundle has no \"v\"");
      return NULL;
    }
  if (!json_object_is_type (version, json_type_int))
    {
      g_set_error_literal (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                           "the bundle's \"v\" is not an integer");
      return NULL;
    }
  if (json_object_get_int64 (version) < 1
      || json_object_get_int64 (version) > MXPROV_BUNDLE_VERSION_LATEST)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_VERSION,
                   "bundle version %" G_GINT64_FORMAT " is not supported (this mxprov reads "
                   "versions 1 and %d)", json_object_get_int64 (version),
                   MXPROV_BUNDLE_VERSION_LATEST);
      return NULL;
    }
  if (json_object_get_int64 (version) == 2 && !bundle_kind (obj, &kind, error))
    return NULL;
  if ((home_server = bundle_string (obj, "homeServer", error)) == NULL
      || (user = bundle_string (obj, "user", error)) == NULL
      || (password = bundle_string (obj, "password", error)) == NULL
      || (room_id = bundle_string (obj, "roomId", error)) == NULL)
    return NULL;

  if (!g_str_has_prefix (home_server, "https://") && !g_str_has_prefix (home_server, "http://"))
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's homeServer '%s' is not an http(s) URL", home_server);
      return NULL;
    }
  if (user[0] != '@' || strchr (user, ':') == NULL || strchr (user, ':') == user + 1
      || strchr (user, ':')[1] == '\0')
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's user '%s' is not a full Matrix ID (@localpart:server)", user);
      return NULL;
    }
  if (room_id[0] != '!')
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's roomId '%s' is not a room ID (!…)", room_id);
      return NULL;
    }
  bundle = mxprov_bundle_new_full ((gint) json_object_get_int64 (version), kind, home_server,
                                   user, password, room_id);
  mxprov_secret_wipe ((gpointer) password, strlen (password));
  return g_steal_pointer (&bundle);
}

/* Handover bundles are padded: take off one or two '=' at the end when
 * they make the length a multiple of 4, as correct padding does. Any other
 * '=' is left for the strict decoder to refuse. */
static gboolean
strip_padding (gchar *text, GError **error)
{
  gsize len = strlen (text);
  gsize pad = 0;

  while (pad < len && text[len - 1 - pad] == '=')
    pad++;
  if (pad == 0)
    return TRUE;
  if (pad > 2 || len % 4 != 0)
    {
      g_set_error_literal (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE,
                           "invalid Base64url: wrong '=' padding at the end");
      return FALSE;
    }
  text[len - pad] = '\0';
  return TRUE;
}

MxprovBundle *
mxprov_bundle_decode (const gchar *text, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree guint8 *raw = NULL;
  g_autofree gchar *trimmed = g_strstrip (g_strdup (text));
  MxprovBundle *bundle;
  gsize len = 0;

  if (!strip_padding (trimmed, &error_local))
    raw = NULL;
  else
    raw = mxprov_base64url_decode (trimmed, &len, &error_local);
  mxprov_secret_wipe (trimmed, strlen (trimmed));
  if (raw == NULL)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_ENCODING,
                   "the bundle is not URL-safe Base64: %s", error_local->message);
      return NULL;
    }
  if (memchr (raw, '\0', len) != NULL)
    {
      mxprov_secret_wipe (raw, len);
      g_set_error_literal (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_JSON,
                           "the bundle is not a JSON object (it contains NUL bytes)");
      return NULL;
    }
  bundle = mxprov_bundle_from_json ((const gchar *) raw, error);
  mxprov_secret_wipe (raw, len);
  return bundle;
}
