/* mxprov-bundle-lotti.c: the Lotti app's own bundle decoder, as rules.
 *
 * mxprov's decoder is mxprov's; this one answers a different question:
 * would today's Lotti app ingest this text? It follows decodeBundle in
 * lib/features/sync/state/provisioning_controller.dart (Lotti at b2c74d8f,
 * see backends-2026.md section 5.1) rule by rule, in its order, so the
 * first rule broken is the one the app would report. */
#include "config.h"

#include <string.h>
#include <json-c/json.h>

#include <mxprov/mxprov-bundle.h>
#include <mxprov/mxprov-http.h>
#include <mxprov/mxprov-secret.h>

G_DEFINE_QUARK (mxprov-lotti-error-quark, mxprov_lotti_error)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_tokener, json_tokener_free)

/* The release that first refused version 1 (commit 9f1e291d, PR #3004). */
#define LOTTI_V2_ONLY_SINCE "0.9.976+3984 (April 2026)"

const gchar *
mxprov_bundle_lotti_releases (gint version)
{
  if (version == 2)
    return "Lotti " LOTTI_V2_ONLY_SINCE " and later";
  if (version == 1)
    return "Lotti releases before " LOTTI_V2_ONLY_SINCE;
  return "no Lotti release";
}

/* The app trims, maps the URL-safe alphabet onto the standard one and pads
 * to a multiple of 4, so both alphabets, padded or not, decode; inner
 * whitespace and a length of 1 mod 4 do not. (mxprov's strict decoder does
 * the rest; it also refuses non-zero unused bits, which no encoder makes.) */
static guint8 *
lotti_base64_decode (const gchar *text, gsize *out_len, GError **error)
{
  g_autoptr(MxprovSecret) normal = g_strstrip (g_strdup (text));
  g_autoptr(GError) error_local = NULL;
  gsize len = strlen (normal);
  guint8 *raw;

  for (gsize i = 0; i < len; i++)
    if (normal[i] == '+')
      normal[i] = '-';
    else if (normal[i] == '/')
      normal[i] = '_';
  /* The app pads to a multiple of 4 first: the '=' there were and the ones
   * it adds must then be exactly what the data length needs. */
  {
    gsize body = len;
    gsize padded = (len + 3) / 4 * 4;

    while (body > 0 && normal[body - 1] == '=')
      body--;
    if (padded - body != (4 - body % 4) % 4)
      {
        g_set_error_literal (error, MXPROV_LOTTI_ERROR, MXPROV_LOTTI_ERROR_FORMAT,
                             "not Base64: wrong '=' padding");
        return NULL;
      }
    normal[body] = '\0';
  }
  raw = mxprov_base64url_decode (normal, out_len, &error_local);
  if (raw == NULL)
    g_set_error (error, MXPROV_LOTTI_ERROR, MXPROV_LOTTI_ERROR_FORMAT,
                 "not Base64: %s", error_local->message);
  return raw;
}

static gboolean
refuse (GError **error, MxprovLottiError code, const gchar *what)
{
  g_set_error (error, MXPROV_LOTTI_ERROR, code, "%s", what);
  return FALSE;
}

static gboolean
lotti_check_json (json_object *obj, GError **error)
{
  static const gchar *const strings[] = { "homeServer", "user", "password", "roomId" };
  json_object *value = NULL;
  const gchar *kind;

  if (!json_object_is_type (obj, json_type_object))
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED, "malformed: not a JSON object");
  /* 2.0 and "2" are malformed, any other integer an unsupported version */
  if (!json_object_object_get_ex (obj, "v", &value) || !json_object_is_type (value, json_type_int))
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED, "malformed: \"v\" is not a JSON integer");
  if (json_object_get_int64 (value) != 2)
    {
      g_set_error (error, MXPROV_LOTTI_ERROR, MXPROV_LOTTI_ERROR_UNSUPPORTED_VERSION,
                   "unsupported version %" G_GINT64_FORMAT ": the app reads only version 2",
                   json_object_get_int64 (value));
      return FALSE;
    }
  if (!json_object_object_get_ex (obj, "kind", &value) || !json_object_is_type (value, json_type_string))
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED, "malformed: \"kind\" is not a string");
  kind = json_object_get_string (value);
  if (g_strcmp0 (kind, "provisioned") != 0 && g_strcmp0 (kind, "handover") != 0)
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED,
                   "malformed: \"kind\" is neither \"provisioned\" nor \"handover\"");
  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++)
    if (!json_object_object_get_ex (obj, strings[i], &value)
        || !json_object_is_type (value, json_type_string))
      {
        g_set_error (error, MXPROV_LOTTI_ERROR, MXPROV_LOTTI_ERROR_MALFORMED,
                     "malformed: \"%s\" is missing or not a string", strings[i]);
        return FALSE;
      }
  if (!g_str_has_prefix (json_object_get_string (json_object_object_get (obj, "user")), "@"))
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED, "malformed: \"user\" does not start with '@'");
  if (!g_str_has_prefix (json_object_get_string (json_object_object_get (obj, "roomId")), "!"))
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED, "malformed: \"roomId\" does not start with '!'");
  /* case-sensitive, as the app compares */
  if (!g_str_has_prefix (json_object_get_string (json_object_object_get (obj, "homeServer")),
                         "https://"))
    return refuse (error, MXPROV_LOTTI_ERROR_MALFORMED,
                   "malformed: \"homeServer\" does not start with https:// (the app refuses plain http)");
  return TRUE;
}

gboolean
mxprov_bundle_lotti_accepts (const gchar *text, GError **error)
{
  g_autoptr(json_tokener) tok = json_tokener_new ();
  g_autoptr(MxprovSecretJson) obj = NULL;
  g_autofree guint8 *raw = NULL;
  gboolean ok;
  gsize len = 0;

  raw = lotti_base64_decode (text, &len, error);
  if (raw == NULL)
    return FALSE;
  if (!g_utf8_validate_len ((const gchar *) raw, len, NULL))
    ok = refuse (error, MXPROV_LOTTI_ERROR_FORMAT, "not UTF-8");
  else
    {
      obj = json_tokener_parse_ex (tok, (const gchar *) raw, (int) len);
      if (obj == NULL || json_tokener_get_parse_end (tok) != len)
        ok = refuse (error, MXPROV_LOTTI_ERROR_FORMAT, "not JSON");
      else
        ok = lotti_check_json (obj, error);
    }
  mxprov_secret_wipe (raw, len);
  return ok;
}
