/* test-bundle.c: the provisioning bundle's JSON, its encoding and its
 * validation on decode. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>

typedef struct {
  const gchar *home_server;
  const gchar *user;
  const gchar *password;
  const gchar *room_id;
  const gchar *json;
} BundleCase;

static const BundleCase bundle_cases[] = {
  {
    "https://matrix.example.com", "@lotti_sync:example.com", "Zx8-q_W0rd/~?>",
    "!AbCdEf:example.com",
    "{\"v\":1,\"homeServer\":\"https://matrix.example.com\",\"user\":\"@lotti_sync:example.com\","
    "\"password\":\"Zx8-q_W0rd/~?>\",\"roomId\":\"!AbCdEf:example.com\"}",
  },
  {
    /* '/' everywhere (never escaped as "\/"), and non-ASCII UTF-8 */
    "https://example.org/_matrix/base/", "@a/b=c:example.org:8448",
    "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93 \xf0\x9f\x94\x91 \xc3\xbf?",
    "!room/with/slash:example.org",
    "{\"v\":1,\"homeServer\":\"https://example.org/_matrix/base/\",\"user\":\"@a/b=c:example.org:8448\","
    "\"password\":\"p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93 \xf0\x9f\x94\x91 \xc3\xbf?\","
    "\"roomId\":\"!room/with/slash:example.org\"}",
  },
  {
    /* JSON escapes in the password */
    "http://localhost:8008", "@alice:localhost", "\"quoted\" \\back\\ \ttab",
    "!x:localhost",
    "{\"v\":1,\"homeServer\":\"http://localhost:8008\",\"user\":\"@alice:localhost\","
    "\"password\":\"\\\"quoted\\\" \\\\back\\\\ \\ttab\",\"roomId\":\"!x:localhost\"}",
  },
};

static gboolean
is_base64url_text (const gchar *text)
{
  for (const gchar *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/* An independent decoder: GLib's standard Base64 after translating the
 * alphabet back and restoring the padding. */
static gchar *
decode_with_glib (const gchar *encoded)
{
  g_autoptr(GString) std = g_string_new (encoded);
  guchar *raw;
  gsize len = 0;
  gchar *text;

  g_strdelimit (std->str, "-", '+');
  g_strdelimit (std->str, "_", '/');
  while (std->len % 4 != 0)
    g_string_append_c (std, '=');
  raw = g_base64_decode (std->str, &len);
  text = g_strndup ((const gchar *) raw, len);
  g_free (raw);
  return text;
}

static void
test_bundle_new (void)
{
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_new ("https://h.example", "@u:h.example",
                                                      "pw", "!r:h.example");

  g_assert_cmpint (bundle->version, ==, MXPROV_BUNDLE_VERSION);
  g_assert_cmpint (bundle->version, ==, 1);
  g_assert_cmpstr (bundle->home_server, ==, "https://h.example");
  g_assert_cmpstr (bundle->user, ==, "@u:h.example");
  g_assert_cmpstr (bundle->password, ==, "pw");
  g_assert_cmpstr (bundle->room_id, ==, "!r:h.example");

  mxprov_bundle_free (NULL);
}

static void
test_bundle_to_json (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bundle_cases); i++)
    {
      const BundleCase *c = &bundle_cases[i];
      g_autoptr(MxprovBundle) bundle = mxprov_bundle_new (c->home_server, c->user,
                                                          c->password, c->room_id);
      g_autoptr(MxprovSecret) json = mxprov_bundle_to_json (bundle);

      g_test_message ("bundle %" G_GSIZE_FORMAT, i);
      g_assert_cmpstr (json, ==, c->json);
      g_assert_true (g_utf8_validate (json, -1, NULL));
      /* the bundle itself is untouched by the wiping of json-c's copies */
      g_assert_cmpstr (bundle->password, ==, c->password);
    }
}

static void
test_bundle_encode (void)
{
  gboolean std_has_plus = FALSE, std_has_slash = FALSE, std_has_pad = FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (bundle_cases); i++)
    {
      const BundleCase *c = &bundle_cases[i];
      g_autoptr(MxprovBundle) bundle = mxprov_bundle_new (c->home_server, c->user,
                                                          c->password, c->room_id);
      g_autoptr(MxprovSecret) encoded = mxprov_bundle_encode (bundle);
      g_autofree gchar *std = g_base64_encode ((const guchar *) c->json, strlen (c->json));
      g_autofree gchar *decoded = NULL;

      g_test_message ("bundle %" G_GSIZE_FORMAT ": %s", i, encoded);
      g_assert_true (is_base64url_text (encoded));
      g_assert_null (strchr (encoded, '='));
      /* unpadded length */
      g_assert_cmpuint (strlen (encoded), ==, (strlen (c->json) * 4 + 2) / 3);
      decoded = decode_with_glib (encoded);
      g_assert_cmpstr (decoded, ==, c->json);

      std_has_plus |= strchr (std, '+') != NULL;
      std_has_slash |= strchr (std, '/') != NULL;
      std_has_pad |= strchr (std, '=') != NULL;
    }
  /* the cases are chosen so that the alphabet and padding checks bite */
  g_assert_true (std_has_plus);
  g_assert_true (std_has_slash);
  g_assert_true (std_has_pad);
}

static void
test_bundle_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bundle_cases); i++)
    {
      const BundleCase *c = &bundle_cases[i];
      g_autoptr(MxprovBundle) bundle = mxprov_bundle_new (c->home_server, c->user,
                                                          c->password, c->room_id);
      g_autoptr(MxprovSecret) encoded = mxprov_bundle_encode (bundle);
      g_autoptr(GError) error = NULL;
      g_autoptr(MxprovBundle) back = mxprov_bundle_decode (encoded, &error);

      g_test_message ("bundle %" G_GSIZE_FORMAT, i);
      g_assert_no_error (error);
      g_assert_nonnull (back);
      g_assert_cmpint (back->version, ==, 1);
      g_assert_cmpstr (back->home_server, ==, c->home_server);
      g_assert_cmpstr (back->user, ==, c->user);
      g_assert_cmpstr (back->password, ==, c->password);
      g_assert_cmpstr (back->room_id, ==, c->room_id);
    }
}

static void
test_bundle_from_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_from_json (bundle_cases[2].json, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (bundle->password, ==, bundle_cases[2].password);
  g_assert_cmpstr (bundle->home_server, ==, bundle_cases[2].home_server);
}

static void
assert_decode_fails (const gchar *text, gint code, const gchar *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (text, &error);

  g_test_message ("decoding '%s': %s", text, error != NULL ? error->message : "(no error)");
  g_assert_null (bundle);
  g_assert_error (error, MXPROV_BUNDLE_ERROR, code);
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
assert_json_fails (const gchar *json, gint code, const gchar *fragment)
{
  g_autofree gchar *encoded = mxprov_base64url_encode ((const guint8 *) json, strlen (json));

  g_test_message ("JSON %s", json);
  assert_decode_fails (encoded, code, fragment);
}

static gchar *
encode_case (gsize i)
{
  const BundleCase *c = &bundle_cases[i];
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_new (c->home_server, c->user,
                                                      c->password, c->room_id);
  return mxprov_bundle_encode (bundle);
}

/* Correct '=' padding is accepted (the app pads its handover bundles);
 * wrong padding is not. */
static void
test_bundle_decode_padded (void)
{
  g_autoptr(MxprovSecret) encoded = encode_case (2);
  g_autoptr(GString) padded = g_string_new (encoded);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;

  g_assert_cmpuint (strlen (encoded) % 4, !=, 0);
  while (padded->len % 4 != 0)
    g_string_append_c (padded, '=');
  bundle = mxprov_bundle_decode (padded->str, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (bundle->password, ==, bundle_cases[2].password);

  /* one '=' too many: no longer a multiple of 4 */
  g_string_append_c (padded, '=');
  assert_decode_fails (padded->str, MXPROV_BUNDLE_ERROR_ENCODING, "padding");
  /* three '=' on a multiple of 4 */
  g_string_truncate (padded, strlen (encoded));
  while (padded->len % 4 != 1)
    g_string_truncate (padded, padded->len - 1);
  g_string_append (padded, "===");
  assert_decode_fails (padded->str, MXPROV_BUNDLE_ERROR_ENCODING, "padding");
  /* '=' inside */
  assert_decode_fails ("eyJ2=Ijox", MXPROV_BUNDLE_ERROR_ENCODING, "padding");
}

static void
test_bundle_decode_standard_alphabet (void)
{
  g_autoptr(MxprovSecret) encoded0 = encode_case (0);
  g_autoptr(MxprovSecret) encoded1 = encode_case (1);
  g_autofree gchar *plus = g_strdup (encoded0);
  g_autofree gchar *slash = g_strdup (encoded1);

  /* case 0's encoding has a '-', case 1's a '_' */
  g_strdelimit (plus, "-", '+');
  g_strdelimit (slash, "_", '/');
  g_assert_cmpstr (plus, !=, encoded0);
  g_assert_cmpstr (slash, !=, encoded1);
  assert_decode_fails (plus, MXPROV_BUNDLE_ERROR_ENCODING, "standard Base64 alphabet");
  assert_decode_fails (slash, MXPROV_BUNDLE_ERROR_ENCODING, "standard Base64 alphabet");
}

static void
test_bundle_decode_bad_chars (void)
{
  assert_decode_fails ("eyJ2Ijox*In0", MXPROV_BUNDLE_ERROR_ENCODING, "not in the URL-safe");
  assert_decode_fails ("eyJ2 Ijox", MXPROV_BUNDLE_ERROR_ENCODING, "not in the URL-safe");
  assert_decode_fails ("{\"v\":1}", MXPROV_BUNDLE_ERROR_ENCODING, "not URL-safe Base64");
  assert_decode_fails ("eyJ2Ijox\xc3\xa9", MXPROV_BUNDLE_ERROR_ENCODING, "not in the URL-safe");
}

static void
test_bundle_decode_truncated (void)
{
  g_autoptr(MxprovSecret) encoded = encode_case (0);
  gsize len = strlen (encoded);
  g_autofree gchar *one_left = NULL;
  g_autofree gchar *mid_json = NULL;

  /* a length that leaves a lone 6-bit character */
  one_left = g_strndup (encoded, len - (len % 4) - 3);
  g_assert_cmpuint (strlen (one_left) % 4, ==, 1);
  assert_decode_fails (one_left, MXPROV_BUNDLE_ERROR_ENCODING, "truncated");

  /* well-formed Base64 of the first half of the JSON */
  mid_json = g_strndup (encoded, (len / 2) & ~(gsize) 3);
  assert_decode_fails (mid_json, MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");

  /* and the empty string */
  assert_decode_fails ("", MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");
}

static void
test_bundle_decode_not_object (void)
{
  assert_json_fails ("[1,2,3]", MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");
  assert_json_fails ("\"v\"", MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");
  assert_json_fails ("1", MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");
  assert_json_fails ("null", MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");
  assert_json_fails ("not json at all", MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");
  /* an object followed by garbage is not an object either */
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"} trailing",
                     MXPROV_BUNDLE_ERROR_JSON, "not a JSON object");

  /* a NUL byte would hide the rest of the text from the JSON parser */
  {
    static const guint8 with_nul[] = "{\"v\":1}\0{}";
    g_autofree gchar *encoded = mxprov_base64url_encode (with_nul, sizeof with_nul - 1);
    assert_decode_fails (encoded, MXPROV_BUNDLE_ERROR_JSON, "NUL");
  }
}

static void
test_bundle_decode_missing_field (void)
{
  assert_json_fails ("{\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "no \"v\"");
  assert_json_fails ("{\"v\":1,\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "no \"homeServer\"");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "no \"user\"");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "no \"password\"");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "no \"roomId\"");
  assert_json_fails ("{}", MXPROV_BUNDLE_ERROR_FIELD, "no \"v\"");
}

static void
test_bundle_decode_wrong_type (void)
{
  assert_json_fails ("{\"v\":\"1\",\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"v\" is not an integer");
  assert_json_fails ("{\"v\":1.5,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"v\" is not an integer");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":12345678,\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"password\" is not a non-empty string");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"password\" is not a non-empty string");
  assert_json_fails ("{\"v\":1,\"homeServer\":null,\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"homeServer\" is not a non-empty string");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":[\"@u:h.example\"],"
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"user\" is not a non-empty string");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":{}}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"roomId\" is not a non-empty string");
}

static void
test_bundle_decode_version (void)
{
  assert_json_fails ("{\"v\":3,\"kind\":\"provisioned\",\"homeServer\":\"https://h.example\","
                     "\"user\":\"@u:h.example\",\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_VERSION, "version 3 is not supported");
  assert_json_fails ("{\"v\":0,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_VERSION, "version 0 is not supported");
  /* version 2 needs its kind */
  assert_json_fails ("{\"v\":2,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "no \"kind\"");
}

/* An unknown kind is an error that names what was found. */
static void
test_bundle_decode_kind (void)
{
  assert_json_fails ("{\"v\":2,\"kind\":\"invite\",\"homeServer\":\"https://h.example\","
                     "\"user\":\"@u:h.example\",\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_KIND, "kind \"invite\" is not supported");
  assert_json_fails ("{\"v\":2,\"kind\":7,\"homeServer\":\"https://h.example\","
                     "\"user\":\"@u:h.example\",\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "\"kind\" is not a string");
}

/* Version 2: the Lotti reference encoder's exact JSON (v, kind, then the
 * plan's keys), unpadded Base64url; decoding gives it back. */
static void
test_bundle_v2_round_trip (void)
{
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_new_full (2, MXPROV_BUNDLE_KIND_PROVISIONED,
                                                           "https://hs.example", "@u:example",
                                                           "p/w+x", "!r");
  g_autoptr(MxprovSecret) json = mxprov_bundle_to_json (bundle);
  g_autoptr(MxprovSecret) encoded = mxprov_bundle_encode (bundle);
  g_autofree gchar *decoded_json = decode_with_glib (encoded);
  g_autoptr(MxprovBundle) back = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (json, ==, "{\"v\":2,\"kind\":\"provisioned\",\"homeServer\":\"https://hs.example\","
                             "\"user\":\"@u:example\",\"password\":\"p/w+x\",\"roomId\":\"!r\"}");
  g_assert_true (is_base64url_text (encoded));
  g_assert_cmpstr (decoded_json, ==, json);
  back = mxprov_bundle_decode (encoded, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->version, ==, 2);
  g_assert_cmpint (back->kind, ==, MXPROV_BUNDLE_KIND_PROVISIONED);
  g_assert_cmpstr (back->home_server, ==, "https://hs.example");
  g_assert_cmpstr (back->user, ==, "@u:example");
  g_assert_cmpstr (back->password, ==, "p/w+x");
  g_assert_cmpstr (back->room_id, ==, "!r");
  g_assert_true (mxprov_bundle_lotti_accepts (encoded, &error));
  g_assert_no_error (error);

  /* version 1 has no kind, and a kind in it is ignored as the plan ignores it */
  g_clear_pointer (&back, mxprov_bundle_free);
  back = mxprov_bundle_from_json ("{\"v\":1,\"kind\":\"x\",\"homeServer\":\"https://h\","
                                  "\"user\":\"@u:h\",\"password\":\"pw\",\"roomId\":\"!r\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->kind, ==, MXPROV_BUNDLE_KIND_NONE);
}

/* The app's handover bundle: version 2, kind handover, Base64url with '='
 * padding as Dart's base64UrlEncode writes it. */
static void
test_bundle_handover_round_trip (void)
{
  /* 6 + 26 + ... bytes: chosen so that the JSON length is not a multiple of 3 */
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_new_full (2, MXPROV_BUNDLE_KIND_HANDOVER,
                                                           "https://hs.example", "@u:example",
                                                           "rotated-by-the-app", "!room");
  g_autoptr(MxprovSecret) json = mxprov_bundle_to_json (bundle);
  g_autoptr(MxprovSecret) encoded = mxprov_bundle_encode (bundle);
  g_autofree gchar *glib_encoded = g_base64_encode ((const guchar *) json, strlen (json));
  g_autoptr(MxprovBundle) back = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (strlen (json) % 3, !=, 0);
  g_assert_true (g_str_has_prefix (json, "{\"v\":2,\"kind\":\"handover\",\"homeServer\""));
  /* exactly GLib's standard Base64 with the URL-safe alphabet: padded */
  g_strdelimit (glib_encoded, "+", '-');
  g_strdelimit (glib_encoded, "/", '_');
  g_assert_cmpstr (encoded, ==, glib_encoded);
  g_assert_true (g_str_has_suffix (encoded, "="));
  back = mxprov_bundle_decode (encoded, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->version, ==, 2);
  g_assert_cmpint (back->kind, ==, MXPROV_BUNDLE_KIND_HANDOVER);
  g_assert_cmpstr (back->password, ==, "rotated-by-the-app");
  g_assert_true (mxprov_bundle_lotti_accepts (encoded, &error));
  g_assert_no_error (error);
}

/* The Lotti app's decoder (backends-2026.md 5.1), rule by rule: each once
 * kept and once broken. */
#define HS "\"homeServer\":\"https://hs.example\""
#define USER "\"user\":\"@u:example\""
#define PW "\"password\":\"pw\""
#define ROOM "\"roomId\":\"!r\""
#define FIELDS HS "," USER "," PW "," ROOM
#define GOOD "{\"v\":2,\"kind\":\"provisioned\"," FIELDS "}"

typedef enum {
  AS_URLSAFE,   /* URL-safe, unpadded (mxprov, the reference encoder) */
  AS_PADDED,    /* URL-safe, padded (the app's handover) */
  AS_STANDARD,  /* standard alphabet, padded */
  AS_RAW,       /* the text as is, not encoded */
} Encoding;

typedef struct {
  const gchar *rule;
  const gchar *text;
  Encoding encoding;
  gint code; /* -1: the app ingests it */
} LottiCase;

static const LottiCase lotti_cases[] = {
  { "trimmed", "  " GOOD "\n", AS_URLSAFE, -1 }, /* the text is wrapped below */
  { "URL-safe alphabet", "{\"v\":2,\"kind\":\"provisioned\"," FIELDS ",\"x\":\"?" "?>>~~\"}", AS_URLSAFE, -1 },
  { "standard alphabet", "{\"v\":2,\"kind\":\"provisioned\"," FIELDS ",\"x\":\"?" "?>>~~\"}", AS_STANDARD, -1 },
  { "padded", GOOD, AS_PADDED, -1 },
  { "not Base64", "eyJ2Ijo*In0", AS_RAW, MXPROV_LOTTI_ERROR_FORMAT },
  { "inner whitespace", "eyJ2Ijoy LCJr", AS_RAW, MXPROV_LOTTI_ERROR_FORMAT },
  { "length 1 mod 4", "eyJ2I", AS_RAW, MXPROV_LOTTI_ERROR_FORMAT },
  { "too much padding", "eyJ2Ijoy===", AS_RAW, MXPROV_LOTTI_ERROR_FORMAT },
  { "UTF-8", "{\"v\":2,\"kind\":\"provisioned\"," FIELDS ",\"n\":\"\xc3\xa4\"}", AS_URLSAFE, -1 },
  { "not UTF-8", "{\"v\":2,\"kind\":\"provisioned\"," FIELDS ",\"n\":\"\xc3\"}", AS_URLSAFE, MXPROV_LOTTI_ERROR_FORMAT },
  { "not JSON", "{\"v\":2,", AS_URLSAFE, MXPROV_LOTTI_ERROR_FORMAT },
  { "top level an array", "[" GOOD "]", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "v 2.0", "{\"v\":2.0,\"kind\":\"provisioned\"," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "v \"2\"", "{\"v\":\"2\",\"kind\":\"provisioned\"," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "v 1", "{\"v\":1," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_UNSUPPORTED_VERSION },
  { "v 3", "{\"v\":3,\"kind\":\"provisioned\"," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_UNSUPPORTED_VERSION },
  { "kind handover", "{\"v\":2,\"kind\":\"handover\"," FIELDS "}", AS_PADDED, -1 },
  { "kind unknown", "{\"v\":2,\"kind\":\"Provisioned\"," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "kind not a string", "{\"v\":2,\"kind\":1," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "kind missing", "{\"v\":2," FIELDS "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "empty password", "{\"v\":2,\"kind\":\"provisioned\"," HS "," USER ",\"password\":\"\"," ROOM "}", AS_URLSAFE, -1 },
  { "password missing", "{\"v\":2,\"kind\":\"provisioned\"," HS "," USER "," ROOM "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "homeServer not a string", "{\"v\":2,\"kind\":\"provisioned\",\"homeServer\":1," USER "," PW "," ROOM "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "roomId missing", "{\"v\":2,\"kind\":\"provisioned\"," HS "," USER "," PW "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "user not a string", "{\"v\":2,\"kind\":\"provisioned\"," HS ",\"user\":null," PW "," ROOM "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "user without @", "{\"v\":2,\"kind\":\"provisioned\"," HS ",\"user\":\"u:example\"," PW "," ROOM "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "roomId without !", "{\"v\":2,\"kind\":\"provisioned\"," HS "," USER "," PW ",\"roomId\":\"#r:example\"}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "homeServer http://", "{\"v\":2,\"kind\":\"provisioned\",\"homeServer\":\"http://hs.example\"," USER "," PW "," ROOM "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "homeServer HTTPS://", "{\"v\":2,\"kind\":\"provisioned\",\"homeServer\":\"HTTPS://hs.example\"," USER "," PW "," ROOM "}", AS_URLSAFE, MXPROV_LOTTI_ERROR_MALFORMED },
  { "extra keys", "{\"v\":2,\"kind\":\"provisioned\"," FIELDS ",\"extra\":{\"a\":[1]}}", AS_URLSAFE, -1 },
};

static gchar *
encode_as (const gchar *text, Encoding encoding)
{
  g_autofree gchar *std = g_base64_encode ((const guchar *) text, strlen (text));
  gchar *out;

  if (encoding == AS_RAW)
    return g_strdup (text);
  if (encoding == AS_STANDARD)
    return g_steal_pointer (&std);
  out = mxprov_base64url_encode ((const guint8 *) text, strlen (text));
  if (encoding == AS_PADDED)
    {
      g_autofree gchar *unpadded = out;
      out = g_strnfill ((strlen (unpadded) + 3) / 4 * 4, '=');
      memcpy (out, unpadded, strlen (unpadded));
    }
  return out;
}

static void
test_bundle_lotti_rules (void)
{
  guint accepted = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (lotti_cases); i++)
    {
      const LottiCase *c = &lotti_cases[i];
      g_autofree gchar *encoded = encode_as (c->text, c->encoding);
      g_autoptr(GError) error = NULL;
      gboolean ok;

      /* the first case checks trimming of the encoded text, not the JSON */
      if (i == 0)
        {
          g_autofree gchar *inner = encode_as (GOOD, AS_URLSAFE);
          g_free (encoded);
          encoded = g_strdup_printf (" \t%s\r\n", inner);
        }
      /* the alphabet cases must hold the characters that differ */
      if (c->encoding == AS_STANDARD)
        g_assert_nonnull (strpbrk (encoded, "+/"));
      if (c->encoding == AS_URLSAFE && strstr (c->rule, "alphabet") != NULL)
        g_assert_nonnull (strpbrk (encoded, "-_"));
      ok = mxprov_bundle_lotti_accepts (encoded, &error);
      g_test_message ("%s: %s", c->rule, ok ? "ingested" : error->message);
      if (c->code < 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          accepted++;
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, MXPROV_LOTTI_ERROR, c->code);
        }
    }
  /* both halves of the table are exercised */
  g_assert_cmpuint (accepted, >, 5);
  g_assert_cmpuint (accepted, <, G_N_ELEMENTS (lotti_cases) - 5);
}

static void
test_bundle_decode_bad_values (void)
{
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@uh.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "user '@uh.example' is not a full Matrix ID");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "user 'u:h.example' is not a full Matrix ID");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "user '@:h.example' is not a full Matrix ID");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"#r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "roomId '#r:h.example' is not a room ID");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"ftp://h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "homeServer 'ftp://h.example' is not an http(s) URL");
  assert_json_fails ("{\"v\":1,\"homeServer\":\"h.example\",\"user\":\"@u:h.example\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "homeServer 'h.example' is not an http(s) URL");
}

/* "@u:" has no server name, so it is not a full Matrix ID either. */
static void
test_bundle_decode_user_empty_server (void)
{
  assert_json_fails ("{\"v\":1,\"homeServer\":\"https://h.example\",\"user\":\"@u:\","
                     "\"password\":\"pw\",\"roomId\":\"!r:h.example\"}",
                     MXPROV_BUNDLE_ERROR_FIELD, "user '@u:' is not a full Matrix ID");
}

static void
test_bundle_decode_whitespace (void)
{
  g_autoptr(MxprovSecret) encoded = encode_case (0);
  g_autofree gchar *spaced = g_strdup_printf ("  %s\r\n", encoded);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (spaced, &error);

  /* surrounding whitespace (a file's final newline) is not part of the bundle */
  g_assert_no_error (error);
  g_assert_cmpstr (bundle->password, ==, bundle_cases[0].password);
}

/* "\u0000" inside a field would cut the C string short. */
static void
test_bundle_decode_nul_escape (void)
{
  static const gchar *const texts[] = {
    "{\"v\":1,\"homeServer\":\"https://m.example\",\"user\":\"@a:b\",\"password\":\"\\u0000abc\",\"roomId\":\"!r\"}",
    "{\"v\":1,\"homeServer\":\"https://m.example\",\"user\":\"@a:b\\u0000x\",\"password\":\"pw\",\"roomId\":\"!r\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MxprovBundle) bundle = mxprov_bundle_from_json (texts[i], &error);
      g_assert_null (bundle);
      g_assert_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD);
      g_assert_nonnull (strstr (error->message, "NUL"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/bundle/new", test_bundle_new);
  g_test_add_func ("/bundle/to-json", test_bundle_to_json);
  g_test_add_func ("/bundle/encode", test_bundle_encode);
  g_test_add_func ("/bundle/round-trip", test_bundle_round_trip);
  g_test_add_func ("/bundle/from-json", test_bundle_from_json);
  g_test_add_func ("/bundle/decode/padded", test_bundle_decode_padded);
  g_test_add_func ("/bundle/decode/standard-alphabet", test_bundle_decode_standard_alphabet);
  g_test_add_func ("/bundle/decode/bad-chars", test_bundle_decode_bad_chars);
  g_test_add_func ("/bundle/decode/truncated", test_bundle_decode_truncated);
  g_test_add_func ("/bundle/decode/not-object", test_bundle_decode_not_object);
  g_test_add_func ("/bundle/decode/missing-field", test_bundle_decode_missing_field);
  g_test_add_func ("/bundle/decode/wrong-type", test_bundle_decode_wrong_type);
  g_test_add_func ("/bundle/decode/version", test_bundle_decode_version);
  g_test_add_func ("/bundle/decode/kind", test_bundle_decode_kind);
  g_test_add_func ("/bundle/v2/round-trip", test_bundle_v2_round_trip);
  g_test_add_func ("/bundle/handover/round-trip", test_bundle_handover_round_trip);
  g_test_add_func ("/bundle/lotti/rules", test_bundle_lotti_rules);
  g_test_add_func ("/bundle/decode/bad-values", test_bundle_decode_bad_values);
  g_test_add_func ("/bundle/decode/whitespace", test_bundle_decode_whitespace);
  g_test_add_func ("/bundle/decode/user-empty-server", test_bundle_decode_user_empty_server);
  g_test_add_func ("/bundle/decode/nul-escape", test_bundle_decode_nul_escape);

  return g_test_run ();
}
