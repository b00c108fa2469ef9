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
  MxprovBundle *self = g_new0 (MxprovBundle, 1);
  self->version = MXPROV_BUNDLE_VERSION;
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

/* json-c keeps insertion order, which gives the seed's key order. */
gchar *
mxprov_bundle_to_json (const MxprovBundle *self)
{
  g_autoptr(json_object) obj = json_object_new_object ();
  const gchar *text;
  gchar *copy;

  json_object_object_add (obj, "v", json_object_new_int (self->version));
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
  return mxprov_base64url_encode ((const guint8 *) json, strlen (json));
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

MxprovBundle *
mxprov_bundle_from_json (const gchar *json, GError **error)
{
  g_autoptr(json_tokener) tok = json_tokener_new ();
  g_autoptr(json_object) obj = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  json_object *version = NULL;
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
  if (json_object_get_int64 (version) != MXPROV_BUNDLE_VERSION)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_VERSION,
                   "bundle version %" G_GINT64_FORMAT " is not supported (this mxprov reads version %d)",
                   json_object_get_int64 (version), MXPROV_BUNDLE_VERSION);
      return NULL;
    }
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
  bundle = mxprov_bundle_new (home_server, user, password, room_id);
  mxprov_secret_wipe ((gpointer) password, strlen (password));
  return g_steal_pointer (&bundle);
}

MxprovBundle *
mxprov_bundle_decode (const gchar *text, GError **error)
{
  g_autoptr(GError) error_local = NULL;
  g_autofree guint8 *raw = NULL;
  g_autofree gchar *trimmed = g_strstrip (g_strdup (text));
  MxprovBundle *bundle;
  gsize len = 0;

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
