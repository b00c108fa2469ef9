/* test-http.c: the host library's HTTP client against the test homeserver:
 * every way an answer can go wrong becomes the right GError. */
#include "config.h"

#include <curl/curl.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-exit.h"
#include "lib/mxprov-secure-alloc-private.h"

typedef struct {
  TestHomeserver *hs;
  MxprovHttp *http;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->hs = test_homeserver_new ("example.test");
  test_homeserver_add_user (f->hs, "admin", "pw", TRUE);
  g_assert_true (test_homeserver_start (f->hs, &error));
  f->http = mxprov_http_new (test_homeserver_get_url (f->hs), &error);
  g_assert_no_error (error);
  mxprov_http_set_timeouts (f->http, 2000, 2000);
  /* keep the persistent-fault cases short: 2 retries, at most ~0.75 s of backoff */
  mxprov_http_set_max_retries (f->http, 2);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mxprov_http_free (f->http);
  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
}

static json_object *
get_versions (Fixture *f, GError **error)
{
  return mxprov_http_request (f->http, "GET", "/_matrix/client/versions", NULL, NULL, NULL, error);
}

/* A fault on every attempt, or on the first one only. */
#define PERSISTENT 1000
#define ONCE 1

static void
add_fault (Fixture *f, const TestFault *fault, guint count)
{
  test_homeserver_add_fault (f->hs, "GET", "/_matrix/client/versions", 0, count, fault);
}

/* The body of a password login as the fixture's admin. */
static json_object *
admin_login_body (const gchar *password)
{
  json_object *body = json_object_new_object ();

  json_object_object_add (body, "type", json_object_new_string ("m.login.password"));
  json_object_object_add (body, "user", json_object_new_string ("admin"));
  json_object_object_add (body, "password", json_object_new_string (password));
  return body;
}

static guint
n_attempts (Fixture *f)
{
  return test_homeserver_count_requests (f->hs, "GET", "/_matrix/client/versions");
}

static void
test_ok (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  guint status = 0;
  guint n = 0;

  answer = mxprov_http_request (f->http, "GET", "/_matrix/client/versions", NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (json_object_is_type (json_object_object_get (answer, "versions"), json_type_array));
  mxprov_http_get_stats (f->http, &n, NULL);
  g_assert_cmpuint (n, ==, 1);
}

static void
test_base_url (Fixture *f, gconstpointer data)
{
  static const gchar *const bad[] = { "matrix.example.com", "ftp://example.com", "https://",
                                      "https://user:pw@example.com", "https://example.com/?x=1",
                                      "https://example.com/#frag", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovHttp) http = mxprov_http_new ("https://matrix.example.com/prefix///", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (mxprov_http_get_base_url (http), ==, "https://matrix.example.com/prefix");
  for (gsize i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(MxprovHttp) h = mxprov_http_new (bad[i], &error);
      g_assert_null (h);
      g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_INVALID_URL);
      g_assert_nonnull (strstr (error->message, bad[i]));
      g_clear_error (&error);
    }
}

static void
test_escape (Fixture *f, gconstpointer data)
{
  g_autofree gchar *user = mxprov_http_escape ("@alice/x:example.com");
  g_autofree gchar *room = mxprov_http_escape ("!abc?def#:example.com");

  g_assert_cmpstr (user, ==, "%40alice%2Fx%3Aexample.com");
  g_assert_cmpstr (room, ==, "%21abc%3Fdef%23%3Aexample.com");
}

static void
test_matrix_error (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(json_object) body = admin_login_body ("wrong");

  answer = mxprov_http_request (f->http, "POST", "/_matrix/client/v3/login", NULL, body, NULL, &error);
  g_assert_null (answer);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN);
  g_assert_cmpuint (mxprov_matrix_error_get_status (error), ==, 403);
  g_assert_cmpstr (mxprov_matrix_error_get_errcode (error), ==, "M_FORBIDDEN");
  g_assert_nonnull (strstr (error->message, "POST /_matrix/client/v3/login"));
  g_assert_nonnull (strstr (error->message, "HTTP 403, M_FORBIDDEN"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_NOPERM);
}

static void
test_unknown_token (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  answer = mxprov_http_request (f->http, "GET", "/_matrix/client/v3/account/whoami",
                                "syt_not_a_token", NULL, NULL, &error);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN);
  g_assert_cmpuint (mxprov_matrix_error_get_status (error), ==, 401);
  /* the token never appears in a message */
  g_assert_null (strstr (error->message, "syt_not_a_token"));
}

/* Dendrite's shared-secret errors: 500 and {"message"} without errcode. */
static void
test_error_without_errcode (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 500,
                            .body = "{\"message\":\"nonce expired\"}" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN);
  g_assert_cmpuint (mxprov_matrix_error_get_status (error), ==, 500);
  /* a 500 on a GET is retried: 1 + 2 attempts */
  g_assert_cmpuint (n_attempts (f), ==, 3);
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_null (mxprov_matrix_error_get_errcode (error));
  g_assert_nonnull (strstr (error->message, "nonce expired (HTTP 500)"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_UNAVAILABLE);
}

/* OAuth 2.0 errors (RFC 6749 5.2, MAS's token endpoint): the OAuth code is
 * the errcode, the description the message. */
static void
test_oauth_error (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 403,
                            .body = "{\"error\":\"invalid_scope\",\"error_description\":"
                                    "\"scope 'urn:mas:admin' not allowed\"}" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN);
  g_assert_cmpstr (mxprov_matrix_error_get_errcode (error), ==, "invalid_scope");
  g_assert_nonnull (strstr (error->message, "scope 'urn:mas:admin' not allowed (HTTP 403, invalid_scope)"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_PROTOCOL);
}

/* MAS's admin API: {"errors":[{"title"}]} and no code */
static void
test_mas_error (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 404,
                            .body = "{\"errors\":[{\"title\":\"User ID 01J0 not found\"}]}" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN);
  g_assert_null (mxprov_matrix_error_get_errcode (error));
  g_assert_cmpuint (mxprov_matrix_error_get_status (error), ==, 404);
  g_assert_nonnull (strstr (error->message, "User ID 01J0 not found (HTTP 404)"));
}

/* 204 No Content (MAS's set-password) is a success with nothing to read */
static void
test_no_content (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 204, .body = "" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  guint status = 0;

  add_fault (f, &fault, PERSISTENT);
  answer = mxprov_http_request (f->http, "GET", "/_matrix/client/versions", NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 204);
  g_assert_true (json_object_is_type (answer, json_type_object));
  g_assert_cmpint (json_object_object_length (answer), ==, 0);
  g_assert_cmpuint (n_attempts (f), ==, 1);
}

/* A form POST with client_secret_basic: the fields encoded, the client's
 * ID and secret in the Basic header and nowhere else. */
static void
test_post_form (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 200,
                            .body = "{\"access_token\":\"mat_x\",\"expires_in\":300}" };
  const gchar *const fields[] = { "grant_type", "client_credentials", "scope", "urn:mas:admin",
                                  "token", "a b&c=d", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autofree gchar *raw = NULL;
  g_autofree gchar *basic = g_base64_encode ((const guchar *) "01CLIENT:s3cret", 15);
  g_autofree gchar *header = g_strconcat ("Authorization: Basic ", basic, NULL);

  test_homeserver_add_fault (f->hs, "POST", "/oauth2/token", 0, 1, &fault);
  answer = mxprov_http_post_form (f->http, "/oauth2/token", "01CLIENT", "s3cret", fields,
                                  MXPROV_HTTP_FLAG_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (answer, "access_token")), ==, "mat_x");
  raw = test_homeserver_get_raw_requests (f->hs);
  g_assert_nonnull (strstr (raw, header));
  g_assert_nonnull (strstr (raw, "grant_type=client_credentials&scope=urn%3Amas%3Aadmin&token=a%20b%26c%3Dd"));
  g_assert_null (strstr (raw, "s3cret"));
}

/* A client for another origin takes the run's settings, its deadline too,
 * and follows the deadline again when asked. */
static void
test_new_like (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovHttp) like = NULL;
  g_autoptr(json_object) answer = NULL;

  mxprov_http_set_deadline (f->http, g_get_monotonic_time () - 1);
  like = mxprov_http_new_like (f->http, test_homeserver_get_url (f->hs), &error);
  g_assert_no_error (error);
  answer = mxprov_http_request (like, "GET", "/_matrix/client/versions", NULL, NULL, NULL, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_assert_cmpuint (n_attempts (f), ==, 0);
  mxprov_http_set_deadline (f->http, g_get_monotonic_time () + 10 * G_USEC_PER_SEC);
  mxprov_http_follow_deadline (like, f->http);
  answer = mxprov_http_request (like, "GET", "/_matrix/client/versions", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (answer);
  g_assert_cmpuint (n_attempts (f), ==, 1);
}

static void
test_html_502 (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_HTML_502 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_BAD_GATEWAY);
  g_assert_cmpuint (mxprov_http_error_get_status (error), ==, 502);
  g_assert_nonnull (strstr (error->message, "HTTP 502"));
  g_assert_nonnull (strstr (error->message, "text/html"));
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_cmpuint (n_attempts (f), ==, 3);
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_UNAVAILABLE);
}

static void
test_malformed_json (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_MALFORMED_JSON };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_NOT_JSON);
  g_assert_nonnull (strstr (error->message, "HTTP 200"));
  g_assert_nonnull (strstr (error->message, "application/json"));
  /* garbage in a 2xx: the request may have worked, and is worth a retry */
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_cmpuint (n_attempts (f), ==, 3);
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_PROTOCOL);
}

static void
test_json_not_object (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 200, .body = "[1,2,3]" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_NOT_JSON);
}

static void
test_trailing_garbage (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 200, .body = "{\"a\":1}{\"b\":2}" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_NOT_JSON);
}

static void
test_dropped (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_DROP };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_CONNECTION_LOST);
  g_assert_nonnull (strstr (error->message, "may or may not have taken effect"));
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_UNAVAILABLE);
}

static void
test_truncated (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_TRUNCATED };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_CONNECTION_LOST);
}

static void
test_timeout (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_DELAY, .delay_ms = 1500 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  mxprov_http_set_timeouts (f->http, 500, 300);
  mxprov_http_set_max_retries (f->http, 0);
  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TIMEOUT);
  /* the request was sent: it may have been acted on */
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_UNAVAILABLE);
}

static void
test_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) big = g_string_new ("{\"pad\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 200 };

  for (guint i = 0; i < 4096; i++)
    g_string_append (big, "xxxxxxxx");
  g_string_append (big, "\"}");
  fault.body = big->str;
  add_fault (f, &fault, 2);
  mxprov_http_set_max_retries (f->http, 0);

  /* a cap below the answer's 32 kB refuses it ... */
  mxprov_http_set_max_response_size (f->http, 16 * 1024);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TOO_LARGE);
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_PROTOCOL);
  g_clear_error (&error);

  /* ... one above accepts it */
  mxprov_http_set_max_response_size (f->http, 64 * 1024);
  answer = get_versions (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (answer);
}

static void
test_rate_limit_retried (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 200 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  gint64 start = g_get_monotonic_time ();

  add_fault (f, &fault, 2);
  answer = get_versions (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (answer);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "GET", "/_matrix/client/versions"), ==, 3);
  /* it waited as asked, twice (a lower bound: cannot flake) */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * 200 * 1000);
}

static void
test_rate_limit_header (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 1000,
                            .retry_after_header = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, 1);
  answer = get_versions (f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "GET", "/_matrix/client/versions"), ==, 2);
}

static void
test_rate_limit_exhausted (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 10 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  mxprov_http_set_rate_limit_policy (f->http, 2, 60000);
  add_fault (f, &fault, 10);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED);
  g_assert_cmpint (mxprov_matrix_error_get_retry_after_ms (error), ==, 10);
  g_assert_nonnull (strstr (error->message, "still rate limited after 2 retries"));
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "GET", "/_matrix/client/versions"), ==, 3);
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_TEMPFAIL);
}

/* A server asking for a longer wait than we accept is reported at once. */
static void
test_rate_limit_too_long (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 3600000 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, 1);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "GET", "/_matrix/client/versions"), ==, 1);
}

static void
test_redirect_not_followed (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 302,
                            .body = "{\"location\":\"elsewhere\"}" };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  add_fault (f, &fault, PERSISTENT);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "redirected"));
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 1);
}

/* TLS is verified by default: a certificate from an unknown CA is refused
 * before anything is sent; trusting that CA (--cacert) makes it work. */
static void
test_tls_verified (void)
{
  g_autofree gchar *server_pem = g_test_build_filename (G_TEST_DIST, "data", "test-server.pem", NULL);
  g_autofree gchar *ca_pem = g_test_build_filename (G_TEST_DIST, "data", "test-ca.pem", NULL);
  g_autoptr(TestHomeserver) hs = test_homeserver_new ("example.test");
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovHttp) http = NULL;
  g_autoptr(json_object) answer = NULL;

  cert = g_tls_certificate_new_from_file (server_pem, &error);
  g_assert_no_error (error);
  test_homeserver_set_tls_certificate (hs, cert);
  g_assert_true (test_homeserver_start (hs, &error));
  g_assert_true (g_str_has_prefix (test_homeserver_get_url (hs), "https://127.0.0.1:"));

  http = mxprov_http_new (test_homeserver_get_url (hs), &error);
  g_assert_no_error (error);
  /* generous: the server's first handshake loads GnuTLS and the system
   * trust store, which takes seconds on a loaded machine under ASan */
  mxprov_http_set_timeouts (http, 30000, 30000);
  answer = mxprov_http_request (http, "GET", "/_matrix/client/versions", NULL, NULL, NULL, &error);
  g_assert_null (answer);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TLS);
  g_assert_nonnull (strstr (error->message, "--cacert"));
  g_clear_error (&error);
  /* the handshake failed, so the request never reached the server */
  g_assert_cmpuint (test_homeserver_count_requests (hs, NULL, "/*"), ==, 0);

  mxprov_http_set_ca_file (http, ca_pem);
  answer = mxprov_http_request (http, "GET", "/_matrix/client/versions", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (answer);
  g_assert_cmpuint (test_homeserver_count_requests (hs, NULL, "/*"), ==, 1);
  test_homeserver_stop (hs);
}

/* Each transient fault, once: a GET is retried and succeeds. */
static void
test_transient_faults_retried (Fixture *f, gconstpointer data)
{
  const TestFault faults[] = {
    { .kind = TEST_FAULT_HTML_502 },
    { .kind = TEST_FAULT_STATUS, .status = 503, .content_type = "text/plain", .body = "busy" },
    { .kind = TEST_FAULT_STATUS, .status = 504, .body = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"gateway timeout\"}" },
    { .kind = TEST_FAULT_STATUS, .status = 500, .body = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Internal server error\"}" },
    { .kind = TEST_FAULT_DROP },
    { .kind = TEST_FAULT_TRUNCATED },
    { .kind = TEST_FAULT_MALFORMED_JSON },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (faults); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(json_object) answer = NULL;
      guint before = n_attempts (f);

      add_fault (f, &faults[i], ONCE);
      answer = get_versions (f, &error);
      g_assert_no_error (error);
      g_assert_nonnull (answer);
      g_assert_cmpuint (n_attempts (f) - before, ==, 2);
    }
}

/* A POST that may have been applied is never repeated blindly: the caller
 * must look first. One that certainly was not (429, 4xx) is. */
static void
test_unsafe_post_not_retried (Fixture *f, gconstpointer data)
{
  const TestFault drop = { .kind = TEST_FAULT_DROP, .after_handling = TRUE };
  const TestFault limited = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 10 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(json_object) body = admin_login_body ("pw");

  /* count only our faults' 429s, not Synapse's login burst limit */
  test_homeserver_set_login_rate_limit (f->hs, FALSE);

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/login", 0, ONCE, &drop);
  answer = mxprov_http_request (f->http, "POST", "/_matrix/client/v3/login", NULL, body, NULL, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_CONNECTION_LOST);
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 1);
  g_clear_error (&error);

  /* the same request marked retry-safe is retried */
  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/login", 0, ONCE, &drop);
  answer = mxprov_http_request_full (f->http, "POST", "/_matrix/client/v3/login", NULL, body,
                                     MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 3);
  g_clear_pointer (&answer, json_object_put);

  /* a 429 is retried whatever the request: the server did nothing */
  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/login", 0, ONCE, &limited);
  answer = mxprov_http_request (f->http, "POST", "/_matrix/client/v3/login", NULL, body, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 5);
}

/* One connection for many requests, as with a real Synapse. And when the
 * server dies on a kept-alive connection after acting on a POST, libcurl
 * would send the POST again by itself on a new connection (a second room, a
 * second token): an unsafe request must come back as "maybe applied" with
 * the server having seen it once; a retry-safe one may be sent again. */
static void
test_kept_alive_connection (Fixture *f, gconstpointer data)
{
  const TestFault drop = { .kind = TEST_FAULT_DROP, .after_handling = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(json_object) body = admin_login_body ("pw");

  test_homeserver_set_login_rate_limit (f->hs, FALSE);

  for (guint i = 0; i < 3; i++)
    {
      answer = get_versions (f, &error);
      g_assert_no_error (error);
      g_clear_pointer (&answer, json_object_put);
    }
  g_assert_cmpuint (test_homeserver_count_connections (f->hs), ==, 1);

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/login", 0, ONCE, &drop);
  answer = mxprov_http_request (f->http, "POST", "/_matrix/client/v3/login", NULL, body, NULL, &error);
  g_assert_null (answer);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_CONNECTION_LOST);
  g_assert_true (mxprov_error_maybe_applied (error));
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 1);
  g_clear_error (&error);

  /* warm a connection again, then the same with a retry-safe POST */
  answer = get_versions (f, &error);
  g_assert_no_error (error);
  g_clear_pointer (&answer, json_object_put);
  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/login", 0, ONCE, &drop);
  answer = mxprov_http_request_full (f->http, "POST", "/_matrix/client/v3/login", NULL, body,
                                     MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (answer);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 3);
}

/* The deadline bounds the whole request, retries and waits included. */
static void
test_deadline (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_HTML_502 };
  g_autoptr(GError) error = NULL;
  g_autoptr(json_object) answer = NULL;

  mxprov_http_set_max_retries (f->http, 100);
  add_fault (f, &fault, PERSISTENT);
  mxprov_http_set_deadline (f->http, g_get_monotonic_time () + G_USEC_PER_SEC);
  answer = get_versions (f, &error);
  g_assert_null (answer);
  g_assert_nonnull (error);
  /* far fewer than 100 attempts fit in one second of backoff */
  g_assert_cmpuint (n_attempts (f), <, 10);
  g_clear_error (&error);

  /* and once past it, nothing is sent at all */
  mxprov_http_set_deadline (f->http, g_get_monotonic_time () - 1);
  answer = get_versions (f, &error);
  g_assert_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TIMEOUT);
  g_assert_false (mxprov_error_maybe_applied (error));
}

static void
test_maybe_applied_classification (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) forbidden = mxprov_matrix_error_new (403, "M_FORBIDDEN", "no", -1);
  g_autoptr(GError) limited = mxprov_matrix_error_new (429, "M_LIMIT_EXCEEDED", "slow", 10);
  g_autoptr(GError) crashed = mxprov_matrix_error_new (500, "M_UNKNOWN", "oops", -1);
  g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");

  g_assert_false (mxprov_error_maybe_applied (forbidden));
  g_assert_false (mxprov_error_maybe_applied (limited));
  g_assert_true (mxprov_error_maybe_applied (crashed));
  g_assert_false (mxprov_error_maybe_applied (other));
  g_assert_false (mxprov_error_maybe_applied (NULL));
}

int
main (int argc, char **argv)
{
  gint rc;
  gboolean wiping = FALSE;

  /* as mxprov's main does, so every test runs curl on the wiping allocators */
  g_assert_true (mxprov_secure_alloc_install (&wiping));
  g_assert_true (wiping);
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add ("/http/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("ok", test_ok);
  ADD ("base-url", test_base_url);
  ADD ("escape", test_escape);
  ADD ("matrix-error", test_matrix_error);
  ADD ("unknown-token", test_unknown_token);
  ADD ("error-without-errcode", test_error_without_errcode);
  ADD ("oauth-error", test_oauth_error);
  ADD ("mas-error", test_mas_error);
  ADD ("no-content", test_no_content);
  ADD ("post-form", test_post_form);
  ADD ("new-like", test_new_like);
  ADD ("html-502", test_html_502);
  ADD ("malformed-json", test_malformed_json);
  ADD ("json-not-object", test_json_not_object);
  ADD ("trailing-garbage", test_trailing_garbage);
  ADD ("dropped", test_dropped);
  ADD ("truncated", test_truncated);
  ADD ("timeout", test_timeout);
  ADD ("too-large", test_too_large);
  ADD ("rate-limit-retried", test_rate_limit_retried);
  ADD ("rate-limit-header", test_rate_limit_header);
  ADD ("rate-limit-exhausted", test_rate_limit_exhausted);
  ADD ("rate-limit-too-long", test_rate_limit_too_long);
  ADD ("redirect-not-followed", test_redirect_not_followed);
  ADD ("transient-faults-retried", test_transient_faults_retried);
  ADD ("unsafe-post-not-retried", test_unsafe_post_not_retried);
  ADD ("kept-alive-connection", test_kept_alive_connection);
  ADD ("deadline", test_deadline);
  ADD ("maybe-applied-classification", test_maybe_applied_classification);
  g_test_add_func ("/http/tls-verified", test_tls_verified);
#undef ADD
  rc = g_test_run ();
  curl_global_cleanup ();
  return rc;
}
