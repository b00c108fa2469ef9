/* test-homeserver-selftest.c: proves that the test homeserver answers like
 * Synapse 1.67 and that each fault does what it says, by talking HTTP to it
 * with libcurl, the way mxprov will. If this suite is wrong, every mxprov
 * test built on the homeserver proves nothing.
 */
#include <curl/curl.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>

#include "test-homeserver.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_object, json_object_put)

#define ADMIN "@admin:example.test"
#define ALICE "@alice:example.test"
#define BOB "@bob:example.test"

typedef struct {
  CURLcode code;
  long status;
  gchar *content_type;
  gchar *retry_after;
  gchar *server; /* the Server header, or NULL */
  GString *body;
  json_object *json; /* NULL unless the body is valid JSON */
  gint64 elapsed_us;
} Response;

static void
response_free (Response *resp)
{
  g_free (resp->content_type);
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

static size_t
header_cb (char *data, size_t size, size_t nmemb, void *user_data)
{
  Response *resp = user_data;
  g_autofree gchar *line = g_strndup (data, size * nmemb);

  g_strchomp (line);
  if (g_ascii_strncasecmp (line, "Retry-After:", 12) == 0)
    {
      g_free (resp->retry_after);
      resp->retry_after = g_strstrip (g_strdup (line + 12));
    }
  if (g_ascii_strncasecmp (line, "Server:", 7) == 0)
    {
      g_free (resp->server);
      resp->server = g_strstrip (g_strdup (line + 7));
    }
  return size * nmemb;
}

/* One request on a fresh connection; `path` is sent as given (encoded).
 * libcurl sends no User-Agent unless `user_agent` is given. */
static Response *
http_url_ua (const gchar *base_url, const gchar *method, const gchar *path,
             const gchar *token, const gchar *body, const gchar *user_agent)
{
  Response *resp = g_new0 (Response, 1);
  g_autofree gchar *url = g_strconcat (base_url, path, NULL);
  g_autofree gchar *auth = NULL;
  struct curl_slist *headers = NULL;
  CURL *curl = curl_easy_init ();
  const char *ct = NULL;
  gint64 start;

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
  if (user_agent != NULL)
    curl_easy_setopt (curl, CURLOPT_USERAGENT, user_agent);
  if (token != NULL)
    {
      auth = g_strdup_printf ("Authorization: Bearer %s", token);
      headers = curl_slist_append (headers, auth);
    }
  if (body != NULL)
    {
      headers = curl_slist_append (headers, "Content-Type: application/json");
      curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    }
  headers = curl_slist_append (headers, "Expect:");
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);

  start = g_get_monotonic_time ();
  resp->code = curl_easy_perform (curl);
  resp->elapsed_us = g_get_monotonic_time () - start;
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &resp->status);
  if (curl_easy_getinfo (curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
    resp->content_type = g_strdup (ct);
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

static Response *
http_url (const gchar *base_url, const gchar *method, const gchar *path,
          const gchar *token, const gchar *body)
{
  return http_url_ua (base_url, method, path, token, body, NULL);
}

static Response *
http (TestHomeserver *hs, const gchar *method, const gchar *path,
      const gchar *token, const gchar *body)
{
  return http_url (test_homeserver_get_url (hs), method, path, token, body);
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

static void
assert_ok (Response *resp, long status)
{
  if (resp->code != CURLE_OK || resp->status != status)
    g_error ("expected %ld, got curl %d HTTP %ld: %s", status, resp->code, resp->status, resp->body->str);
  g_assert_nonnull (resp->json);
}

static void
assert_error (Response *resp, long status, const gchar *errcode)
{
  if (resp->code != CURLE_OK || resp->status != status)
    g_error ("expected %ld %s, got curl %d HTTP %ld: %s", status, errcode,
             resp->code, resp->status, resp->body->str);
  g_assert_cmpstr (resp->content_type, ==, "application/json");
  g_assert_nonnull (resp->json);
  g_assert_cmpstr (jstr (resp->json, "errcode"), ==, errcode);
  g_assert_nonnull (jstr (resp->json, "error"));
}

static TestHomeserver *
start_server (gboolean rate_limit)
{
  TestHomeserver *hs = test_homeserver_new ("example.test");
  g_autoptr(GError) error = NULL;

  test_homeserver_add_user (hs, "admin", "adminpw", TRUE);
  test_homeserver_add_user (hs, "alice", "alicepw", FALSE);
  test_homeserver_set_login_rate_limit (hs, rate_limit);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (test_homeserver_get_url (hs), "http://127.0.0.1:"));
  return hs;
}

static gchar *
password_body (const gchar *user, const gchar *password)
{
  return g_strdup_printf ("{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                          "\"user\":\"%s\"},\"password\":\"%s\"}", user, password);
}

static gchar *
login (TestHomeserver *hs, const gchar *user, const gchar *password)
{
  g_autofree gchar *body = password_body (user, password);
  g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);

  assert_ok (resp, 200);
  return g_strdup (jstr (resp->json, "access_token"));
}

static gchar *
create_room (TestHomeserver *hs, const gchar *token, const gchar *body)
{
  g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/createRoom", token, body);

  assert_ok (resp, 200);
  return g_strdup (jstr (resp->json, "room_id"));
}

static gboolean
log_contains (TestHomeserver *hs, const gchar *line)
{
  g_autoptr(GPtrArray) log = test_homeserver_get_request_log (hs);

  for (guint i = 0; i < log->len; i++)
    {
      if (g_strcmp0 (g_ptr_array_index (log, i), line) == 0)
        return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------------ */

static void
test_versions (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autoptr(Response) versions = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  g_autoptr(Response) server = http (hs, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
  json_object *arr;
  gboolean has_v15 = FALSE;

  assert_ok (versions, 200);
  g_assert_cmpstr (versions->content_type, ==, "application/json");
  arr = jget (versions->json, "versions");
  g_assert_true (json_object_is_type (arr, json_type_array));
  for (gsize i = 0; i < json_object_array_length (arr); i++)
    has_v15 |= g_strcmp0 (json_object_get_string (json_object_array_get_idx (arr, i)), "v1.5") == 0;
  g_assert_true (has_v15);

  assert_ok (server, 200);
  g_assert_cmpstr (jstr (server->json, "server_version"), ==, "1.67.0");
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

static void
test_login_flows (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autoptr(Response) flows = http (hs, "GET", "/_matrix/client/v3/login", NULL, NULL);
  g_autoptr(Response) oidc_flows = NULL;
  g_autoptr(Response) refused = NULL;
  g_autofree gchar *body = password_body ("admin", "adminpw");

  assert_ok (flows, 200);
  g_assert_true (flows_have (flows->json, "m.login.password"));
  g_assert_true (flows_have (flows->json, "m.login.token"));

  test_homeserver_set_password_login (hs, FALSE);
  oidc_flows = http (hs, "GET", "/_matrix/client/v3/login", NULL, NULL);
  assert_ok (oidc_flows, 200);
  g_assert_false (flows_have (oidc_flows->json, "m.login.password"));
  g_assert_true (flows_have (oidc_flows->json, "m.login.token"));
  refused = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_error (refused, 400, "M_UNRECOGNIZED");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 0);
}

static void
test_login_password (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *by_localpart = password_body ("admin", "adminpw");
  g_autofree gchar *by_mxid = password_body (ADMIN, "adminpw");
  g_autofree gchar *wrong = password_body ("admin", "nope");
  g_autofree gchar *unknown = password_body ("nobody", "adminpw");
  g_autofree gchar *foreign = password_body ("@admin:elsewhere.test", "adminpw");
  const gchar *legacy = "{\"type\":\"m.login.password\",\"user\":\"alice\",\"password\":\"alicepw\"}";
  g_autoptr(Response) r1 = http (hs, "POST", "/_matrix/client/v3/login", NULL, by_localpart);
  g_autoptr(Response) r2 = http (hs, "POST", "/_matrix/client/v3/login", NULL, by_mxid);
  g_autoptr(Response) r3 = http (hs, "POST", "/_matrix/client/v3/login", NULL, legacy);
  g_autoptr(Response) r4 = http (hs, "POST", "/_matrix/client/v3/login", NULL, wrong);
  g_autoptr(Response) r5 = http (hs, "POST", "/_matrix/client/v3/login", NULL, unknown);
  g_autoptr(Response) r6 = http (hs, "POST", "/_matrix/client/v3/login", NULL, foreign);
  const gchar *device;

  assert_ok (r1, 200);
  g_assert_cmpstr (jstr (r1->json, "user_id"), ==, ADMIN);
  g_assert_cmpstr (jstr (r1->json, "home_server"), ==, "example.test");
  g_assert_true (g_str_has_prefix (jstr (r1->json, "access_token"), "syt_"));
  device = jstr (r1->json, "device_id");
  g_assert_cmpuint (strlen (device), ==, 10);
  for (const gchar *p = device; *p != '\0'; p++)
    g_assert_true (g_ascii_isupper (*p));

  assert_ok (r2, 200);
  g_assert_cmpstr (jstr (r2->json, "user_id"), ==, ADMIN);
  g_assert_cmpstr (jstr (r2->json, "device_id"), !=, device);
  g_assert_cmpstr (jstr (r2->json, "access_token"), !=, jstr (r1->json, "access_token"));
  assert_ok (r3, 200);
  g_assert_cmpstr (jstr (r3->json, "user_id"), ==, ALICE);

  /* every password login is a new device */
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 2);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ADMIN), ==, 2);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 1);

  assert_error (r4, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (r4->json, "error"), ==, "Invalid username or password");
  assert_error (r5, 403, "M_FORBIDDEN");
  assert_error (r6, 403, "M_FORBIDDEN");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 2);
}

static void
test_login_rate_limit (void)
{
  g_autoptr(TestHomeserver) hs = start_server (TRUE);
  g_autofree gchar *body = password_body ("admin", "adminpw");
  g_autofree gchar *other = password_body ("alice", "alicepw");
  g_autoptr(Response) limited = NULL;
  g_autoptr(Response) alice = NULL;
  json_object *retry;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
      assert_ok (resp, 200);
    }
  limited = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_error (limited, 429, "M_LIMIT_EXCEEDED");
  retry = jget (limited->json, "retry_after_ms");
  g_assert_true (json_object_is_type (retry, json_type_int));
  g_assert_cmpint (json_object_get_int64 (retry), >, 4000);
  g_assert_cmpint (json_object_get_int64 (retry), <=, 6000);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 3);

  /* the limit is per account */
  alice = http (hs, "POST", "/_matrix/client/v3/login", NULL, other);
  assert_ok (alice, 200);

  test_homeserver_set_login_rate_limit (hs, FALSE);
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
      assert_ok (resp, 200);
    }
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 9);
}

static void
test_auth_errors (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *query_path = g_strdup_printf ("/_matrix/client/v3/account/whoami?access_token=%s", alice);
  g_autoptr(Response) missing = http (hs, "GET", "/_matrix/client/v3/account/whoami", NULL, NULL);
  g_autoptr(Response) bogus = http (hs, "GET", "/_matrix/client/v3/account/whoami", "syt_bogus", NULL);
  g_autoptr(Response) whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", admin, NULL);
  g_autoptr(Response) by_query = http (hs, "GET", query_path, NULL, NULL);
  g_autoptr(Response) not_admin = http (hs, "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/admin", alice, NULL);
  g_autoptr(Response) admin_no_token = http (hs, "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test", NULL, NULL);
  json_object *soft = NULL;

  assert_error (missing, 401, "M_MISSING_TOKEN");
  assert_error (bogus, 401, "M_UNKNOWN_TOKEN");
  soft = jget (bogus->json, "soft_logout");
  g_assert_true (json_object_is_type (soft, json_type_boolean));
  g_assert_false (json_object_get_boolean (soft));

  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "user_id"), ==, ADMIN);
  g_assert_nonnull (jstr (whoami->json, "device_id"));
  assert_ok (by_query, 200);
  g_assert_cmpstr (jstr (by_query->json, "user_id"), ==, ALICE);

  assert_error (not_admin, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (not_admin->json, "error"), ==, "You are not a server admin");
  assert_error (admin_no_token, 401, "M_MISSING_TOKEN");
}

static void
test_routing_errors (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) unknown = http (hs, "GET", "/_matrix/client/v3/nonsense", admin, NULL);
  g_autoptr(Response) wrong_method = http (hs, "DELETE", "/_matrix/client/v3/account/whoami", admin, NULL);
  g_autoptr(Response) wrong_method2 = http (hs, "GET", "/_matrix/client/v3/createRoom", admin, NULL);
  g_autoptr(Response) garbage = http (hs, "POST", "/_matrix/client/v3/createRoom", admin, "{not json");
  g_autoptr(Response) array = http (hs, "POST", "/_matrix/client/v3/createRoom", admin, "[1,2]");
  g_autoptr(Response) empty = http (hs, "POST", "/_matrix/client/v3/createRoom", admin, "");
  g_autoptr(Response) login_garbage = http (hs, "POST", "/_matrix/client/v3/login", NULL, "\"x\"");
  g_autoptr(Response) trailing_garbage = http (hs, "POST", "/_matrix/client/v3/createRoom", admin, "{}x");
  g_autoptr(Response) unknown_admin = http (hs, "GET", "/_synapse/admin/v1/nonsense", NULL, NULL);
  g_autoptr(GPtrArray) rooms = NULL;
  g_autoptr(Response) trailing_space = NULL;

  assert_error (unknown, 404, "M_UNRECOGNIZED");
  assert_error (unknown_admin, 404, "M_UNRECOGNIZED");
  assert_error (trailing_garbage, 400, "M_NOT_JSON");
  assert_error (wrong_method, 405, "M_UNRECOGNIZED");
  assert_error (wrong_method2, 405, "M_UNRECOGNIZED");
  assert_error (garbage, 400, "M_NOT_JSON");
  assert_error (array, 400, "M_NOT_JSON");
  assert_error (empty, 400, "M_NOT_JSON");
  assert_error (login_garbage, 400, "M_NOT_JSON");
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 0);
  trailing_space = http (hs, "POST", "/_matrix/client/v3/createRoom", admin, "{} \n");
  assert_ok (trailing_space, 200);
}

static void
test_logout (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *first = login (hs, "admin", "adminpw");
  g_autofree gchar *second = login (hs, "admin", "adminpw");
  g_autoptr(Response) out = NULL;
  g_autoptr(Response) after = NULL;
  g_autoptr(Response) other = NULL;

  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 2);
  out = http (hs, "POST", "/_matrix/client/v3/logout", first, "{}");
  assert_ok (out, 200);
  g_assert_cmpint (json_object_object_length (out->json), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 1);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ADMIN), ==, 1);
  after = http (hs, "GET", "/_matrix/client/v3/account/whoami", first, NULL);
  assert_error (after, 401, "M_UNKNOWN_TOKEN");
  other = http (hs, "GET", "/_matrix/client/v3/account/whoami", second, NULL);
  assert_ok (other, 200);
}

static void
test_admin_get_user (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) is_admin = http (hs, "GET", "/_synapse/admin/v1/users/%40admin%3Aexample.test/admin", admin, NULL);
  g_autoptr(Response) not_admin = http (hs, "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/admin", admin, NULL);
  g_autoptr(Response) alice = http (hs, "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test", admin, NULL);
  g_autoptr(Response) me = http (hs, "GET", "/_synapse/admin/v2/users/%40admin%3Aexample.test", admin, NULL);
  g_autoptr(Response) missing = http (hs, "GET", "/_synapse/admin/v2/users/%40nobody%3Aexample.test", admin, NULL);
  g_autoptr(Response) foreign = http (hs, "GET", "/_synapse/admin/v2/users/%40alice%3Aelsewhere.test", admin, NULL);
  json_object *flag;

  assert_ok (is_admin, 200);
  g_assert_true (json_object_get_boolean (jget (is_admin->json, "admin")));
  assert_ok (not_admin, 200);
  g_assert_true (json_object_is_type (jget (not_admin->json, "admin"), json_type_boolean));
  g_assert_false (json_object_get_boolean (jget (not_admin->json, "admin")));

  assert_ok (alice, 200);
  g_assert_cmpstr (jstr (alice->json, "name"), ==, ALICE);
  /* 1.67 sends integers here, not booleans */
  flag = jget (alice->json, "admin");
  g_assert_true (json_object_is_type (flag, json_type_int));
  g_assert_cmpint (json_object_get_int (flag), ==, 0);
  flag = jget (alice->json, "deactivated");
  g_assert_true (json_object_is_type (flag, json_type_int));
  g_assert_cmpint (json_object_get_int (flag), ==, 0);
  assert_ok (me, 200);
  g_assert_cmpint (json_object_get_int (jget (me->json, "admin")), ==, 1);

  assert_error (missing, 404, "M_NOT_FOUND");
  g_assert_cmpstr (jstr (missing->json, "error"), ==, "User not found");
  assert_error (foreign, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (foreign->json, "error"), ==, "Can only look up local users");

  /* the log holds decoded paths */
  g_assert_true (log_contains (hs, "GET /_synapse/admin/v2/users/@nobody:example.test 404"));
  g_assert_cmpuint (test_homeserver_count_requests (hs, "GET", "/_synapse/admin/v2/users/*"), ==, 4);
}

static void
test_admin_put_user (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *long_pw = g_strnfill (513, 'a');
  g_autofree gchar *max_pw = g_strnfill (512, 'b');
  g_autofree gchar *long_body = g_strdup_printf ("{\"password\":\"%s\"}", long_pw);
  g_autofree gchar *max_body = g_strdup_printf ("{\"password\":\"%s\"}", max_pw);
  g_autofree gchar *pw = NULL;
  g_autofree gchar *dn = NULL;
  g_autoptr(Response) created = http (hs, "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", admin,
                                      "{\"password\":\"bobpw\",\"displayname\":\"Bob\",\"admin\":false}");
  g_autoptr(Response) takeover = NULL;
  g_autoptr(Response) old_token = NULL;
  g_autoptr(Response) new_login = NULL;
  g_autoptr(Response) foreign = NULL;
  g_autoptr(Response) too_long = NULL;
  g_autoptr(Response) not_string = NULL;
  g_autoptr(Response) max_len = NULL;
  const gchar *invalid[] = { "bob%2Bx", "_bob", "12345", "Bob", "b%20b", "" };
  guint users_before;

  assert_ok (created, 201);
  g_assert_cmpstr (jstr (created->json, "name"), ==, BOB);
  g_assert_cmpstr (jstr (created->json, "displayname"), ==, "Bob");
  g_assert_true (test_homeserver_user_exists (hs, BOB));
  g_assert_false (test_homeserver_user_is_admin (hs, BOB));
  pw = test_homeserver_get_user_password (hs, BOB);
  g_assert_cmpstr (pw, ==, "bobpw");

  /* an existing user is modified, and its sessions are logged out */
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 1);
  takeover = http (hs, "PUT", "/_synapse/admin/v2/users/%40alice%3Aexample.test", admin,
                   "{\"password\":\"stolen\",\"displayname\":\"Mallory\"}");
  assert_ok (takeover, 200);
  g_clear_pointer (&pw, g_free);
  pw = test_homeserver_get_user_password (hs, ALICE);
  g_assert_cmpstr (pw, ==, "stolen");
  dn = test_homeserver_get_user_displayname (hs, ALICE);
  g_assert_cmpstr (dn, ==, "Mallory");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 0);
  old_token = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice, NULL);
  assert_error (old_token, 401, "M_UNKNOWN_TOKEN");
  new_login = http (hs, "POST", "/_matrix/client/v3/login", NULL,
                    "{\"type\":\"m.login.password\",\"user\":\"alice\",\"password\":\"stolen\"}");
  assert_ok (new_login, 200);
  /* the admin's own session survives */
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ADMIN), ==, 1);

  users_before = test_homeserver_count_users (hs);
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/_synapse/admin/v2/users/%%40%s%%3Aexample.test", invalid[i]);
      g_autoptr(Response) resp = http (hs, "PUT", path, admin, "{\"password\":\"x\"}");
      assert_error (resp, 400, "M_INVALID_USERNAME");
    }
  g_assert_cmpuint (test_homeserver_count_users (hs), ==, users_before);

  foreign = http (hs, "PUT", "/_synapse/admin/v2/users/%40carol%3Aelsewhere.test", admin, "{\"password\":\"x\"}");
  assert_error (foreign, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (foreign->json, "error"), ==, "This endpoint can only be used with local users");
  too_long = http (hs, "PUT", "/_synapse/admin/v2/users/%40carol%3Aexample.test", admin, long_body);
  assert_error (too_long, 400, "M_INVALID_PARAM");
  not_string = http (hs, "PUT", "/_synapse/admin/v2/users/%40carol%3Aexample.test", admin, "{\"password\":42}");
  assert_error (not_string, 400, "M_INVALID_PARAM");
  g_assert_false (test_homeserver_user_exists (hs, "@carol:example.test"));
  max_len = http (hs, "PUT", "/_synapse/admin/v2/users/%40carol%3Aexample.test", admin, max_body);
  assert_ok (max_len, 201);
  g_assert_true (test_homeserver_user_exists (hs, "@carol:example.test"));
}

static void
test_username_available (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autoptr(Response) free_name = http (hs, "GET", "/_synapse/admin/v1/username_available?username=newbie", admin, NULL);
  g_autoptr(Response) taken = http (hs, "GET", "/_synapse/admin/v1/username_available?username=alice", admin, NULL);
  g_autoptr(Response) invalid = http (hs, "GET", "/_synapse/admin/v1/username_available?username=_x", admin, NULL);
  g_autoptr(Response) not_admin = http (hs, "GET", "/_synapse/admin/v1/username_available?username=newbie", alice, NULL);

  assert_ok (free_name, 200);
  g_assert_true (json_object_get_boolean (jget (free_name->json, "available")));
  assert_error (taken, 400, "M_USER_IN_USE");
  assert_error (invalid, 400, "M_INVALID_USERNAME");
  assert_error (not_admin, 403, "M_FORBIDDEN");
}

static void
test_login_as_user (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice_device_token = login (hs, "alice", "alicepw");
  g_autofree gchar *future = g_strdup_printf ("{\"valid_until_ms\":%" G_GINT64_FORMAT "}",
                                              g_get_real_time () / 1000 + 600000);
  g_autoptr(Response) puppet = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin, future);
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) as_self = NULL;
  g_autoptr(Response) ghost = NULL;
  g_autoptr(Response) expired = NULL;
  g_autoptr(Response) expired_use = NULL;
  g_autoptr(Response) logout = NULL;
  g_autoptr(Response) still_alive = NULL;
  g_autoptr(Response) empty_body = NULL;
  const gchar *token;

  assert_ok (puppet, 200);
  token = jstr (puppet->json, "access_token");
  g_assert_nonnull (token);
  /* a puppet token has no device */
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 1);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 2);
  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", token, NULL);
  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "user_id"), ==, ALICE);
  g_assert_null (jget (whoami->json, "device_id"));

  as_self = http (hs, "POST", "/_synapse/admin/v1/users/%40admin%3Aexample.test/login", admin, "{}");
  assert_error (as_self, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (as_self->json, "error"), ==, "Cannot use admin API to login as self");

  /* like Synapse 1.67, a token for a user that does not exist */
  ghost = http (hs, "POST", "/_synapse/admin/v1/users/%40ghost%3Aexample.test/login", admin, "{}");
  assert_ok (ghost, 200);
  g_assert_false (test_homeserver_user_exists (hs, "@ghost:example.test"));
  g_assert_cmpuint (test_homeserver_count_tokens (hs, "@ghost:example.test"), ==, 1);

  expired = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin,
                  "{\"valid_until_ms\":1000}");
  assert_ok (expired, 200);
  expired_use = http (hs, "GET", "/_matrix/client/v3/account/whoami", jstr (expired->json, "access_token"), NULL);
  assert_error (expired_use, 401, "M_UNKNOWN_TOKEN");
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 2);

  empty_body = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin, NULL);
  assert_ok (empty_body, 200);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 3);

  /* logging out a puppet token removes just that token */
  logout = http (hs, "POST", "/_matrix/client/v3/logout", token, "{}");
  assert_ok (logout, 200);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 2);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 1);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ADMIN), ==, 1);
  still_alive = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice_device_token, NULL);
  assert_ok (still_alive, 200);
}

static const gchar room_body[] =
  "{\"name\":\"mxprov sync\",\"preset\":\"private_chat\","
  "\"creation_content\":{\"m.federate\":false},"
  "\"initial_state\":["
  "{\"type\":\"m.room.encryption\",\"state_key\":\"\",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\"}},"
  "{\"type\":\"org.example.marker\",\"content\":{\"v\":1}}]}";

static void
test_create_room (void)
{
  static const gchar *order[] = {
    "m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules",
    "m.room.history_visibility", "m.room.guest_access", "m.room.encryption",
    "org.example.marker", "m.room.name",
  };
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *room_id = create_room (hs, alice, room_body);
  g_autofree gchar *escaped = g_uri_escape_string (room_id, NULL, FALSE);
  g_autofree gchar *state_path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state", escaped);
  g_autofree gchar *name_slash = g_strdup_printf ("%s/m.room.name/", state_path);
  g_autofree gchar *name_bare = g_strdup_printf ("%s/m.room.name", state_path);
  g_autofree gchar *member = g_strdup_printf ("%s/m.room.member/%%40alice%%3Aexample.test", state_path);
  g_autofree gchar *absent = g_strdup_printf ("%s/m.room.topic/", state_path);
  g_autofree gchar *members_path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/joined_members", escaped);
  g_autofree gchar *creator = NULL;
  g_autoptr(Response) all = http (hs, "GET", state_path, alice, NULL);
  g_autoptr(Response) r_slash = http (hs, "GET", name_slash, alice, NULL);
  g_autoptr(Response) r_bare = http (hs, "GET", name_bare, alice, NULL);
  g_autoptr(Response) r_member = http (hs, "GET", member, alice, NULL);
  g_autoptr(Response) r_absent = http (hs, "GET", absent, alice, NULL);
  g_autoptr(Response) r_outsider = http (hs, "GET", name_slash, admin, NULL);
  g_autoptr(Response) r_members = http (hs, "GET", members_path, alice, NULL);
  g_autoptr(Response) r_joined = http (hs, "GET", "/_matrix/client/v3/joined_rooms", alice, NULL);
  g_autoptr(Response) r_admin_joined = http (hs, "GET", "/_matrix/client/v3/joined_rooms", admin, NULL);
  g_autoptr(json_object) create = NULL;
  g_autoptr(json_object) pl = NULL;
  g_autoptr(json_object) join_rules = NULL;
  g_autoptr(json_object) request = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autoptr(GRegex) id_re = g_regex_new ("^![A-Za-z]{18}:example\\.test$", 0, 0, NULL);
  json_object *joined;

  g_assert_true (g_regex_match (id_re, room_id, 0, NULL));
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rooms, 0), ==, room_id);
  creator = test_homeserver_room_get_creator (hs, room_id);
  g_assert_cmpstr (creator, ==, ALICE);
  g_assert_true (test_homeserver_room_is_joined (hs, room_id, ALICE));
  g_assert_false (test_homeserver_room_is_joined (hs, room_id, ADMIN));

  /* Synapse's order of state events */
  assert_ok (all, 200);
  g_assert_cmpuint (json_object_array_length (all->json), ==, G_N_ELEMENTS (order));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    g_assert_cmpstr (jstr (json_object_array_get_idx (all->json, i), "type"), ==, order[i]);

  create = test_homeserver_room_get_state (hs, room_id, "m.room.create", "");
  g_assert_nonnull (create);
  g_assert_false (json_object_get_boolean (jget (create, "m.federate")));
  g_assert_cmpstr (jstr (create, "creator"), ==, ALICE);
  pl = test_homeserver_room_get_state (hs, room_id, "m.room.power_levels", "");
  g_assert_cmpint (json_object_get_int (jget (jget (pl, "users"), ALICE)), ==, 100);
  g_assert_cmpint (json_object_get_int (jget (pl, "state_default")), ==, 50);
  join_rules = test_homeserver_room_get_state (hs, room_id, "m.room.join_rules", "");
  g_assert_cmpstr (jstr (join_rules, "join_rule"), ==, "invite");
  g_assert_null (test_homeserver_room_get_state (hs, room_id, "m.room.topic", ""));
  request = test_homeserver_room_get_create_request (hs, room_id);
  g_assert_cmpstr (jstr (request, "name"), ==, "mxprov sync");
  g_assert_cmpuint (json_object_array_length (jget (request, "initial_state")), ==, 2);

  assert_ok (r_slash, 200);
  g_assert_cmpstr (jstr (r_slash->json, "name"), ==, "mxprov sync");
  assert_ok (r_bare, 200);
  g_assert_cmpstr (jstr (r_bare->json, "name"), ==, "mxprov sync");
  assert_ok (r_member, 200);
  g_assert_cmpstr (jstr (r_member->json, "membership"), ==, "join");
  assert_error (r_absent, 404, "M_NOT_FOUND");
  assert_error (r_outsider, 403, "M_FORBIDDEN");

  assert_ok (r_members, 200);
  joined = jget (r_members->json, "joined");
  g_assert_cmpint (json_object_object_length (joined), ==, 1);
  g_assert_nonnull (jget (joined, ALICE));
  g_assert_true (json_object_object_get_ex (jget (joined, ALICE), "avatar_url", NULL));

  assert_ok (r_joined, 200);
  g_assert_cmpuint (json_object_array_length (jget (r_joined->json, "joined_rooms")), ==, 1);
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (jget (r_joined->json, "joined_rooms"), 0)), ==, room_id);
  assert_ok (r_admin_joined, 200);
  g_assert_cmpuint (json_object_array_length (jget (r_admin_joined->json, "joined_rooms")), ==, 0);
}

static void
test_create_room_validation (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autoptr(Response) no_content = http (hs, "POST", "/_matrix/client/v3/createRoom", alice,
                                         "{\"initial_state\":[{\"type\":\"m.x\",\"state_key\":\"\"}]}");
  g_autoptr(Response) bad_type = http (hs, "POST", "/_matrix/client/v3/createRoom", alice,
                                       "{\"initial_state\":[{\"type\":5,\"content\":{}}]}");
  g_autoptr(Response) bad_key = http (hs, "POST", "/_matrix/client/v3/createRoom", alice,
                                      "{\"initial_state\":[{\"type\":\"m.x\",\"state_key\":1,\"content\":{}}]}");
  g_autoptr(Response) public_room = http (hs, "POST", "/_matrix/client/v3/createRoom", alice,
                                          "{\"preset\":\"public_chat\"}");
  g_autoptr(json_object) join_rules = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  assert_error (no_content, 500, "M_UNKNOWN");
  assert_error (bad_type, 400, "M_BAD_JSON");
  assert_error (bad_key, 400, "M_BAD_JSON");
  assert_ok (public_room, 200);
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 1);
  join_rules = test_homeserver_room_get_state (hs, g_ptr_array_index (rooms, 0), "m.room.join_rules", "");
  g_assert_cmpstr (jstr (join_rules, "join_rule"), ==, "public");
  g_assert_null (test_homeserver_room_get_state (hs, g_ptr_array_index (rooms, 0), "m.room.guest_access", ""));
}

static void
test_deactivate (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *room_id = create_room (hs, alice, room_body);
  g_autoptr(Response) puppet = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin, "{}");
  g_autoptr(Response) deact = NULL;
  g_autoptr(Response) relogin = NULL;
  g_autoptr(Response) info = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(GPtrArray) joined = NULL;
  g_autoptr(json_object) member = NULL;

  assert_ok (puppet, 200);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 2);
  deact = http (hs, "POST", "/_synapse/admin/v1/deactivate/%40alice%3Aexample.test", admin, "{\"erase\":true}");
  assert_ok (deact, 200);
  g_assert_cmpstr (jstr (deact->json, "id_server_unbind_result"), ==, "success");
  g_assert_true (test_homeserver_user_is_deactivated (hs, ALICE));
  g_assert_true (test_homeserver_user_exists (hs, ALICE));
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
  g_assert_false (test_homeserver_room_is_joined (hs, room_id, ALICE));
  joined = test_homeserver_list_joined_rooms (hs, ALICE);
  g_assert_cmpuint (joined->len, ==, 0);
  member = test_homeserver_room_get_state (hs, room_id, "m.room.member", ALICE);
  g_assert_cmpstr (jstr (member, "membership"), ==, "leave");

  relogin = http (hs, "POST", "/_matrix/client/v3/login", NULL,
                  "{\"type\":\"m.login.password\",\"user\":\"alice\",\"password\":\"alicepw\"}");
  assert_error (relogin, 403, "M_USER_DEACTIVATED");
  info = http (hs, "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test", admin, NULL);
  assert_ok (info, 200);
  g_assert_cmpint (json_object_get_int (jget (info->json, "deactivated")), ==, 1);
  missing = http (hs, "POST", "/_synapse/admin/v1/deactivate/%40nobody%3Aexample.test", admin, "{\"erase\":true}");
  assert_error (missing, 404, "M_NOT_FOUND");
}

static void
test_delete_room (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *room_id = create_room (hs, alice, room_body);
  g_autofree gchar *escaped = g_uri_escape_string (room_id, NULL, FALSE);
  g_autofree gchar *path = g_strdup_printf ("/_synapse/admin/v1/rooms/%s", escaped);
  g_autoptr(Response) not_admin = http (hs, "DELETE", path, alice, "{\"purge\":true}");
  g_autoptr(Response) deleted = NULL;
  g_autoptr(Response) again = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  json_object *kicked;

  assert_error (not_admin, 403, "M_FORBIDDEN");
  deleted = http (hs, "DELETE", path, admin, "{\"purge\":true}");
  assert_ok (deleted, 200);
  kicked = jget (deleted->json, "kicked_users");
  g_assert_cmpuint (json_object_array_length (kicked), ==, 1);
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (kicked, 0)), ==, ALICE);
  g_assert_cmpuint (json_object_array_length (jget (deleted->json, "failed_to_kick_users")), ==, 0);
  g_assert_true (json_object_object_get_ex (deleted->json, "new_room_id", NULL));
  g_assert_null (jget (deleted->json, "new_room_id"));
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 0);
  again = http (hs, "DELETE", path, admin, "{\"purge\":true}");
  assert_error (again, 404, "M_NOT_FOUND");
}

/* ------------------------------------------------------------------------ */
/* Admin reads and password resets */

#define ALICE_DEVICES "/_synapse/admin/v2/users/%40alice%3Aexample.test/devices"

/* a password login naming its device; NULL members are left out */
static gchar *
login_device (TestHomeserver *hs, const gchar *user, const gchar *password,
              const gchar *device_id, const gchar *display_name)
{
  g_autoptr(json_object) obj = json_object_new_object ();
  json_object *identifier = json_object_new_object ();
  g_autoptr(Response) resp = NULL;

  json_object_object_add (obj, "type", json_object_new_string ("m.login.password"));
  json_object_object_add (identifier, "type", json_object_new_string ("m.id.user"));
  json_object_object_add (identifier, "user", json_object_new_string (user));
  json_object_object_add (obj, "identifier", identifier);
  json_object_object_add (obj, "password", json_object_new_string (password));
  if (device_id != NULL)
    json_object_object_add (obj, "device_id", json_object_new_string (device_id));
  if (display_name != NULL)
    json_object_object_add (obj, "initial_device_display_name", json_object_new_string (display_name));
  resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, json_object_to_json_string (obj));
  assert_ok (resp, 200);
  return g_strdup (jstr (resp->json, "access_token"));
}

/* the entry of an admin devices list for device_id, or NULL */
static json_object *
find_device (json_object *list, const gchar *device_id)
{
  json_object *devices = jget (list, "devices");

  g_assert_true (json_object_is_type (devices, json_type_array));
  for (gsize i = 0; i < json_object_array_length (devices); i++)
    {
      json_object *device = json_object_array_get_idx (devices, i);
      if (g_strcmp0 (jstr (device, "device_id"), device_id) == 0)
        return device;
    }
  return NULL;
}

/* the member is there and is JSON null */
static void
assert_null_member (json_object *obj, const gchar *key)
{
  json_object *value = NULL;

  g_assert_true (json_object_object_get_ex (obj, key, &value));
  g_assert_null (value);
}

static gint64
jint (json_object *obj, const gchar *key)
{
  json_object *value = jget (obj, key);

  g_assert_true (json_object_is_type (value, json_type_int));
  return json_object_get_int64 (value);
}

static gboolean
jarray_has (json_object *arr, const gchar *s)
{
  g_assert_true (json_object_is_type (arr, json_type_array));
  for (gsize i = 0; i < json_object_array_length (arr); i++)
    {
      if (g_strcmp0 (json_object_get_string (json_object_array_get_idx (arr, i)), s) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Device names from login, and last_seen_* in the admin devices list: null
 * until the device's token is used, then the time, IP and user agent of
 * its latest request. */
static void
test_admin_user_devices (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login_device (hs, "admin", "adminpw", "ADMINDEV", NULL);
  g_autofree gchar *phone = login_device (hs, "alice", "alicepw", "PHONE", "Lotti on my phone");
  g_autofree gchar *unnamed = login_device (hs, "alice", "alicepw", "UNNAMED", NULL);
  g_autofree gchar *again = login_device (hs, "alice", "alicepw", "PHONE", "another name");
  g_autofree gchar *phone_name = test_homeserver_get_device_display_name (hs, ALICE, "PHONE");
  g_autofree gchar *unnamed_name = test_homeserver_get_device_display_name (hs, ALICE, "UNNAMED");
  g_autofree gchar *name_100 = g_strnfill (100, 'x');
  g_autofree gchar *name_101 = g_strnfill (101, 'x');
  g_autofree gchar *long_body = g_strdup_printf ("{\"type\":\"m.login.password\",\"user\":\"alice\","
                                                 "\"password\":\"alicepw\",\"initial_device_display_name\":\"%s\"}",
                                                 name_101);
  g_autofree gchar *token_100 = NULL;
  g_autoptr(GPtrArray) ids = test_homeserver_list_devices (hs, ALICE);
  g_autoptr(Response) before = NULL;
  g_autoptr(Response) use1 = NULL;
  g_autoptr(Response) after1 = NULL;
  g_autoptr(Response) use2 = NULL;
  g_autoptr(Response) after2 = NULL;
  g_autoptr(Response) own = NULL;
  g_autoptr(Response) puppet = NULL;
  g_autoptr(Response) puppet_use = NULL;
  g_autoptr(Response) after_puppet = NULL;
  g_autoptr(Response) too_long = NULL;
  g_autoptr(Response) unknown = NULL;
  g_autoptr(Response) remote = NULL;
  g_autoptr(Response) not_a_user = NULL;
  g_autoptr(Response) not_admin = NULL;
  g_autoptr(Response) deactivated = NULL;
  g_autoptr(Response) after_deactivation = NULL;
  const gchar *seen_keys[] = { "last_seen_ts", "last_seen_ip", "last_seen_user_agent" };
  json_object *device;
  gint64 start_ms;
  gint64 first_seen;

  /* a second login on the same device ID keeps the first name */
  g_assert_cmpstr (phone_name, ==, "Lotti on my phone");
  g_assert_null (unnamed_name);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, "PHONE");
  g_assert_cmpstr (g_ptr_array_index (ids, 1), ==, "UNNAMED");
  g_assert_null (test_homeserver_get_device_display_name (hs, ALICE, "NOSUCH"));

  before = http (hs, "GET", ALICE_DEVICES, admin, NULL);
  assert_ok (before, 200);
  g_assert_cmpint (jint (before->json, "total"), ==, 2);
  g_assert_cmpuint (json_object_array_length (jget (before->json, "devices")), ==, 2);
  device = find_device (before->json, "PHONE");
  g_assert_nonnull (device);
  g_assert_cmpint (json_object_object_length (device), ==, 6);
  g_assert_cmpstr (jstr (device, "user_id"), ==, ALICE);
  g_assert_cmpstr (jstr (device, "display_name"), ==, "Lotti on my phone");
  /* a login is not an authenticated request: nothing seen yet */
  for (guint i = 0; i < G_N_ELEMENTS (seen_keys); i++)
    assert_null_member (device, seen_keys[i]);
  device = find_device (before->json, "UNNAMED");
  g_assert_nonnull (device);
  assert_null_member (device, "display_name");
  assert_null_member (device, "last_seen_ts");

  start_ms = g_get_real_time () / 1000;
  use1 = http_url_ua (test_homeserver_get_url (hs), "GET", "/_matrix/client/v3/account/whoami", phone, NULL,
                      "Lotti/1.0");
  assert_ok (use1, 200);
  after1 = http (hs, "GET", ALICE_DEVICES, admin, NULL);
  assert_ok (after1, 200);
  device = find_device (after1->json, "PHONE");
  first_seen = jint (device, "last_seen_ts");
  g_assert_cmpint (first_seen, >=, start_ms);
  g_assert_cmpint (first_seen, <=, g_get_real_time () / 1000);
  g_assert_cmpstr (jstr (device, "last_seen_ip"), ==, "127.0.0.1");
  g_assert_cmpstr (jstr (device, "last_seen_user_agent"), ==, "Lotti/1.0");
  assert_null_member (find_device (after1->json, "UNNAMED"), "last_seen_ts");

  /* it moves with every use; no User-Agent is recorded as "" */
  g_usleep (20 * 1000);
  use2 = http (hs, "GET", "/_matrix/client/v3/joined_rooms", phone, NULL);
  assert_ok (use2, 200);
  after2 = http (hs, "GET", ALICE_DEVICES, admin, NULL);
  assert_ok (after2, 200);
  device = find_device (after2->json, "PHONE");
  g_assert_cmpint (jint (device, "last_seen_ts"), >, first_seen);
  g_assert_cmpstr (jstr (device, "last_seen_user_agent"), ==, "");

  /* the listing request itself counts for the admin's own device */
  own = http (hs, "GET", "/_synapse/admin/v2/users/%40admin%3Aexample.test/devices", admin, NULL);
  assert_ok (own, 200);
  g_assert_cmpint (jint (own->json, "total"), ==, 1);
  g_assert_cmpint (jint (find_device (own->json, "ADMINDEV"), "last_seen_ts"), >=, start_ms);

  /* a puppet token has no device: no device appears and none is seen */
  puppet = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin, "{}");
  assert_ok (puppet, 200);
  puppet_use = http (hs, "GET", "/_matrix/client/v3/account/whoami", jstr (puppet->json, "access_token"), NULL);
  assert_ok (puppet_use, 200);
  after_puppet = http (hs, "GET", ALICE_DEVICES, admin, NULL);
  assert_ok (after_puppet, 200);
  g_assert_cmpint (jint (after_puppet->json, "total"), ==, 2);
  assert_null_member (find_device (after_puppet->json, "UNNAMED"), "last_seen_ts");

  /* Synapse's limit on device names, checked after the password */
  token_100 = login_device (hs, "alice", "alicepw", NULL, name_100);
  g_assert_nonnull (token_100);
  too_long = http (hs, "POST", "/_matrix/client/v3/login", NULL, long_body);
  assert_error (too_long, 400, "M_TOO_LARGE");
  g_assert_cmpstr (jstr (too_long->json, "error"), ==, "Device display name is too long (max 100)");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 3);

  unknown = http (hs, "GET", "/_synapse/admin/v2/users/%40nobody%3Aexample.test/devices", admin, NULL);
  assert_error (unknown, 404, "M_NOT_FOUND");
  g_assert_cmpstr (jstr (unknown->json, "error"), ==, "Unknown user");
  remote = http (hs, "GET", "/_synapse/admin/v2/users/%40alice%3Aelsewhere.test/devices", admin, NULL);
  assert_error (remote, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (remote->json, "error"), ==, "Can only lookup local users");
  not_a_user = http (hs, "GET", "/_synapse/admin/v2/users/alice/devices", admin, NULL);
  assert_error (not_a_user, 400, "M_INVALID_PARAM");
  not_admin = http (hs, "GET", ALICE_DEVICES, phone, NULL);
  assert_error (not_admin, 403, "M_FORBIDDEN");

  /* a deactivated account is still known, without devices */
  deactivated = http (hs, "POST", "/_synapse/admin/v1/deactivate/%40alice%3Aexample.test", admin, "{}");
  assert_ok (deactivated, 200);
  after_deactivation = http (hs, "GET", ALICE_DEVICES, admin, NULL);
  assert_ok (after_deactivation, 200);
  g_assert_cmpint (jint (after_deactivation->json, "total"), ==, 0);
  g_assert_cmpuint (json_object_array_length (jget (after_deactivation->json, "devices")), ==, 0);
}

/* Synapse checks nothing about the user: unknown, remote or not even a
 * user ID, the answer is an empty list */
static void
test_admin_user_joined_rooms (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *room1 = create_room (hs, alice, room_body);
  g_autofree gchar *room2 = create_room (hs, alice, "{}");
  g_autofree gchar *admin_room = create_room (hs, admin, "{}");
  g_autofree gchar *escaped = g_uri_escape_string (room2, NULL, FALSE);
  g_autofree gchar *leave_path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", escaped);
  const gchar *empty_ones[] = {
    "/_synapse/admin/v1/users/%40nobody%3Aexample.test/joined_rooms",
    "/_synapse/admin/v1/users/%40alice%3Aelsewhere.test/joined_rooms",
    "/_synapse/admin/v1/users/alice/joined_rooms",
  };
  g_autoptr(Response) both = http (hs, "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/joined_rooms",
                                   admin, NULL);
  g_autoptr(Response) left = NULL;
  g_autoptr(Response) one = NULL;
  g_autoptr(Response) not_admin = NULL;

  assert_ok (both, 200);
  g_assert_cmpint (jint (both->json, "total"), ==, 2);
  g_assert_cmpuint (json_object_array_length (jget (both->json, "joined_rooms")), ==, 2);
  g_assert_true (jarray_has (jget (both->json, "joined_rooms"), room1));
  g_assert_true (jarray_has (jget (both->json, "joined_rooms"), room2));
  g_assert_false (jarray_has (jget (both->json, "joined_rooms"), admin_room));

  left = http (hs, "POST", leave_path, alice, "{}");
  assert_ok (left, 200);
  one = http (hs, "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/joined_rooms", admin, NULL);
  assert_ok (one, 200);
  g_assert_cmpint (jint (one->json, "total"), ==, 1);
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (jget (one->json, "joined_rooms"), 0)), ==,
                   room1);

  for (guint i = 0; i < G_N_ELEMENTS (empty_ones); i++)
    {
      g_autoptr(Response) resp = http (hs, "GET", empty_ones[i], admin, NULL);
      assert_ok (resp, 200);
      g_assert_cmpint (jint (resp->json, "total"), ==, 0);
      g_assert_cmpuint (json_object_array_length (jget (resp->json, "joined_rooms")), ==, 0);
    }
  not_admin = http (hs, "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/joined_rooms", alice, NULL);
  assert_error (not_admin, 403, "M_FORBIDDEN");
}

/* the state event of that type (state_key "") in an admin state answer */
static json_object *
find_state (json_object *answer, const gchar *type)
{
  json_object *state = jget (answer, "state");

  g_assert_true (json_object_is_type (state, json_type_array));
  for (gsize i = 0; i < json_object_array_length (state); i++)
    {
      json_object *ev = json_object_array_get_idx (state, i);
      if (g_strcmp0 (jstr (ev, "type"), type) == 0 && g_strcmp0 (jstr (ev, "state_key"), "") == 0)
        return ev;
    }
  return NULL;
}

static void
test_admin_room_details (void)
{
  static const gchar *members[] = {
    "room_id", "name", "canonical_alias", "joined_members", "joined_local_members", "version",
    "creator", "encryption", "federatable", "public", "join_rules", "guest_access",
    "history_visibility", "state_events", "avatar", "topic", "room_type", "joined_local_devices",
    "forgotten",
  };
  static const gchar public_body[] =
    "{\"visibility\":\"public\",\"name\":\"second\",\"topic\":\"about\","
    "\"initial_state\":[{\"type\":\"m.room.name\",\"content\":{\"name\":\"first\"}}]}";
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *private_id = create_room (hs, alice, room_body);
  g_autofree gchar *public_id = create_room (hs, alice, public_body);
  g_autofree gchar *private_esc = g_uri_escape_string (private_id, NULL, FALSE);
  g_autofree gchar *public_esc = g_uri_escape_string (public_id, NULL, FALSE);
  g_autofree gchar *private_path = g_strdup_printf ("/_synapse/admin/v1/rooms/%s", private_esc);
  g_autofree gchar *private_state = g_strdup_printf ("/_synapse/admin/v1/rooms/%s/state", private_esc);
  g_autofree gchar *public_path = g_strdup_printf ("/_synapse/admin/v1/rooms/%s", public_esc);
  g_autofree gchar *public_state = g_strdup_printf ("/_synapse/admin/v1/rooms/%s/state", public_esc);
  g_autofree gchar *client_state = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state", private_esc);
  g_autofree gchar *leave_path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", public_esc);
  g_autofree gchar *forget_path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/forget", public_esc);
  g_autoptr(Response) details = http (hs, "GET", private_path, admin, NULL);
  g_autoptr(Response) state = http (hs, "GET", private_state, admin, NULL);
  g_autoptr(Response) client = http (hs, "GET", client_state, admin, NULL);
  g_autoptr(Response) pub = http (hs, "GET", public_path, admin, NULL);
  g_autoptr(Response) pub_state = http (hs, "GET", public_state, admin, NULL);
  g_autoptr(Response) not_admin = http (hs, "GET", private_path, alice, NULL);
  g_autoptr(Response) not_admin_state = http (hs, "GET", private_state, alice, NULL);
  g_autoptr(Response) unknown = http (hs, "GET", "/_synapse/admin/v1/rooms/%21nope%3Aexample.test", admin, NULL);
  g_autoptr(Response) unknown_state = http (hs, "GET", "/_synapse/admin/v1/rooms/%21nope%3Aexample.test/state",
                                            admin, NULL);
  g_autoptr(Response) left = NULL;
  g_autoptr(Response) forgot = NULL;
  g_autoptr(Response) forgotten = NULL;
  g_autoptr(Response) deleted = NULL;
  g_autoptr(Response) gone = NULL;
  g_autoptr(Response) gone_state = NULL;
  json_object *obj;
  json_object *ev;

  assert_ok (details, 200);
  obj = details->json;
  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    g_assert_true (json_object_object_get_ex (obj, members[i], NULL));
  g_assert_cmpint (json_object_object_length (obj), ==, G_N_ELEMENTS (members));
  g_assert_cmpstr (jstr (obj, "room_id"), ==, private_id);
  g_assert_cmpstr (jstr (obj, "name"), ==, "mxprov sync");
  assert_null_member (obj, "canonical_alias");
  g_assert_cmpint (jint (obj, "joined_members"), ==, 1);
  g_assert_cmpint (jint (obj, "joined_local_members"), ==, 1);
  g_assert_cmpstr (jstr (obj, "version"), ==, "9");
  g_assert_cmpstr (jstr (obj, "creator"), ==, ALICE);
  g_assert_cmpstr (jstr (obj, "encryption"), ==, "m.megolm.v1.aes-sha2");
  g_assert_false (json_object_get_boolean (jget (obj, "federatable")));
  g_assert_true (json_object_is_type (jget (obj, "public"), json_type_boolean));
  g_assert_false (json_object_get_boolean (jget (obj, "public")));
  g_assert_cmpstr (jstr (obj, "join_rules"), ==, "invite");
  g_assert_cmpstr (jstr (obj, "guest_access"), ==, "can_join");
  g_assert_cmpstr (jstr (obj, "history_visibility"), ==, "shared");
  /* create, member, power levels, join rules, history, guest access, the
   * two initial_state events, name */
  g_assert_cmpint (jint (obj, "state_events"), ==, 9);
  assert_null_member (obj, "avatar");
  assert_null_member (obj, "topic");
  assert_null_member (obj, "room_type");
  g_assert_cmpint (jint (obj, "joined_local_devices"), ==, 1);
  g_assert_false (json_object_get_boolean (jget (obj, "forgotten")));

  /* the full state, for an admin who is not in the room (the client API
   * refuses that) */
  assert_error (client, 403, "M_FORBIDDEN");
  assert_ok (state, 200);
  g_assert_cmpuint (json_object_array_length (jget (state->json, "state")), ==, 9);
  ev = find_state (state->json, "m.room.create");
  g_assert_nonnull (ev);
  g_assert_cmpstr (jstr (ev, "sender"), ==, ALICE);
  g_assert_cmpstr (jstr (ev, "user_id"), ==, ALICE);
  g_assert_cmpstr (jstr (ev, "room_id"), ==, private_id);
  g_assert_true (g_str_has_prefix (jstr (ev, "event_id"), "$"));
  g_assert_cmpint (jint (ev, "origin_server_ts"), >, 0);
  g_assert_cmpint (jint (ev, "age"), >=, 0);
  g_assert_cmpint (jint (jget (ev, "unsigned"), "age"), >=, 0);
  g_assert_cmpstr (jstr (jget (ev, "content"), "creator"), ==, ALICE);
  g_assert_false (json_object_get_boolean (jget (jget (ev, "content"), "m.federate")));
  g_assert_null (jget (ev, "replaces_state"));
  ev = find_state (state->json, "org.example.marker");
  g_assert_nonnull (ev);
  g_assert_cmpint (jint (jget (ev, "content"), "v"), ==, 1);

  /* the public room: another preset, and a name that replaced another */
  assert_ok (pub, 200);
  g_assert_cmpstr (jstr (pub->json, "name"), ==, "second");
  g_assert_cmpstr (jstr (pub->json, "topic"), ==, "about");
  g_assert_true (json_object_get_boolean (jget (pub->json, "public")));
  g_assert_true (json_object_get_boolean (jget (pub->json, "federatable")));
  g_assert_cmpstr (jstr (pub->json, "join_rules"), ==, "public");
  assert_null_member (pub->json, "guest_access");
  assert_null_member (pub->json, "encryption");
  assert_ok (pub_state, 200);
  ev = find_state (pub_state->json, "m.room.name");
  g_assert_cmpstr (jstr (jget (ev, "content"), "name"), ==, "second");
  g_assert_true (g_str_has_prefix (jstr (ev, "replaces_state"), "$"));
  g_assert_cmpstr (jstr (jget (ev, "unsigned"), "replaces_state"), ==, jstr (ev, "replaces_state"));
  g_assert_cmpstr (jstr (ev, "replaces_state"), !=, jstr (ev, "event_id"));

  assert_error (not_admin, 403, "M_FORBIDDEN");
  assert_error (not_admin_state, 403, "M_FORBIDDEN");
  assert_error (unknown, 404, "M_NOT_FOUND");
  g_assert_cmpstr (jstr (unknown->json, "error"), ==, "Room not found");
  assert_error (unknown_state, 404, "M_NOT_FOUND");
  g_assert_cmpstr (jstr (unknown_state->json, "error"), ==, "Room not found");

  /* forgotten once no local member's membership is left unforgotten */
  left = http (hs, "POST", leave_path, alice, "{}");
  assert_ok (left, 200);
  forgot = http (hs, "POST", forget_path, alice, "{}");
  assert_ok (forgot, 200);
  forgotten = http (hs, "GET", public_path, admin, NULL);
  assert_ok (forgotten, 200);
  g_assert_true (json_object_get_boolean (jget (forgotten->json, "forgotten")));
  g_assert_cmpint (jint (forgotten->json, "joined_members"), ==, 0);
  g_assert_cmpint (jint (forgotten->json, "joined_local_devices"), ==, 0);

  /* purged: gone from both */
  g_assert_true (test_homeserver_room_exists (hs, private_id));
  deleted = http (hs, "DELETE", private_path, admin, "{\"purge\":true}");
  assert_ok (deleted, 200);
  g_assert_false (test_homeserver_room_exists (hs, private_id));
  g_assert_true (test_homeserver_room_exists (hs, public_id));
  g_assert_false (test_homeserver_room_exists (hs, "!nope:example.test"));
  gone = http (hs, "GET", private_path, admin, NULL);
  assert_error (gone, 404, "M_NOT_FOUND");
  g_assert_cmpstr (jstr (gone->json, "error"), ==, "Room not found");
  gone_state = http (hs, "GET", private_state, admin, NULL);
  assert_error (gone_state, 404, "M_NOT_FOUND");
}

static void
assert_password (TestHomeserver *hs, const gchar *user_id, const gchar *password)
{
  g_autofree gchar *pw = test_homeserver_get_user_password (hs, user_id);

  g_assert_cmpstr (pw, ==, password);
}

static void
assert_token_status (TestHomeserver *hs, const gchar *token, long status)
{
  g_autoptr(Response) resp = http (hs, "GET", "/_matrix/client/v3/account/whoami", token, NULL);

  if (status == 200)
    assert_ok (resp, 200);
  else
    assert_error (resp, status, "M_UNKNOWN_TOKEN");
}

static gchar *
puppet_token (TestHomeserver *hs, const gchar *admin, const gchar *escaped_user_id)
{
  g_autofree gchar *path = g_strdup_printf ("/_synapse/admin/v1/users/%s/login", escaped_user_id);
  g_autoptr(Response) resp = http (hs, "POST", path, admin, "{}");

  assert_ok (resp, 200);
  return g_strdup (jstr (resp->json, "access_token"));
}

#define RESET_ALICE "/_synapse/admin/v1/reset_password/%40alice%3Aexample.test"

static void
test_admin_reset_password (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *t1 = login (hs, "alice", "alicepw");
  g_autofree gchar *t2 = login (hs, "alice", "alicepw");
  g_autofree gchar *puppet = puppet_token (hs, admin, "%40alice%3Aexample.test");
  g_autofree gchar *t3 = NULL;
  g_autofree gchar *new_pw = password_body ("alice", "pw2");
  g_autofree gchar *old_pw = password_body ("alice", "alicepw");
  g_autoptr(Response) keep = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw2\",\"logout_devices\":false}");
  g_autoptr(Response) new_login = NULL;
  g_autoptr(Response) old_login = NULL;
  g_autoptr(Response) falsy = NULL;
  g_autoptr(Response) truthy = NULL;
  g_autoptr(Response) by_default = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) not_string = NULL;
  g_autoptr(Response) not_json = NULL;
  g_autoptr(Response) unknown = NULL;
  g_autoptr(Response) remote = NULL;
  g_autoptr(Response) not_a_user = NULL;
  g_autoptr(Response) not_admin = NULL;
  g_autoptr(Response) deactivate = NULL;
  g_autoptr(Response) reset_deactivated = NULL;
  g_autoptr(Response) deactivated_login = NULL;
  g_autoptr(Response) disabled = NULL;

  /* logout_devices false: only the password changes */
  assert_ok (keep, 200);
  g_assert_cmpint (json_object_object_length (keep->json), ==, 0);
  assert_password (hs, ALICE, "pw2");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 2);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 3);
  assert_token_status (hs, t1, 200);
  assert_token_status (hs, t2, 200);
  new_login = http (hs, "POST", "/_matrix/client/v3/login", NULL, new_pw);
  assert_ok (new_login, 200);
  t3 = g_strdup (jstr (new_login->json, "access_token"));
  old_login = http (hs, "POST", "/_matrix/client/v3/login", NULL, old_pw);
  assert_error (old_login, 403, "M_FORBIDDEN");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 3);

  /* no type check in Synapse: a falsy value keeps the devices... */
  falsy = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw3\",\"logout_devices\":0}");
  assert_ok (falsy, 200);
  assert_password (hs, ALICE, "pw3");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 3);

  /* ...and any truthy one, even "no", logs them out. Every device and
   * device token goes; the admin's puppet token is stored as the admin's and
   * survives, and so does the admin's own session. */
  truthy = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw4\",\"logout_devices\":\"no\"}");
  assert_ok (truthy, 200);
  assert_password (hs, ALICE, "pw4");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 1);
  assert_token_status (hs, t1, 401);
  assert_token_status (hs, t2, 401);
  assert_token_status (hs, t3, 401);
  assert_token_status (hs, puppet, 200);
  assert_token_status (hs, admin, 200);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 1);

  /* the default is true */
  g_free (t1);
  t1 = login (hs, "alice", "pw4");
  by_default = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw5\"}");
  assert_ok (by_default, 200);
  assert_password (hs, ALICE, "pw5");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
  assert_token_status (hs, t1, 401);

  missing = http (hs, "POST", RESET_ALICE, admin, "{\"logout_devices\":false}");
  assert_error (missing, 400, "M_MISSING_PARAM");
  g_assert_cmpstr (jstr (missing->json, "error"), ==, "Missing params: ['new_password']");
  /* bcrypt on something that is no string raises */
  not_string = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":12345678}");
  assert_error (not_string, 500, "M_UNKNOWN");
  not_json = http (hs, "POST", RESET_ALICE, admin, NULL);
  assert_error (not_json, 400, "M_NOT_JSON");
  assert_password (hs, ALICE, "pw5");

  unknown = http (hs, "POST", "/_synapse/admin/v1/reset_password/%40nobody%3Aexample.test", admin,
                  "{\"new_password\":\"x\"}");
  assert_error (unknown, 404, "M_NOT_FOUND");
  g_assert_cmpstr (jstr (unknown->json, "error"), ==, "Unknown user");
  remote = http (hs, "POST", "/_synapse/admin/v1/reset_password/%40alice%3Aelsewhere.test", admin,
                 "{\"new_password\":\"x\"}");
  assert_error (remote, 404, "M_NOT_FOUND");
  not_a_user = http (hs, "POST", "/_synapse/admin/v1/reset_password/alice", admin, "{\"new_password\":\"x\"}");
  assert_error (not_a_user, 400, "M_INVALID_PARAM");
  not_admin = http (hs, "POST", "/_synapse/admin/v1/reset_password/%40admin%3Aexample.test", puppet,
                    "{\"new_password\":\"x\"}");
  assert_error (not_admin, 403, "M_FORBIDDEN");
  assert_password (hs, ADMIN, "adminpw");

  /* a deactivated account gets the password and stays deactivated */
  deactivate = http (hs, "POST", "/_synapse/admin/v1/deactivate/%40alice%3Aexample.test", admin, "{}");
  assert_ok (deactivate, 200);
  reset_deactivated = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw6\"}");
  assert_ok (reset_deactivated, 200);
  assert_password (hs, ALICE, "pw6");
  g_assert_true (test_homeserver_user_is_deactivated (hs, ALICE));
  deactivated_login = http (hs, "POST", "/_matrix/client/v3/login", NULL,
                            "{\"type\":\"m.login.password\",\"user\":\"alice\",\"password\":\"pw6\"}");
  assert_error (deactivated_login, 403, "M_USER_DEACTIVATED");

  test_homeserver_set_password_login (hs, FALSE);
  disabled = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw7\"}");
  assert_error (disabled, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (disabled->json, "error"), ==, "Password change disabled");
  assert_password (hs, ALICE, "pw6");
}

/* ------------------------------------------------------------------------ */
/* Faults */

static void
test_fault_status_skip_count (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 418, .content_type = "text/plain", .body = "teapot" };
  g_autoptr(GPtrArray) log = NULL;

  test_homeserver_add_fault (hs, "GET", "/_matrix/client/versions", 1, 2, &fault);
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(Response) resp = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
      if (i == 1 || i == 2)
        {
          g_assert_cmpint (resp->status, ==, 418);
          g_assert_cmpstr (resp->content_type, ==, "text/plain");
          g_assert_cmpstr (resp->body->str, ==, "teapot");
        }
      else
        assert_ok (resp, 200);
    }
  log = test_homeserver_get_request_log (hs);
  g_assert_cmpuint (log->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (log, 0), ==, "GET /_matrix/client/versions 200");
  g_assert_cmpstr (g_ptr_array_index (log, 1), ==, "GET /_matrix/client/versions 418");
  g_assert_cmpstr (g_ptr_array_index (log, 3), ==, "GET /_matrix/client/versions 200");
}

static void
test_fault_html_502_prefix (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  TestFault fault = { .kind = TEST_FAULT_HTML_502 };
  g_autoptr(Response) blocked = NULL;
  g_autoptr(Response) client = NULL;
  g_autoptr(Response) unblocked = NULL;

  test_homeserver_add_fault (hs, NULL, "/_synapse/admin/*", 0, G_MAXUINT, &fault);
  blocked = http (hs, "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", admin, "{\"password\":\"x\"}");
  g_assert_cmpint (blocked->status, ==, 502);
  g_assert_cmpstr (blocked->content_type, ==, "text/html");
  g_assert_nonnull (strstr (blocked->body->str, "502 Bad Gateway"));
  g_assert_null (blocked->json);
  /* the proxy answered: the server never saw it */
  g_assert_false (test_homeserver_user_exists (hs, BOB));
  client = http (hs, "GET", "/_matrix/client/v3/account/whoami", admin, NULL);
  assert_ok (client, 200);

  test_homeserver_clear_faults (hs);
  unblocked = http (hs, "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", admin, "{\"password\":\"x\"}");
  assert_ok (unblocked, 201);
  g_assert_true (log_contains (hs, "PUT /_synapse/admin/v2/users/@bob:example.test 502"));
  g_assert_true (log_contains (hs, "PUT /_synapse/admin/v2/users/@bob:example.test 201"));
}

static void
test_fault_rate_limit (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  TestFault plain = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 1500 };
  TestFault header = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 1500, .retry_after_header = TRUE };
  g_autoptr(Response) r1 = NULL;
  g_autoptr(Response) r2 = NULL;
  g_autoptr(Response) r3 = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  test_homeserver_add_fault (hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &plain);
  test_homeserver_add_fault (hs, "POST", "/_matrix/client/v3/createRoom", 1, 1, &header);
  r1 = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{}");
  assert_error (r1, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpint (json_object_get_int (jget (r1->json, "retry_after_ms")), ==, 1500);
  g_assert_null (r1->retry_after);
  r2 = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{}");
  assert_error (r2, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpstr (r2->retry_after, ==, "2");
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 0);
  r3 = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{}");
  assert_ok (r3, 200);
  g_assert_true (log_contains (hs, "POST /_matrix/client/v3/createRoom 429"));
  g_assert_cmpuint (test_homeserver_count_requests (hs, "POST", "/_matrix/client/v3/createRoom"), ==, 3);
}

static void
test_fault_drop (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  TestFault drop = { .kind = TEST_FAULT_DROP };
  TestFault lost = { .kind = TEST_FAULT_DROP, .after_handling = TRUE };
  g_autoptr(Response) r1 = NULL;
  g_autoptr(Response) r2 = NULL;
  g_autoptr(Response) r3 = NULL;

  test_homeserver_add_fault (hs, "PUT", "/_synapse/admin/v2/users/@bob:example.test", 0, 1, &drop);
  test_homeserver_add_fault (hs, "PUT", "/_synapse/admin/v2/users/@carol:example.test", 0, 1, &lost);
  r1 = http (hs, "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", admin, "{\"password\":\"x\"}");
  g_assert_cmpint (r1->code, ==, CURLE_GOT_NOTHING);
  g_assert_false (test_homeserver_user_exists (hs, BOB));
  g_assert_true (log_contains (hs, "PUT /_synapse/admin/v2/users/@bob:example.test 0"));

  /* the request reached the server, only the answer was lost */
  r2 = http (hs, "PUT", "/_synapse/admin/v2/users/%40carol%3Aexample.test", admin, "{\"password\":\"x\"}");
  g_assert_cmpint (r2->code, ==, CURLE_GOT_NOTHING);
  g_assert_true (test_homeserver_user_exists (hs, "@carol:example.test"));

  /* the server still serves afterwards */
  r3 = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  assert_ok (r3, 200);
}

/* with a request delay the connection is stolen from a paused message */
static void
test_fault_drop_delayed (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  TestFault drop = { .kind = TEST_FAULT_DROP };
  TestFault truncated = { .kind = TEST_FAULT_TRUNCATED };
  g_autoptr(Response) r1 = NULL;
  g_autoptr(Response) r2 = NULL;
  g_autoptr(Response) r3 = NULL;

  test_homeserver_set_request_delay (hs, 100);
  test_homeserver_add_fault (hs, "GET", "/_matrix/client/versions", 0, 1, &drop);
  test_homeserver_add_fault (hs, "GET", "/_synapse/admin/v1/server_version", 0, 1, &truncated);
  r1 = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  g_assert_cmpint (r1->code, ==, CURLE_GOT_NOTHING);
  g_assert_cmpint (r1->elapsed_us, >=, 100000);
  r2 = http (hs, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
  g_assert_cmpint (r2->code, ==, CURLE_PARTIAL_FILE);
  r3 = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  assert_ok (r3, 200);
  g_assert_cmpint (r3->elapsed_us, >=, 100000);
}

typedef struct {
  TestHomeserver *hs;
  const gchar *method;
  const gchar *path;
  const gchar *token;
} AsyncRequest;

static gpointer
async_request_thread (gpointer data)
{
  AsyncRequest *ar = data;

  return http (ar->hs, ar->method, ar->path, ar->token, NULL);
}

static void
test_fault_delay (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  TestFault delay = { .kind = TEST_FAULT_DELAY, .delay_ms = 600 };
  AsyncRequest ar = { hs, "GET", "/_matrix/client/v3/account/whoami", NULL };
  g_autoptr(Response) fast = NULL;
  g_autoptr(Response) slow = NULL;
  GThread *thread;

  ar.token = alice;
  test_homeserver_add_fault (hs, "GET", "/_matrix/client/v3/account/whoami", 0, 1, &delay);
  thread = g_thread_new ("slow", async_request_thread, &ar);
  /* let the slow request arrive first */
  while (test_homeserver_count_requests (hs, "GET", "/_matrix/client/v3/account/whoami") == 0)
    g_usleep (1000);
  fast = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  assert_ok (fast, 200);
  g_assert_cmpint (fast->elapsed_us, <, 300000);
  slow = g_thread_join (thread);
  assert_ok (slow, 200);
  g_assert_cmpstr (jstr (slow->json, "user_id"), ==, ALICE);
  g_assert_cmpint (slow->elapsed_us, >=, 600000);
}

static void
test_request_delay (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  AsyncRequest ar = { hs, "GET", "/_matrix/client/versions", NULL };
  GThread *threads[4];
  gint64 start;
  gint64 elapsed;

  test_homeserver_set_request_delay (hs, 300);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("parallel", async_request_thread, &ar);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_autoptr(Response) resp = g_thread_join (threads[i]);
      assert_ok (resp, 200);
      g_assert_cmpint (resp->elapsed_us, >=, 300000);
    }
  elapsed = g_get_monotonic_time () - start;
  /* four requests served side by side, not one after another */
  g_assert_cmpint (elapsed, <, 4 * 300000);
  g_assert_cmpuint (test_homeserver_count_requests (hs, NULL, "/_matrix/client/versions"), ==, 4);
}

/* The bench's Synapse model: a password login pays bcrypt's 280 ms, and so
 * does each password a password change checks or sets.
 * Only lower bounds: a timer never fires early, a busy machine is slower. */
static void
test_synapse_costs (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *body = password_body ("admin", "adminpw");
  g_autofree gchar *alice = NULL;
  g_autofree gchar *change_body = NULL;
  g_autoptr(Response) versions = NULL;
  g_autoptr(Response) logged_in = NULL;
  g_autoptr(Response) reset = NULL;
  g_autoptr(Response) changed = NULL;

  test_homeserver_set_synapse_costs (hs, TRUE);
  versions = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);
  assert_ok (versions, 200);
  g_assert_cmpint (versions->elapsed_us, >=, 5000);
  logged_in = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_ok (logged_in, 200);
  g_assert_cmpint (logged_in->elapsed_us, >=, 280000);

  /* setting a password: bcrypt once for reset_password; twice for
   * account/password, the old password of the auth and the new one */
  reset = http (hs, "POST", "/_synapse/admin/v1/reset_password/%40alice%3Aexample.test",
                jstr (logged_in->json, "access_token"), "{\"new_password\":\"pw2\",\"logout_devices\":false}");
  assert_ok (reset, 200);
  g_assert_cmpint (reset->elapsed_us, >=, 280000);
  alice = login (hs, "alice", "pw2");
  change_body = g_strdup_printf ("{\"auth\":{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                                 "\"user\":\"alice\"},\"password\":\"pw2\"},\"new_password\":\"pw3\"}");
  changed = http (hs, "POST", "/_matrix/client/r0/account/password", alice, change_body);
  assert_ok (changed, 200);
  g_assert_cmpint (changed->elapsed_us, >=, 560000);
}

static void
test_fault_malformed_json (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  TestFault fault = { .kind = TEST_FAULT_MALFORMED_JSON };
  g_autofree gchar *body = password_body ("admin", "adminpw");
  g_autoptr(Response) resp = NULL;

  test_homeserver_add_fault (hs, "POST", "/_matrix/client/v3/login", 0, 1, &fault);
  resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  g_assert_cmpint (resp->code, ==, CURLE_OK);
  g_assert_cmpint (resp->status, ==, 200);
  g_assert_cmpstr (resp->content_type, ==, "application/json");
  g_assert_cmpuint (resp->body->len, >, 0);
  g_assert_null (resp->json);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 0);
}

static void
test_fault_truncated (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  TestFault fault = { .kind = TEST_FAULT_TRUNCATED, .after_handling = TRUE };
  g_autoptr(Response) resp = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  test_homeserver_add_fault (hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &fault);
  resp = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{}");
  g_assert_cmpint (resp->code, ==, CURLE_PARTIAL_FILE);
  g_assert_cmpint (resp->status, ==, 200);
  g_assert_cmpuint (resp->body->len, >, 0);
  /* handled first: the room exists although the client never learnt its ID */
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_true (log_contains (hs, "POST /_matrix/client/v3/createRoom 0"));
}

static void
test_fault_after_handling_status (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 500, .after_handling = TRUE,
                      .body = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Internal server error\"}" };
  g_autoptr(Response) resp = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autoptr(GPtrArray) joined = NULL;

  test_homeserver_add_fault (hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &fault);
  resp = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, room_body);
  assert_error (resp, 500, "M_UNKNOWN");
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 1);
  joined = test_homeserver_list_joined_rooms (hs, ALICE);
  g_assert_cmpuint (joined->len, ==, 1);
  g_assert_true (log_contains (hs, "POST /_matrix/client/v3/createRoom 500"));
}

static void
test_raw_requests (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *bearer = g_strdup_printf ("Bearer %s", admin);
  g_autofree gchar *raw = NULL;
  g_autoptr(Response) put = http (hs, "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", admin,
                                  "{\"password\":\"s3cret-Pa55\"}");

  assert_ok (put, 201);
  raw = test_homeserver_get_raw_requests (hs);
  g_assert_nonnull (strstr (raw, "adminpw"));
  g_assert_nonnull (strstr (raw, "s3cret-Pa55"));
  g_assert_nonnull (strstr (raw, bearer));
  g_assert_null (strstr (raw, "never-sent"));
}

static void
test_restart (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(Response) resp = NULL;

  test_homeserver_stop (hs);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_no_error (error);
  resp = http (hs, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
  assert_ok (resp, 200);
  /* state survives a restart */
  g_assert_true (test_homeserver_user_exists (hs, ALICE));
}

/* ------------------------------------------------------------------------ */
/* Shared-secret registration */

#define SECRET "s3cret"
#define REGISTER_PATH "/_synapse/admin/v1/register"

/* The client's side of the MAC, written independently of the server's:
 * HMAC-SHA1 keyed by the secret over nonce \0 user \0 password \0
 * admin|notadmin [\0 user_type], lowercase hex. */
static gchar *
client_mac (const gchar *secret, const gchar *nonce, const gchar *user, const gchar *password,
            gboolean admin, const gchar *user_type)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  const gchar *parts[] = { nonce, user, password, admin ? "admin" : "notadmin", user_type };

  for (guint i = 0; i < G_N_ELEMENTS (parts) && parts[i] != NULL; i++)
    {
      if (i > 0)
        g_hmac_update (hmac, (const guchar *) "", 1);
      g_hmac_update (hmac, (const guchar *) parts[i], (gssize) strlen (parts[i]));
    }
  return g_strdup (g_hmac_get_string (hmac));
}

/* {nonce, username, password, admin, mac} plus `extra` members ("" or
 * starting with a comma) */
static gchar *
register_body (const gchar *nonce, const gchar *user, const gchar *password, gboolean admin,
               const gchar *mac, const gchar *extra)
{
  g_autoptr(json_object) obj = json_object_new_object ();
  const gchar *text;

  json_object_object_add (obj, "nonce", json_object_new_string (nonce));
  json_object_object_add (obj, "username", json_object_new_string (user));
  json_object_object_add (obj, "password", json_object_new_string (password));
  json_object_object_add (obj, "admin", json_object_new_boolean (admin));
  json_object_object_add (obj, "mac", json_object_new_string (mac));
  text = json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN);
  /* splice the extra members in before the closing brace */
  return g_strdup_printf ("%.*s%s}", (int) strlen (text) - 1, text, extra != NULL ? extra : "");
}

/* POST a registration the server should accept or refuse by its MAC alone:
 * the MAC is computed for exactly what is sent */
static Response *
register_user (TestHomeserver *hs, const gchar *nonce, const gchar *user, const gchar *password,
               gboolean admin, const gchar *user_type, const gchar *extra)
{
  g_autofree gchar *mac = client_mac (SECRET, nonce, user, password, admin, user_type);
  g_autofree gchar *type_member = user_type != NULL ? g_strdup_printf (",\"user_type\":\"%s\"", user_type) : g_strdup ("");
  g_autofree gchar *all_extra = g_strconcat (type_member, extra != NULL ? extra : "", NULL);
  g_autofree gchar *body = register_body (nonce, user, password, admin, mac, all_extra);

  return http (hs, "POST", REGISTER_PATH, NULL, body);
}

static gchar *
get_nonce (TestHomeserver *hs)
{
  g_autoptr(Response) resp = http (hs, "GET", REGISTER_PATH, NULL, NULL);

  assert_ok (resp, 200);
  g_assert_nonnull (jstr (resp->json, "nonce"));
  return g_strdup (jstr (resp->json, "nonce"));
}

/* a server with just an admin, the shared secret set */
static TestHomeserver *
start_empty_server (TestHomeserverFlavour flavour)
{
  TestHomeserver *hs = test_homeserver_new ("example.test");
  g_autoptr(GError) error = NULL;

  test_homeserver_add_user (hs, "admin", "adminpw", TRUE);
  test_homeserver_set_login_rate_limit (hs, FALSE);
  test_homeserver_set_flavour (hs, flavour);
  test_homeserver_set_registration_secret (hs, SECRET);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_no_error (error);
  return hs;
}

static void
assert_go_message (Response *resp, long status)
{
  if (resp->code != CURLE_OK || resp->status != status)
    g_error ("expected %ld, got curl %d HTTP %ld: %s", status, resp->code, resp->status, resp->body->str);
  g_assert_nonnull (resp->json);
  g_assert_nonnull (jstr (resp->json, "message"));
  g_assert_false (json_object_object_get_ex (resp->json, "errcode", NULL));
}

static void
test_hmac_vectors (void)
{
  static const struct {
    gboolean admin;
    const gchar *user_type;
    const gchar *mac;
  } vectors[] = {
    { FALSE, NULL, "d7cd8fe38bb2b37bacf757920ef46050075d427d" },
    { TRUE, NULL, "fff9f57189c2d1a494c19759e16d592b0f64ce32" },
    { FALSE, "bot", "d3aca8c91c01f0a76c048b887bea95fa6d6e3e6b" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autofree gchar *mac = client_mac (SECRET, "abc", "alice", "pw", vectors[i].admin, vectors[i].user_type);
      g_autofree gchar *extra = vectors[i].user_type != NULL
                                ? g_strdup_printf (",\"user_type\":\"%s\"", vectors[i].user_type) : g_strdup ("");
      g_autofree gchar *body = register_body ("abc", "alice", "pw", vectors[i].admin, vectors[i].mac, extra);
      g_autofree gchar *upper = g_ascii_strup (vectors[i].mac, -1);
      g_autofree gchar *upper_body = register_body ("abc", "alice", "pw", vectors[i].admin, upper, extra);
      g_autoptr(TestHomeserver) synapse = start_empty_server (TEST_HOMESERVER_SYNAPSE);
      g_autoptr(TestHomeserver) dendrite = start_empty_server (TEST_HOMESERVER_DENDRITE);
      g_autoptr(Response) s_upper = NULL;
      g_autoptr(Response) s_ok = NULL;
      g_autoptr(Response) d_ok = NULL;
      g_autoptr(Response) d_upper = NULL;

      /* the test's own HMAC reproduces the vector */
      g_assert_cmpstr (mac, ==, vectors[i].mac);

      /* Synapse: the vector registers alice; its MAC compare is on the hex
       * string, so an uppercase MAC is refused (and uses up the nonce) */
      test_homeserver_add_nonce (synapse, "abc");
      s_upper = http (synapse, "POST", REGISTER_PATH, NULL, upper_body);
      assert_error (s_upper, 403, "M_FORBIDDEN");
      g_assert_cmpstr (jstr (s_upper->json, "error"), ==, "HMAC incorrect");
      test_homeserver_add_nonce (synapse, "abc");
      s_ok = http (synapse, "POST", REGISTER_PATH, NULL, body);
      assert_ok (s_ok, 200);
      g_assert_cmpstr (jstr (s_ok->json, "user_id"), ==, ALICE);
      g_assert_cmpint (test_homeserver_user_is_admin (synapse, ALICE), ==, vectors[i].admin);
      if (vectors[i].user_type != NULL)
        {
          g_autofree gchar *admin = login (synapse, "admin", "adminpw");
          g_autoptr(Response) info = http (synapse, "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test", admin, NULL);
          assert_ok (info, 200);
          g_assert_cmpstr (jstr (info->json, "user_type"), ==, vectors[i].user_type);
        }

      /* Dendrite never puts user_type in the MAC, compares bytes (any hex
       * case), and checks the password only after the MAC: "pw" is too
       * short, so M_WEAK_PASSWORD proves the MAC was accepted */
      test_homeserver_add_nonce (dendrite, "abc");
      d_ok = http (dendrite, "POST", REGISTER_PATH, NULL, body);
      d_upper = http (dendrite, "POST", REGISTER_PATH, NULL, upper_body);
      if (vectors[i].user_type == NULL)
        {
          assert_error (d_ok, 400, "M_WEAK_PASSWORD");
          assert_error (d_upper, 400, "M_WEAK_PASSWORD");
        }
      else
        {
          assert_error (d_ok, 403, "M_FORBIDDEN");
          g_assert_cmpstr (jstr (d_ok->json, "error"), ==, "bad mac");
          assert_error (d_upper, 403, "M_FORBIDDEN");
        }
      g_assert_false (test_homeserver_user_exists (dendrite, ALICE));
    }

  /* the other way round: a MAC for the wrong admin flag, or without the
   * user_type that is sent, is refused by Synapse */
  {
    g_autoptr(TestHomeserver) hs = start_empty_server (TEST_HOMESERVER_SYNAPSE);
    g_autofree gchar *admin_flag = register_body ("abc", "alice", "pw", TRUE, vectors[0].mac, "");
    g_autofree gchar *no_type = register_body ("abc", "alice", "pw", FALSE, vectors[0].mac, ",\"user_type\":\"bot\"");
    g_autoptr(Response) r1 = NULL;
    g_autoptr(Response) r2 = NULL;

    test_homeserver_add_nonce (hs, "abc");
    r1 = http (hs, "POST", REGISTER_PATH, NULL, admin_flag);
    assert_error (r1, 403, "M_FORBIDDEN");
    test_homeserver_add_nonce (hs, "abc");
    r2 = http (hs, "POST", REGISTER_PATH, NULL, no_type);
    assert_error (r2, 403, "M_FORBIDDEN");
    g_assert_false (test_homeserver_user_exists (hs, ALICE));
  }
}

static void
test_shared_secret_synapse (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *n0 = get_nonce (hs); /* a nonce needs no secret and no token */
  g_autofree gchar *n1 = NULL;
  g_autofree gchar *n2 = NULL;
  g_autofree gchar *n3 = NULL;
  g_autofree gchar *dn = NULL;
  g_autofree gchar *pw = NULL;
  g_autofree gchar *admin = NULL;
  g_autoptr(Response) disabled = register_user (hs, n0, "bob", "bobpw", FALSE, NULL, NULL);
  g_autoptr(Response) created = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) reused = NULL;
  g_autoptr(Response) bad_mac = NULL;
  g_autoptr(Response) after_bad = NULL;
  g_autoptr(Response) expired = NULL;
  g_autoptr(Response) no_nonce = NULL;
  g_autoptr(Response) bad_type = NULL;
  g_autoptr(Response) bot = NULL;
  g_autoptr(Response) info = NULL;
  g_autoptr(Response) inhibited = NULL;
  g_autoptr(Response) disabled_again = NULL;
  g_autoptr(GRegex) hex_re = g_regex_new ("^[0-9a-f]{128}$", 0, 0, NULL);
  struct {
    const gchar *user;
    const gchar *errcode;
  } refused[] = {
    { "alice", "M_USER_IN_USE" },
    { "ALICE", "M_USER_IN_USE" }, /* lowercased first */
    { "_x", "M_INVALID_USERNAME" },
    { "12345", "M_INVALID_USERNAME" },
    { "a b", "M_INVALID_USERNAME" },
  };

  assert_error (disabled, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (disabled->json, "error"), ==, "Shared secret registration is not enabled");

  test_homeserver_set_registration_secret (hs, SECRET);
  n1 = get_nonce (hs);
  g_assert_true (g_regex_match (hex_re, n1, 0, NULL));
  created = register_user (hs, n1, "bob", "bobpw", FALSE, NULL, ",\"displayname\":\"Bob\"");
  assert_ok (created, 200);
  g_assert_cmpstr (jstr (created->json, "user_id"), ==, BOB);
  g_assert_cmpstr (jstr (created->json, "home_server"), ==, "example.test");
  g_assert_cmpuint (strlen (jstr (created->json, "device_id")), ==, 10);
  g_assert_true (test_homeserver_user_exists (hs, BOB));
  g_assert_false (test_homeserver_user_is_admin (hs, BOB));
  dn = test_homeserver_get_user_displayname (hs, BOB);
  g_assert_cmpstr (dn, ==, "Bob");
  pw = test_homeserver_get_user_password (hs, BOB);
  g_assert_cmpstr (pw, ==, "bobpw");
  /* a real device, whose token works */
  g_assert_cmpuint (test_homeserver_count_devices (hs, BOB), ==, 1);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, BOB), ==, 1);
  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", jstr (created->json, "access_token"), NULL);
  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "user_id"), ==, BOB);
  g_assert_cmpstr (jstr (whoami->json, "device_id"), ==, jstr (created->json, "device_id"));

  /* a nonce is good for one POST */
  reused = register_user (hs, n1, "carol", "carolpw", FALSE, NULL, NULL);
  assert_error (reused, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (reused->json, "error"), ==, "unrecognised nonce");

  /* ... even one that fails */
  n2 = get_nonce (hs);
  {
    g_autofree gchar *body = register_body (n2, "carol", "carolpw", FALSE, "0000", "");
    bad_mac = http (hs, "POST", REGISTER_PATH, NULL, body);
  }
  assert_error (bad_mac, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (bad_mac->json, "error"), ==, "HMAC incorrect");
  after_bad = register_user (hs, n2, "carol", "carolpw", FALSE, NULL, NULL);
  assert_error (after_bad, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (after_bad->json, "error"), ==, "unrecognised nonce");
  g_assert_false (test_homeserver_user_exists (hs, "@carol:example.test"));

  /* expiry */
  n3 = get_nonce (hs);
  test_homeserver_expire_nonces (hs);
  expired = register_user (hs, n3, "carol", "carolpw", FALSE, NULL, NULL);
  assert_error (expired, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (expired->json, "error"), ==, "unrecognised nonce");

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree gchar *nonce = get_nonce (hs);
      g_autoptr(Response) resp = register_user (hs, nonce, refused[i].user, "pw", FALSE, NULL, NULL);
      assert_error (resp, 400, refused[i].errcode);
      if (i == 0)
        g_assert_cmpstr (jstr (resp->json, "error"), ==, "User ID already taken.");
    }

  no_nonce = http (hs, "POST", REGISTER_PATH, NULL, "{\"username\":\"carol\"}");
  assert_error (no_nonce, 400, "M_BAD_JSON");
  {
    g_autofree gchar *nonce = get_nonce (hs);
    bad_type = register_user (hs, nonce, "carol", "carolpw", FALSE, "robot", NULL);
  }
  assert_error (bad_type, 400, "M_UNKNOWN");
  g_assert_cmpstr (jstr (bad_type->json, "error"), ==, "Invalid user type");

  /* an admin bot; its user_type shows in the admin API */
  {
    g_autofree gchar *nonce = get_nonce (hs);
    bot = register_user (hs, nonce, "dave", "davepw", TRUE, "bot", NULL);
  }
  assert_ok (bot, 200);
  g_assert_true (test_homeserver_user_is_admin (hs, "@dave:example.test"));
  admin = login (hs, "admin", "adminpw");
  info = http (hs, "GET", "/_synapse/admin/v2/users/%40dave%3Aexample.test", admin, NULL);
  assert_ok (info, 200);
  g_assert_cmpstr (jstr (info->json, "user_type"), ==, "bot");
  g_assert_cmpint (json_object_get_int (jget (info->json, "admin")), ==, 1);

  /* inhibit_login: a user, no device */
  {
    g_autofree gchar *nonce = get_nonce (hs);
    inhibited = register_user (hs, nonce, "erin", "erinpw", FALSE, NULL, ",\"inhibit_login\":true");
  }
  assert_ok (inhibited, 200);
  g_assert_null (jget (inhibited->json, "access_token"));
  g_assert_true (test_homeserver_user_exists (hs, "@erin:example.test"));
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@erin:example.test"), ==, 0);

  test_homeserver_set_registration_secret (hs, NULL);
  {
    g_autofree gchar *nonce = get_nonce (hs);
    disabled_again = register_user (hs, nonce, "frank", "frankpw", FALSE, NULL, NULL);
  }
  assert_error (disabled_again, 400, "M_UNKNOWN");
  g_assert_false (test_homeserver_user_exists (hs, "@frank:example.test"));
}

static void
test_shared_secret_dendrite (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *n1 = NULL;
  g_autofree gchar *n2 = NULL;
  g_autofree gchar *dn = NULL;
  g_autofree gchar *long_ok = g_strnfill (254 - strlen ("@:example.test"), 'l');
  g_autofree gchar *long_bad = g_strnfill (255 - strlen ("@:example.test"), 'l');
  g_autofree gchar *long_ok_id = g_strdup_printf ("@%s:example.test", long_ok);
  g_autoptr(Response) get_off = NULL;
  g_autoptr(Response) post_off = NULL;
  g_autoptr(Response) created = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) reused = NULL;
  g_autoptr(Response) bad_mac = NULL;
  g_autoptr(Response) unknown = NULL;
  g_autoptr(Response) expired = NULL;
  g_autoptr(Response) weak = NULL;
  g_autoptr(Response) taken = NULL;
  g_autoptr(Response) too_long = NULL;
  g_autoptr(Response) just_fits = NULL;
  g_autoptr(Response) admin = NULL;
  g_autoptr(Response) typed = NULL;
  g_autoptr(Response) wrong_method = NULL;
  g_autoptr(GRegex) nonce_re = g_regex_new ("^[A-Za-z0-9]{16}$", 0, 0, NULL);

  test_homeserver_set_flavour (hs, TEST_HOMESERVER_DENDRITE);
  /* without a secret the endpoint does not exist */
  get_off = http (hs, "GET", REGISTER_PATH, NULL, NULL);
  assert_error (get_off, 404, "M_UNRECOGNIZED");
  post_off = http (hs, "POST", REGISTER_PATH, NULL, "{}");
  assert_error (post_off, 404, "M_UNRECOGNIZED");

  test_homeserver_set_registration_secret (hs, SECRET);
  wrong_method = http (hs, "PUT", REGISTER_PATH, NULL, "{}");
  assert_error (wrong_method, 405, "M_UNRECOGNIZED");
  n1 = get_nonce (hs);
  g_assert_true (g_regex_match (nonce_re, n1, 0, NULL));
  created = register_user (hs, n1, "bob", "bobpassword", FALSE, NULL, ",\"displayname\":\"Bob\"");
  assert_ok (created, 200);
  g_assert_cmpstr (jstr (created->json, "user_id"), ==, BOB);
  g_assert_false (json_object_object_get_ex (created->json, "home_server", NULL));
  g_assert_cmpstr (jstr (created->json, "device_id"), ==, "shared_secret_registration");
  g_assert_false (test_homeserver_user_is_admin (hs, BOB));
  dn = test_homeserver_get_user_displayname (hs, BOB);
  g_assert_cmpstr (dn, ==, "Bob");
  g_assert_cmpuint (test_homeserver_count_devices (hs, BOB), ==, 1);
  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", jstr (created->json, "access_token"), NULL);
  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "device_id"), ==, "shared_secret_registration");

  /* the nonce stays good */
  reused = register_user (hs, n1, "carol", "carolpassword", FALSE, NULL, NULL);
  assert_ok (reused, 200);
  g_assert_true (test_homeserver_user_exists (hs, "@carol:example.test"));

  {
    g_autofree gchar *body = register_body (n1, "dave", "davepassword", FALSE, "00ff", "");
    bad_mac = http (hs, "POST", REGISTER_PATH, NULL, body);
  }
  assert_error (bad_mac, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (bad_mac->json, "error"), ==, "bad mac");

  /* an unknown or expired nonce: 500 and a bare "message" */
  unknown = register_user (hs, "notanonce", "dave", "davepassword", FALSE, NULL, NULL);
  assert_go_message (unknown, 500);
  n2 = get_nonce (hs);
  test_homeserver_expire_nonces (hs);
  expired = register_user (hs, n2, "dave", "davepassword", FALSE, NULL, NULL);
  assert_go_message (expired, 500);
  g_assert_false (test_homeserver_user_exists (hs, "@dave:example.test"));

  n2 = (g_free (n2), get_nonce (hs));
  weak = register_user (hs, n2, "dave", "short", FALSE, NULL, NULL);
  assert_error (weak, 400, "M_WEAK_PASSWORD");
  taken = register_user (hs, n2, "alice", "alicepassword", FALSE, NULL, NULL);
  assert_error (taken, 400, "M_USER_IN_USE");
  /* a full user ID over 254 bytes (Dendrite answers M_BAD_JSON there) */
  too_long = register_user (hs, n2, long_bad, "longpassword", FALSE, NULL, NULL);
  g_assert_cmpint (too_long->status, ==, 400);
  g_assert_cmpstr (jstr (too_long->json, "errcode"), ==, "M_BAD_JSON");
  just_fits = register_user (hs, n2, long_ok, "longpassword", FALSE, NULL, NULL);
  assert_ok (just_fits, 200);
  g_assert_true (test_homeserver_user_exists (hs, long_ok_id));

  admin = register_user (hs, n2, "dave", "davepassword", TRUE, NULL, NULL);
  assert_ok (admin, 200);
  g_assert_true (test_homeserver_user_is_admin (hs, "@dave:example.test"));
  /* no user_type support: sent, it is simply not part of the MAC */
  {
    g_autofree gchar *mac = client_mac (SECRET, n2, "erin", "erinpassword", FALSE, NULL);
    g_autofree gchar *body = register_body (n2, "erin", "erinpassword", FALSE, mac, ",\"user_type\":\"bot\"");
    typed = http (hs, "POST", REGISTER_PATH, NULL, body);
  }
  assert_ok (typed, 200);
}

/* ------------------------------------------------------------------------ */
/* Dendrite mode */

/* The device a shared-secret registration creates: Synapse names it from
 * initial_device_display_name (and refuses a long name only after creating
 * the account); Dendrite after the user. */
static void
test_shared_secret_device_names (void)
{
  g_autoptr(TestHomeserver) synapse = start_empty_server (TEST_HOMESERVER_SYNAPSE);
  g_autoptr(TestHomeserver) dendrite = start_empty_server (TEST_HOMESERVER_DENDRITE);
  g_autofree gchar *n1 = get_nonce (synapse);
  g_autofree gchar *n2 = get_nonce (synapse);
  g_autofree gchar *n3 = get_nonce (dendrite);
  g_autofree gchar *long_name = g_strnfill (101, 'x');
  g_autofree gchar *long_member = g_strdup_printf (",\"initial_device_display_name\":\"%s\"", long_name);
  g_autofree gchar *named = NULL;
  g_autofree gchar *dendrite_name = NULL;
  g_autoptr(Response) created = register_user (synapse, n1, "bob", "bobpw", FALSE, NULL,
                                               ",\"device_id\":\"BOX\",\"initial_device_display_name\":\"mxprov\"");
  g_autoptr(Response) too_long = register_user (synapse, n2, "carol", "carolpw", FALSE, NULL, long_member);
  g_autoptr(Response) d_created = register_user (dendrite, n3, "Erin", "erinpassword", FALSE, NULL,
                                                 ",\"initial_device_display_name\":\"ignored\"");

  assert_ok (created, 200);
  g_assert_cmpstr (jstr (created->json, "device_id"), ==, "BOX");
  named = test_homeserver_get_device_display_name (synapse, BOB, "BOX");
  g_assert_cmpstr (named, ==, "mxprov");

  assert_error (too_long, 400, "M_TOO_LARGE");
  g_assert_true (test_homeserver_user_exists (synapse, "@carol:example.test"));
  g_assert_cmpuint (test_homeserver_count_devices (synapse, "@carol:example.test"), ==, 0);

  assert_ok (d_created, 200);
  dendrite_name = test_homeserver_get_device_display_name (dendrite, "@erin:example.test",
                                                           "shared_secret_registration");
  g_assert_cmpstr (dendrite_name, ==, "erin");
}

static void
test_dendrite_mode (void)
{
  static const struct {
    const gchar *method;
    const gchar *path;
    const gchar *body;
  } admin_calls[] = {
    { "GET", "/_synapse/admin/v1/server_version", NULL },
    { "GET", "/_synapse/admin/v1/users/%40admin%3Aexample.test/admin", NULL },
    { "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test", NULL },
    { "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", "{\"password\":\"x\"}" },
    { "GET", "/_synapse/admin/v1/username_available?username=bob", NULL },
    { "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", "{}" },
    { "POST", "/_synapse/admin/v1/deactivate/%40alice%3Aexample.test", "{\"erase\":true}" },
    { "DELETE", "/_synapse/admin/v1/rooms/%21x%3Aexample.test", "{\"purge\":true}" },
    { "GET", "/_synapse/admin/v1/register", NULL },
    { "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test/devices", NULL },
    { "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/joined_rooms", NULL },
    { "POST", "/_synapse/admin/v1/reset_password/%40alice%3Aexample.test", "{\"new_password\":\"x\"}" },
    { "GET", "/_synapse/admin/v1/rooms/%21x%3Aexample.test", NULL },
    { "GET", "/_synapse/admin/v1/rooms/%21x%3Aexample.test/state", NULL },
  };
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *body = password_body ("admin", "adminpw");
  g_autofree gchar *admin = NULL;
  g_autofree gchar *room_id = NULL;
  g_autoptr(Response) synapse_login = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  g_autoptr(Response) synapse_fed = http (hs, "GET", "/_matrix/federation/v1/version", NULL, NULL);
  g_autoptr(Response) login_resp = NULL;
  g_autoptr(Response) fed = NULL;
  g_autoptr(Response) joined = NULL;
  g_autoptr(Response) back = NULL;
  g_autoptr(Response) back_fed = NULL;

  /* Synapse, for contrast */
  assert_ok (synapse_login, 200);
  g_assert_cmpstr (jstr (synapse_login->json, "home_server"), ==, "example.test");
  g_assert_cmpstr (synapse_login->server, ==, "Synapse/1.67.0");
  assert_error (synapse_fed, 404, "M_UNRECOGNIZED");

  test_homeserver_set_flavour (hs, TEST_HOMESERVER_DENDRITE);
  login_resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_ok (login_resp, 200);
  g_assert_cmpstr (jstr (login_resp->json, "user_id"), ==, ADMIN);
  g_assert_false (json_object_object_get_ex (login_resp->json, "home_server", NULL));
  g_assert_null (login_resp->server);
  admin = g_strdup (jstr (login_resp->json, "access_token"));

  for (guint i = 0; i < G_N_ELEMENTS (admin_calls); i++)
    {
      g_autoptr(Response) resp = http (hs, admin_calls[i].method, admin_calls[i].path, admin, admin_calls[i].body);
      assert_error (resp, 404, "M_UNRECOGNIZED");
      g_assert_cmpstr (jstr (resp->json, "error"), ==, "Unrecognized request");
    }
  g_assert_false (test_homeserver_user_exists (hs, BOB));
  g_assert_false (test_homeserver_user_is_deactivated (hs, ALICE));
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 0);

  fed = http (hs, "GET", "/_matrix/federation/v1/version", NULL, NULL);
  assert_ok (fed, 200);
  g_assert_cmpstr (jstr (jget (fed->json, "server"), "name"), ==, "Dendrite");
  g_assert_cmpstr (jstr (jget (fed->json, "server"), "version"), ==, "0.13.7");

  /* the client API is unchanged */
  room_id = create_room (hs, admin, room_body);
  joined = http (hs, "GET", "/_matrix/client/v3/joined_rooms", admin, NULL);
  assert_ok (joined, 200);
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (jget (joined->json, "joined_rooms"), 0)), ==, room_id);

  test_homeserver_set_flavour (hs, TEST_HOMESERVER_SYNAPSE);
  back = http (hs, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
  assert_ok (back, 200);
  back_fed = http (hs, "GET", "/_matrix/federation/v1/version", NULL, NULL);
  assert_error (back_fed, 404, "M_UNRECOGNIZED");
}

/* ------------------------------------------------------------------------ */
/* Self-deactivation */

#define DEACTIVATE_PATH "/_matrix/client/v3/account/deactivate"

static gchar *
uia_body (const gchar *user, const gchar *password, const gchar *session)
{
  g_autofree gchar *session_member = session != NULL ? g_strdup_printf (",\"session\":\"%s\"", session) : g_strdup ("");

  return g_strdup_printf ("{\"auth\":{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                          "\"user\":\"%s\"},\"password\":\"%s\"%s}}", user, password, session_member);
}

static void
assert_uia_challenge (Response *resp, const gchar *errcode)
{
  json_object *flows;
  json_object *stages;

  g_assert_cmpint (resp->code, ==, CURLE_OK);
  g_assert_cmpint (resp->status, ==, 401);
  g_assert_nonnull (resp->json);
  g_assert_nonnull (jstr (resp->json, "session"));
  g_assert_cmpuint (strlen (jstr (resp->json, "session")), >, 0);
  flows = jget (resp->json, "flows");
  g_assert_true (json_object_is_type (flows, json_type_array));
  g_assert_cmpuint (json_object_array_length (flows), ==, 1);
  stages = jget (json_object_array_get_idx (flows, 0), "stages");
  g_assert_cmpuint (json_object_array_length (stages), ==, 1);
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (stages, 0)), ==, "m.login.password");
  g_assert_true (json_object_is_type (jget (resp->json, "params"), json_type_object));
  g_assert_cmpint (json_object_object_length (jget (resp->json, "params")), ==, 0);
  g_assert_cmpstr (jstr (resp->json, "errcode"), ==, errcode);
}

static void
assert_fully_deactivated (TestHomeserver *hs, const gchar *user_id, const gchar *room_id)
{
  g_autofree gchar *pw = test_homeserver_get_user_password (hs, user_id);
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (hs);
  g_autoptr(GPtrArray) joined = test_homeserver_list_joined_rooms (hs, user_id);
  g_autoptr(json_object) member = test_homeserver_room_get_state (hs, room_id, "m.room.member", user_id);

  g_assert_true (test_homeserver_user_exists (hs, user_id));
  g_assert_true (test_homeserver_user_is_deactivated (hs, user_id));
  g_assert_null (pw);
  g_assert_cmpuint (test_homeserver_count_devices (hs, user_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, user_id), ==, 0);
  g_assert_cmpuint (joined->len, ==, 0);
  g_assert_false (test_homeserver_room_is_joined (hs, room_id, user_id));
  g_assert_cmpstr (jstr (member, "membership"), ==, "leave");
  /* the room outlives its last member */
  g_assert_true (g_ptr_array_find_with_equal_func (rooms, room_id, g_str_equal, NULL));
  g_assert_false (test_homeserver_room_has_members (hs, room_id));
}

static void
test_self_deactivate_synapse (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = NULL;
  g_autofree gchar *alice2 = NULL;
  g_autofree gchar *bob = NULL;
  g_autofree gchar *room_id = NULL;
  g_autofree gchar *bob_room = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *wrong = NULL;
  g_autofree gchar *right = NULL;
  g_autofree gchar *other = NULL;
  g_autofree gchar *stale = uia_body ("alice", "alicepw", "nosuchsession");
  g_autofree gchar *bob_full = uia_body (BOB, "bobpw", NULL);
  g_autoptr(Response) no_token = NULL;
  g_autoptr(Response) challenge = NULL;
  g_autoptr(Response) refused = NULL;
  g_autoptr(Response) unknown_session = NULL;
  g_autoptr(Response) someone_else = NULL;
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) relogin = NULL;
  g_autoptr(Response) old_token = NULL;
  g_autoptr(Response) bob_done = NULL;

  test_homeserver_add_user (hs, "bob", "bobpw", FALSE);
  alice = login (hs, "alice", "alicepw");
  alice2 = login (hs, "alice", "alicepw");
  bob = login (hs, "bob", "bobpw");
  room_id = create_room (hs, alice, room_body);
  bob_room = create_room (hs, bob, "{}");

  no_token = http (hs, "POST", DEACTIVATE_PATH, NULL, "{}");
  assert_error (no_token, 401, "M_MISSING_TOKEN");

  /* no auth: the flows, and a session to continue */
  challenge = http (hs, "POST", DEACTIVATE_PATH, alice, "{}");
  assert_uia_challenge (challenge, NULL);
  g_assert_false (json_object_object_get_ex (challenge->json, "completed", NULL));
  session = g_strdup (jstr (challenge->json, "session"));

  wrong = uia_body ("alice", "nope", session);
  refused = http (hs, "POST", DEACTIVATE_PATH, alice, wrong);
  assert_uia_challenge (refused, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (refused->json, "session"), ==, session);
  g_assert_cmpuint (json_object_array_length (jget (refused->json, "completed")), ==, 0);
  g_assert_false (test_homeserver_user_is_deactivated (hs, ALICE));

  unknown_session = http (hs, "POST", DEACTIVATE_PATH, alice, stale);
  assert_error (unknown_session, 400, "M_UNKNOWN");

  /* someone else's password does not deactivate you, nor them */
  other = uia_body ("bob", "bobpw", session);
  someone_else = http (hs, "POST", DEACTIVATE_PATH, alice, other);
  assert_error (someone_else, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (someone_else->json, "error"), ==, "Invalid auth");
  g_assert_false (test_homeserver_user_is_deactivated (hs, ALICE));
  g_assert_false (test_homeserver_user_is_deactivated (hs, BOB));

  /* a fresh session, the localpart and the right password */
  {
    g_autoptr(Response) again = http (hs, "POST", DEACTIVATE_PATH, alice, "{}");
    assert_uia_challenge (again, NULL);
    g_free (session);
    session = g_strdup (jstr (again->json, "session"));
  }
  right = uia_body ("alice", "alicepw", session);
  done = http (hs, "POST", DEACTIVATE_PATH, alice, right);
  assert_ok (done, 200);
  g_assert_cmpstr (jstr (done->json, "id_server_unbind_result"), ==, "success");
  assert_fully_deactivated (hs, ALICE, room_id);
  relogin = http (hs, "POST", "/_matrix/client/v3/login", NULL,
                  "{\"type\":\"m.login.password\",\"user\":\"alice\",\"password\":\"alicepw\"}");
  assert_error (relogin, 403, "M_USER_DEACTIVATED");
  old_token = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice2, NULL);
  assert_error (old_token, 401, "M_UNKNOWN_TOKEN");

  /* in one go: full user ID, no session */
  bob_done = http (hs, "POST", DEACTIVATE_PATH, bob, bob_full);
  assert_ok (bob_done, 200);
  assert_fully_deactivated (hs, BOB, bob_room);
}

static void
test_self_deactivate_dendrite (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = NULL;
  g_autofree gchar *room_id = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *wrong = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *full = NULL;
  g_autoptr(Response) challenge = NULL;
  g_autoptr(Response) refused = NULL;
  g_autoptr(Response) by_localpart = NULL;
  g_autoptr(Response) done = NULL;

  test_homeserver_set_flavour (hs, TEST_HOMESERVER_DENDRITE);
  alice = login (hs, "alice", "alicepw");
  room_id = create_room (hs, alice, room_body);

  challenge = http (hs, "POST", DEACTIVATE_PATH, alice, "{}");
  assert_uia_challenge (challenge, NULL);
  g_assert_cmpuint (json_object_array_length (jget (challenge->json, "completed")), ==, 0);
  session = g_strdup (jstr (challenge->json, "session"));

  wrong = uia_body (ALICE, "nope", session);
  refused = http (hs, "POST", DEACTIVATE_PATH, alice, wrong);
  assert_uia_challenge (refused, "M_FORBIDDEN");
  g_assert_false (test_homeserver_user_is_deactivated (hs, ALICE));

  /* Dendrite splits the auth's user as a full user ID: a bare localpart
   * passes the password check, then fails with a 500 */
  localpart = uia_body ("alice", "alicepw", session);
  by_localpart = http (hs, "POST", DEACTIVATE_PATH, alice, localpart);
  assert_error (by_localpart, 500, "M_UNKNOWN");
  g_assert_false (test_homeserver_user_is_deactivated (hs, ALICE));

  full = uia_body (ALICE, "alicepw", session);
  done = http (hs, "POST", DEACTIVATE_PATH, alice, full);
  assert_ok (done, 200);
  /* Dendrite answers an empty object */
  g_assert_cmpint (json_object_object_length (done->json), ==, 0);
  assert_fully_deactivated (hs, ALICE, room_id);
}

/* ------------------------------------------------------------------------ */
/* Password change with user-interactive auth, as the Matrix Dart SDK does it */

#define PASSWORD_PATH "/_matrix/client/v3/account/password"

/* {"auth": uia_body's, "new_password"?, "logout_devices"?}; NULL members
 * are left out, logout_devices is "true" or "false" as JSON text */
static gchar *
password_change_body (const gchar *user, const gchar *password, const gchar *session,
                      const gchar *new_password, const gchar *logout_devices)
{
  g_autofree gchar *auth = user != NULL ? uia_body (user, password, session) : g_strdup ("{}");
  g_autoptr(GString) body = g_string_new_len (auth, (gssize) strlen (auth) - 1);

  if (new_password != NULL)
    g_string_append_printf (body, "%s\"new_password\":\"%s\"", body->len > 1 ? "," : "", new_password);
  if (logout_devices != NULL)
    g_string_append_printf (body, "%s\"logout_devices\":%s", body->len > 1 ? "," : "", logout_devices);
  g_string_append_c (body, '}');
  return g_string_free (g_steal_pointer (&body), FALSE);
}

static void
test_account_password (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *mine = login_device (hs, "alice", "alicepw", "MINE", "Lotti");
  g_autofree gchar *other1 = login_device (hs, "alice", "alicepw", "OTHER1", NULL);
  g_autofree gchar *other2 = login_device (hs, "alice", "alicepw", "OTHER2", NULL);
  g_autofree gchar *puppet = puppet_token (hs, admin, "%40alice%3Aexample.test");
  g_autofree gchar *session = NULL;
  g_autofree gchar *start = password_change_body (NULL, NULL, NULL, "newpw", NULL);
  g_autofree gchar *wrong = NULL;
  g_autofree gchar *right = NULL;
  g_autofree gchar *bobs = password_change_body ("bob", "bobpw", NULL, "bobsays", NULL);
  g_autofree gchar *new_login = password_body (ALICE, "newpw");
  g_autofree gchar *old_login = password_body (ALICE, "alicepw");
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(Response) challenge = NULL;
  g_autoptr(Response) refused = NULL;
  g_autoptr(Response) someone_else = NULL;
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) logged_in = NULL;
  g_autoptr(Response) old_refused = NULL;
  g_autoptr(Response) r0_path = NULL;
  g_autoptr(Response) bad_token = NULL;
  json_object *completed;

  test_homeserver_add_user (hs, "bob", "bobpw", FALSE);

  /* no auth yet: the flows and a session, new_password kept for later */
  challenge = http (hs, "POST", PASSWORD_PATH, mine, start);
  assert_uia_challenge (challenge, NULL);
  g_assert_false (json_object_object_get_ex (challenge->json, "completed", NULL));
  session = g_strdup (jstr (challenge->json, "session"));
  assert_password (hs, ALICE, "alicepw");

  /* the wrong old password: the challenge again, with the stage's error */
  wrong = password_change_body (ALICE, "nope", session, "newpw", NULL);
  refused = http (hs, "POST", PASSWORD_PATH, mine, wrong);
  assert_uia_challenge (refused, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (refused->json, "error"), ==, "Invalid username or password");
  g_assert_cmpstr (jstr (refused->json, "session"), ==, session);
  completed = jget (refused->json, "completed");
  g_assert_true (json_object_is_type (completed, json_type_array));
  g_assert_cmpuint (json_object_array_length (completed), ==, 0);
  assert_password (hs, ALICE, "alicepw");

  /* someone else's password, in a session of its own */
  someone_else = http (hs, "POST", PASSWORD_PATH, mine, bobs);
  assert_error (someone_else, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (someone_else->json, "error"), ==, "Invalid auth");
  assert_password (hs, ALICE, "alicepw");
  assert_password (hs, BOB, "bobpw");

  /* the session is bound to the URI that started it */
  right = password_change_body (ALICE, "alicepw", session, "newpw", NULL);
  r0_path = http (hs, "POST", "/_matrix/client/r0/account/password", mine, right);
  assert_error (r0_path, 403, "M_FORBIDDEN");
  g_assert_cmpstr (jstr (r0_path->json, "error"), ==,
                   "Requested operation has changed during the UI authentication session.");

  bad_token = http (hs, "POST", PASSWORD_PATH, "syt_nosuchtoken", right);
  assert_error (bad_token, 401, "M_UNKNOWN_TOKEN");
  assert_password (hs, ALICE, "alicepw");

  /* the right one: done, and by default every other session of alice's
   * goes while the requester's device and token stay; the admin's puppet
   * token is not alice's to lose */
  done = http (hs, "POST", PASSWORD_PATH, mine, right);
  assert_ok (done, 200);
  g_assert_cmpint (json_object_object_length (done->json), ==, 0);
  assert_password (hs, ALICE, "newpw");
  devices = test_homeserver_list_devices (hs, ALICE);
  g_assert_cmpuint (devices->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (devices, 0), ==, "MINE");
  assert_token_status (hs, mine, 200);
  assert_token_status (hs, other1, 401);
  assert_token_status (hs, other2, 401);
  assert_token_status (hs, puppet, 200);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 2);
  assert_token_status (hs, admin, 200);

  logged_in = http (hs, "POST", "/_matrix/client/v3/login", NULL, new_login);
  assert_ok (logged_in, 200);
  old_refused = http (hs, "POST", "/_matrix/client/v3/login", NULL, old_login);
  assert_error (old_refused, 403, "M_FORBIDDEN");
}

/* The rest of Synapse's PasswordRestServlet: the body's validation, the new
 * password kept in the session, logout_devices false, and no access token. */
static void
test_account_password_details (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *other = login (hs, "alice", "alicepw");
  g_autofree gchar *long_pw = g_strnfill (513, 'p');
  g_autofree gchar *too_long = password_change_body (ALICE, "alicepw", NULL, long_pw, NULL);
  g_autofree gchar *not_bool = password_change_body (ALICE, "alicepw", NULL, "x", "\"false\"");
  g_autofree gchar *kept_start = password_change_body (NULL, NULL, NULL, "kept", "false");
  g_autofree gchar *kept_session = NULL;
  g_autofree gchar *kept_done = NULL;
  g_autofree gchar *none_session = NULL;
  g_autofree gchar *none_done = NULL;
  g_autofree gchar *anonymous = password_change_body (ALICE, "kept", NULL, "stolen", NULL);
  g_autoptr(Response) bad_bool = http (hs, "POST", PASSWORD_PATH, alice, not_bool);
  g_autoptr(Response) bad_type = http (hs, "POST", PASSWORD_PATH, alice, "{\"new_password\":5}");
  g_autoptr(Response) bad_auth = http (hs, "POST", PASSWORD_PATH, alice, "{\"auth\":\"x\",\"logout_devices\":1}");
  g_autoptr(Response) bad_length = http (hs, "POST", PASSWORD_PATH, alice, too_long);
  g_autoptr(Response) not_json = http (hs, "POST", PASSWORD_PATH, alice, "[]");
  g_autoptr(Response) start = NULL;
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) start_none = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) no_token = NULL;
  g_autoptr(Response) no_token_auth = NULL;
  g_autoptr(Response) dendrite = NULL;
  json_object *stages;

  /* pydantic's StrictBool, StrictStr and max_length, before anything else */
  assert_error (bad_bool, 400, "M_BAD_JSON");
  g_assert_cmpstr (jstr (bad_bool->json, "error"), ==,
                   "1 validation error for PostBody\nlogout_devices\n"
                   "  value is not a valid boolean (type=value_error.strictbool)");
  assert_error (bad_type, 400, "M_BAD_JSON");
  g_assert_cmpstr (jstr (bad_type->json, "error"), ==,
                   "1 validation error for PostBody\nnew_password\n  str type expected (type=type_error.str)");
  assert_error (bad_auth, 400, "M_BAD_JSON");
  g_assert_true (g_str_has_prefix (jstr (bad_auth->json, "error"), "2 validation errors for PostBody\nauth\n"));
  assert_error (bad_length, 400, "M_BAD_JSON");
  g_assert_nonnull (strstr (jstr (bad_length->json, "error"), "at most 512 characters"));
  assert_error (not_json, 400, "M_NOT_JSON");
  assert_password (hs, ALICE, "alicepw");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 2);

  /* the new password and logout_devices of the first request, used by one
   * that sends only the auth */
  start = http (hs, "POST", PASSWORD_PATH, alice, kept_start);
  assert_uia_challenge (start, NULL);
  kept_session = g_strdup (jstr (start->json, "session"));
  kept_done = password_change_body (ALICE, "alicepw", kept_session, NULL, NULL);
  done = http (hs, "POST", PASSWORD_PATH, alice, kept_done);
  assert_ok (done, 200);
  assert_password (hs, ALICE, "kept");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 2);
  assert_token_status (hs, other, 200);

  /* no new password anywhere */
  start_none = http (hs, "POST", PASSWORD_PATH, alice, "{}");
  assert_uia_challenge (start_none, NULL);
  none_session = g_strdup (jstr (start_none->json, "session"));
  none_done = password_change_body (ALICE, "kept", none_session, NULL, NULL);
  missing = http (hs, "POST", PASSWORD_PATH, alice, none_done);
  assert_error (missing, 400, "M_MISSING_PARAM");
  g_assert_cmpstr (jstr (missing->json, "error"), ==, "Missing params: password");
  assert_password (hs, ALICE, "kept");

  /* Without an access token it is a password reset by email: the password
   * stage is checked and recorded, but cannot complete that flow. */
  no_token = http (hs, "POST", PASSWORD_PATH, NULL, "{\"new_password\":\"stolen\"}");
  g_assert_cmpint (no_token->status, ==, 401);
  stages = jget (json_object_array_get_idx (jget (no_token->json, "flows"), 0), "stages");
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (stages, 0)), ==, "m.login.email.identity");
  g_assert_nonnull (jstr (no_token->json, "session"));
  no_token_auth = http (hs, "POST", PASSWORD_PATH, NULL, anonymous);
  g_assert_cmpint (no_token_auth->status, ==, 401);
  g_assert_null (jget (no_token_auth->json, "errcode"));
  g_assert_cmpuint (json_object_array_length (jget (no_token_auth->json, "completed")), ==, 1);
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (jget (no_token_auth->json, "completed"), 0)),
                   ==, "m.login.password");
  stages = jget (json_object_array_get_idx (jget (no_token_auth->json, "flows"), 0), "stages");
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (stages, 0)), ==, "m.login.email.identity");
  assert_password (hs, ALICE, "kept");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 2);

  /* only the Synapse flavour has it */
  test_homeserver_set_flavour (hs, TEST_HOMESERVER_DENDRITE);
  dendrite = http (hs, "POST", PASSWORD_PATH, alice, "{}");
  assert_error (dendrite, 404, "M_UNRECOGNIZED");
}

/* ------------------------------------------------------------------------ */
/* Leave and forget */

static void
test_leave_forget (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *room_id = create_room (hs, alice, room_body);
  g_autofree gchar *escaped = g_uri_escape_string (room_id, NULL, FALSE);
  g_autofree gchar *leave = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", escaped);
  g_autofree gchar *forget = g_strdup_printf ("/_matrix/client/v3/rooms/%s/forget", escaped);
  g_autoptr(Response) early_forget = http (hs, "POST", forget, alice, "{}");
  g_autoptr(Response) outsider = http (hs, "POST", leave, admin, "{}");
  g_autoptr(Response) left = NULL;
  g_autoptr(Response) again = NULL;
  g_autoptr(Response) forgot = NULL;
  g_autoptr(Response) unknown_leave = NULL;
  g_autoptr(Response) unknown_forget = NULL;
  g_autoptr(Response) joined = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autoptr(json_object) member = NULL;

  g_assert_true (test_homeserver_room_has_members (hs, room_id));
  assert_error (early_forget, 400, "M_UNKNOWN");
  g_assert_false (test_homeserver_room_is_forgotten (hs, room_id, ALICE));
  assert_error (outsider, 403, "M_FORBIDDEN");

  left = http (hs, "POST", leave, alice, NULL);
  assert_ok (left, 200);
  g_assert_cmpint (json_object_object_length (left->json), ==, 0);
  g_assert_false (test_homeserver_room_is_joined (hs, room_id, ALICE));
  g_assert_false (test_homeserver_room_has_members (hs, room_id));
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rooms, 0), ==, room_id);
  member = test_homeserver_room_get_state (hs, room_id, "m.room.member", ALICE);
  g_assert_cmpstr (jstr (member, "membership"), ==, "leave");
  joined = http (hs, "GET", "/_matrix/client/v3/joined_rooms", alice, NULL);
  assert_ok (joined, 200);
  g_assert_cmpuint (json_object_array_length (jget (joined->json, "joined_rooms")), ==, 0);
  again = http (hs, "POST", leave, alice, "{}");
  assert_ok (again, 200);

  forgot = http (hs, "POST", forget, alice, "{}");
  assert_ok (forgot, 200);
  g_assert_true (test_homeserver_room_is_forgotten (hs, room_id, ALICE));
  g_assert_false (test_homeserver_room_is_forgotten (hs, room_id, ADMIN));

  unknown_leave = http (hs, "POST", "/_matrix/client/v3/rooms/%21nope%3Aexample.test/leave", alice, "{}");
  assert_error (unknown_leave, 404, "M_UNKNOWN");
  unknown_forget = http (hs, "POST", "/_matrix/client/v3/rooms/%21nope%3Aexample.test/forget", alice, "{}");
  assert_ok (unknown_forget, 200);
  g_assert_false (test_homeserver_room_has_members (hs, "!nope:example.test"));
}

/* ------------------------------------------------------------------------ */
/* .well-known */

static void
test_well_known (void)
{
  g_autoptr(TestHomeserver) hs = start_server (FALSE);
  g_autofree gchar *delegation = g_strdup_printf ("{\"m.homeserver\":{\"base_url\":\"%s/\"}}",
                                                  test_homeserver_get_url (hs));
  g_autofree gchar *expected = g_strdup_printf ("%s/", test_homeserver_get_url (hs));
  g_autoptr(Response) synapse_default = http (hs, "GET", "/.well-known/matrix/client", NULL, NULL);
  g_autoptr(Response) dendrite_default = NULL;
  g_autoptr(Response) served = NULL;
  g_autoptr(Response) broken = NULL;

  /* Synapse 1.67 with no delegation configured */
  g_assert_cmpint (synapse_default->status, ==, 404);
  g_assert_cmpstr (synapse_default->content_type, ==, "text/plain");
  g_assert_cmpstr (synapse_default->body->str, ==, ".well-known not available");
  test_homeserver_set_flavour (hs, TEST_HOMESERVER_DENDRITE);
  dendrite_default = http (hs, "GET", "/.well-known/matrix/client", NULL, NULL);
  assert_error (dendrite_default, 404, "M_UNRECOGNIZED");

  test_homeserver_set_well_known (hs, 200, delegation);
  served = http (hs, "GET", "/.well-known/matrix/client", NULL, NULL);
  assert_ok (served, 200);
  g_assert_cmpstr (served->content_type, ==, "application/json");
  g_assert_cmpstr (jstr (jget (served->json, "m.homeserver"), "base_url"), ==, expected);

  test_homeserver_set_well_known (hs, 500, "{oops");
  broken = http (hs, "GET", "/.well-known/matrix/client", NULL, NULL);
  g_assert_cmpint (broken->status, ==, 500);
  g_assert_cmpstr (broken->body->str, ==, "{oops");
  g_assert_null (broken->json);
}

/* ------------------------------------------------------------------------ */
/* The standalone binary */

static void
test_standalone_binary (void)
{
  g_autofree gchar *binary = g_test_build_filename (G_TEST_BUILT, "mxprov-test-homeserver", NULL);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *secret_file = NULL;
  g_autofree gchar *missing_file = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *nonce = NULL;
  g_autofree gchar *mac = NULL;
  g_autofree gchar *body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSubprocess) failing = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(Response) admin_api = NULL;
  g_autoptr(Response) nonce_resp = NULL;
  g_autoptr(Response) created = NULL;
  gsize len = 0;

  if (!g_file_test (binary, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("mxprov-test-homeserver is not built");
      return;
    }
  dir = g_dir_make_tmp ("hs-selftest-XXXXXX", &error);
  g_assert_no_error (error);
  secret_file = g_build_filename (dir, "secret", NULL);
  missing_file = g_build_filename (dir, "missing", NULL);
  g_assert_true (g_file_set_contents (secret_file, "file-s3cret\n", -1, &error));

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           binary, "--dendrite", "--registration-secret-file", secret_file,
                           "--exit-on-stdin-eof", "--lifetime", "30", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  url = g_data_input_stream_read_line (out, &len, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));

  admin_api = http_url (url, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
  assert_error (admin_api, 404, "M_UNRECOGNIZED");
  nonce_resp = http_url (url, "GET", REGISTER_PATH, NULL, NULL);
  assert_ok (nonce_resp, 200);
  nonce = g_strdup (jstr (nonce_resp->json, "nonce"));
  /* the secret is the file's content without the newline */
  mac = client_mac ("file-s3cret", nonce, "bob", "bobpassword", FALSE, NULL);
  body = register_body (nonce, "bob", "bobpassword", FALSE, mac, "");
  created = http_url (url, "POST", REGISTER_PATH, NULL, body);
  assert_ok (created, 200);
  g_assert_cmpstr (jstr (created->json, "user_id"), ==, BOB);
  g_assert_false (json_object_object_get_ex (created->json, "home_server", NULL));

  g_assert_true (g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, &error));
  g_assert_true (g_subprocess_wait_check (proc, NULL, &error));
  g_assert_no_error (error);

  /* an unreadable secret file is an error, not a disabled feature */
  failing = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              binary, "--registration-secret-file", missing_file, "--lifetime", "5", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (failing, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (failing));
  g_assert_cmpint (g_subprocess_get_exit_status (failing), ==, 1);

  g_unlink (secret_file);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  curl_global_init (CURL_GLOBAL_DEFAULT);

  g_test_add_func ("/homeserver/versions", test_versions);
  g_test_add_func ("/homeserver/login/flows", test_login_flows);
  g_test_add_func ("/homeserver/login/password", test_login_password);
  g_test_add_func ("/homeserver/login/rate-limit", test_login_rate_limit);
  g_test_add_func ("/homeserver/auth-errors", test_auth_errors);
  g_test_add_func ("/homeserver/routing-errors", test_routing_errors);
  g_test_add_func ("/homeserver/logout", test_logout);
  g_test_add_func ("/homeserver/admin/get-user", test_admin_get_user);
  g_test_add_func ("/homeserver/admin/put-user", test_admin_put_user);
  g_test_add_func ("/homeserver/admin/username-available", test_username_available);
  g_test_add_func ("/homeserver/admin/login-as-user", test_login_as_user);
  g_test_add_func ("/homeserver/admin/deactivate", test_deactivate);
  g_test_add_func ("/homeserver/admin/delete-room", test_delete_room);
  g_test_add_func ("/homeserver/admin/user-devices", test_admin_user_devices);
  g_test_add_func ("/homeserver/admin/user-joined-rooms", test_admin_user_joined_rooms);
  g_test_add_func ("/homeserver/admin/room-details", test_admin_room_details);
  g_test_add_func ("/homeserver/admin/reset-password", test_admin_reset_password);
  g_test_add_func ("/homeserver/rooms/create", test_create_room);
  g_test_add_func ("/homeserver/rooms/validation", test_create_room_validation);
  g_test_add_func ("/homeserver/fault/status-skip-count", test_fault_status_skip_count);
  g_test_add_func ("/homeserver/fault/html-502-prefix", test_fault_html_502_prefix);
  g_test_add_func ("/homeserver/fault/rate-limit", test_fault_rate_limit);
  g_test_add_func ("/homeserver/fault/drop", test_fault_drop);
  g_test_add_func ("/homeserver/fault/drop-delayed", test_fault_drop_delayed);
  g_test_add_func ("/homeserver/fault/delay", test_fault_delay);
  g_test_add_func ("/homeserver/fault/malformed-json", test_fault_malformed_json);
  g_test_add_func ("/homeserver/fault/truncated", test_fault_truncated);
  g_test_add_func ("/homeserver/fault/after-handling-status", test_fault_after_handling_status);
  g_test_add_func ("/homeserver/request-delay", test_request_delay);
  g_test_add_func ("/homeserver/synapse-costs", test_synapse_costs);
  g_test_add_func ("/homeserver/raw-requests", test_raw_requests);
  g_test_add_func ("/homeserver/restart", test_restart);
  g_test_add_func ("/homeserver/shared-secret/hmac-vectors", test_hmac_vectors);
  g_test_add_func ("/homeserver/shared-secret/synapse", test_shared_secret_synapse);
  g_test_add_func ("/homeserver/shared-secret/dendrite", test_shared_secret_dendrite);
  g_test_add_func ("/homeserver/shared-secret/device-names", test_shared_secret_device_names);
  g_test_add_func ("/homeserver/dendrite/mode", test_dendrite_mode);
  g_test_add_func ("/homeserver/account/deactivate-synapse", test_self_deactivate_synapse);
  g_test_add_func ("/homeserver/account/deactivate-dendrite", test_self_deactivate_dendrite);
  g_test_add_func ("/homeserver/account/password", test_account_password);
  g_test_add_func ("/homeserver/account/password-details", test_account_password_details);
  g_test_add_func ("/homeserver/rooms/leave-forget", test_leave_forget);
  g_test_add_func ("/homeserver/well-known", test_well_known);
  g_test_add_func ("/homeserver/standalone-binary", test_standalone_binary);

  ret = g_test_run ();
  curl_global_cleanup ();
  return ret;
}
