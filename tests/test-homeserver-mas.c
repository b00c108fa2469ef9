/* test-homeserver-mas.c: proves that the test homeserver's mas flavour
 * answers like Synapse 1.157.1 under the Matrix Authentication Service
 * 1.22.0 (backends-2026.md section 1, MAS's own source where that is
 * silent), on both of its ports, by talking HTTP to it with libcurl as
 * test-homeserver-selftest.c does. mxprov's MAS backend is tested against
 * this; if it is wrong, those tests prove nothing.
 */
#include <curl/curl.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>

#include "test-homeserver.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_object, json_object_put)

#define SERVER_NAME "example.test"
#define ADMIN_PASSWORD "correct admin password 42"
#define CLIENT_ID "01J9ADM1NC11ENT0000000000A"
#define CLIENT_SECRET "admin client secret"
#define OTHER_ID "01J9PLA1NC11ENT0000000000B"
#define OTHER_SECRET "plain client secret"
#define PUBLIC_ID "01J9PUB11CC11ENT000000000C"
/* what a client makes of 32 random bytes: 43 URL-safe Base64 characters */
#define STRONG_PASSWORD "q3W_x9-LmZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ01234"
#define API_SCOPE "urn:matrix:client:api:*"
#define UNSTABLE_API_SCOPE "urn:matrix:org.matrix.msc2967.client:api:*"
#define WHOAMI "/_matrix/client/v3/account/whoami"
#define LOGIN "/_matrix/client/v3/login"
#define LOGOUT "/_matrix/client/v3/logout"
#define USERS "/api/admin/v1/users"
#define PERSONAL_SESSIONS "/api/admin/v1/personal-sessions"
#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"

/* the CA of tests/data/test-server.pem, when a test serves https */
static const gchar *ca_file;

typedef struct {
  CURLcode code;
  long status;
  gchar *content_type; /* NULL: no Content-Type header */
  gchar *cache_control;
  gchar *pragma;
  gchar *retry_after;
  gchar *server;
  GString *body;
  json_object *json; /* NULL unless the body is valid JSON */
} Response;

static void
response_free (Response *resp)
{
  g_free (resp->content_type);
  g_free (resp->cache_control);
  g_free (resp->pragma);
  g_free (resp->retry_after);
  g_free (resp->server);
  g_string_free (resp->body, TRUE);
  if (resp->json != NULL)
    json_object_put (resp->json);
  g_free (resp);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Response, response_free)

static size_t
write_cb (char *data, size_t size, size_t nmemb, void *user_data)
{
  g_string_append_len (user_data, data, (gssize) (size * nmemb));
  return size * nmemb;
}

static void
take_header (const gchar *line, const gchar *name, gchar **out)
{
  gsize len = strlen (name);

  if (g_ascii_strncasecmp (line, name, len) == 0 && line[len] == ':')
    {
      g_free (*out);
      *out = g_strstrip (g_strdup (line + len + 1));
    }
}

static size_t
header_cb (char *data, size_t size, size_t nmemb, void *user_data)
{
  Response *resp = user_data;
  g_autofree gchar *line = g_strndup (data, size * nmemb);

  g_strchomp (line);
  /* a new status line: the headers of an earlier answer (100) go */
  if (g_str_has_prefix (line, "HTTP/"))
    {
      g_clear_pointer (&resp->content_type, g_free);
      g_clear_pointer (&resp->retry_after, g_free);
    }
  take_header (line, "Content-Type", &resp->content_type);
  take_header (line, "Cache-Control", &resp->cache_control);
  take_header (line, "Pragma", &resp->pragma);
  take_header (line, "Retry-After", &resp->retry_after);
  take_header (line, "Server", &resp->server);
  return size * nmemb;
}

/* One request on a fresh connection. `authorization` is the whole header
 * value ("Bearer x", "Basic y") or NULL; `content_type` NULL sends none. */
static Response *
http (const gchar *base_url, const gchar *method, const gchar *path, const gchar *authorization,
      const gchar *content_type, const gchar *body)
{
  Response *resp = g_new0 (Response, 1);
  g_autofree gchar *url = g_strconcat (base_url, path, NULL);
  g_autofree gchar *auth = NULL;
  g_autofree gchar *ct = NULL;
  struct curl_slist *headers = NULL;
  CURL *curl = curl_easy_init ();

  g_assert_nonnull (curl);
  resp->body = g_string_new (NULL);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, resp->body);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, resp);
  if (ca_file != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, ca_file);
  if (authorization != NULL)
    {
      auth = g_strdup_printf ("Authorization: %s", authorization);
      headers = curl_slist_append (headers, auth);
    }
  /* libcurl would add a form Content-Type of its own to a body */
  ct = g_strdup_printf ("Content-Type:%s%s", content_type != NULL ? " " : "",
                        content_type != NULL ? content_type : "");
  headers = curl_slist_append (headers, ct);
  if (body != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    }
  headers = curl_slist_append (headers, "Expect:");
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);

  resp->code = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &resp->status);
  if (resp->code == CURLE_OK)
    {
      json_tokener *tok = json_tokener_new ();
      resp->json = json_tokener_parse_ex (tok, resp->body->str, (int) resp->body->len);
      if (json_tokener_get_error (tok) != json_tokener_success
          || json_tokener_get_parse_end (tok) != resp->body->len)
        g_clear_pointer (&resp->json, json_object_put);
      json_tokener_free (tok);
    }
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
  return resp;
}

static gchar *
bearer (const gchar *token)
{
  return g_strdup_printf ("Bearer %s", token);
}

static gchar *
basic (const gchar *id, const gchar *secret)
{
  g_autofree gchar *pair = g_strdup_printf ("%s:%s", id, secret);
  g_autofree gchar *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));

  return g_strdup_printf ("Basic %s", b64);
}

/* the homeserver port, JSON in and out */
static Response *
hs_call (TestHomeserver *hs, const gchar *method, const gchar *path, const gchar *token, const gchar *body)
{
  g_autofree gchar *auth = token != NULL ? bearer (token) : NULL;

  return http (test_homeserver_get_url (hs), method, path, auth, body != NULL ? JSON : NULL, body);
}

/* MAS's port, JSON in and out, an admin token or none */
static Response *
mas_call (TestHomeserver *hs, const gchar *method, const gchar *path, const gchar *token, const gchar *body)
{
  g_autofree gchar *auth = token != NULL ? bearer (token) : NULL;

  return http (test_homeserver_get_mas_url (hs), method, path, auth, body != NULL ? JSON : NULL, body);
}

static const gchar *
jstr (json_object *obj, const gchar *key)
{
  json_object *value = NULL;

  if (obj == NULL || !json_object_object_get_ex (obj, key, &value)
      || !json_object_is_type (value, json_type_string))
    return NULL;
  return json_object_get_string (value);
}

static json_object *
jget (json_object *obj, const gchar *key)
{
  json_object *value = NULL;

  if (obj == NULL || !json_object_object_get_ex (obj, key, &value))
    return NULL;
  return value;
}

static gboolean
jhas (json_object *obj, const gchar *key)
{
  return obj != NULL && json_object_object_get_ex (obj, key, NULL);
}

/* data.attributes.<key> of an admin API answer */
static const gchar *
attr (Response *resp, const gchar *key)
{
  return jstr (jget (jget (resp->json, "data"), "attributes"), key);
}

static void
assert_status (Response *resp, long status)
{
  if (resp->code != CURLE_OK || resp->status != status)
    g_error ("expected %ld, got curl %d HTTP %ld: %s", status, resp->code, resp->status, resp->body->str);
}

static void
assert_ok (Response *resp, long status)
{
  assert_status (resp, status);
  g_assert_cmpstr (resp->content_type, ==, "application/json");
  g_assert_nonnull (resp->json);
}

/* Synapse's and MAS compat's {errcode, error} */
static void
assert_matrix_error (Response *resp, long status, const gchar *errcode, const gchar *error)
{
  assert_ok (resp, status);
  g_assert_cmpstr (jstr (resp->json, "errcode"), ==, errcode);
  if (error != NULL)
    g_assert_cmpstr (jstr (resp->json, "error"), ==, error);
}

/* MAS's OAuth 2.0 {error, error_description} */
static void
assert_oauth_error (Response *resp, long status, const gchar *error, const gchar *description)
{
  assert_ok (resp, status);
  g_assert_cmpstr (jstr (resp->json, "error"), ==, error);
  g_assert_nonnull (jstr (resp->json, "error_description"));
  if (description != NULL)
    g_assert_cmpstr (jstr (resp->json, "error_description"), ==, description);
}

/* the admin API's {"errors": [{"title"}]} */
static void
assert_admin_error (Response *resp, long status, const gchar *title)
{
  json_object *errors;

  assert_ok (resp, status);
  errors = jget (resp->json, "errors");
  g_assert_true (json_object_is_type (errors, json_type_array));
  g_assert_cmpuint (json_object_array_length (errors), >=, 1);
  g_assert_cmpstr (jstr (json_object_array_get_idx (errors, 0), "title"), ==, title);
}

/* MAS's fallback: its HTML 404 page */
static void
assert_mas_not_found (Response *resp)
{
  assert_status (resp, 404);
  g_assert_cmpstr (resp->content_type, ==, "text/html; charset=utf-8");
  g_assert_nonnull (strstr (resp->body->str, "Page not found"));
}

static gboolean
is_ulid (const gchar *id)
{
  if (id == NULL || strlen (id) != 26 || id[0] > '7')
    return FALSE;
  for (const gchar *p = id; *p != '\0'; p++)
    {
      if (strchr ("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p) == NULL)
        return FALSE;
    }
  return TRUE;
}

/* A token of MAS's format that MAS never issued: "<prefix>_<30
 * alphanumerics>_<CRC-32 of the rest in base62, least significant digit
 * first, padded on the left to 6>" (MAS crates/data-model/src/tokens.rs) */
static gchar *
well_formed_token (const gchar *prefix)
{
  static const gchar digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  g_autofree gchar *base = g_strdup_printf ("%s_%s", prefix, "NeverIssuedNeverIssuedNeverIss");
  g_autoptr(GString) crc_text = g_string_new (NULL);
  guint32 crc = 0xffffffffu;

  for (const guchar *p = (const guchar *) base; *p != '\0'; p++)
    {
      crc ^= *p;
      for (guint k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
  crc ^= 0xffffffffu;
  for (; crc > 0; crc /= 62)
    g_string_append_c (crc_text, digits[crc % 62]);
  while (crc_text->len < 6)
    g_string_prepend_c (crc_text, '0');
  return g_strdup_printf ("%s_%s", base, crc_text->str);
}

static TestHomeserver *
start_mas (void)
{
  TestHomeserver *hs = test_homeserver_new (SERVER_NAME);
  g_autoptr(GError) error = NULL;

  test_homeserver_set_flavour (hs, TEST_HOMESERVER_SYNAPSE_MAS);
  test_homeserver_add_user (hs, "admin", ADMIN_PASSWORD, TRUE);
  test_homeserver_mas_add_client (hs, CLIENT_ID, CLIENT_SECRET, TRUE);
  test_homeserver_mas_add_client (hs, OTHER_ID, OTHER_SECRET, FALSE);
  test_homeserver_mas_add_client (hs, PUBLIC_ID, NULL, FALSE);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (test_homeserver_get_url (hs), "http://127.0.0.1:"));
  g_assert_true (g_str_has_prefix (test_homeserver_get_mas_url (hs), "http://127.0.0.1:"));
  g_assert_cmpstr (test_homeserver_get_url (hs), !=, test_homeserver_get_mas_url (hs));
  return hs;
}

static Response *
token_request (TestHomeserver *hs, const gchar *id, const gchar *secret, const gchar *body)
{
  g_autofree gchar *auth = basic (id, secret);

  return http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/token", auth, FORM, body);
}

/* a fresh urn:mas:admin token of the admin client; g_free */
static gchar *
admin_token (TestHomeserver *hs)
{
  g_autoptr(Response) resp = token_request (hs, CLIENT_ID, CLIENT_SECRET,
                                            "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");

  assert_ok (resp, 200);
  return g_strdup (jstr (resp->json, "access_token"));
}

/* POST /users; the new user's ULID; g_free */
static gchar *
create_user (TestHomeserver *hs, const gchar *token, const gchar *username)
{
  g_autofree gchar *body = g_strdup_printf ("{\"username\":\"%s\"}", username);
  g_autoptr(Response) resp = mas_call (hs, "POST", USERS, token, body);

  assert_ok (resp, 201);
  return g_strdup (jstr (jget (resp->json, "data"), "id"));
}

static void
set_password (TestHomeserver *hs, const gchar *token, const gchar *user_id, const gchar *password)
{
  g_autofree gchar *path = g_strdup_printf (USERS "/%s/set-password", user_id);
  g_autofree gchar *body = g_strdup_printf ("{\"password\":\"%s\"}", password);
  g_autoptr(Response) resp = mas_call (hs, "POST", path, token, body);

  assert_status (resp, 204);
}

static Response *
create_personal_session (TestHomeserver *hs, const gchar *token, const gchar *user_id, const gchar *scope,
                         gint expires_in)
{
  g_autofree gchar *body = NULL;

  if (expires_in >= 0)
    body = g_strdup_printf ("{\"actor_user_id\":\"%s\",\"human_name\":\"mxprov\",\"scope\":\"%s\","
                            "\"expires_in\":%d}", user_id, scope, expires_in);
  else
    body = g_strdup_printf ("{\"actor_user_id\":\"%s\",\"human_name\":\"mxprov\",\"scope\":\"%s\"}",
                            user_id, scope);
  return mas_call (hs, "POST", PERSONAL_SESSIONS, token, body);
}

static Response *
password_login (TestHomeserver *hs, const gchar *user, const gchar *password)
{
  g_autofree gchar *body = g_strdup_printf ("{\"type\":\"m.login.password\",\"identifier\":"
                                            "{\"type\":\"m.id.user\",\"user\":\"%s\"},\"password\":\"%s\"}",
                                            user, password);

  return hs_call (hs, "POST", LOGIN, NULL, body);
}

static gboolean
flows_have (json_object *json, const gchar *type)
{
  json_object *flows = jget (json, "flows");

  for (gsize i = 0; flows != NULL && i < json_object_array_length (flows); i++)
    {
      if (g_strcmp0 (jstr (json_object_array_get_idx (flows, i), "type"), type) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
array_has (json_object *arr, const gchar *s)
{
  for (gsize i = 0; arr != NULL && i < json_object_array_length (arr); i++)
    {
      if (g_strcmp0 (json_object_get_string (json_object_array_get_idx (arr, i)), s) == 0)
        return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* The flavour */

static void
test_flavour (void)
{
  g_autoptr(TestHomeserver) plain = test_homeserver_new (SERVER_NAME);
  g_autoptr(TestHomeserver) hs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Response) versions = NULL;
  g_autoptr(Response) server_version = NULL;
  g_autoptr(Response) federation = NULL;
  const gchar *const *all = test_homeserver_list_flavours ();

  g_assert_true (g_strv_contains (all, "mas"));
  g_assert_cmpstr (test_homeserver_describe_flavour ("mas"), ==, "Synapse 1.157.1 with MAS 1.22.0");
  g_assert_true (test_homeserver_set_flavour_by_name (plain, "mas", &error));
  g_assert_no_error (error);
  g_assert_cmpint (test_homeserver_get_flavour (plain), ==, TEST_HOMESERVER_SYNAPSE_MAS);

  /* only the mas flavour starts MAS */
  test_homeserver_set_flavour (plain, TEST_HOMESERVER_SYNAPSE_LATEST);
  g_assert_true (test_homeserver_start (plain, &error));
  g_assert_null (test_homeserver_get_mas_url (plain));
  test_homeserver_stop (plain);

  /* it says it is Synapse 1.157.1, with its client versions */
  hs = start_mas ();
  versions = hs_call (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  assert_ok (versions, 200);
  g_assert_true (array_has (jget (versions->json, "versions"), "v1.12"));
  server_version = hs_call (hs, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
  assert_ok (server_version, 200);
  g_assert_cmpstr (jstr (server_version->json, "server_version"), ==, "1.157.1");
  federation = hs_call (hs, "GET", "/_matrix/federation/v1/version", NULL, NULL);
  assert_ok (federation, 200);
  g_assert_cmpstr (jstr (jget (federation->json, "server"), "name"), ==, "Synapse");
  g_assert_cmpstr (jstr (jget (federation->json, "server"), "version"), ==, "1.157.1");
  g_assert_cmpstr (federation->server, ==, "Synapse/1.157.1");
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* Discovery */

static void
assert_metadata (TestHomeserver *hs, json_object *json)
{
  g_autofree gchar *issuer = g_strconcat (test_homeserver_get_mas_url (hs), "/", NULL);
  g_autofree gchar *token = g_strconcat (test_homeserver_get_mas_url (hs), "/oauth2/token", NULL);
  g_autofree gchar *revoke = g_strconcat (test_homeserver_get_mas_url (hs), "/oauth2/revoke", NULL);
  static const gchar *const keys[] = {
    "authorization_endpoint", "introspection_endpoint", "jwks_uri", "userinfo_endpoint", "registration_endpoint",
    "account_management_uri", "org.matrix.matrix-authentication-service.graphql_endpoint", NULL,
  };

  g_assert_cmpstr (jstr (json, "issuer"), ==, issuer);
  g_assert_cmpstr (jstr (json, "token_endpoint"), ==, token);
  g_assert_cmpstr (jstr (json, "revocation_endpoint"), ==, revoke);
  for (guint i = 0; keys[i] != NULL; i++)
    g_assert_true (g_str_has_prefix (jstr (json, keys[i]), test_homeserver_get_mas_url (hs)));
  g_assert_true (array_has (jget (json, "grant_types_supported"), "client_credentials"));
  g_assert_true (array_has (jget (json, "account_management_actions_supported"), "org.matrix.profile"));
  g_assert_true (array_has (jget (json, "prompt_values_supported"), "login"));
}

static void
test_discovery (void)
{
  static const gchar *const paths[] = {
    "/_matrix/client/v1/auth_metadata",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
    NULL,
  };
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autoptr(TestHomeserver) latest = test_homeserver_new (SERVER_NAME);
  g_autoptr(Response) issuer = NULL;
  g_autoptr(Response) own = NULL;
  g_autoptr(Response) well_known = NULL;
  g_autoptr(Response) set_well_known = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *mas_issuer = g_strconcat (test_homeserver_get_mas_url (hs), "/", NULL);
  g_autofree gchar *hs_base = g_strconcat (test_homeserver_get_url (hs), "/", NULL);
  json_object *auth;

  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autoptr(Response) resp = hs_call (hs, "GET", paths[i], NULL, NULL);

      assert_ok (resp, 200);
      g_assert_cmpstr (resp->cache_control, ==, "public, max-age=600, s-maxage=3600, stale-while-revalidate=600");
      assert_metadata (hs, resp->json);
    }
  issuer = hs_call (hs, "GET", "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer", NULL, NULL);
  assert_ok (issuer, 200);
  g_assert_cmpstr (jstr (issuer->json, "issuer"), ==, mas_issuer);
  g_assert_cmpstr (issuer->cache_control, ==, "public, max-age=600, s-maxage=3600, stale-while-revalidate=600");
  /* MAS's own, passed through unchanged; MAS sends no Server header */
  own = http (test_homeserver_get_mas_url (hs), "GET", "/.well-known/openid-configuration", NULL, NULL, NULL);
  assert_ok (own, 200);
  assert_metadata (hs, own->json);
  g_assert_null (own->server);

  /* Synapse's own .well-known names MAS */
  well_known = hs_call (hs, "GET", "/.well-known/matrix/client", NULL, NULL);
  assert_ok (well_known, 200);
  g_assert_cmpstr (jstr (jget (well_known->json, "m.homeserver"), "base_url"), ==, hs_base);
  auth = jget (well_known->json, "org.matrix.msc2965.authentication");
  g_assert_cmpstr (jstr (auth, "issuer"), ==, mas_issuer);
  g_assert_true (g_str_has_suffix (jstr (auth, "account"), "/account/"));
  /* a test-set one gains the key */
  test_homeserver_set_well_known (hs, 200, "{\"m.homeserver\":{\"base_url\":\"https://hs.example\"}}");
  set_well_known = hs_call (hs, "GET", "/.well-known/matrix/client", NULL, NULL);
  assert_ok (set_well_known, 200);
  g_assert_cmpstr (jstr (jget (set_well_known->json, "m.homeserver"), "base_url"), ==, "https://hs.example");
  g_assert_cmpstr (jstr (jget (set_well_known->json, "org.matrix.msc2965.authentication"), "issuer"), ==, mas_issuer);
  test_homeserver_stop (hs);

  /* the other flavours still have none of these */
  test_homeserver_set_flavour (latest, TEST_HOMESERVER_SYNAPSE_LATEST);
  g_assert_true (test_homeserver_start (latest, &error));
  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autoptr(Response) resp = hs_call (latest, "GET", paths[i], NULL, NULL);
      assert_matrix_error (resp, 404, "M_UNRECOGNIZED", "Unrecognized request");
    }
  test_homeserver_stop (latest);
}

/* ------------------------------------------------------------------------ */
/* The admin token */

static void
test_token_grant (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autoptr(Response) ok = NULL;
  g_autoptr(Response) post = NULL;
  g_autoptr(Response) bad_secret = NULL;
  g_autoptr(Response) unknown = NULL;
  g_autoptr(Response) public_client = NULL;
  g_autoptr(Response) not_admin = NULL;
  g_autoptr(Response) cs_scope = NULL;
  g_autoptr(Response) no_grant = NULL;
  g_autoptr(Response) as_json = NULL;
  g_autoptr(Response) unsupported = NULL;
  g_autoptr(Response) no_credentials = NULL;
  g_autoptr(Response) ttl = NULL;
  g_autofree gchar *raw = NULL;
  g_autofree gchar *auth = NULL;
  g_autofree gchar *encoded_secret = NULL;

  ok = token_request (hs, CLIENT_ID, CLIENT_SECRET, "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_ok (ok, 200);
  g_assert_true (g_str_has_prefix (jstr (ok->json, "access_token"), "mat_"));
  g_assert_cmpuint (strlen (jstr (ok->json, "access_token")), ==, 4 + 30 + 1 + 6);
  g_assert_cmpstr (jstr (ok->json, "token_type"), ==, "Bearer");
  g_assert_cmpint (json_object_get_int (jget (ok->json, "expires_in")), ==, 300);
  g_assert_cmpstr (jstr (ok->json, "scope"), ==, "urn:mas:admin");
  g_assert_false (jhas (ok->json, "refresh_token"));
  g_assert_cmpstr (ok->cache_control, ==, "no-store");
  g_assert_cmpstr (ok->pragma, ==, "no-cache");
  /* the secret travelled in the Authorization header only */
  auth = basic (CLIENT_ID, CLIENT_SECRET);
  raw = test_homeserver_get_raw_requests (hs);
  g_assert_nonnull (strstr (raw, auth));
  g_assert_null (strstr (raw, CLIENT_SECRET));

  /* client_secret_post */
  encoded_secret = g_uri_escape_string (CLIENT_SECRET, NULL, FALSE);
  {
    g_autofree gchar *body = g_strdup_printf ("grant_type=client_credentials&scope=urn%%3Amas%%3Aadmin"
                                              "&client_id=%s&client_secret=%s", CLIENT_ID, encoded_secret);
    post = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/token", NULL, FORM, body);
  }
  assert_ok (post, 200);
  g_assert_true (g_str_has_prefix (jstr (post->json, "access_token"), "mat_"));

  bad_secret = token_request (hs, CLIENT_ID, "wrong", "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_oauth_error (bad_secret, 401, "invalid_client", NULL);
  unknown = token_request (hs, "01J9UNKN0WNC11ENT00000000D", CLIENT_SECRET,
                           "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_oauth_error (unknown, 401, "invalid_client", NULL);
  public_client = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/token", NULL, FORM,
                        "grant_type=client_credentials&scope=urn%3Amas%3Aadmin&client_id=" PUBLIC_ID);
  assert_oauth_error (public_client, 401, "unauthorized_client", NULL);
  not_admin = token_request (hs, OTHER_ID, OTHER_SECRET, "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_oauth_error (not_admin, 403, "invalid_scope", "scope 'urn:mas:admin' not allowed");
  cs_scope = token_request (hs, CLIENT_ID, CLIENT_SECRET,
                            "grant_type=client_credentials&scope=urn%3Amatrix%3Aclient%3Aapi%3A*");
  assert_oauth_error (cs_scope, 403, "invalid_scope", "scope 'urn:matrix:client:api:*' not allowed");
  no_grant = token_request (hs, CLIENT_ID, CLIENT_SECRET, "scope=urn%3Amas%3Aadmin");
  assert_oauth_error (no_grant, 400, "invalid_request", NULL);
  {
    g_autofree gchar *basic_auth = basic (CLIENT_ID, CLIENT_SECRET);
    as_json = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/token", basic_auth, JSON,
                    "{\"grant_type\":\"client_credentials\",\"scope\":\"urn:mas:admin\"}");
  }
  assert_oauth_error (as_json, 400, "invalid_request", NULL);
  unsupported = token_request (hs, CLIENT_ID, CLIENT_SECRET, "grant_type=password&username=a&password=b");
  assert_oauth_error (unsupported, 400, "unsupported_grant_type", NULL);
  no_credentials = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/token", NULL, FORM,
                         "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_oauth_error (no_credentials, 400, "invalid_request", "No credentials were presented");

  /* the TTL applies to tokens issued from then on */
  test_homeserver_mas_set_token_ttl (hs, 42);
  ttl = token_request (hs, CLIENT_ID, CLIENT_SECRET, "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_ok (ttl, 200);
  g_assert_cmpint (json_object_get_int (jget (ttl->json, "expires_in")), ==, 42);
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (hs, TRUE), ==, 3);
  g_assert_cmpuint (test_homeserver_count_requests (hs, "POST", "/oauth2/token"), ==, 12);
  test_homeserver_stop (hs);
}

static void
test_admin_auth (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *unknown = NULL;
  g_autofree gchar *no_scope = NULL;
  g_autoptr(Response) ok = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) scheme = NULL;
  g_autoptr(Response) garbage = NULL;
  g_autoptr(Response) not_known = NULL;
  g_autoptr(Response) without_scope = NULL;
  g_autoptr(Response) scopeless = NULL;
  g_autoptr(Response) expired = NULL;
  g_autoptr(Response) revoked = NULL;
  g_autoptr(Response) revoke = NULL;
  g_autofree gchar *basic_auth = basic (CLIENT_ID, CLIENT_SECRET);
  g_autofree gchar *revoke_body = NULL;
  g_autofree gchar *second = NULL;

  ok = mas_call (hs, "GET", "/api/admin/v1/version", token, NULL);
  assert_ok (ok, 200);
  missing = mas_call (hs, "GET", "/api/admin/v1/version", NULL, NULL);
  assert_admin_error (missing, 400, "Missing authorization header");
  scheme = http (test_homeserver_get_mas_url (hs), "GET", "/api/admin/v1/version", basic_auth, NULL, NULL);
  assert_admin_error (scheme, 400, "Invalid authorization header");
  garbage = mas_call (hs, "GET", "/api/admin/v1/version", "not-a-mas-token", NULL);
  assert_admin_error (garbage, 401, "Invalid type of access token");
  /* a token altered on the way: its CRC no longer matches */
  unknown = g_strdup (token);
  unknown[10] = unknown[10] == 'a' ? 'b' : 'a';
  {
    g_autoptr(Response) resp = mas_call (hs, "GET", "/api/admin/v1/version", unknown, NULL);
    assert_admin_error (resp, 401, "Invalid type of access token");
    g_assert_true (g_str_has_prefix (jstr (json_object_array_get_idx (jget (resp->json, "errors"), 1), "title"),
                                     "invalid crc"));
  }
  /* well formed, never issued; a compat token is of the wrong type */
  {
    g_autofree gchar *never = well_formed_token ("mat");
    g_autofree gchar *compat = well_formed_token ("mct");
    g_autoptr(Response) resp = NULL;

    not_known = mas_call (hs, "GET", "/api/admin/v1/version", never, NULL);
    assert_admin_error (not_known, 401, "Unknown access token");
    resp = mas_call (hs, "GET", "/api/admin/v1/version", compat, NULL);
    assert_admin_error (resp, 401, "Invalid type of access token");
  }

  /* an admin client's token without urn:mas:admin */
  {
    g_autoptr(Response) resp = token_request (hs, CLIENT_ID, CLIENT_SECRET, "grant_type=client_credentials");
    assert_ok (resp, 200);
    g_assert_false (jhas (resp->json, "scope"));
    no_scope = g_strdup (jstr (resp->json, "access_token"));
  }
  without_scope = mas_call (hs, "GET", "/api/admin/v1/version", no_scope, NULL);
  assert_admin_error (without_scope, 401, "Missing urn:mas:admin scope");
  scopeless = token_request (hs, CLIENT_ID, CLIENT_SECRET, "grant_type=client_credentials&scope=openid");
  assert_ok (scopeless, 200);
  g_assert_cmpstr (jstr (scopeless->json, "scope"), ==, "openid");

  /* revoked: the session ended, which wins over expiry */
  second = admin_token (hs);
  revoke_body = g_strdup_printf ("token=%s", second);
  revoke = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", basic_auth, FORM, revoke_body);
  assert_status (revoke, 200);
  revoked = mas_call (hs, "GET", "/api/admin/v1/version", second, NULL);
  assert_admin_error (revoked, 401, "Access token revoked");

  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (hs, FALSE), ==, 4);
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (hs, TRUE), ==, 3);
  test_homeserver_mas_expire_admin_tokens (hs);
  expired = mas_call (hs, "GET", "/api/admin/v1/version", token, NULL);
  assert_admin_error (expired, 401, "Access token expired");
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (hs, TRUE), ==, 0);
  test_homeserver_stop (hs);
}

static void
test_revoke (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *body = g_strdup_printf ("token=%s", token);
  g_autofree gchar *admin_auth = basic (CLIENT_ID, CLIENT_SECRET);
  g_autofree gchar *other_auth = basic (OTHER_ID, OTHER_SECRET);
  g_autofree gchar *hinted = g_strdup_printf ("token=%s&token_type_hint=pct", token);
  g_autoptr(Response) other = NULL;
  g_autoptr(Response) hint = NULL;
  g_autoptr(Response) first = NULL;
  g_autoptr(Response) again = NULL;
  g_autoptr(Response) garbage = NULL;
  g_autoptr(Response) bad_client = NULL;
  g_autoptr(Response) no_token = NULL;
  g_autoptr(Response) after = NULL;

  /* another client may not end it */
  other = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", other_auth, FORM, body);
  assert_oauth_error (other, 401, "unauthorized_client", NULL);
  hint = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", admin_auth, FORM, hinted);
  assert_oauth_error (hint, 400, "unsupported_token_type", NULL);

  /* RFC 7009: an empty 200 */
  first = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", admin_auth, FORM, body);
  assert_status (first, 200);
  g_assert_cmpuint (first->body->len, ==, 0);
  g_assert_null (first->content_type);
  after = mas_call (hs, "GET", "/api/admin/v1/version", token, NULL);
  assert_admin_error (after, 401, "Access token revoked");
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (hs, TRUE), ==, 0);
  /* once more, or a token MAS never made: still 200 */
  again = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", admin_auth, FORM, body);
  assert_status (again, 200);
  garbage = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", admin_auth, FORM, "token=garbage");
  assert_status (garbage, 200);
  g_assert_cmpuint (garbage->body->len, ==, 0);

  bad_client = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", other_auth, FORM, "token=x");
  assert_status (bad_client, 200);
  {
    g_autofree gchar *wrong = basic (CLIENT_ID, "wrong");
    g_autoptr(Response) resp = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", wrong, FORM, body);
    assert_oauth_error (resp, 401, "invalid_client", NULL);
  }
  no_token = http (test_homeserver_get_mas_url (hs), "POST", "/oauth2/revoke", admin_auth, FORM, "");
  assert_oauth_error (no_token, 400, "invalid_request", "Failed to deserialize form: missing field `token`");
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* Server information */

static void
test_version_and_site_config (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autoptr(Response) version = NULL;
  g_autoptr(Response) config = NULL;
  g_autoptr(Response) changed = NULL;
  static const gchar *const keys[] = {
    "password_registration_enabled", "registration_token_required", "password_change_allowed",
    "password_registration_email_required", "password_registration_token_required", "email_change_allowed",
    "displayname_change_allowed", "account_recovery_allowed", "account_deactivation_allowed",
    "captcha_enabled", NULL,
  };

  version = mas_call (hs, "GET", "/api/admin/v1/version", token, NULL);
  assert_ok (version, 200);
  g_assert_cmpstr (jstr (version->json, "version"), ==, "v1.22.0");
  config = mas_call (hs, "GET", "/api/admin/v1/site-config", token, NULL);
  assert_ok (config, 200);
  g_assert_false (jhas (config->json, "data"));
  g_assert_cmpstr (jstr (config->json, "server_name"), ==, SERVER_NAME);
  g_assert_true (json_object_get_boolean (jget (config->json, "password_login_enabled")));
  g_assert_cmpint (json_object_get_int (jget (config->json, "minimum_password_complexity")), ==, 3);
  for (guint i = 0; keys[i] != NULL; i++)
    g_assert_true (json_object_is_type (jget (config->json, keys[i]), json_type_boolean));

  test_homeserver_mas_set_password_login (hs, FALSE);
  test_homeserver_mas_set_minimum_password_complexity (hs, 4);
  changed = mas_call (hs, "GET", "/api/admin/v1/site-config", token, NULL);
  assert_ok (changed, 200);
  g_assert_false (json_object_get_boolean (jget (changed->json, "password_login_enabled")));
  g_assert_false (json_object_get_boolean (jget (changed->json, "password_change_allowed")));
  g_assert_cmpint (json_object_get_int (jget (changed->json, "minimum_password_complexity")), ==, 4);
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* Users */

static void
test_users (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = NULL;
  g_autofree gchar *carol_id = NULL;
  g_autofree gchar *bob_path = NULL;
  g_autofree gchar *by_name_path = NULL;
  g_autoptr(Response) created = NULL;
  g_autoptr(Response) exists = NULL;
  g_autoptr(Response) get = NULL;
  g_autoptr(Response) by_name = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) missing_name = NULL;
  g_autoptr(Response) bad_ulid = NULL;
  g_autoptr(Response) no_type = NULL;
  g_autoptr(Response) no_field = NULL;
  g_autoptr(Response) seeded = NULL;
  static const gchar *const invalid[] = { "Bob", "_bob", "", "bob smith", "b\\u00f6b", NULL };
  json_object *attributes;

  created = mas_call (hs, "POST", USERS, token, "{\"username\":\"bob\",\"displayname\":\"Bob B.\"}");
  assert_ok (created, 201);
  g_assert_cmpstr (jstr (jget (created->json, "data"), "type"), ==, "user");
  bob_id = g_strdup (jstr (jget (created->json, "data"), "id"));
  g_assert_true (is_ulid (bob_id));
  attributes = jget (jget (created->json, "data"), "attributes");
  g_assert_cmpstr (jstr (attributes, "username"), ==, "bob");
  g_assert_nonnull (jstr (attributes, "created_at"));
  g_assert_true (g_str_has_suffix (jstr (attributes, "created_at"), "Z"));
  g_assert_true (jhas (attributes, "locked_at"));
  g_assert_null (jget (attributes, "locked_at"));
  g_assert_true (jhas (attributes, "deactivated_at"));
  g_assert_null (jget (attributes, "deactivated_at"));
  g_assert_false (json_object_get_boolean (jget (attributes, "admin")));
  g_assert_false (json_object_get_boolean (jget (attributes, "legacy_guest")));
  bob_path = g_strdup_printf (USERS "/%s", bob_id);
  g_assert_cmpstr (jstr (jget (created->json, "links"), "self"), ==, bob_path);
  g_assert_cmpstr (jstr (jget (jget (created->json, "data"), "links"), "self"), ==, bob_path);
  /* made on the homeserver in the same call, without a password there */
  g_assert_true (test_homeserver_user_exists (hs, "@bob:" SERVER_NAME));
  g_assert_null (test_homeserver_get_user_password (hs, "@bob:" SERVER_NAME));
  {
    g_autofree gchar *displayname = test_homeserver_get_user_displayname (hs, "@bob:" SERVER_NAME);
    g_assert_cmpstr (displayname, ==, "Bob B.");
  }
  g_assert_true (test_homeserver_mas_user_exists (hs, "bob"));
  g_assert_null (test_homeserver_mas_get_user_password (hs, "bob"));
  {
    g_autofree gchar *id = test_homeserver_mas_get_user_id (hs, "bob");
    g_assert_cmpstr (id, ==, bob_id);
  }

  /* ULIDs are time ordered */
  carol_id = create_user (hs, token, "carol");
  g_assert_cmpstr (carol_id, >, bob_id);

  exists = mas_call (hs, "POST", USERS, token, "{\"username\":\"bob\"}");
  assert_admin_error (exists, 409, "User already exists");
  for (guint i = 0; invalid[i] != NULL; i++)
    {
      g_autofree gchar *body = g_strdup_printf ("{\"username\":\"%s\"}", invalid[i]);
      g_autoptr(Response) resp = mas_call (hs, "POST", USERS, token, body);

      /* "Bob" is bob to MAS's caseless check */
      if (i == 0)
        assert_admin_error (resp, 409, "User already exists");
      else
        assert_admin_error (resp, 400, "Username is not valid");
    }

  get = mas_call (hs, "GET", bob_path, token, NULL);
  assert_ok (get, 200);
  g_assert_cmpstr (attr (get, "username"), ==, "bob");
  by_name = mas_call (hs, "GET", USERS "/by-username/bob", token, NULL);
  assert_ok (by_name, 200);
  g_assert_cmpstr (jstr (jget (by_name->json, "data"), "id"), ==, bob_id);
  by_name_path = g_strdup (USERS "/by-username/bob");
  g_assert_cmpstr (jstr (jget (by_name->json, "links"), "self"), ==, by_name_path);
  g_assert_cmpstr (jstr (jget (jget (by_name->json, "data"), "links"), "self"), ==, bob_path);
  missing_name = mas_call (hs, "GET", USERS "/by-username/alice", token, NULL);
  assert_admin_error (missing_name, 404, "User with username \"alice\" not found");
  missing = mas_call (hs, "GET", USERS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ", token, NULL);
  assert_admin_error (missing, 404, "User ID 01J9ZZZZZZZZZZZZZZZZZZZZZZ not found");
  bad_ulid = mas_call (hs, "GET", USERS "/not-a-ulid", token, NULL);
  assert_admin_error (bad_ulid, 400, "Invalid ULID in path");

  /* axum's Json: no JSON type 415, no such field 422, plain text */
  {
    g_autofree gchar *auth = bearer (token);
    no_type = http (test_homeserver_get_mas_url (hs), "POST", USERS, auth, NULL, "{\"username\":\"dave\"}");
  }
  assert_status (no_type, 415);
  g_assert_true (g_str_has_prefix (no_type->content_type, "text/plain"));
  no_field = mas_call (hs, "POST", USERS, token, "{\"name\":\"dave\"}");
  assert_status (no_field, 422);
  g_assert_nonnull (strstr (no_field->body->str, "missing field `username`"));
  g_assert_false (test_homeserver_mas_user_exists (hs, "dave"));

  /* a seeded user is a MAS user with its password, and admin */
  seeded = mas_call (hs, "GET", USERS "/by-username/admin", token, NULL);
  assert_ok (seeded, 200);
  g_assert_true (json_object_get_boolean (jget (jget (jget (seeded->json, "data"), "attributes"), "admin")));
  {
    g_autofree gchar *password = test_homeserver_mas_get_user_password (hs, "admin");
    g_assert_cmpstr (password, ==, ADMIN_PASSWORD);
  }
  test_homeserver_stop (hs);
}

static void
test_set_password (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = create_user (hs, token, "bob");
  g_autofree gchar *path = g_strdup_printf (USERS "/%s/set-password", bob_id);
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) skipped = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) disabled = NULL;
  g_autoptr(Response) disabled_missing = NULL;
  static const gchar *const weak[] = { "password", "hunter2", "Sh0rt!", "abcdefghij", "aaaaaaaaaaaaaaaaaaaa", NULL };

  for (guint i = 0; weak[i] != NULL; i++)
    {
      g_autofree gchar *body = g_strdup_printf ("{\"password\":\"%s\"}", weak[i]);
      g_autoptr(Response) resp = mas_call (hs, "POST", path, token, body);
      assert_admin_error (resp, 400, "Password is too weak");
    }
  g_assert_null (test_homeserver_mas_get_user_password (hs, "bob"));

  /* a random URL-safe password passes, even the strictest setting */
  test_homeserver_mas_set_minimum_password_complexity (hs, 4);
  done = mas_call (hs, "POST", path, token, "{\"password\":\"" STRONG_PASSWORD "\"}");
  assert_status (done, 204);
  g_assert_cmpuint (done->body->len, ==, 0);
  g_assert_null (done->content_type);
  {
    g_autofree gchar *password = test_homeserver_mas_get_user_password (hs, "bob");
    g_assert_cmpstr (password, ==, STRONG_PASSWORD);
  }
  skipped = mas_call (hs, "POST", path, token, "{\"password\":\"hunter2\",\"skip_password_check\":true}");
  assert_status (skipped, 204);
  missing = mas_call (hs, "POST", USERS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ/set-password", token,
                      "{\"password\":\"" STRONG_PASSWORD "\"}");
  assert_admin_error (missing, 404, "User ID 01J9ZZZZZZZZZZZZZZZZZZZZZZ not found");

  /* with passwords off, that comes before anything about the user */
  test_homeserver_mas_set_password_login (hs, FALSE);
  disabled = mas_call (hs, "POST", path, token, "{\"password\":\"" STRONG_PASSWORD "\"}");
  assert_admin_error (disabled, 403, "Password auth is disabled");
  disabled_missing = mas_call (hs, "POST", USERS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ/set-password", token,
                               "{\"password\":\"" STRONG_PASSWORD "\"}");
  assert_admin_error (disabled_missing, 403, "Password auth is disabled");
  test_homeserver_stop (hs);
}

static gchar *
create_room (TestHomeserver *hs, const gchar *token)
{
  g_autoptr(Response) resp = hs_call (hs, "POST", "/_matrix/client/v3/createRoom", token, "{}");

  assert_ok (resp, 200);
  return g_strdup (jstr (resp->json, "room_id"));
}

static void
test_deactivate (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = create_user (hs, token, "bob");
  g_autofree gchar *carol_id = create_user (hs, token, "carol");
  g_autofree gchar *bob_path = g_strdup_printf (USERS "/%s/deactivate", bob_id);
  g_autofree gchar *carol_path = g_strdup_printf (USERS "/%s/deactivate", carol_id);
  g_autofree gchar *compat_token = NULL;
  g_autofree gchar *personal_token = NULL;
  g_autofree gchar *room_id = NULL;
  g_autoptr(Response) login = NULL;
  g_autoptr(Response) personal = NULL;
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) whoami_personal = NULL;
  g_autoptr(Response) relogin = NULL;
  g_autoptr(Response) gone = NULL;
  g_autoptr(Response) kept = NULL;
  g_autoptr(Response) missing = NULL;

  set_password (hs, token, bob_id, STRONG_PASSWORD);
  login = password_login (hs, "bob", STRONG_PASSWORD);
  assert_ok (login, 200);
  compat_token = g_strdup (jstr (login->json, "access_token"));
  personal = create_personal_session (hs, token, bob_id, API_SCOPE " urn:matrix:client:device:BOBDEVICE01", -1);
  assert_ok (personal, 201);
  personal_token = g_strdup (attr (personal, "access_token"));
  room_id = create_room (hs, compat_token);
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@bob:" SERVER_NAME), ==, 2);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, "@bob:" SERVER_NAME), ==, 2);

  /* no body at all: erase */
  done = mas_call (hs, "POST", bob_path, token, NULL);
  assert_ok (done, 200);
  g_assert_nonnull (attr (done, "deactivated_at"));
  g_assert_cmpstr (jstr (jget (done->json, "links"), "self"), ==, bob_path);
  g_assert_true (test_homeserver_mas_user_is_deactivated (hs, "bob"));
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (hs, "bob", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (hs, "bob", FALSE), ==, 1);
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, "bob", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, "bob", FALSE), ==, 1);
  /* Synapse deactivated, erased, devices gone, rooms parted */
  g_assert_true (test_homeserver_user_is_deactivated (hs, "@bob:" SERVER_NAME));
  g_assert_true (test_homeserver_user_is_erased (hs, "@bob:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@bob:" SERVER_NAME), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, "@bob:" SERVER_NAME), ==, 0);
  g_assert_false (test_homeserver_room_is_joined (hs, room_id, "@bob:" SERVER_NAME));
  whoami = hs_call (hs, "GET", WHOAMI, compat_token, NULL);
  assert_matrix_error (whoami, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  whoami_personal = hs_call (hs, "GET", WHOAMI, personal_token, NULL);
  assert_matrix_error (whoami_personal, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  relogin = password_login (hs, "bob", STRONG_PASSWORD);
  assert_matrix_error (relogin, 403, "M_FORBIDDEN", "Invalid username/password");
  gone = create_personal_session (hs, token, bob_id, API_SCOPE, -1);
  assert_admin_error (gone, 410, "User is not active");
  /* the name stays taken */
  {
    g_autoptr(Response) again = mas_call (hs, "POST", USERS, token, "{\"username\":\"bob\"}");
    assert_admin_error (again, 409, "User already exists");
  }

  kept = mas_call (hs, "POST", carol_path, token, "{\"skip_erase\":true}");
  assert_ok (kept, 200);
  g_assert_true (test_homeserver_user_is_deactivated (hs, "@carol:" SERVER_NAME));
  g_assert_false (test_homeserver_user_is_erased (hs, "@carol:" SERVER_NAME));
  missing = mas_call (hs, "POST", USERS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ/deactivate", token, NULL);
  assert_admin_error (missing, 404, "User ID 01J9ZZZZZZZZZZZZZZZZZZZZZZ not found");
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* Personal sessions */

static void
test_personal_sessions (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = create_user (hs, token, "bob");
  g_autofree gchar *session_id = NULL;
  g_autofree gchar *pat = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr(Response) created = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) deviceless = NULL;
  g_autoptr(Response) deviceless_whoami = NULL;
  g_autoptr(Response) unstable = NULL;
  g_autoptr(Response) unstable_whoami = NULL;
  g_autoptr(Response) no_api = NULL;
  g_autoptr(Response) no_api_whoami = NULL;
  g_autoptr(Response) invalid = NULL;
  g_autoptr(Response) no_user = NULL;
  g_autoptr(Response) get = NULL;
  g_autoptr(Response) get_missing = NULL;
  g_autoptr(Response) short_lived = NULL;
  g_autoptr(Response) expired_whoami = NULL;
  g_autoptr(Response) room = NULL;
  json_object *attributes;

  created = create_personal_session (hs, token, bob_id, "urn:matrix:client:device:BOBDEVICE01 " API_SCOPE, 3600);
  assert_ok (created, 201);
  g_assert_cmpstr (jstr (jget (created->json, "data"), "type"), ==, "personal-session");
  session_id = g_strdup (jstr (jget (created->json, "data"), "id"));
  g_assert_true (is_ulid (session_id));
  attributes = jget (jget (created->json, "data"), "attributes");
  pat = g_strdup (jstr (attributes, "access_token"));
  g_assert_true (g_str_has_prefix (pat, "mpt_"));
  g_assert_cmpstr (jstr (attributes, "actor_user_id"), ==, bob_id);
  g_assert_cmpstr (jstr (attributes, "owner_client_id"), ==, CLIENT_ID);
  g_assert_true (jhas (attributes, "owner_user_id"));
  g_assert_null (jstr (attributes, "owner_user_id"));
  g_assert_cmpstr (jstr (attributes, "human_name"), ==, "mxprov");
  /* the scope, as MAS keeps it: sorted */
  g_assert_cmpstr (jstr (attributes, "scope"), ==, API_SCOPE " urn:matrix:client:device:BOBDEVICE01");
  g_assert_null (jstr (attributes, "revoked_at"));
  g_assert_nonnull (jstr (attributes, "created_at"));
  g_assert_nonnull (jstr (attributes, "expires_at"));
  g_assert_true (jhas (attributes, "last_active_at"));
  g_assert_true (jhas (attributes, "last_active_ip"));
  path = g_strdup_printf (PERSONAL_SESSIONS "/%s", session_id);
  g_assert_cmpstr (jstr (jget (created->json, "links"), "self"), ==, path);

  /* the device exists in Synapse, and the token works there */
  {
    g_autoptr(GPtrArray) devices = test_homeserver_list_devices (hs, "@bob:" SERVER_NAME);
    g_assert_cmpuint (devices->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (devices, 0), ==, "BOBDEVICE01");
  }
  whoami = hs_call (hs, "GET", WHOAMI, pat, NULL);
  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "user_id"), ==, "@bob:" SERVER_NAME);
  g_assert_cmpstr (jstr (whoami->json, "device_id"), ==, "BOBDEVICE01");
  room = hs_call (hs, "POST", "/_matrix/client/v3/createRoom", pat, "{}");
  assert_ok (room, 200);
  g_assert_true (g_str_has_prefix (jstr (room->json, "room_id"), "!"));
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, "bob", TRUE), ==, 1);

  /* no device scope: no device */
  deviceless = create_personal_session (hs, token, bob_id, API_SCOPE, -1);
  assert_ok (deviceless, 201);
  g_assert_null (attr (deviceless, "expires_at"));
  deviceless_whoami = hs_call (hs, "GET", WHOAMI, attr (deviceless, "access_token"), NULL);
  assert_ok (deviceless_whoami, 200);
  g_assert_false (jhas (deviceless_whoami->json, "device_id"));
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@bob:" SERVER_NAME), ==, 1);

  /* the unstable names work too */
  unstable = create_personal_session (hs, token, bob_id,
                                      UNSTABLE_API_SCOPE " urn:matrix:org.matrix.msc2967.client:device:BOBUNSTABLE", -1);
  assert_ok (unstable, 201);
  unstable_whoami = hs_call (hs, "GET", WHOAMI, attr (unstable, "access_token"), NULL);
  assert_ok (unstable_whoami, 200);
  g_assert_cmpstr (jstr (unstable_whoami->json, "device_id"), ==, "BOBUNSTABLE");

  /* MAS makes it (no policy on personal sessions), Synapse refuses it */
  no_api = create_personal_session (hs, token, bob_id, "openid", -1);
  assert_ok (no_api, 201);
  no_api_whoami = hs_call (hs, "GET", WHOAMI, attr (no_api, "access_token"), NULL);
  assert_matrix_error (no_api_whoami, 401, "M_UNKNOWN_TOKEN", "Token doesn't grant access to the Matrix C-S API");

  invalid = create_personal_session (hs, token, bob_id, "bad  scope", -1);
  assert_admin_error (invalid, 400, "Invalid scope");
  no_user = create_personal_session (hs, token, "01J9ZZZZZZZZZZZZZZZZZZZZZZ", API_SCOPE, -1);
  assert_admin_error (no_user, 404, "User not found");

  get = mas_call (hs, "GET", path, token, NULL);
  assert_ok (get, 200);
  g_assert_false (jhas (jget (jget (get->json, "data"), "attributes"), "access_token"));
  g_assert_nonnull (attr (get, "expires_at"));
  get_missing = mas_call (hs, "GET", PERSONAL_SESSIONS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ", token, NULL);
  assert_admin_error (get_missing, 404, "Personal session not found");

  /* expires_in is honoured */
  short_lived = create_personal_session (hs, token, bob_id, API_SCOPE, 1);
  assert_ok (short_lived, 201);
  g_usleep (1200 * 1000);
  expired_whoami = hs_call (hs, "GET", WHOAMI, attr (short_lived, "access_token"), NULL);
  assert_matrix_error (expired_whoami, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  test_homeserver_stop (hs);
}

static void
test_personal_session_revoke (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = create_user (hs, token, "bob");
  g_autofree gchar *revoke_path = NULL;
  g_autofree gchar *pat = NULL;
  g_autoptr(Response) created = NULL;
  g_autoptr(Response) revoked = NULL;
  g_autoptr(Response) again = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) get = NULL;

  created = create_personal_session (hs, token, bob_id, API_SCOPE " urn:matrix:client:device:BOBDEVICE01", 600);
  assert_ok (created, 201);
  pat = g_strdup (attr (created, "access_token"));
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@bob:" SERVER_NAME), ==, 1);
  revoke_path = g_strdup_printf (PERSONAL_SESSIONS "/%s/revoke", jstr (jget (created->json, "data"), "id"));
  revoked = mas_call (hs, "POST", revoke_path, token, NULL);
  assert_ok (revoked, 200);
  g_assert_nonnull (attr (revoked, "revoked_at"));
  g_assert_null (attr (revoked, "expires_at"));
  g_assert_false (jhas (jget (jget (revoked->json, "data"), "attributes"), "access_token"));
  /* the token is dead on Synapse and the device went with it */
  whoami = hs_call (hs, "GET", WHOAMI, pat, NULL);
  assert_matrix_error (whoami, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@bob:" SERVER_NAME), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, "bob", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, "bob", FALSE), ==, 1);

  again = mas_call (hs, "POST", revoke_path, token, NULL);
  {
    g_autofree gchar *title = g_strdup_printf ("Personal session with ID %s is already revoked",
                                               jstr (jget (created->json, "data"), "id"));
    assert_admin_error (again, 409, title);
  }
  missing = mas_call (hs, "POST", PERSONAL_SESSIONS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ/revoke", token, NULL);
  assert_admin_error (missing, 404, "Personal session with ID 01J9ZZZZZZZZZZZZZZZZZZZZZZ not found");
  get = mas_call (hs, "GET", revoke_path, token, NULL);
  assert_status (get, 405);
  test_homeserver_stop (hs);
}

/* an older MAS: no personal sessions below 1.5.0, no /version below 1.4.0,
 * no site-config below 1.3.0; MAS's router then answers its HTML 404 */
static void
test_old_mas (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = create_user (hs, token, "bob");
  g_autoptr(Response) none = NULL;
  g_autoptr(Response) none_get = NULL;
  g_autoptr(Response) version = NULL;
  g_autoptr(Response) no_version = NULL;
  g_autoptr(Response) no_config = NULL;
  g_autoptr(Response) users = NULL;
  g_autoptr(Response) unknown = NULL;

  test_homeserver_mas_set_version (hs, "1.4.0");
  none = create_personal_session (hs, token, bob_id, API_SCOPE, -1);
  assert_mas_not_found (none);
  /* whoever asks: the route is not there to check the token */
  none_get = mas_call (hs, "GET", PERSONAL_SESSIONS "/01J9ZZZZZZZZZZZZZZZZZZZZZZ", NULL, NULL);
  assert_mas_not_found (none_get);
  version = mas_call (hs, "GET", "/api/admin/v1/version", token, NULL);
  assert_ok (version, 200);
  g_assert_cmpstr (jstr (version->json, "version"), ==, "v1.4.0");
  test_homeserver_mas_set_version (hs, "1.2.0");
  no_version = mas_call (hs, "GET", "/api/admin/v1/version", token, NULL);
  assert_mas_not_found (no_version);
  no_config = mas_call (hs, "GET", "/api/admin/v1/site-config", token, NULL);
  assert_mas_not_found (no_config);
  users = mas_call (hs, "GET", USERS "/by-username/bob", token, NULL);
  assert_ok (users, 200);
  unknown = mas_call (hs, "GET", "/api/admin/v1/no-such-thing", token, NULL);
  assert_mas_not_found (unknown);
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* The compat API on the homeserver port */

static void
test_compat_login (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *bob_id = create_user (hs, token, "bob");
  g_autofree gchar *compat = NULL;
  g_autofree gchar *device_id = NULL;
  g_autoptr(Response) flows = NULL;
  g_autoptr(Response) flows_r0 = NULL;
  g_autoptr(Response) login = NULL;
  g_autoptr(Response) mxid_login = NULL;
  g_autoptr(Response) no_password = NULL;
  g_autoptr(Response) wrong = NULL;
  g_autoptr(Response) unknown = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) logout = NULL;
  g_autoptr(Response) after = NULL;
  g_autoptr(Response) logout_again = NULL;
  g_autoptr(Response) logout_none = NULL;
  g_autoptr(Response) no_identifier = NULL;
  g_autoptr(Response) other_identifier = NULL;
  g_autoptr(Response) token_login = NULL;
  g_autoptr(Response) not_json = NULL;
  g_autoptr(Response) disabled_flows = NULL;
  g_autoptr(Response) disabled = NULL;
  g_autoptr(Response) legacy = NULL;

  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_LOGIN, FALSE);
  flows = hs_call (hs, "GET", LOGIN, NULL, NULL);
  assert_ok (flows, 200);
  g_assert_true (flows_have (flows->json, "m.login.password"));
  g_assert_true (flows_have (flows->json, "m.login.sso"));
  g_assert_true (flows_have (flows->json, "m.login.token"));
  g_assert_null (flows->server); /* MAS answered */
  flows_r0 = hs_call (hs, "GET", "/_matrix/client/r0/login", NULL, NULL);
  assert_ok (flows_r0, 200);

  /* no password set yet */
  no_password = password_login (hs, "bob", STRONG_PASSWORD);
  assert_matrix_error (no_password, 403, "M_FORBIDDEN", "Invalid username/password");
  set_password (hs, token, bob_id, STRONG_PASSWORD);

  login = hs_call (hs, "POST", LOGIN, NULL,
                   "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"bob\"},"
                   "\"password\":\"" STRONG_PASSWORD "\",\"initial_device_display_name\":\"Lotti\"}");
  assert_ok (login, 200);
  compat = g_strdup (jstr (login->json, "access_token"));
  g_assert_true (g_str_has_prefix (compat, "mct_"));
  g_assert_cmpstr (jstr (login->json, "user_id"), ==, "@bob:" SERVER_NAME);
  device_id = g_strdup (jstr (login->json, "device_id"));
  g_assert_cmpuint (strlen (device_id), ==, 10);
  g_assert_false (jhas (login->json, "home_server"));
  g_assert_false (jhas (login->json, "refresh_token"));
  g_assert_false (jhas (login->json, "expires_in_ms"));
  {
    g_autofree gchar *name = test_homeserver_get_device_display_name (hs, "@bob:" SERVER_NAME, device_id);
    g_assert_cmpstr (name, ==, "Lotti");
  }
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (hs, "bob", TRUE), ==, 1);
  whoami = hs_call (hs, "GET", WHOAMI, compat, NULL);
  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "device_id"), ==, device_id);

  /* an own-server MXID, and the deprecated top-level user */
  mxid_login = password_login (hs, "@bob:" SERVER_NAME, STRONG_PASSWORD);
  assert_ok (mxid_login, 200);
  legacy = hs_call (hs, "POST", LOGIN, NULL,
                    "{\"type\":\"m.login.password\",\"user\":\"bob\",\"identifier\":{\"type\":\"m.id.user\","
                    "\"user\":\"nobody\"},\"password\":\"" STRONG_PASSWORD "\"}");
  assert_ok (legacy, 200);
  wrong = password_login (hs, "bob", "wrong password");
  assert_matrix_error (wrong, 403, "M_FORBIDDEN", "Invalid username/password");
  unknown = password_login (hs, "nobody", STRONG_PASSWORD);
  assert_matrix_error (unknown, 403, "M_FORBIDDEN", "Invalid username/password");
  no_identifier = hs_call (hs, "POST", LOGIN, NULL, "{\"type\":\"m.login.password\",\"password\":\"x\"}");
  assert_matrix_error (no_identifier, 400, "M_BAD_JSON", NULL);
  other_identifier = hs_call (hs, "POST", LOGIN, NULL,
                              "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.thirdparty\","
                              "\"medium\":\"email\",\"address\":\"a@b\"},\"password\":\"x\"}");
  assert_matrix_error (other_identifier, 400, "M_UNKNOWN", NULL);
  token_login = hs_call (hs, "POST", LOGIN, NULL, "{\"type\":\"m.login.token\",\"token\":\"abc\"}");
  assert_matrix_error (token_login, 403, "M_FORBIDDEN", "Invalid login token");
  not_json = http (test_homeserver_get_url (hs), "POST", LOGIN, NULL, FORM, "type=m.login.password");
  assert_matrix_error (not_json, 400, "M_NOT_JSON", NULL);

  /* logout ends the session and deletes its device */
  logout = hs_call (hs, "POST", LOGOUT, compat, "{}");
  assert_ok (logout, 200);
  g_assert_cmpuint (json_object_object_length (logout->json), ==, 0);
  g_assert_null (test_homeserver_get_device_display_name (hs, "@bob:" SERVER_NAME, device_id));
  {
    g_autoptr(GPtrArray) devices = test_homeserver_list_devices (hs, "@bob:" SERVER_NAME);
    g_assert_false (g_ptr_array_find_with_equal_func (devices, device_id, g_str_equal, NULL));
    g_assert_cmpuint (devices->len, ==, 2);
  }
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (hs, "bob", TRUE), ==, 2);
  after = hs_call (hs, "GET", WHOAMI, compat, NULL);
  assert_matrix_error (after, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  logout_again = hs_call (hs, "POST", LOGOUT, compat, "{}");
  assert_matrix_error (logout_again, 401, "M_UNKNOWN_TOKEN", "Invalid access token");
  logout_none = hs_call (hs, "POST", LOGOUT, NULL, "{}");
  assert_matrix_error (logout_none, 401, "M_MISSING_TOKEN", "Missing access token");

  /* passwords off */
  test_homeserver_mas_set_password_login (hs, FALSE);
  disabled_flows = hs_call (hs, "GET", LOGIN, NULL, NULL);
  assert_ok (disabled_flows, 200);
  g_assert_false (flows_have (disabled_flows->json, "m.login.password"));
  g_assert_true (flows_have (disabled_flows->json, "m.login.sso"));
  disabled = password_login (hs, "bob", STRONG_PASSWORD);
  assert_matrix_error (disabled, 400, "M_UNKNOWN", "Invalid login type");
  test_homeserver_stop (hs);
}

/* the admin alternative to logout: find the user's compat sessions, finish
 * one; and /logout/all, which MAS refuses unless told compat is enough */
static void
test_compat_sessions (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *admin_id = test_homeserver_mas_get_user_id (hs, "admin");
  g_autofree gchar *list_path = g_strdup_printf ("/api/admin/v1/compat-sessions?filter%%5Buser%%5D=%s"
                                                 "&filter%%5Bstatus%%5D=active", admin_id);
  g_autofree gchar *session_id = NULL;
  g_autofree gchar *finish_path = NULL;
  g_autofree gchar *first_token = NULL;
  g_autofree gchar *second_token = NULL;
  g_autoptr(Response) first = NULL;
  g_autoptr(Response) second = NULL;
  g_autoptr(Response) list = NULL;
  g_autoptr(Response) get = NULL;
  g_autoptr(Response) finished = NULL;
  g_autoptr(Response) again = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) after = NULL;
  g_autoptr(Response) all_refused = NULL;
  g_autoptr(Response) all = NULL;
  g_autoptr(Response) missing = NULL;
  json_object *data;

  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_LOGIN, FALSE);
  first = hs_call (hs, "POST", LOGIN, NULL, "{\"type\":\"m.login.password\",\"user\":\"admin\",\"password\":\""
                   ADMIN_PASSWORD "\",\"device_id\":\"FIRSTDEVICE\",\"initial_device_display_name\":\"one\"}");
  assert_ok (first, 200);
  g_assert_cmpstr (jstr (first->json, "device_id"), ==, "FIRSTDEVICE");
  first_token = g_strdup (jstr (first->json, "access_token"));
  second = password_login (hs, "admin", ADMIN_PASSWORD);
  assert_ok (second, 200);
  second_token = g_strdup (jstr (second->json, "access_token"));

  list = mas_call (hs, "GET", list_path, token, NULL);
  assert_ok (list, 200);
  g_assert_cmpint (json_object_get_int (jget (jget (list->json, "meta"), "count")), ==, 2);
  data = jget (list->json, "data");
  g_assert_cmpuint (json_object_array_length (data), ==, 2);
  g_assert_cmpstr (jstr (json_object_array_get_idx (data, 0), "type"), ==, "compat-session");
  g_assert_cmpstr (jstr (jget (json_object_array_get_idx (data, 0), "attributes"), "device_id"), ==, "FIRSTDEVICE");
  g_assert_cmpstr (jstr (jget (json_object_array_get_idx (data, 0), "attributes"), "human_name"), ==, "one");
  g_assert_cmpstr (jstr (jget (json_object_array_get_idx (data, 0), "attributes"), "user_id"), ==, admin_id);
  session_id = g_strdup (jstr (json_object_array_get_idx (data, 0), "id"));
  g_assert_true (is_ulid (session_id));
  g_assert_nonnull (jstr (jget (list->json, "links"), "self"));

  get = mas_call (hs, "GET", jstr (jget (json_object_array_get_idx (data, 0), "links"), "self"), token, NULL);
  assert_ok (get, 200);
  g_assert_null (attr (get, "finished_at"));

  finish_path = g_strdup_printf ("/api/admin/v1/compat-sessions/%s/finish", session_id);
  finished = mas_call (hs, "POST", finish_path, token, NULL);
  assert_ok (finished, 200);
  g_assert_nonnull (attr (finished, "finished_at"));
  g_assert_cmpstr (jstr (jget (finished->json, "links"), "self"), ==, finish_path);
  whoami = hs_call (hs, "GET", WHOAMI, first_token, NULL);
  assert_matrix_error (whoami, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  g_assert_null (test_homeserver_get_device_display_name (hs, "@admin:" SERVER_NAME, "FIRSTDEVICE"));
  again = mas_call (hs, "POST", finish_path, token, NULL);
  {
    g_autofree gchar *title = g_strdup_printf ("Compatibility session with ID %s is already finished", session_id);
    assert_admin_error (again, 400, title);
  }
  missing = mas_call (hs, "POST", "/api/admin/v1/compat-sessions/01J9ZZZZZZZZZZZZZZZZZZZZZZ/finish", token, NULL);
  assert_admin_error (missing, 404, "Compatibility session with ID 01J9ZZZZZZZZZZZZZZZZZZZZZZ not found");
  after = mas_call (hs, "GET", list_path, token, NULL);
  assert_ok (after, 200);
  g_assert_cmpint (json_object_get_int (jget (jget (after->json, "meta"), "count")), ==, 1);

  all_refused = hs_call (hs, "POST", "/_matrix/client/v3/logout/all", second_token, "{}");
  assert_matrix_error (all_refused, 404, "M_UNRECOGNIZED", NULL);
  all = hs_call (hs, "POST", "/_matrix/client/v3/logout/all", second_token, "{\"io.element.only_compat_is_fine\":true}");
  assert_ok (all, 200);
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (hs, "admin", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@admin:" SERVER_NAME), ==, 0);
  test_homeserver_stop (hs);
}

/* per address: 3, then one per 20 s; failures count, and the 429 says
 * nothing about when to retry */
static void
test_compat_login_limit (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autoptr(Response) limited = NULL;
  g_autoptr(Response) unknown_user = NULL;
  g_autoptr(Response) unlimited = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(Response) resp = password_login (hs, "admin", "wrong password");
      assert_matrix_error (resp, 403, "M_FORBIDDEN", "Invalid username/password");
    }
  limited = password_login (hs, "admin", ADMIN_PASSWORD);
  assert_matrix_error (limited, 429, "M_LIMIT_EXCEEDED", "Too many login attempts");
  g_assert_false (jhas (limited->json, "retry_after_ms"));
  g_assert_null (limited->retry_after);
  /* the limit is checked after the user is found: no such user is a 403 */
  unknown_user = password_login (hs, "nobody", "x");
  assert_matrix_error (unknown_user, 403, "M_FORBIDDEN", NULL);

  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_LOGIN, FALSE);
  unlimited = password_login (hs, "admin", ADMIN_PASSWORD);
  assert_ok (unlimited, 200);
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* What Synapse no longer does under MAS */

static void
test_synapse_under_mas (void)
{
  static const struct { const gchar *method; const gchar *path; } gone[] = {
    { "POST", "/_synapse/admin/v1/users/@bob:example.test/login" },
    { "GET", "/_synapse/admin/v1/register" },
    { "POST", "/_synapse/admin/v1/register" },
    { "GET", "/_synapse/admin/v1/users/@admin:example.test/admin" },
    { "PUT", "/_synapse/admin/v1/users/@admin:example.test/admin" },
    { "POST", "/_synapse/admin/v1/reset_password/@admin:example.test" },
    { "GET", "/_synapse/admin/v1/registration_tokens" },
    { "POST", "/_synapse/admin/v1/registration_tokens/new" },
    { "GET", "/_synapse/admin/v1/registration_tokens/abc" },
    { "POST", "/_matrix/client/v3/account/password" },
    { "POST", "/_matrix/client/v3/account/deactivate" },
    { "GET", "/_matrix/client/v3/register/available?username=x" },
    { "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=x" },
  };
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *admin = admin_token (hs);
  g_autofree gchar *compat = NULL;
  g_autoptr(Response) register_ = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) admin_api = NULL;
  g_autoptr(Response) not_admin = NULL;
  g_autoptr(Response) unknown = NULL;
  g_autoptr(Response) login = NULL;

  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_LOGIN, FALSE);
  login = password_login (hs, "admin", ADMIN_PASSWORD);
  assert_ok (login, 200);
  compat = g_strdup (jstr (login->json, "access_token"));
  for (guint i = 0; i < G_N_ELEMENTS (gone); i++)
    {
      g_autoptr(Response) resp = hs_call (hs, gone[i].method, gone[i].path, compat,
                                          g_strcmp0 (gone[i].method, "GET") == 0 ? NULL : "{}");
      assert_matrix_error (resp, 404, "M_UNRECOGNIZED", "Unrecognized request");
    }
  register_ = hs_call (hs, "POST", "/_matrix/client/v3/register", NULL,
                       "{\"username\":\"eve\",\"password\":\"" STRONG_PASSWORD "\"}");
  assert_matrix_error (register_, 403, "M_FORBIDDEN",
                       "Registration has been disabled. Only m.login.application_service registrations are allowed.");
  g_assert_false (test_homeserver_user_exists (hs, "@eve:" SERVER_NAME));

  /* a MAS admin token is no Synapse token */
  whoami = hs_call (hs, "GET", WHOAMI, admin, NULL);
  assert_matrix_error (whoami, 401, "M_UNKNOWN_TOKEN", "Token doesn't grant access to the Matrix C-S API");
  admin_api = hs_call (hs, "GET", "/_synapse/admin/v2/users/@admin:example.test", admin, NULL);
  assert_matrix_error (admin_api, 401, "M_UNKNOWN_TOKEN", "Token doesn't grant access to the Matrix C-S API");
  /* a compat token of a MAS admin is not a Synapse admin */
  not_admin = hs_call (hs, "GET", "/_synapse/admin/v2/users/@admin:example.test", compat, NULL);
  assert_matrix_error (not_admin, 403, "M_FORBIDDEN", "You are not a server admin");
  unknown = hs_call (hs, "GET", WHOAMI, "syt_YWRtaW4_not_a_token", NULL);
  assert_matrix_error (unknown, 401, "M_UNKNOWN_TOKEN", "Token is not active");
  g_assert_cmpuint (test_homeserver_count_tokens (hs, "@admin:" SERVER_NAME), ==, 1);
  test_homeserver_stop (hs);
}

/* PUT user still works (for a token with urn:synapse:admin:*, which a
 * personal session may carry) and makes a Synapse-only account: MAS does
 * not know it, so it cannot log in, and MAS calls its name reserved */
static void
test_synapse_only_user (void)
{
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = admin_token (hs);
  g_autofree gchar *admin_id = test_homeserver_mas_get_user_id (hs, "admin");
  g_autoptr(Response) session = NULL;
  g_autoptr(Response) put = NULL;
  g_autoptr(Response) get = NULL;
  g_autoptr(Response) login = NULL;
  g_autoptr(Response) reserved = NULL;
  g_autoptr(Response) skipped = NULL;

  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_LOGIN, FALSE);
  session = create_personal_session (hs, token, admin_id, API_SCOPE " urn:synapse:admin:*", -1);
  assert_ok (session, 201);
  put = hs_call (hs, "PUT", "/_synapse/admin/v2/users/@frank:example.test", attr (session, "access_token"),
                 "{\"password\":\"" STRONG_PASSWORD "\"}");
  assert_ok (put, 201);
  g_assert_true (test_homeserver_user_exists (hs, "@frank:" SERVER_NAME));
  g_assert_false (test_homeserver_mas_user_exists (hs, "frank"));
  get = hs_call (hs, "GET", "/_synapse/admin/v2/users/@frank:example.test", attr (session, "access_token"), NULL);
  assert_ok (get, 200);

  /* without urn:synapse:admin:* a personal token is no Synapse admin */
  {
    g_autoptr(Response) plain = create_personal_session (hs, token, admin_id, API_SCOPE, -1);
    g_autoptr(Response) refused = NULL;

    assert_ok (plain, 201);
    refused = hs_call (hs, "PUT", "/_synapse/admin/v2/users/@grace:example.test", attr (plain, "access_token"),
                       "{}");
    assert_matrix_error (refused, 403, "M_FORBIDDEN", "You are not a server admin");
    g_assert_false (test_homeserver_user_exists (hs, "@grace:" SERVER_NAME));
  }

  login = password_login (hs, "frank", STRONG_PASSWORD);
  assert_matrix_error (login, 403, "M_FORBIDDEN", "Invalid username/password");
  reserved = mas_call (hs, "POST", USERS, token, "{\"username\":\"frank\"}");
  assert_admin_error (reserved, 409, "Username is reserved by the homeserver");
  g_assert_false (test_homeserver_mas_user_exists (hs, "frank"));
  skipped = mas_call (hs, "POST", USERS, token, "{\"username\":\"frank\",\"skip_homeserver_check\":true}");
  assert_ok (skipped, 201);
  g_assert_true (test_homeserver_mas_user_exists (hs, "frank"));
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* Faults, logs and the transport */

static void
test_faults (void)
{
  const TestFault unavailable = { .kind = TEST_FAULT_STATUS, .status = 503, .content_type = "text/plain",
                                  .body = "busy" };
  const TestFault lost = { .kind = TEST_FAULT_DROP, .after_handling = TRUE };
  const TestFault slow = { .kind = TEST_FAULT_DELAY, .delay_ms = 300 };
  g_autoptr(TestHomeserver) hs = start_mas ();
  g_autofree gchar *token = NULL;
  g_autoptr(Response) busy = NULL;
  g_autoptr(Response) dropped = NULL;
  g_autoptr(Response) delayed = NULL;
  g_autoptr(GPtrArray) log = NULL;
  gint64 start;

  test_homeserver_add_fault (hs, "POST", "/oauth2/token", 0, 1, &unavailable);
  busy = token_request (hs, CLIENT_ID, CLIENT_SECRET, "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_status (busy, 503);
  g_assert_cmpstr (busy->body->str, ==, "busy");
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (hs, FALSE), ==, 0);
  token = admin_token (hs);

  /* handled, then the answer lost: the user exists */
  test_homeserver_add_fault (hs, "POST", "/api/admin/v1/users*", 0, 1, &lost);
  dropped = mas_call (hs, "POST", USERS, token, "{\"username\":\"bob\"}");
  g_assert_cmpint (dropped->code, !=, CURLE_OK);
  g_assert_true (test_homeserver_mas_user_exists (hs, "bob"));

  test_homeserver_add_fault (hs, "GET", "/api/admin/v1/users/by-username/*", 0, 1, &slow);
  start = g_get_monotonic_time ();
  delayed = mas_call (hs, "GET", USERS "/by-username/bob", token, NULL);
  assert_ok (delayed, 200);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);

  g_assert_cmpuint (test_homeserver_count_requests (hs, "POST", "/oauth2/token"), ==, 2);
  g_assert_cmpuint (test_homeserver_count_requests (hs, NULL, "/api/admin/v1/*"), ==, 2);
  log = test_homeserver_get_request_log (hs);
  g_assert_cmpuint (log->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (log, 0), ==, "POST /oauth2/token 503");
  g_assert_cmpstr (g_ptr_array_index (log, 2), ==, "POST /api/admin/v1/users 0");
  test_homeserver_stop (hs);
}

static void
test_tls (void)
{
  g_autofree gchar *server_pem = g_test_build_filename (G_TEST_DIST, "data", "test-server.pem", NULL);
  g_autofree gchar *ca_pem = g_test_build_filename (G_TEST_DIST, "data", "test-ca.pem", NULL);
  g_autoptr(TestHomeserver) hs = test_homeserver_new (SERVER_NAME);
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Response) discovery = NULL;
  g_autoptr(Response) metadata = NULL;

  cert = g_tls_certificate_new_from_file (server_pem, &error);
  g_assert_no_error (error);
  test_homeserver_set_flavour (hs, TEST_HOMESERVER_SYNAPSE_MAS);
  test_homeserver_set_tls_certificate (hs, cert);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_true (g_str_has_prefix (test_homeserver_get_mas_url (hs), "https://127.0.0.1:"));
  ca_file = ca_pem;
  discovery = http (test_homeserver_get_mas_url (hs), "GET", "/.well-known/openid-configuration", NULL, NULL, NULL);
  metadata = hs_call (hs, "GET", "/_matrix/client/v1/auth_metadata", NULL, NULL);
  ca_file = NULL;
  assert_ok (discovery, 200);
  assert_ok (metadata, 200);
  g_assert_true (g_str_has_prefix (jstr (metadata->json, "token_endpoint"), "https://127.0.0.1:"));
  test_homeserver_stop (hs);
}

/* ------------------------------------------------------------------------ */
/* The standalone binary */

static void
test_standalone (void)
{
  g_autofree gchar *binary = g_test_build_filename (G_TEST_BUILT, "mxprov-test-homeserver", NULL);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *secret_file = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *mas_url = NULL;
  g_autofree gchar *auth = basic (CLIENT_ID, CLIENT_SECRET);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSubprocess) bad = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(Response) grant = NULL;
  g_autoptr(Response) version = NULL;
  g_autoptr(Response) metadata = NULL;
  g_autofree gchar *version_auth = NULL;
  gsize len = 0;

  if (!g_file_test (binary, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("mxprov-test-homeserver is not built");
      return;
    }
  dir = g_dir_make_tmp ("mxprov-mas-XXXXXX", &error);
  g_assert_no_error (error);
  secret_file = g_build_filename (dir, "secret", NULL);
  g_assert_true (g_file_set_contents (secret_file, CLIENT_SECRET "\n", -1, &error));
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           binary, "--flavour", "mas", "--mas-client-id", CLIENT_ID, "--mas-client-secret-file",
                           secret_file, "--mas-version", "1.5.0", "--exit-on-stdin-eof", "--lifetime", "30", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  url = g_data_input_stream_read_line (out, &len, NULL, &error);
  g_assert_no_error (error);
  mas_url = g_data_input_stream_read_line (out, &len, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  g_assert_true (g_str_has_prefix (mas_url, "http://127.0.0.1:"));
  g_assert_cmpstr (url, !=, mas_url);

  metadata = http (url, "GET", "/_matrix/client/v1/auth_metadata", NULL, NULL, NULL);
  assert_ok (metadata, 200);
  {
    g_autofree gchar *token_endpoint = g_strconcat (mas_url, "/oauth2/token", NULL);
    g_assert_cmpstr (jstr (metadata->json, "token_endpoint"), ==, token_endpoint);
  }
  /* the secret file's trailing newline is not part of the secret */
  grant = http (mas_url, "POST", "/oauth2/token", auth, FORM, "grant_type=client_credentials&scope=urn%3Amas%3Aadmin");
  assert_ok (grant, 200);
  version_auth = bearer (jstr (grant->json, "access_token"));
  version = http (mas_url, "GET", "/api/admin/v1/version", version_auth, NULL, NULL);
  assert_ok (version, 200);
  g_assert_cmpstr (jstr (version->json, "version"), ==, "v1.5.0");

  g_assert_true (g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, &error));
  g_assert_true (g_subprocess_wait_check (proc, NULL, &error));
  g_assert_no_error (error);

  /* the MAS options need the mas flavour */
  bad = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                          binary, "--mas-client-id", CLIENT_ID, "--mas-client-secret-file", secret_file,
                          "--lifetime", "5", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (bad, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (bad));
  g_assert_cmpint (g_subprocess_get_exit_status (bad), ==, 2);
  g_unlink (secret_file);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  curl_global_init (CURL_GLOBAL_DEFAULT);

  g_test_add_func ("/mas/flavour", test_flavour);
  g_test_add_func ("/mas/discovery", test_discovery);
  g_test_add_func ("/mas/token/grant", test_token_grant);
  g_test_add_func ("/mas/token/admin-auth", test_admin_auth);
  g_test_add_func ("/mas/token/revoke", test_revoke);
  g_test_add_func ("/mas/admin/version-site-config", test_version_and_site_config);
  g_test_add_func ("/mas/admin/users", test_users);
  g_test_add_func ("/mas/admin/set-password", test_set_password);
  g_test_add_func ("/mas/admin/deactivate", test_deactivate);
  g_test_add_func ("/mas/admin/personal-sessions", test_personal_sessions);
  g_test_add_func ("/mas/admin/personal-session-revoke", test_personal_session_revoke);
  g_test_add_func ("/mas/admin/old-mas", test_old_mas);
  g_test_add_func ("/mas/compat/login", test_compat_login);
  g_test_add_func ("/mas/compat/login-limit", test_compat_login_limit);
  g_test_add_func ("/mas/compat/sessions", test_compat_sessions);
  g_test_add_func ("/mas/synapse/under-mas", test_synapse_under_mas);
  g_test_add_func ("/mas/synapse/synapse-only-user", test_synapse_only_user);
  g_test_add_func ("/mas/faults", test_faults);
  g_test_add_func ("/mas/tls", test_tls);
  g_test_add_func ("/mas/standalone", test_standalone);

  ret = g_test_run ();
  curl_global_cleanup ();
  return ret;
}
