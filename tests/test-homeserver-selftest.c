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
/* Flavours */

#define FED_VERSION_PATH "/_matrix/federation/v1/version"
#define CLIENT_REGISTER_PATH "/_matrix/client/v3/register"
#define VALIDITY_PATH "/_matrix/client/v1/register/m.login.registration_token/validity"
#define TOKENS_PATH "/_synapse/admin/v1/registration_tokens"

/* admin and alice on a server of `flavour`, with no login limit */
static TestHomeserver *
start_flavour (TestHomeserverFlavour flavour)
{
  TestHomeserver *hs = test_homeserver_new ("example.test");
  g_autoptr(GError) error = NULL;

  test_homeserver_add_user (hs, "admin", "adminpw", TRUE);
  test_homeserver_add_user (hs, "alice", "alicepw", FALSE);
  test_homeserver_set_login_rate_limit (hs, FALSE);
  test_homeserver_set_flavour (hs, flavour);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_no_error (error);
  return hs;
}

static void
assert_error_text (Response *resp, long status, const gchar *errcode, const gchar *text)
{
  assert_error (resp, status, errcode);
  g_assert_cmpstr (jstr (resp->json, "error"), ==, text);
}

static gboolean
string_array_has (json_object *arr, const gchar *s)
{
  for (gsize i = 0; arr != NULL && i < json_object_array_length (arr); i++)
    {
      if (g_strcmp0 (json_object_get_string (json_object_array_get_idx (arr, i)), s) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
test_flavour_names (void)
{
  const gchar *const *names = test_homeserver_list_flavours ();
  const gchar *expected[] = { "synapse", "synapse-latest", "dendrite", "conduit", "continuwuity", "tuwunel",
                              "mas" };
  const TestHomeserverFlavour ids[] = {
    TEST_HOMESERVER_SYNAPSE, TEST_HOMESERVER_SYNAPSE_LATEST, TEST_HOMESERVER_DENDRITE,
    TEST_HOMESERVER_CONDUIT, TEST_HOMESERVER_CONTINUWUITY, TEST_HOMESERVER_TUWUNEL,
    TEST_HOMESERVER_SYNAPSE_MAS,
  };
  g_autoptr(TestHomeserver) hs = test_homeserver_new ("example.test");
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (g_strv_length ((gchar **) names), ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_cmpstr (names[i], ==, expected[i]);
      g_assert_nonnull (test_homeserver_describe_flavour (names[i]));
      g_assert_true (test_homeserver_set_flavour_by_name (hs, names[i], &error));
      g_assert_no_error (error);
      g_assert_cmpint (test_homeserver_get_flavour (hs), ==, ids[i]);
    }
  g_assert_cmpstr (test_homeserver_describe_flavour ("synapse"), ==, "Synapse 1.67");
  g_assert_cmpstr (test_homeserver_describe_flavour ("tuwunel"), ==, "Tuwunel 1.9.0");
  g_assert_null (test_homeserver_describe_flavour ("matrix-org"));
  g_assert_false (test_homeserver_set_flavour_by_name (hs, "conduwuit", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "synapse-latest"));
  /* a failed choice leaves the last one */
  g_assert_cmpint (test_homeserver_get_flavour (hs), ==, TEST_HOMESERVER_SYNAPSE_MAS);
}

/* backends-2026.md 3.3: every flavour names itself on the federation
 * version endpoint; the brand endpoints and server_version only where
 * they exist */
static void
test_flavour_versions (void)
{
  static const struct {
    TestHomeserverFlavour flavour;
    const gchar *name;
    const gchar *version;
    const gchar *server_version; /* /_synapse/admin/v1/server_version, or NULL: 404 */
    const gchar *brand_path;     /* or NULL */
    const gchar *server_header;  /* or NULL: none */
  } cases[] = {
    { TEST_HOMESERVER_SYNAPSE, "Synapse", "1.67.0", "1.67.0", NULL, "Synapse/1.67.0" },
    { TEST_HOMESERVER_SYNAPSE_LATEST, "Synapse", "1.157.1", "1.157.1", NULL, "Synapse/1.157.1" },
    { TEST_HOMESERVER_DENDRITE, "Dendrite", "0.13.7", NULL, NULL, NULL },
    { TEST_HOMESERVER_CONDUIT, "Conduit", "0.10.12", NULL, NULL, NULL },
    { TEST_HOMESERVER_CONTINUWUITY, "continuwuity", "26.8.0-alpha.1", NULL, "/_continuwuity/server_version", NULL },
    { TEST_HOMESERVER_TUWUNEL, "Tuwunel", "1.9.0", "1.9.0", "/_tuwunel/server_version", NULL },
  };
  static const gchar *const brands[] = { "/_tuwunel/server_version", "/_continuwuity/server_version" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (cases[i].flavour);
      g_autoptr(Response) fed = NULL;
      g_autoptr(Response) admin = http (hs, "GET", "/_synapse/admin/v1/server_version", NULL, NULL);
      g_autoptr(Response) versions = http (hs, "GET", "/_matrix/client/versions", NULL, NULL);

      /* the 1.67 client listener needs the federation resource added */
      if (cases[i].flavour == TEST_HOMESERVER_SYNAPSE)
        {
          g_autoptr(Response) absent = http (hs, "GET", FED_VERSION_PATH, NULL, NULL);
          assert_error (absent, 404, "M_UNRECOGNIZED");
          test_homeserver_set_federation_listener (hs, TRUE);
        }
      fed = http (hs, "GET", FED_VERSION_PATH, NULL, NULL);
      assert_ok (fed, 200);
      g_assert_cmpstr (jstr (jget (fed->json, "server"), "name"), ==, cases[i].name);
      g_assert_cmpstr (jstr (jget (fed->json, "server"), "version"), ==, cases[i].version);
      g_assert_cmpstr (fed->server, ==, cases[i].server_header);
      /* Tuwunel also names its compiler */
      g_assert_true ((jstr (jget (fed->json, "server"), "compiler") != NULL)
                     == (cases[i].flavour == TEST_HOMESERVER_TUWUNEL));

      if (cases[i].server_version != NULL)
        {
          assert_ok (admin, 200);
          g_assert_cmpstr (jstr (admin->json, "server_version"), ==, cases[i].server_version);
          /* python_version went in Synapse 1.94 */
          g_assert_true (json_object_object_get_ex (admin->json, "python_version", NULL)
                         == (cases[i].flavour == TEST_HOMESERVER_SYNAPSE));
        }
      else
        assert_error (admin, 404, "M_UNRECOGNIZED");

      for (guint j = 0; j < G_N_ELEMENTS (brands); j++)
        {
          g_autoptr(Response) brand = http (hs, "GET", brands[j], NULL, NULL);

          if (g_strcmp0 (brands[j], cases[i].brand_path) == 0)
            {
              assert_ok (brand, 200);
              g_assert_cmpstr (jstr (brand->json, "name"), ==, cases[i].name);
              g_assert_cmpstr (jstr (brand->json, "version"), ==, cases[i].version);
            }
          else
            assert_error (brand, 404, "M_UNRECOGNIZED");
        }

      assert_ok (versions, 200);
      g_assert_true (string_array_has (jget (versions->json, "versions"), "v1.1"));
      g_assert_true (string_array_has (jget (versions->json, "versions"), "v1.12")
                     == (cases[i].flavour != TEST_HOMESERVER_SYNAPSE && cases[i].flavour != TEST_HOMESERVER_DENDRITE
                         && cases[i].flavour != TEST_HOMESERVER_CONDUIT));
    }
}

/* Conduit and continuwuity have no /_synapse at all; Tuwunel answers what
 * it does not serve its own way */
static void
test_flavour_unserved (void)
{
  static const struct {
    const gchar *method;
    const gchar *path;
    const gchar *body;
  } admin_calls[] = {
    { "GET", "/_synapse/admin/v1/register", NULL },
    { "POST", "/_synapse/admin/v1/register", "{}" },
    { "GET", "/_synapse/admin/v1/users/%40admin%3Aexample.test/admin", NULL },
    { "GET", "/_synapse/admin/v2/users/%40alice%3Aexample.test", NULL },
    { "PUT", "/_synapse/admin/v2/users/%40bob%3Aexample.test", "{\"password\":\"x\"}" },
    { "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", "{}" },
    { "POST", "/_synapse/admin/v1/deactivate/%40alice%3Aexample.test", "{}" },
    { "GET", TOKENS_PATH, NULL },
    { "POST", TOKENS_PATH "/new", "{}" },
  };
  static const struct {
    TestHomeserverFlavour flavour;
    const gchar *not_found;
  } cases[] = {
    { TEST_HOMESERVER_CONDUIT, "Unrecognized request" },
    { TEST_HOMESERVER_CONTINUWUITY, "not found :(" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (cases[i].flavour);
      g_autofree gchar *admin = login (hs, "admin", "adminpw");
      g_autoptr(Response) password = http (hs, "POST", "/_matrix/client/v3/account/password", admin, "{}");

      test_homeserver_set_registration_secret (hs, SECRET);
      for (guint j = 0; j < G_N_ELEMENTS (admin_calls); j++)
        {
          g_autoptr(Response) resp = http (hs, admin_calls[j].method, admin_calls[j].path, admin, admin_calls[j].body);
          assert_error_text (resp, 404, "M_UNRECOGNIZED", cases[i].not_found);
        }
      g_assert_false (test_homeserver_user_exists (hs, BOB));
      g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 0);
      /* account/password is modelled for Synapse only */
      assert_error (password, 404, "M_UNRECOGNIZED");
    }

  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
    g_autofree gchar *admin = login (hs, "admin", "adminpw");
    g_autofree gchar *alice = login (hs, "alice", "alicepw");
    g_autoptr(Response) unserved = http (hs, "GET", "/_synapse/admin/v1/users/%40alice%3Aexample.test/shadow_ban",
                                         admin, NULL);
    g_autoptr(Response) client = http (hs, "GET", "/_matrix/client/v3/nonsense", admin, NULL);
    g_autoptr(Response) planned = http (hs, "PUT", "/_synapse/admin/v1/users/%40alice%3Aexample.test/admin", admin,
                                        "{\"admin\":true}");
    g_autoptr(Response) not_admin = http (hs, "GET", "/_synapse/admin/v2/users/%40admin%3Aexample.test", alice, NULL);

    assert_error_text (unserved, 404, "M_UNRECOGNIZED", "Not Found");
    assert_error_text (client, 404, "M_UNRECOGNIZED", "Not Found");
    assert_error_text (planned, 405, "M_UNRECOGNIZED", "Method Not Allowed");
    g_assert_false (test_homeserver_user_is_admin (hs, ALICE));
    assert_error_text (not_admin, 403, "M_FORBIDDEN", "Only server administrators can use this endpoint");
  }
}

static void
test_flavour_well_known (void)
{
  static const struct {
    TestHomeserverFlavour flavour;
    const gchar *errcode;
    const gchar *text;
  } cases[] = {
    { TEST_HOMESERVER_SYNAPSE_LATEST, "M_NOT_FOUND", ".well-known not available" },
    { TEST_HOMESERVER_CONTINUWUITY, "M_NOT_FOUND",
      "This server is not configured to serve well-known client information." },
    { TEST_HOMESERVER_TUWUNEL, "M_NOT_FOUND", "Not found." },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (cases[i].flavour);
      g_autoptr(Response) absent = http (hs, "GET", "/.well-known/matrix/client", NULL, NULL);

      assert_error_text (absent, 404, cases[i].errcode, cases[i].text);
    }
}

/* ------------------------------------------------------------------------ */
/* synapse-latest (backends-2026.md section 4) */

#define PUT_CAROL "/_synapse/admin/v2/users/%40carol%3Aexample.test"
#define GET_ALICE "/_synapse/admin/v2/users/%40alice%3Aexample.test"

static void
test_latest_put_user (void)
{
  static const struct {
    const gchar *body;
    const gchar *errcode;
    const gchar *text;
  } refused[] = {
    { "{\"admin\":1}", "M_BAD_JSON", "Param 'admin' must be a boolean, if given" },
    { "{\"admin\":null}", "M_BAD_JSON", "Param 'admin' must be a boolean, if given" },
    { "{\"deactivated\":0}", "M_UNKNOWN", "'deactivated' parameter is not of type boolean" },
    { "{\"logout_devices\":\"no\"}", "M_UNKNOWN", "'logout_devices' parameter is not of type boolean" },
    { "{\"locked\":1}", "M_UNKNOWN", "'locked' parameter is not of type boolean" },
    { "{\"password\":42}", "M_UNKNOWN", "Invalid password" },
    { "{\"deactivated\":true,\"locked\":true}", "M_UNKNOWN", "An user can't be deactivated and locked" },
  };
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) created = NULL;
  g_autoptr(Response) got = NULL;
  g_autoptr(Response) locked = NULL;
  json_object *value;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(Response) resp = http (hs, "PUT", PUT_CAROL, admin, refused[i].body);
      assert_error_text (resp, 400, refused[i].errcode, refused[i].text);
    }
  g_assert_false (test_homeserver_user_exists (hs, "@carol:example.test"));

  created = http (hs, "PUT", PUT_CAROL, admin, "{\"password\":\"carolpw\",\"admin\":false}");
  assert_ok (created, 201);
  /* booleans since 1.93, and locked since 1.91 */
  value = jget (created->json, "admin");
  g_assert_true (json_object_is_type (value, json_type_boolean));
  g_assert_true (json_object_is_type (jget (created->json, "deactivated"), json_type_boolean));
  g_assert_true (json_object_is_type (jget (created->json, "locked"), json_type_boolean));

  got = http (hs, "GET", GET_ALICE, admin, NULL);
  assert_ok (got, 200);
  g_assert_true (json_object_is_type (jget (got->json, "admin"), json_type_boolean));
  g_assert_false (json_object_get_boolean (jget (got->json, "admin")));
  g_assert_true (json_object_is_type (jget (got->json, "deactivated"), json_type_boolean));
  g_assert_false (json_object_get_boolean (jget (got->json, "locked")));

  locked = http (hs, "PUT", PUT_CAROL, admin, "{\"locked\":true}");
  assert_ok (locked, 200);
  g_assert_true (json_object_get_boolean (jget (locked->json, "locked")));
  g_assert_true (test_homeserver_user_is_locked (hs, "@carol:example.test"));
}

/* 1.67 keeps the integers, and refuses the non-booleans it knows */
static void
test_synapse_1_67_user_integers (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) got = http (hs, "GET", GET_ALICE, admin, NULL);

  g_autoptr(Response) admin_int = http (hs, "PUT", PUT_CAROL, admin, "{\"admin\":1}");
  g_autoptr(Response) deactivated_int = http (hs, "PUT", PUT_CAROL, admin, "{\"deactivated\":0}");
  g_autoptr(Response) logout_str = http (hs, "PUT", PUT_CAROL, admin, "{\"logout_devices\":\"no\"}");

  assert_ok (got, 200);
  g_assert_true (json_object_is_type (jget (got->json, "admin"), json_type_int));
  g_assert_true (json_object_is_type (jget (got->json, "deactivated"), json_type_int));
  g_assert_false (json_object_object_get_ex (got->json, "locked", NULL));
  assert_error_text (admin_int, 400, "M_BAD_JSON", "Param 'admin' must be a boolean, if given");
  assert_error_text (deactivated_int, 400, "M_UNKNOWN", "'deactivated' parameter is not of type boolean");
  assert_error_text (logout_str, 400, "M_UNKNOWN", "'logout_devices' parameter is not of type boolean");
  g_assert_false (test_homeserver_user_exists (hs, "@carol:example.test"));
}

static void
test_latest_login_as (void)
{
  g_autoptr(TestHomeserver) old = start_flavour (TEST_HOMESERVER_SYNAPSE);
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autofree gchar *old_admin = login (old, "admin", "adminpw");
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) old_missing = http (old, "POST", "/_synapse/admin/v1/users/%40nobody%3Aexample.test/login",
                                          old_admin, "{}");
  g_autoptr(Response) missing = http (hs, "POST", "/_synapse/admin/v1/users/%40nobody%3Aexample.test/login",
                                      admin, "{}");
  g_autoptr(Response) alice = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin, "{}");

  /* < 1.149 hands out a useless token */
  assert_ok (old_missing, 200);
  assert_error_text (missing, 404, "M_NOT_FOUND", "User not found");
  assert_ok (alice, 200);
  /* still a puppet token without a device */
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 1);
}

static void
test_latest_retry_after (void)
{
  g_autoptr(TestHomeserver) old = test_homeserver_new ("example.test");
  g_autoptr(TestHomeserver) hs = test_homeserver_new ("example.test");
  g_autofree gchar *body = password_body ("admin", "adminpw");
  g_autoptr(GError) error = NULL;
  g_autoptr(Response) old_limited = NULL;
  g_autoptr(Response) limited = NULL;

  test_homeserver_add_user (old, "admin", "adminpw", TRUE);
  test_homeserver_add_user (hs, "admin", "adminpw", TRUE);
  test_homeserver_set_flavour (hs, TEST_HOMESERVER_SYNAPSE_LATEST);
  g_assert_true (test_homeserver_start (old, &error));
  g_assert_true (test_homeserver_start (hs, &error));
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(Response) resp = http (old, "POST", "/_matrix/client/v3/login", NULL, body);
      assert_ok (resp, 200);
    }
  old_limited = http (old, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_error (old_limited, 429, "M_LIMIT_EXCEEDED");
  g_assert_null (old_limited->retry_after);

  /* 1.79+: burst 5, then one per ~333 s; 1.103+: Retry-After */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
      assert_ok (resp, 200);
    }
  limited = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_error (limited, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpint (json_object_get_int64 (jget (limited->json, "retry_after_ms")), >, 300000);
  g_assert_cmpint (json_object_get_int64 (jget (limited->json, "retry_after_ms")), <=, 333334);
  g_assert_nonnull (limited->retry_after);
  g_assert_cmpint (g_ascii_strtoll (limited->retry_after, NULL, 10), ==,
                   (json_object_get_int64 (jget (limited->json, "retry_after_ms")) + 999) / 1000);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ADMIN), ==, 5);

  /* the switch still works */
  test_homeserver_set_login_rate_limit (hs, FALSE);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
      assert_ok (resp, 200);
    }
}

/* the per-address limiter counts every account; the failed attempts one
 * refuses after three wrong passwords, even the right one */
static void
test_latest_login_limits (void)
{
  g_autoptr(TestHomeserver) hs = test_homeserver_new ("example.test");
  g_autofree gchar *wrong = password_body ("alice", "nope");
  g_autofree gchar *right = password_body ("alice", "alicepw");
  g_autoptr(GError) error = NULL;
  g_autoptr(Response) refused = NULL;
  g_autoptr(Response) address = NULL;

  test_homeserver_add_user (hs, "alice", "alicepw", FALSE);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("user%u", i);
      test_homeserver_add_user (hs, name, "pw", FALSE);
    }
  test_homeserver_set_flavour (hs, TEST_HOMESERVER_SYNAPSE_LATEST);
  g_assert_true (test_homeserver_start (hs, &error));

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(Response) resp = http (hs, "POST", "/_matrix/client/v3/login", NULL, wrong);
      assert_error (resp, 403, "M_FORBIDDEN");
    }
  refused = http (hs, "POST", "/_matrix/client/v3/login", NULL, right);
  assert_error (refused, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpint (json_object_get_int64 (jget (refused->json, "retry_after_ms")), <=, 6000);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);

  /* five attempts from this address so far: the sixth is refused, whoever it is for */
  {
    g_autofree gchar *other = password_body ("user0", "pw");
    g_autoptr(Response) fifth = http (hs, "POST", "/_matrix/client/v3/login", NULL, other);
    assert_ok (fifth, 200);
  }
  {
    g_autofree gchar *other = password_body ("user1", "pw");
    address = http (hs, "POST", "/_matrix/client/v3/login", NULL, other);
  }
  assert_error (address, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpint (json_object_get_int64 (jget (address->json, "retry_after_ms")), >, 300000);
}

static void
test_latest_locked (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *alice2 = login (hs, "alice", "alicepw");
  g_autofree gchar *body = password_body ("alice", "alicepw");
  g_autoptr(Response) lock = NULL;
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) relogin = NULL;
  g_autoptr(Response) logout = NULL;
  g_autoptr(Response) unlocked = NULL;
  g_autoptr(Response) details = NULL;

  lock = http (hs, "PUT", "/_synapse/admin/v2/users/%40alice%3Aexample.test", admin, "{\"locked\":true}");
  assert_ok (lock, 200);
  g_assert_true (test_homeserver_user_is_locked (hs, ALICE));
  details = http (hs, "GET", GET_ALICE, admin, NULL);
  g_assert_true (json_object_get_boolean (jget (details->json, "locked")));

  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice, NULL);
  assert_error_text (whoami, 401, "M_USER_LOCKED", "User account has been locked");
  g_assert_true (json_object_get_boolean (jget (whoami->json, "soft_logout")));
  relogin = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_error (relogin, 401, "M_USER_LOCKED");
  /* logging out is still allowed */
  logout = http (hs, "POST", "/_matrix/client/v3/logout", alice2, "{}");
  assert_ok (logout, 200);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 1);

  test_homeserver_set_user_locked (hs, ALICE, FALSE);
  unlocked = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice, NULL);
  assert_ok (unlocked, 200);
}

/* the lock is stored but has no effect on 1.67 */
static void
test_synapse_1_67_no_lock (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autoptr(Response) whoami = NULL;

  test_homeserver_set_user_locked (hs, ALICE, TRUE);
  g_assert_true (test_homeserver_user_is_locked (hs, ALICE));
  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice, NULL);
  assert_ok (whoami, 200);
}

static void
test_latest_room_creation_limit (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) limited = NULL;
  g_autoptr(Response) other = NULL;
  g_autoptr(Response) off = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  for (guint i = 0; i < 10; i++)
    g_free (create_room (hs, alice, "{}"));
  limited = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{}");
  assert_error (limited, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpint (json_object_get_int64 (jget (limited->json, "retry_after_ms")), >, 60000);
  g_assert_cmpint (json_object_get_int64 (jget (limited->json, "retry_after_ms")), <=, 62500);
  g_assert_nonnull (limited->retry_after);
  rooms = test_homeserver_list_rooms (hs);
  g_assert_cmpuint (rooms->len, ==, 10);
  /* per user */
  other = http (hs, "POST", "/_matrix/client/v3/createRoom", admin, "{}");
  assert_ok (other, 200);
  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_ROOM_CREATION, FALSE);
  off = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{}");
  assert_ok (off, 200);
}

static void
test_latest_room_ids (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autoptr(TestHomeserver) old = start_flavour (TEST_HOMESERVER_SYNAPSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *old_alice = login (old, "alice", "alicepw");
  g_autofree gchar *room_id = create_room (hs, alice, "{\"preset\":\"private_chat\"}");
  g_autofree gchar *v10 = create_room (hs, alice, "{\"room_version\":\"10\"}");
  g_autofree gchar *old_room = create_room (old, old_alice, "{}");
  g_autofree gchar *escaped = g_uri_escape_string (room_id, NULL, FALSE);
  g_autofree gchar *admin_path = g_strconcat ("/_synapse/admin/v1/rooms/", escaped, NULL);
  g_autoptr(json_object) create = test_homeserver_room_get_state (hs, room_id, "m.room.create", "");
  g_autoptr(json_object) pl = test_homeserver_room_get_state (hs, room_id, "m.room.power_levels", "");
  g_autoptr(json_object) v10_create = test_homeserver_room_get_state (hs, v10, "m.room.create", "");
  g_autoptr(Response) details = NULL;
  g_autoptr(Response) deleted = NULL;
  g_autoptr(Response) unknown_version = NULL;

  /* "!" and 43 characters of URL-safe base64, no server part */
  g_assert_cmpuint (strlen (room_id), ==, 44);
  g_assert_true (room_id[0] == '!');
  g_assert_null (strchr (room_id, ':'));
  for (const gchar *p = room_id + 1; *p != '\0'; p++)
    g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');
  g_assert_cmpstr (jstr (create, "room_version"), ==, "12");
  g_assert_false (json_object_object_get_ex (create, "creator", NULL));
  /* the creator's power is infinite: not in users */
  g_assert_false (json_object_object_get_ex (jget (pl, "users"), ALICE, NULL));
  g_assert_cmpint (json_object_get_int (jget (jget (pl, "events"), "m.room.tombstone")), ==, 150);
  g_assert_true (test_homeserver_room_is_joined (hs, room_id, ALICE));

  g_assert_true (g_str_has_suffix (v10, ":example.test"));
  g_assert_cmpstr (jstr (v10_create, "creator"), ==, ALICE);
  g_assert_true (g_str_has_suffix (old_room, ":example.test"));

  details = http (hs, "GET", admin_path, admin, NULL);
  assert_ok (details, 200);
  g_assert_cmpstr (jstr (details->json, "room_id"), ==, room_id);
  deleted = http (hs, "DELETE", admin_path, admin, "{\"purge\":true}");
  assert_ok (deleted, 200);
  g_assert_false (test_homeserver_room_exists (hs, room_id));

  unknown_version = http (hs, "POST", "/_matrix/client/v3/createRoom", alice, "{\"room_version\":\"13\"}");
  assert_error (unknown_version, 400, "M_UNSUPPORTED_ROOM_VERSION");
}

/* ------------------------------------------------------------------------ */
/* Registration with a token (backends-2026.md section 2) */

/* a /register body: username, password, the device fields, and `auth`
 * (JSON text) when not NULL */
static gchar *
client_register_body (const gchar *username, const gchar *password, const gchar *auth)
{
  g_autoptr(GString) body = g_string_new ("{");

  if (username != NULL)
    g_string_append_printf (body, "\"username\":\"%s\",", username);
  if (password != NULL)
    g_string_append_printf (body, "\"password\":\"%s\",", password);
  g_string_append (body, "\"initial_device_display_name\":\"phone\"");
  if (auth != NULL)
    g_string_append_printf (body, ",\"auth\":%s", auth);
  g_string_append_c (body, '}');
  return g_string_free (g_steal_pointer (&body), FALSE);
}

static gchar *
token_auth (const gchar *token, const gchar *session)
{
  if (session == NULL)
    return g_strdup_printf ("{\"type\":\"m.login.registration_token\",\"token\":\"%s\"}", token);
  return g_strdup_printf ("{\"type\":\"m.login.registration_token\",\"token\":\"%s\",\"session\":\"%s\"}",
                          token, session);
}

static gchar *
dummy_auth (const gchar *session)
{
  return g_strdup_printf ("{\"type\":\"m.login.dummy\",\"session\":\"%s\"}", session);
}

/* the stages of the challenge's only flow, as a GStrv */
static gchar **
only_flow (Response *resp)
{
  json_object *flows = jget (resp->json, "flows");
  json_object *stages;
  GPtrArray *ret = g_ptr_array_new ();

  g_assert_cmpuint (json_object_array_length (flows), ==, 1);
  stages = jget (json_object_array_get_idx (flows, 0), "stages");
  for (gsize i = 0; i < json_object_array_length (stages); i++)
    g_ptr_array_add (ret, g_strdup (json_object_get_string (json_object_array_get_idx (stages, i))));
  g_ptr_array_add (ret, NULL);
  return (gchar **) g_ptr_array_free (ret, FALSE);
}

static void
assert_uia (Response *resp, const gchar *errcode)
{
  if (resp->code != CURLE_OK || resp->status != 401)
    g_error ("expected a 401 challenge, got curl %d HTTP %ld: %s", resp->code, resp->status, resp->body->str);
  g_assert_nonnull (jstr (resp->json, "session"));
  g_assert_true (json_object_is_type (jget (resp->json, "flows"), json_type_array));
  g_assert_cmpstr (jstr (resp->json, "errcode"), ==, errcode);
}

/* The sequence all five servers accept (end of backends-2026.md 2.5): the
 * full body without auth, to read the session and flows; the full body
 * with the token stage and the session; if the answer lists the token as
 * completed and the flow needs m.login.dummy as well, the full body with
 * that. Returns the final answer. */
static Response *
register_with_token (TestHomeserver *hs, const gchar *username, const gchar *password, const gchar *token)
{
  g_autofree gchar *first_body = client_register_body (username, password, NULL);
  g_autoptr(Response) first = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, first_body);
  g_autofree gchar *session = NULL;
  g_autofree gchar *auth = NULL;
  g_autofree gchar *second_body = NULL;
  g_auto(GStrv) stages = NULL;
  Response *second;

  assert_uia (first, NULL);
  session = g_strdup (jstr (first->json, "session"));
  stages = only_flow (first);
  g_assert_true (g_strv_contains ((const gchar *const *) stages, "m.login.registration_token"));
  auth = token_auth (token, session);
  second_body = client_register_body (username, password, auth);
  second = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, second_body);
  if (second->status == 401 && string_array_has (jget (second->json, "completed"), "m.login.registration_token")
      && g_strv_contains ((const gchar *const *) stages, "m.login.dummy"))
    {
      g_autofree gchar *dummy = dummy_auth (session);
      g_autofree gchar *third_body = client_register_body (username, password, dummy);

      response_free (second);
      second = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, third_body);
    }
  return second;
}

/* backends-2026.md 2.2, step by step, on both Synapse flavours */
static void
test_register_synapse_steps (void)
{
  const TestHomeserverFlavour flavours[] = { TEST_HOMESERVER_SYNAPSE, TEST_HOMESERVER_SYNAPSE_LATEST };

  for (guint f = 0; f < G_N_ELEMENTS (flavours); f++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (flavours[f]);
      g_autofree gchar *body = client_register_body ("Carol", "carolpw", NULL);
      g_autofree gchar *session = NULL;
      g_autofree gchar *token = NULL;
      g_autofree gchar *token_body = NULL;
      g_autofree gchar *dummy = NULL;
      g_autofree gchar *dummy_body = NULL;
      g_autofree gchar *dn = NULL;
      g_autofree gchar *login_body = password_body ("carol", "carolpw");
      g_autoptr(Response) off = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);
      g_autoptr(Response) step1 = NULL;
      g_autoptr(Response) step2 = NULL;
      g_autoptr(Response) step3 = NULL;
      g_autoptr(Response) relogin = NULL;
      g_auto(GStrv) stages = NULL;
      guint pending = 99, completed = 99;

      assert_error_text (off, 403, "M_FORBIDDEN", "Registration has been disabled");
      test_homeserver_add_registration_token (hs, "tok", 0);

      /* 1: no auth, the flows and a session, no "completed" yet */
      step1 = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);
      assert_uia (step1, NULL);
      stages = only_flow (step1);
      g_assert_cmpuint (g_strv_length (stages), ==, 2);
      g_assert_cmpstr (stages[0], ==, "m.login.registration_token");
      g_assert_cmpstr (stages[1], ==, "m.login.dummy");
      g_assert_true (json_object_is_type (jget (step1->json, "params"), json_type_object));
      g_assert_false (json_object_object_get_ex (step1->json, "completed", NULL));
      session = g_strdup (jstr (step1->json, "session"));

      /* 2: the token, pending + 1 */
      token = token_auth ("tok", session);
      token_body = client_register_body ("Carol", "carolpw", token);
      step2 = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, token_body);
      assert_uia (step2, NULL);
      g_assert_cmpstr (jstr (step2->json, "session"), ==, session);
      g_assert_true (string_array_has (jget (step2->json, "completed"), "m.login.registration_token"));
      g_assert_true (test_homeserver_get_registration_token_uses (hs, "tok", &pending, &completed));
      g_assert_cmpuint (pending, ==, 1);
      g_assert_cmpuint (completed, ==, 0);
      g_assert_false (test_homeserver_user_exists (hs, "@carol:example.test"));

      /* 3: dummy, the account (lowercased), completed + 1, pending - 1 */
      dummy = dummy_auth (session);
      dummy_body = client_register_body ("Carol", "carolpw", dummy);
      step3 = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, dummy_body);
      assert_ok (step3, 200);
      g_assert_cmpstr (jstr (step3->json, "user_id"), ==, "@carol:example.test");
      g_assert_cmpstr (jstr (step3->json, "home_server"), ==, "example.test");
      g_assert_nonnull (jstr (step3->json, "access_token"));
      g_assert_nonnull (jstr (step3->json, "device_id"));
      test_homeserver_get_registration_token_uses (hs, "tok", &pending, &completed);
      g_assert_cmpuint (pending, ==, 0);
      g_assert_cmpuint (completed, ==, 1);
      dn = test_homeserver_get_device_display_name (hs, "@carol:example.test", jstr (step3->json, "device_id"));
      g_assert_cmpstr (dn, ==, "phone");
      relogin = http (hs, "POST", "/_matrix/client/v3/login", NULL, login_body);
      assert_ok (relogin, 200);
    }
}

static void
test_register_synapse_errors (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE);
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *taken_body = client_register_body ("alice", "pw", NULL);
  g_autofree gchar *bad_name_body = client_register_body ("bad!name", "pw", NULL);
  g_autofree gchar *plain = client_register_body ("dave", "davepw", NULL);
  g_autofree gchar *session = NULL;
  g_autofree gchar *other_session = NULL;
  g_autoptr(Response) taken = NULL;
  g_autoptr(Response) bad_name = NULL;
  g_autoptr(Response) bad_password = NULL;
  g_autoptr(Response) with_token = NULL;
  g_autoptr(Response) start = NULL;
  g_autoptr(Response) start2 = NULL;
  guint pending = 99, completed = 99;

  test_homeserver_add_registration_token (hs, "once", 1);
  test_homeserver_add_registration_token (hs, "free", 0);

  /* before any UIA: no token is spent on these */
  taken = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, taken_body);
  assert_error_text (taken, 400, "M_USER_IN_USE", "User ID already taken.");
  bad_name = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, bad_name_body);
  assert_error (bad_name, 400, "M_INVALID_USERNAME");
  bad_password = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, "{\"username\":\"dave\",\"password\":42}");
  assert_error_text (bad_password, 400, "M_UNKNOWN", "Invalid password");
  with_token = http (hs, "POST", CLIENT_REGISTER_PATH, alice, plain);
  assert_error (with_token, 400, "M_UNKNOWN");

  start = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, plain);
  assert_uia (start, NULL);
  session = g_strdup (jstr (start->json, "session"));

  /* stage failures are the challenge again, with the error */
  {
    static const struct {
      const gchar *token_member; /* the auth dict's "token" member, or "" */
      const gchar *errcode;
      const gchar *error;
    } failures[] = {
      { "\"token\":\"nope\",", "M_UNAUTHORIZED", "Invalid registration token" },
      { "", "M_MISSING_PARAM", "Missing registration token" },
      { "\"token\":5,", "M_INVALID_PARAM", "Registration token must be a string" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
      {
        g_autofree gchar *auth = g_strdup_printf ("{\"type\":\"m.login.registration_token\",%s\"session\":\"%s\"}",
                                                  failures[i].token_member, session);
        g_autofree gchar *body = client_register_body ("dave", "davepw", auth);
        g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

        assert_uia (resp, failures[i].errcode);
        g_assert_cmpstr (jstr (resp->json, "error"), ==, failures[i].error);
      }
  }
  /* the token stage reads its session from the auth dict */
  {
    g_autofree gchar *auth = token_auth ("free", NULL);
    g_autofree gchar *body = client_register_body ("dave", "davepw", auth);
    g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

    assert_uia (resp, "M_MISSING_PARAM");
    g_assert_cmpstr (jstr (resp->json, "error"), ==, "Missing UIA session");
  }
  /* an unknown session */
  {
    g_autofree gchar *auth = token_auth ("free", "nosuchsession");
    g_autofree gchar *body = client_register_body ("dave", "davepw", auth);
    g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

    assert_error_text (resp, 400, "M_UNKNOWN", "Unknown session ID: nosuchsession");
  }
  /* the one use of "once" is pending in this session... */
  {
    g_autofree gchar *auth = token_auth ("once", session);
    g_autofree gchar *body = client_register_body ("dave", "davepw", auth);
    g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

    assert_uia (resp, NULL);
    test_homeserver_get_registration_token_uses (hs, "once", &pending, &completed);
    g_assert_cmpuint (pending, ==, 1);
  }
  /* ...so another session cannot have it, and this one cannot change it */
  {
    g_autofree gchar *auth = NULL;
    g_autofree gchar *body = NULL;
    g_autofree gchar *changed_auth = token_auth ("free", session);
    g_autofree gchar *changed_body = client_register_body ("dave", "davepw", changed_auth);
    g_autoptr(Response) resp = NULL;
    g_autoptr(Response) changed = NULL;

    start2 = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, plain);
    other_session = g_strdup (jstr (start2->json, "session"));
    auth = token_auth ("once", other_session);
    body = client_register_body ("dave", "davepw", auth);
    resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);
    assert_uia (resp, "M_UNAUTHORIZED");
    changed = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, changed_body);
    assert_uia (changed, "M_INVALID_PARAM");
    g_assert_cmpstr (jstr (changed->json, "error"), ==, "Registration token has changed");
  }
  /* the session expires: its pending use comes back */
  g_assert_cmpuint (test_homeserver_count_uia_sessions (hs), >, 0);
  test_homeserver_expire_uia_sessions (hs);
  g_assert_cmpuint (test_homeserver_count_uia_sessions (hs), ==, 0);
  test_homeserver_get_registration_token_uses (hs, "once", &pending, &completed);
  g_assert_cmpuint (pending, ==, 0);
  g_assert_cmpuint (completed, ==, 0);

  /* uses_allowed 0 is unlimited: several accounts on "free" */
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("free%u", i);
      g_autoptr(Response) done = register_with_token (hs, name, "pw", "free");
      assert_ok (done, 200);
    }
  test_homeserver_get_registration_token_uses (hs, "free", &pending, &completed);
  g_assert_cmpuint (completed, ==, 2);
}

/* inhibit_login, device_id, the password kept in the session, and the
 * account built from the session's parameters */
static void
test_register_synapse_details (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE);
  g_autoptr(Response) start = NULL;
  g_autoptr(Response) token_step = NULL;
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) again = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *body = NULL;
  g_autofree gchar *auth = NULL;
  g_autofree gchar *dummy = NULL;
  g_autofree gchar *final = NULL;
  g_autofree gchar *pw = NULL;

  test_homeserver_add_registration_token (hs, "tok", 0);
  start = http (hs, "POST", CLIENT_REGISTER_PATH, NULL,
                "{\"username\":\"erin\",\"password\":\"erinpw\",\"device_id\":\"ERINDEV\",\"inhibit_login\":true}");
  assert_uia (start, NULL);
  session = g_strdup (jstr (start->json, "session"));
  auth = token_auth ("tok", session);
  body = g_strdup_printf ("{\"auth\":%s}", auth);
  token_step = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);
  assert_uia (token_step, NULL);
  /* only auth: the stored parameters and password are used */
  dummy = dummy_auth (session);
  final = g_strdup_printf ("{\"auth\":%s}", dummy);
  done = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, final);
  assert_ok (done, 200);
  g_assert_cmpstr (jstr (done->json, "user_id"), ==, "@erin:example.test");
  g_assert_cmpstr (jstr (done->json, "home_server"), ==, "example.test");
  g_assert_false (json_object_object_get_ex (done->json, "access_token", NULL));
  g_assert_false (json_object_object_get_ex (done->json, "device_id", NULL));
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@erin:example.test"), ==, 0);
  pw = test_homeserver_get_user_password (hs, "@erin:example.test");
  g_assert_cmpstr (pw, ==, "erinpw");

  /* a session that registered already answers for the same account */
  again = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, final);
  assert_ok (again, 200);
  g_assert_cmpstr (jstr (again->json, "user_id"), ==, "@erin:example.test");
  g_assert_cmpuint (test_homeserver_count_users (hs), ==, 3);

  /* device_id names the device */
  {
    g_autoptr(Response) open_start = NULL;
    g_autoptr(Response) open_done = NULL;
    g_autofree gchar *open_session = NULL;
    g_autofree gchar *open_dummy = NULL;
    g_autofree gchar *open_body = NULL;

    test_homeserver_set_registration (hs, TEST_REGISTRATION_OPEN);
    open_start = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, "{\"username\":\"frank\",\"password\":\"pw\"}");
    assert_uia (open_start, NULL);
    {
      g_auto(GStrv) stages = only_flow (open_start);
      g_assert_cmpuint (g_strv_length (stages), ==, 1);
      g_assert_cmpstr (stages[0], ==, "m.login.dummy");
    }
    open_session = g_strdup (jstr (open_start->json, "session"));
    open_dummy = dummy_auth (open_session);
    open_body = g_strdup_printf ("{\"username\":\"frank\",\"password\":\"pw\",\"device_id\":\"FRANKDEV\",\"auth\":%s}",
                                 open_dummy);
    open_done = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, open_body);
    assert_ok (open_done, 200);
    g_assert_cmpstr (jstr (open_done->json, "device_id"), ==, "FRANKDEV");
  }
}

/* rc_registration: burst 3 per address, checked on every POST and spent
 * by each account made */
static void
test_register_synapse_rate_limit (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autoptr(Response) limited = NULL;

  test_homeserver_add_registration_token (hs, "tok", 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("user%u", i);
      g_autoptr(Response) done = register_with_token (hs, name, "pw", "tok");
      assert_ok (done, 200);
    }
  /* even the first step of a new registration is refused now */
  limited = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, "{\"username\":\"user3\",\"password\":\"pw\"}");
  assert_error (limited, 429, "M_LIMIT_EXCEEDED");
  g_assert_cmpint (json_object_get_int64 (jget (limited->json, "retry_after_ms")), >, 0);
  g_assert_cmpint (json_object_get_int64 (jget (limited->json, "retry_after_ms")), <=, 5882);
  g_assert_nonnull (limited->retry_after);
  test_homeserver_set_rate_limit (hs, TEST_RATE_LIMIT_REGISTRATION, FALSE);
  {
    g_autoptr(Response) done = register_with_token (hs, "user3", "pw", "tok");
    assert_ok (done, 200);
  }
}

/* backends-2026.md 2.5, server by server */
static void
test_register_conduit_family (void)
{
  static const struct {
    TestHomeserverFlavour flavour;
    const gchar *off_text;
    const gchar *bad_token_text;
    guint unknown_session_status;
    const gchar *unknown_session_errcode;
    const gchar *unknown_session_text;
    gboolean name_after_uia;
    guint completed_per_use; /* the token's counter after one account */
    const gchar *displayname;
  } cases[] = {
    { TEST_HOMESERVER_CONDUIT, "Registration has been disabled.", "Invalid registration token.", 403, "M_FORBIDDEN",
      "UIAA session does not exist.", FALSE, 0, "grace \xe2\x9a\xa1\xef\xb8\x8f" },
    { TEST_HOMESERVER_TUWUNEL, "Registration has been disabled.", "Invalid registration token.", 403, "M_FORBIDDEN",
      "UIAA session does not exist.", FALSE, 1, "grace \xf0\x9f\x92\x95" },
    { TEST_HOMESERVER_CONTINUWUITY, "This server is not accepting registrations at this time.",
      "Invalid registration token", 400, "M_INVALID_PARAM", "Invalid session", TRUE, 1,
      "grace \xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xe2\x9a\xa7\xef\xb8\x8f" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (cases[i].flavour);
      g_autofree gchar *plain = client_register_body ("grace", "gracepw", NULL);
      g_autofree gchar *taken_plain = client_register_body ("alice", "pw", NULL);
      g_autofree gchar *session = NULL;
      g_autofree gchar *dn = NULL;
      g_autoptr(Response) off = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, plain);
      g_autoptr(Response) start = NULL;
      g_autoptr(Response) done = NULL;
      g_auto(GStrv) stages = NULL;
      guint pending = 99, completed = 99;

      assert_error_text (off, 403, "M_FORBIDDEN", cases[i].off_text);
      test_homeserver_add_registration_token (hs, "tok", 0);

      start = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, plain);
      assert_uia (start, NULL);
      stages = only_flow (start);
      g_assert_cmpuint (g_strv_length (stages), ==, 1);
      g_assert_cmpstr (stages[0], ==, "m.login.registration_token");
      session = g_strdup (jstr (start->json, "session"));

      /* a bad token: 401 with the error, flattened */
      {
        g_autofree gchar *auth = token_auth ("nope", session);
        g_autofree gchar *body = client_register_body ("grace", "gracepw", auth);
        g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

        assert_uia (resp, "M_FORBIDDEN");
        g_assert_cmpstr (jstr (resp->json, "error"), ==, cases[i].bad_token_text);
      }
      /* a session nobody knows */
      {
        g_autofree gchar *auth = token_auth ("tok", "nosuchsession");
        g_autofree gchar *body = client_register_body ("grace", "gracepw", auth);
        g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

        assert_error_text (resp, cases[i].unknown_session_status, cases[i].unknown_session_errcode,
                           cases[i].unknown_session_text);
      }
      /* a stage no flow lists: continuwuity refuses it, the others take it
       * and complete nothing */
      {
        g_autofree gchar *auth = dummy_auth (session);
        g_autofree gchar *body = client_register_body ("grace", "gracepw", auth);
        g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

        if (cases[i].flavour == TEST_HOMESERVER_CONTINUWUITY)
          assert_error_text (resp, 400, "M_INVALID_PARAM", "No flows include the supplied stage");
        else
          {
            assert_uia (resp, NULL);
            g_assert_true (string_array_has (jget (resp->json, "completed"), "m.login.dummy"));
          }
      }
      /* a taken name: before UIA (nothing spent), or on continuwuity after
       * the token use was counted */
      {
        g_autofree gchar *auth = token_auth ("tok", NULL);
        g_autofree gchar *body = client_register_body ("alice", "pw", auth);
        g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);
        g_autoptr(Response) plain_taken = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, taken_plain);

        assert_error_text (resp, 400, "M_USER_IN_USE",
                           cases[i].name_after_uia ? "Username is not available." : "User ID is not available.");
        test_homeserver_get_registration_token_uses (hs, "tok", &pending, &completed);
        g_assert_cmpuint (completed, ==, cases[i].name_after_uia ? 1 : 0);
        if (cases[i].name_after_uia)
          assert_uia (plain_taken, NULL);
        else
          assert_error (plain_taken, 400, "M_USER_IN_USE");
      }
      if (cases[i].name_after_uia)
        {
          /* continuwuity: uppercase is not lowercased, so refused */
          g_autofree gchar *auth = token_auth ("tok", NULL);
          g_autofree gchar *body = client_register_body ("Grace", "gracepw", auth);
          g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

          assert_error (resp, 400, "M_INVALID_USERNAME");
          test_homeserver_add_registration_token (hs, "tok", 0); /* counters back to 0 */
        }

      /* the account is built from the final request's body */
      {
        g_autofree gchar *auth = token_auth ("tok", session);
        g_autofree gchar *body = client_register_body ("grace", "gracepw", auth);

        done = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);
      }
      assert_ok (done, 200);
      g_assert_cmpstr (jstr (done->json, "user_id"), ==, "@grace:example.test");
      g_assert_false (json_object_object_get_ex (done->json, "home_server", NULL));
      g_assert_nonnull (jstr (done->json, "access_token"));
      dn = test_homeserver_get_user_displayname (hs, "@grace:example.test");
      g_assert_cmpstr (dn, ==, cases[i].displayname);
      test_homeserver_get_registration_token_uses (hs, "tok", &pending, &completed);
      g_assert_cmpuint (pending, ==, 0);
      g_assert_cmpuint (completed, ==, cases[i].completed_per_use);
      /* the session is gone once complete */
      {
        g_autofree gchar *auth = token_auth ("tok", session);
        g_autofree gchar *body = client_register_body ("heidi", "pw", auth);
        g_autoptr(Response) resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, body);

        assert_error (resp, cases[i].unknown_session_status, cases[i].unknown_session_errcode);
      }
    }
}

/* continuwuity: no token, no flow, no registration; Conduit and Tuwunel
 * fall back to [[m.login.dummy]] */
static void
test_register_conduit_family_flows (void)
{
  static const TestHomeserverFlavour flavours[] = {
    TEST_HOMESERVER_CONDUIT, TEST_HOMESERVER_TUWUNEL, TEST_HOMESERVER_CONTINUWUITY,
  };

  for (guint i = 0; i < G_N_ELEMENTS (flavours); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (flavours[i]);
      g_autofree gchar *plain = client_register_body ("ivan", "ivanpw", NULL);
      g_autoptr(Response) resp = NULL;

      test_homeserver_set_registration (hs, TEST_REGISTRATION_TOKEN);
      resp = http (hs, "POST", CLIENT_REGISTER_PATH, NULL, plain);
      if (flavours[i] == TEST_HOMESERVER_CONTINUWUITY)
        assert_error_text (resp, 403, "M_FORBIDDEN", "This server is not accepting registrations at this time.");
      else
        {
          g_auto(GStrv) stages = NULL;

          assert_uia (resp, NULL);
          stages = only_flow (resp);
          g_assert_cmpstr (stages[0], ==, "m.login.dummy");
        }
    }
}

/* Tuwunel deletes a token it used up; a cap of 0 is spent at once there */
static void
test_register_tuwunel_token_use (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autoptr(Response) first = NULL;
  g_autoptr(Response) second = NULL;
  guint completed = 99;

  test_homeserver_add_registration_token (hs, "twice", 2);
  first = register_with_token (hs, "judy", "pw", "twice");
  assert_ok (first, 200);
  g_assert_true (test_homeserver_get_registration_token_uses (hs, "twice", NULL, &completed));
  g_assert_cmpuint (completed, ==, 1);
  second = register_with_token (hs, "kim", "pw", "twice");
  assert_ok (second, 200);
  g_assert_false (test_homeserver_get_registration_token_uses (hs, "twice", NULL, NULL));
}

/* the sequence of the end of 2.5, on each of the five servers */
static void
test_register_all_servers (void)
{
  static const TestHomeserverFlavour flavours[] = {
    TEST_HOMESERVER_SYNAPSE, TEST_HOMESERVER_SYNAPSE_LATEST, TEST_HOMESERVER_CONDUIT,
    TEST_HOMESERVER_CONTINUWUITY, TEST_HOMESERVER_TUWUNEL,
  };

  for (guint i = 0; i < G_N_ELEMENTS (flavours); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (flavours[i]);
      g_autofree gchar *body = password_body ("mallory", "mallorypw");
      g_autoptr(Response) done = NULL;
      g_autoptr(Response) relogin = NULL;

      test_homeserver_add_registration_token (hs, "s3cr3t-token", 1);
      done = register_with_token (hs, "mallory", "mallorypw", "s3cr3t-token");
      assert_ok (done, 200);
      g_assert_cmpstr (jstr (done->json, "user_id"), ==, "@mallory:example.test");
      g_assert_true (test_homeserver_user_exists (hs, "@mallory:example.test"));
      g_assert_cmpuint (test_homeserver_count_devices (hs, "@mallory:example.test"), ==, 1);
      relogin = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
      assert_ok (relogin, 200);
    }
}

/* GET /_matrix/client/v1/register/m.login.registration_token/validity */
static void
test_token_validity (void)
{
  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE);
    g_autoptr(Response) off = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    g_autoptr(Response) valid = NULL;
    g_autoptr(Response) invalid = NULL;
    g_autoptr(Response) missing = NULL;
    g_autoptr(Response) limited = NULL;

    assert_error_text (off, 403, "M_FORBIDDEN", "Registration has been disabled");
    test_homeserver_add_registration_token (hs, "tok", 1);
    valid = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    assert_ok (valid, 200);
    g_assert_true (json_object_get_boolean (jget (valid->json, "valid")));
    invalid = http (hs, "GET", VALIDITY_PATH "?token=nope", NULL, NULL);
    assert_ok (invalid, 200);
    g_assert_false (json_object_get_boolean (jget (invalid->json, "valid")));
    missing = http (hs, "GET", VALIDITY_PATH, NULL, NULL);
    assert_error (missing, 400, "M_MISSING_PARAM");
    /* rc_registration_token_validity: burst 5, and every check counts,
     * the refused ones too */
    {
      g_autoptr(Response) fifth = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
      assert_ok (fifth, 200);
    }
    limited = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    assert_error (limited, 429, "M_LIMIT_EXCEEDED");
  }
  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
    g_autoptr(Response) none = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    g_autoptr(Response) valid = NULL;

    assert_error_text (none, 403, "M_FORBIDDEN", "Server does not allow token registration");
    test_homeserver_add_registration_token (hs, "tok", 0);
    for (guint i = 0; i < 7; i++)
      {
        g_autoptr(Response) resp = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
        assert_ok (resp, 200);
      }
    valid = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    g_assert_true (json_object_get_boolean (jget (valid->json, "valid")));
  }
  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_CONTINUWUITY);
    g_autoptr(Response) none = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    g_autoptr(Response) valid = NULL;

    assert_ok (none, 200);
    g_assert_false (json_object_get_boolean (jget (none->json, "valid")));
    test_homeserver_add_registration_token (hs, "tok", 0);
    valid = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
    g_assert_true (json_object_get_boolean (jget (valid->json, "valid")));
  }
  {
    const TestHomeserverFlavour absent[] = { TEST_HOMESERVER_CONDUIT, TEST_HOMESERVER_DENDRITE };

    for (guint i = 0; i < G_N_ELEMENTS (absent); i++)
      {
        g_autoptr(TestHomeserver) hs = start_flavour (absent[i]);
        g_autoptr(Response) resp = NULL;

        test_homeserver_add_registration_token (hs, "tok", 0);
        resp = http (hs, "GET", VALIDITY_PATH "?token=tok", NULL, NULL);
        assert_error (resp, 404, "M_UNRECOGNIZED");
      }
  }
}

/* GET /_matrix/client/v3/register/available */
static void
test_register_available (void)
{
  static const struct {
    TestHomeserverFlavour flavour;
    const gchar *taken_text;
    gboolean upper_ok; /* Tuwunel and Conduit lowercase the name */
  } cases[] = {
    { TEST_HOMESERVER_SYNAPSE, "User ID already taken.", FALSE },
    { TEST_HOMESERVER_SYNAPSE_LATEST, "User ID already taken.", FALSE },
    { TEST_HOMESERVER_CONDUIT, "User ID is not available.", TRUE },
    { TEST_HOMESERVER_TUWUNEL, "User ID is not available.", TRUE },
    { TEST_HOMESERVER_CONTINUWUITY, "Username is not available.", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (cases[i].flavour);
      g_autoptr(Response) free_name = NULL;
      g_autoptr(Response) taken = NULL;
      g_autoptr(Response) bad = NULL;
      g_autoptr(Response) upper = NULL;

      test_homeserver_add_registration_token (hs, "tok", 0);
      free_name = http (hs, "GET", "/_matrix/client/v3/register/available?username=newbie", NULL, NULL);
      assert_ok (free_name, 200);
      g_assert_true (json_object_get_boolean (jget (free_name->json, "available")));
      taken = http (hs, "GET", "/_matrix/client/v3/register/available?username=alice", NULL, NULL);
      assert_error_text (taken, 400, "M_USER_IN_USE", cases[i].taken_text);
      bad = http (hs, "GET", "/_matrix/client/v3/register/available?username=bad%21name", NULL, NULL);
      assert_error (bad, 400, "M_INVALID_USERNAME");
      upper = http (hs, "GET", "/_matrix/client/v3/register/available?username=Newbie", NULL, NULL);
      if (cases[i].upper_ok)
        assert_ok (upper, 200);
      else
        assert_error (upper, 400, "M_INVALID_USERNAME");
    }
  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE);
    g_autoptr(Response) off = http (hs, "GET", "/_matrix/client/v3/register/available?username=newbie", NULL, NULL);

    assert_error_text (off, 403, "M_FORBIDDEN", "Registration has been disabled");
  }
}

/* the Synapse token admin API (backends-2026.md 2.4) */
static void
test_admin_tokens_synapse (void)
{
  static const struct {
    const gchar *body;
    const gchar *error;
  } refused[] = {
    { "{\"token\":5}", "token must be a string" },
    { "{\"token\":\"\"}", "token must not be empty and must not be longer than 64 characters" },
    { "{\"token\":\"a b\"}", "token must consist only of characters matched by the regex [A-Za-z0-9-_]" },
    { "{\"length\":0}", "length must be greater than zero and not greater than 64" },
    { "{\"length\":65}", "length must be greater than zero and not greater than 64" },
    { "{\"length\":\"8\"}", "length must be an integer" },
    { "{\"uses_allowed\":-1}", "uses_allowed must be a non-negative integer or null" },
    { "{\"expiry_time\":1000}", "expiry_time must not be in the past" },
    { "{\"expiry_time\":\"soon\"}", "expiry_time must be an integer or null" },
  };
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_SYNAPSE_LATEST);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *future = g_strdup_printf ("{\"token\":\"later.x~y_z-1\",\"expiry_time\":%" G_GINT64_FORMAT "}",
                                              g_get_real_time () / 1000 + 3600000);
  g_autoptr(Response) created = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"token\":\"abc\",\"uses_allowed\":3}");
  g_autoptr(Response) generated = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"length\":20}");
  g_autoptr(Response) zero = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"token\":\"zero\",\"uses_allowed\":0}");
  g_autoptr(Response) later = http (hs, "POST", TOKENS_PATH "/new", admin, future);
  g_autoptr(Response) duplicate = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"token\":\"abc\"}");
  g_autoptr(Response) not_admin = http (hs, "POST", TOKENS_PATH "/new", alice, "{}");
  g_autoptr(Response) all = NULL;
  g_autoptr(Response) valid = NULL;
  g_autoptr(Response) invalid = NULL;
  g_autoptr(Response) bad_valid = NULL;
  g_autoptr(Response) got = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) updated = NULL;
  g_autoptr(Response) cleared = NULL;
  g_autoptr(Response) deleted = NULL;
  g_autoptr(Response) deleted_again = NULL;

  /* 200, not 201 */
  assert_ok (created, 200);
  g_assert_cmpstr (jstr (created->json, "token"), ==, "abc");
  g_assert_cmpint (json_object_get_int (jget (created->json, "uses_allowed")), ==, 3);
  g_assert_cmpint (json_object_get_int (jget (created->json, "pending")), ==, 0);
  g_assert_cmpint (json_object_get_int (jget (created->json, "completed")), ==, 0);
  g_assert_true (json_object_object_get_ex (created->json, "expiry_time", NULL));
  g_assert_null (jget (created->json, "expiry_time"));
  assert_ok (generated, 200);
  g_assert_cmpuint (strlen (jstr (generated->json, "token")), ==, 20);
  g_assert_null (jget (generated->json, "uses_allowed"));
  assert_ok (zero, 200);
  assert_ok (later, 200);
  assert_error_text (duplicate, 400, "M_INVALID_PARAM", "Token already exists: abc");
  assert_error (not_admin, 403, "M_FORBIDDEN");
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(Response) resp = http (hs, "POST", TOKENS_PATH "/new", admin, refused[i].body);
      assert_error_text (resp, 400, "M_INVALID_PARAM", refused[i].error);
    }

  all = http (hs, "GET", TOKENS_PATH, admin, NULL);
  assert_ok (all, 200);
  g_assert_cmpuint (json_object_array_length (jget (all->json, "registration_tokens")), ==, 4);
  /* uses_allowed 0 is unlimited for registration, yet listed as invalid */
  valid = http (hs, "GET", TOKENS_PATH "?valid=true", admin, NULL);
  assert_ok (valid, 200);
  g_assert_cmpuint (json_object_array_length (jget (valid->json, "registration_tokens")), ==, 3);
  invalid = http (hs, "GET", TOKENS_PATH "?valid=false", admin, NULL);
  assert_ok (invalid, 200);
  g_assert_cmpuint (json_object_array_length (jget (invalid->json, "registration_tokens")), ==, 1);
  g_assert_cmpstr (jstr (json_object_array_get_idx (jget (invalid->json, "registration_tokens"), 0), "token"), ==,
                   "zero");
  bad_valid = http (hs, "GET", TOKENS_PATH "?valid=maybe", admin, NULL);
  assert_error (bad_valid, 400, "M_INVALID_PARAM");
  /* the admin API does not switch registration on */
  test_homeserver_set_registration (hs, TEST_REGISTRATION_TOKEN);
  {
    g_autoptr(Response) done = register_with_token (hs, "nina", "pw", "zero");
    assert_ok (done, 200);
  }

  got = http (hs, "GET", TOKENS_PATH "/abc", admin, NULL);
  assert_ok (got, 200);
  g_assert_cmpstr (jstr (got->json, "token"), ==, "abc");
  missing = http (hs, "GET", TOKENS_PATH "/nope", admin, NULL);
  assert_error_text (missing, 404, "M_NOT_FOUND", "No such registration token: nope");
  updated = http (hs, "PUT", TOKENS_PATH "/abc", admin, "{\"uses_allowed\":1}");
  assert_ok (updated, 200);
  g_assert_cmpint (json_object_get_int (jget (updated->json, "uses_allowed")), ==, 1);
  cleared = http (hs, "PUT", TOKENS_PATH "/abc", admin, "{\"uses_allowed\":null}");
  assert_ok (cleared, 200);
  g_assert_null (jget (cleared->json, "uses_allowed"));
  deleted = http (hs, "DELETE", TOKENS_PATH "/abc", admin, NULL);
  assert_ok (deleted, 200);
  g_assert_cmpint (json_object_object_length (deleted->json), ==, 0);
  deleted_again = http (hs, "DELETE", TOKENS_PATH "/abc", admin, NULL);
  assert_error (deleted_again, 404, "M_NOT_FOUND");
  g_assert_false (test_homeserver_get_registration_token_uses (hs, "abc", NULL, NULL));
}

/* Tuwunel 1.9's take on the same five routes */
static void
test_admin_tokens_tuwunel (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autoptr(Response) created = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"token\":\"t1\",\"uses_allowed\":1}");
  g_autoptr(Response) duplicate = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"token\":\"t1\"}");
  g_autoptr(Response) bad_type = http (hs, "POST", TOKENS_PATH "/new", admin, "{\"uses_allowed\":\"1\"}");
  g_autoptr(Response) not_admin = http (hs, "GET", TOKENS_PATH, alice, NULL);
  g_autoptr(Response) invalid = http (hs, "GET", TOKENS_PATH "?valid=false", admin, NULL);
  g_autoptr(Response) done = NULL;
  g_autoptr(Response) gone = NULL;

  assert_ok (created, 200);
  g_assert_cmpint (json_object_get_int (jget (created->json, "pending")), ==, 0);
  assert_error (duplicate, 400, "M_INVALID_PARAM");
  assert_error (bad_type, 400, "M_BAD_JSON");
  assert_error_text (not_admin, 403, "M_FORBIDDEN", "Only server administrators can use this endpoint");
  assert_ok (invalid, 200);
  g_assert_cmpuint (json_object_array_length (jget (invalid->json, "registration_tokens")), ==, 0);

  test_homeserver_set_registration (hs, TEST_REGISTRATION_TOKEN);
  done = register_with_token (hs, "oscar", "pw", "t1");
  assert_ok (done, 200);
  /* used up, so deleted */
  gone = http (hs, "GET", TOKENS_PATH "/t1", admin, NULL);
  assert_error (gone, 404, "M_NOT_FOUND");
}

/* ------------------------------------------------------------------------ */
/* Self-deactivation on the Conduit family */

static void
test_self_deactivate_conduit_family (void)
{
  static const struct {
    TestHomeserverFlavour flavour;
    const gchar *result;
    const gchar *bad_password;
    gboolean params_null; /* continuwuity's Box::<RawValue>::default() */
  } cases[] = {
    { TEST_HOMESERVER_CONDUIT, "no-support", "Invalid username or password.", FALSE },
    { TEST_HOMESERVER_TUWUNEL, "no-support", "Invalid username or password.", FALSE },
    { TEST_HOMESERVER_CONTINUWUITY, "success", "Invalid identifier or password", TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TestHomeserver) hs = start_flavour (cases[i].flavour);
      g_autofree gchar *alice = login (hs, "alice", "alicepw");
      g_autofree gchar *room_id = create_room (hs, alice, room_body);
      g_autofree gchar *session = NULL;
      g_autofree gchar *wrong = NULL;
      g_autofree gchar *right = NULL;
      g_autoptr(Response) challenge = http (hs, "POST", DEACTIVATE_PATH, alice, "{}");
      g_autoptr(Response) refused = NULL;
      g_autoptr(Response) done = NULL;
      g_auto(GStrv) stages = NULL;

      assert_uia (challenge, NULL);
      stages = only_flow (challenge);
      g_assert_cmpstr (stages[0], ==, "m.login.password");
      if (cases[i].params_null)
        {
          g_assert_true (json_object_object_get_ex (challenge->json, "params", NULL));
          g_assert_null (jget (challenge->json, "params"));
        }
      else
        g_assert_true (json_object_is_type (jget (challenge->json, "params"), json_type_object));
      session = g_strdup (jstr (challenge->json, "session"));

      wrong = uia_body ("alice", "nope", session);
      refused = http (hs, "POST", DEACTIVATE_PATH, alice, wrong);
      assert_uia (refused, "M_FORBIDDEN");
      g_assert_cmpstr (jstr (refused->json, "error"), ==, cases[i].bad_password);
      g_assert_false (test_homeserver_user_is_deactivated (hs, ALICE));

      right = uia_body (ALICE, "alicepw", session);
      done = http (hs, "POST", DEACTIVATE_PATH, alice, right);
      assert_ok (done, 200);
      g_assert_cmpstr (jstr (done->json, "id_server_unbind_result"), ==, cases[i].result);
      assert_fully_deactivated (hs, ALICE, room_id);
    }

  /* someone else's password: Tuwunel refuses, continuwuity fails the stage */
  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
    g_autofree gchar *alice = login (hs, "alice", "alicepw");
    g_autofree gchar *other = uia_body ("admin", "adminpw", NULL);
    g_autoptr(Response) resp = http (hs, "POST", DEACTIVATE_PATH, alice, other);

    assert_error_text (resp, 403, "M_FORBIDDEN", "User ID and access token mismatch.");
    g_assert_false (test_homeserver_user_is_deactivated (hs, ADMIN));
  }
  {
    g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_CONTINUWUITY);
    g_autofree gchar *alice = login (hs, "alice", "alicepw");
    g_autofree gchar *other = uia_body ("admin", "adminpw", NULL);
    g_autoptr(Response) resp = http (hs, "POST", DEACTIVATE_PATH, alice, other);

    assert_uia (resp, "M_INVALID_PARAM");
    g_assert_cmpstr (jstr (resp->json, "error"), ==, "User ID mismatch");
    g_assert_false (test_homeserver_user_is_deactivated (hs, ADMIN));
  }
}

/* ------------------------------------------------------------------------ */
/* Tuwunel 1.9's Synapse admin API (backends-2026.md 3.2) */

static void
test_tuwunel_admin_users (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) created = http (hs, "PUT", PUT_CAROL, admin, "{\"password\":\"carolpw\"}");
  g_autoptr(Response) modified = NULL;
  g_autoptr(Response) got = NULL;
  g_autoptr(Response) missing = NULL;
  g_autoptr(Response) remote = NULL;
  g_autoptr(Response) bad_type = NULL;
  g_autoptr(Response) both = NULL;
  g_autoptr(Response) demote = NULL;
  g_autoptr(Response) is_admin = NULL;
  g_autoptr(Response) available = NULL;
  g_autoptr(Response) taken = NULL;
  g_autoptr(Response) deactivated = NULL;
  g_autofree gchar *carol = NULL;

  /* 200 on create as well: probe with GET first */
  assert_ok (created, 200);
  g_assert_true (test_homeserver_user_exists (hs, "@carol:example.test"));
  g_assert_true (json_object_is_type (jget (created->json, "admin"), json_type_boolean));
  carol = login (hs, "carol", "carolpw");
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@carol:example.test"), ==, 1);
  /* a password on an existing user takes it over and removes its devices */
  modified = http (hs, "PUT", PUT_CAROL, admin, "{\"password\":\"stolen\"}");
  assert_ok (modified, 200);
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@carol:example.test"), ==, 0);

  got = http (hs, "GET", "/_synapse/admin/v2/users/%40carol%3Aexample.test", admin, NULL);
  assert_ok (got, 200);
  g_assert_cmpint (json_object_get_int64 (jget (got->json, "creation_ts")), ==, 0);
  g_assert_cmpstr (jstr (got->json, "name"), ==, "@carol:example.test");
  missing = http (hs, "GET", "/_synapse/admin/v2/users/%40nobody%3Aexample.test", admin, NULL);
  assert_error_text (missing, 404, "M_NOT_FOUND", "User not found");
  remote = http (hs, "GET", "/_synapse/admin/v2/users/%40carol%3Aelsewhere.test", admin, NULL);
  assert_error (remote, 400, "M_INVALID_PARAM");

  bad_type = http (hs, "PUT", PUT_CAROL, admin, "{\"admin\":1}");
  assert_error (bad_type, 400, "M_BAD_JSON");
  both = http (hs, "PUT", PUT_CAROL, admin, "{\"deactivated\":true,\"locked\":true}");
  assert_error (both, 400, "M_INVALID_PARAM");
  demote = http (hs, "PUT", "/_synapse/admin/v2/users/%40admin%3Aexample.test", admin, "{\"admin\":false}");
  assert_error (demote, 400, "M_INVALID_PARAM");
  g_assert_true (test_homeserver_user_is_admin (hs, ADMIN));
  is_admin = http (hs, "GET", "/_synapse/admin/v1/users/%40admin%3Aexample.test/admin", admin, NULL);
  assert_ok (is_admin, 200);
  g_assert_true (json_object_get_boolean (jget (is_admin->json, "admin")));

  /* never false */
  available = http (hs, "GET", "/_synapse/admin/v1/username_available?username=newbie", admin, NULL);
  assert_ok (available, 200);
  g_assert_true (json_object_get_boolean (jget (available->json, "available")));
  taken = http (hs, "GET", "/_synapse/admin/v1/username_available?username=carol", admin, NULL);
  assert_error (taken, 400, "M_USER_IN_USE");

  deactivated = http (hs, "POST", "/_synapse/admin/v1/deactivate/%40carol%3Aexample.test", admin,
                      "{\"erase\":true}");
  assert_ok (deactivated, 200);
  g_assert_cmpstr (jstr (deactivated->json, "id_server_unbind_result"), ==, "success");
  g_assert_true (test_homeserver_user_is_deactivated (hs, "@carol:example.test"));
  g_assert_true (test_homeserver_user_is_erased (hs, "@carol:example.test"));
}

static void
test_tuwunel_login_as (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autoptr(Response) self_login = http (hs, "POST", "/_synapse/admin/v1/users/%40admin%3Aexample.test/login",
                                         admin, "{}");
  g_autoptr(Response) remote = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aelsewhere.test/login",
                                     admin, "{}");
  g_autoptr(Response) missing = http (hs, "POST", "/_synapse/admin/v1/users/%40nobody%3Aexample.test/login",
                                      admin, "{}");
  g_autoptr(Response) puppet = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login",
                                     admin, "{}");
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) logout = NULL;
  g_autoptr(Response) dead = NULL;
  g_autoptr(GPtrArray) devices = NULL;
  g_autofree gchar *name = NULL;

  assert_error_text (self_login, 400, "M_INVALID_PARAM", "Cannot use admin API to login as self");
  assert_error_text (remote, 400, "M_INVALID_PARAM", "Only local users can be logged in as");
  assert_error_text (missing, 404, "M_NOT_FOUND", "User not found");
  assert_ok (puppet, 200);
  /* a visible device on the target */
  devices = test_homeserver_list_devices (hs, ALICE);
  g_assert_cmpuint (devices->len, ==, 1);
  name = test_homeserver_get_device_display_name (hs, ALICE, g_ptr_array_index (devices, 0));
  g_assert_cmpstr (name, ==, "Admin login");
  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", jstr (puppet->json, "access_token"), NULL);
  assert_ok (whoami, 200);
  g_assert_cmpstr (jstr (whoami->json, "user_id"), ==, ALICE);
  g_assert_cmpstr (jstr (whoami->json, "device_id"), ==, g_ptr_array_index (devices, 0));
  /* its logout removes the device */
  logout = http (hs, "POST", "/_matrix/client/v3/logout", jstr (puppet->json, "access_token"), "{}");
  assert_ok (logout, 200);
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (hs, ALICE), ==, 0);

  /* a past valid_until_ms gives a dead token */
  {
    g_autoptr(Response) past = http (hs, "POST", "/_synapse/admin/v1/users/%40alice%3Aexample.test/login", admin,
                                     "{\"valid_until_ms\":1000}");
    assert_ok (past, 200);
    dead = http (hs, "GET", "/_matrix/client/v3/account/whoami", jstr (past->json, "access_token"), NULL);
    assert_error (dead, 401, "M_UNKNOWN_TOKEN");
  }
}

static void
test_tuwunel_locked (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autofree gchar *body = password_body ("alice", "alicepw");
  g_autoptr(Response) lock = http (hs, "PUT", "/_synapse/admin/v2/users/%40alice%3Aexample.test", admin,
                                   "{\"locked\":true}");
  g_autoptr(Response) whoami = NULL;
  g_autoptr(Response) relogin = NULL;

  assert_ok (lock, 200);
  g_assert_true (test_homeserver_user_is_locked (hs, ALICE));
  whoami = http (hs, "GET", "/_matrix/client/v3/account/whoami", alice, NULL);
  assert_error_text (whoami, 401, "M_USER_LOCKED", "This account has been locked.");
  relogin = http (hs, "POST", "/_matrix/client/v3/login", NULL, body);
  assert_error (relogin, 401, "M_USER_LOCKED");
}

static void
test_tuwunel_reset_password (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autofree gchar *admin = login (hs, "admin", "adminpw");
  g_autofree gchar *alice = login (hs, "alice", "alicepw");
  g_autoptr(Response) missing = http (hs, "POST", "/_synapse/admin/v1/reset_password/%40nobody%3Aexample.test",
                                      admin, "{\"new_password\":\"x\"}");
  g_autoptr(Response) no_password = http (hs, "POST", RESET_ALICE, admin, "{}");
  g_autoptr(Response) reset = http (hs, "POST", RESET_ALICE, admin, "{\"new_password\":\"pw2\"}");

  assert_error_text (missing, 404, "M_NOT_FOUND", "User not found");
  assert_error (no_password, 400, "M_BAD_JSON");
  assert_ok (reset, 200);
  assert_password (hs, ALICE, "pw2");
  g_assert_cmpuint (test_homeserver_count_devices (hs, ALICE), ==, 0);
}

/* the shared-secret pair (TUW register.rs, get_nonce.rs) */
static void
test_tuwunel_shared_secret (void)
{
  g_autoptr(TestHomeserver) hs = start_flavour (TEST_HOMESERVER_TUWUNEL);
  g_autoptr(Response) disabled = http (hs, "GET", REGISTER_PATH, NULL, NULL);
  g_autoptr(Response) disabled_post = http (hs, "POST", REGISTER_PATH, NULL, "{}");
  g_autoptr(Response) bad_nonce = NULL;
  g_autoptr(Response) bad_mac = NULL;
  g_autoptr(Response) reused = NULL;
  g_autoptr(Response) upper = NULL;
  g_autoptr(Response) taken = NULL;
  g_autoptr(Response) inhibited = NULL;
  g_autofree gchar *nonce = NULL;
  g_autofree gchar *mac = NULL;
  g_autofree gchar *body = NULL;
  g_autofree gchar *dn = NULL;

  /* no secret: not even a nonce, unlike Synapse */
  assert_error_text (disabled, 400, "M_UNKNOWN", "Shared-secret registration is not enabled");
  assert_error_text (disabled_post, 400, "M_UNKNOWN", "Shared-secret registration is not enabled");
  test_homeserver_set_registration_secret (hs, SECRET);

  nonce = get_nonce (hs);
  g_assert_cmpuint (strlen (nonce), ==, 32);
  bad_nonce = register_user (hs, "bogus", "peggy", "peggypw", FALSE, NULL, NULL);
  assert_error_text (bad_nonce, 400, "M_INVALID_PARAM", "Unrecognised or expired nonce");

  mac = client_mac ("wrong", nonce, "peggy", "peggypw", FALSE, NULL);
  body = register_body (nonce, "peggy", "peggypw", FALSE, mac, "");
  bad_mac = http (hs, "POST", REGISTER_PATH, NULL, body);
  assert_error_text (bad_mac, 403, "M_FORBIDDEN", "HMAC check failed");
  /* the nonce is gone even so */
  reused = register_user (hs, nonce, "peggy", "peggypw", FALSE, NULL, NULL);
  assert_error (reused, 400, "M_INVALID_PARAM");

  /* hex of either case; a device named as on /register */
  g_free (nonce);
  nonce = get_nonce (hs);
  g_free (mac);
  mac = client_mac (SECRET, nonce, "peggy", "peggypw", FALSE, NULL);
  for (gchar *p = mac; *p != '\0'; p++)
    *p = g_ascii_toupper (*p);
  g_free (body);
  body = register_body (nonce, "peggy", "peggypw", FALSE, mac, ",\"initial_device_display_name\":\"laptop\"");
  upper = http (hs, "POST", REGISTER_PATH, NULL, body);
  assert_ok (upper, 200);
  g_assert_cmpstr (jstr (upper->json, "user_id"), ==, "@peggy:example.test");
  g_assert_cmpstr (jstr (upper->json, "home_server"), ==, "example.test");
  dn = test_homeserver_get_device_display_name (hs, "@peggy:example.test", jstr (upper->json, "device_id"));
  g_assert_cmpstr (dn, ==, "laptop");

  g_free (nonce);
  nonce = get_nonce (hs);
  taken = register_user (hs, nonce, "peggy", "peggypw", FALSE, NULL, NULL);
  assert_error_text (taken, 400, "M_USER_IN_USE", "User ID is not available");

  g_free (nonce);
  nonce = get_nonce (hs);
  inhibited = register_user (hs, nonce, "quinn", "quinnpw", FALSE, NULL, ",\"inhibit_login\":true");
  assert_ok (inhibited, 200);
  g_assert_cmpstr (jstr (inhibited->json, "user_id"), ==, "@quinn:example.test");
  g_assert_false (json_object_object_get_ex (inhibited->json, "access_token", NULL));
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@quinn:example.test"), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* The standalone binary's flavours */

static void
test_standalone_flavour (void)
{
  g_autofree gchar *binary = g_test_build_filename (G_TEST_BUILT, "mxprov-test-homeserver", NULL);
  g_autofree gchar *url = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSubprocess) bad = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(Response) fed = NULL;
  g_autoptr(Response) first = NULL;
  g_autoptr(Response) done = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *auth = NULL;
  g_autofree gchar *body = NULL;
  gsize len = 0;

  if (!g_file_test (binary, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("mxprov-test-homeserver is not built");
      return;
    }
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           binary, "--flavour", "tuwunel", "--registration-token", "tok1",
                           "--registration-token", "tok2", "--exit-on-stdin-eof", "--lifetime", "30", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  url = g_data_input_stream_read_line (out, &len, NULL, &error);
  g_assert_no_error (error);

  fed = http_url (url, "GET", FED_VERSION_PATH, NULL, NULL);
  assert_ok (fed, 200);
  g_assert_cmpstr (jstr (jget (fed->json, "server"), "name"), ==, "Tuwunel");

  first = http_url (url, "POST", CLIENT_REGISTER_PATH, NULL, "{\"username\":\"rob\",\"password\":\"robpw\"}");
  assert_uia (first, NULL);
  session = g_strdup (jstr (first->json, "session"));
  auth = token_auth ("tok2", session);
  body = client_register_body ("rob", "robpw", auth);
  done = http_url (url, "POST", CLIENT_REGISTER_PATH, NULL, body);
  assert_ok (done, 200);
  g_assert_cmpstr (jstr (done->json, "user_id"), ==, "@rob:example.test");

  g_assert_true (g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, &error));
  g_assert_true (g_subprocess_wait_check (proc, NULL, &error));
  g_assert_no_error (error);

  /* an unknown flavour is a usage error */
  bad = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                          binary, "--flavour", "conduwuit", "--lifetime", "5", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (bad, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (bad));
  g_assert_cmpint (g_subprocess_get_exit_status (bad), ==, 2);
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
  g_test_add_func ("/homeserver/flavours/names", test_flavour_names);
  g_test_add_func ("/homeserver/flavours/versions", test_flavour_versions);
  g_test_add_func ("/homeserver/flavours/unserved", test_flavour_unserved);
  g_test_add_func ("/homeserver/flavours/well-known", test_flavour_well_known);
  g_test_add_func ("/homeserver/synapse-latest/put-user", test_latest_put_user);
  g_test_add_func ("/homeserver/synapse-latest/login-as", test_latest_login_as);
  g_test_add_func ("/homeserver/synapse-latest/retry-after", test_latest_retry_after);
  g_test_add_func ("/homeserver/synapse-latest/login-limits", test_latest_login_limits);
  g_test_add_func ("/homeserver/synapse-latest/locked", test_latest_locked);
  g_test_add_func ("/homeserver/synapse-latest/room-creation-limit", test_latest_room_creation_limit);
  g_test_add_func ("/homeserver/synapse-latest/room-ids", test_latest_room_ids);
  g_test_add_func ("/homeserver/synapse/user-integers", test_synapse_1_67_user_integers);
  g_test_add_func ("/homeserver/synapse/no-lock", test_synapse_1_67_no_lock);
  g_test_add_func ("/homeserver/registration/synapse-steps", test_register_synapse_steps);
  g_test_add_func ("/homeserver/registration/synapse-errors", test_register_synapse_errors);
  g_test_add_func ("/homeserver/registration/synapse-details", test_register_synapse_details);
  g_test_add_func ("/homeserver/registration/synapse-rate-limit", test_register_synapse_rate_limit);
  g_test_add_func ("/homeserver/registration/conduit-family", test_register_conduit_family);
  g_test_add_func ("/homeserver/registration/conduit-family-flows", test_register_conduit_family_flows);
  g_test_add_func ("/homeserver/registration/tuwunel-token-use", test_register_tuwunel_token_use);
  g_test_add_func ("/homeserver/registration/all-servers", test_register_all_servers);
  g_test_add_func ("/homeserver/registration/validity", test_token_validity);
  g_test_add_func ("/homeserver/registration/available", test_register_available);
  g_test_add_func ("/homeserver/registration/admin-tokens-synapse", test_admin_tokens_synapse);
  g_test_add_func ("/homeserver/registration/admin-tokens-tuwunel", test_admin_tokens_tuwunel);
  g_test_add_func ("/homeserver/account/deactivate-conduit-family", test_self_deactivate_conduit_family);
  g_test_add_func ("/homeserver/tuwunel/users", test_tuwunel_admin_users);
  g_test_add_func ("/homeserver/tuwunel/login-as", test_tuwunel_login_as);
  g_test_add_func ("/homeserver/tuwunel/locked", test_tuwunel_locked);
  g_test_add_func ("/homeserver/tuwunel/reset-password", test_tuwunel_reset_password);
  g_test_add_func ("/homeserver/tuwunel/shared-secret", test_tuwunel_shared_secret);
  g_test_add_func ("/homeserver/standalone-flavour", test_standalone_flavour);

  ret = g_test_run ();
  curl_global_cleanup ();
  return ret;
}
