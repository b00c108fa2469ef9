/* test-homeserver.h: an in-memory Matrix homeserver for mxprov's tests.
 *
 * It answers the endpoints mxprov uses the way Synapse 1.67 does (see
 * ../shared/matrix-api-notes.md), keeps users, devices, tokens and rooms in
 * memory, records every request, and can be told to fail chosen requests.
 * It listens on 127.0.0.1 on a port chosen at run time and runs in its own
 * thread with its own GMainContext, so a test can spawn the real mxprov
 * binary synchronously and then assert on the server's state. Every query
 * function is thread safe and returns copies.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <json-c/json.h>

G_BEGIN_DECLS

typedef struct _TestHomeserver TestHomeserver;

typedef enum {
  TEST_FAULT_STATUS,        /* answer `status` with `content_type` and `body` instead of handling */
  TEST_FAULT_HTML_502,      /* a reverse proxy's HTML 502 Bad Gateway page, text/html */
  TEST_FAULT_RATE_LIMIT,    /* 429 M_LIMIT_EXCEEDED with retry_after_ms (and Retry-After if retry_after_header) */
  TEST_FAULT_DROP,          /* close the connection without any answer */
  TEST_FAULT_DELAY,         /* hold the answer back delay_ms, without blocking other requests, then handle normally */
  TEST_FAULT_MALFORMED_JSON,/* 200, application/json, body that is not valid JSON */
  TEST_FAULT_TRUNCATED,     /* start a 200 JSON answer whose Content-Length is larger than what is sent, then close */
} TestFaultKind;

typedef struct {
  TestFaultKind kind;
  guint status;              /* TEST_FAULT_STATUS */
  const gchar *content_type; /* TEST_FAULT_STATUS; NULL = application/json */
  const gchar *body;         /* TEST_FAULT_STATUS */
  guint retry_after_ms;      /* TEST_FAULT_RATE_LIMIT */
  gboolean retry_after_header;
  guint delay_ms;            /* TEST_FAULT_DELAY */
  gboolean after_handling;   /* STATUS/DROP/HTML_502/TRUNCATED/MALFORMED: handle the request first (its
                              * effects on server state happen), then answer with the fault. Models
                              * "request reached the server but the answer was lost". DELAY: handle
                              * on arrival, hold only the answer back (a client that times out
                              * finds the effect already there). */
} TestFault;

/* Which server to imitate. Dendrite 0.13.7 differs from Synapse 1.67 where
 * mxprov can tell: every /_synapse/admin endpoint but the shared-secret
 * register one answers 404 M_UNRECOGNIZED, login has no home_server, there is
 * no Server header, GET /_matrix/federation/v1/version names Dendrite, and the
 * register and self-deactivate endpoints answer Dendrite's way.
 * POST /_matrix/client/v3/account/password is modelled for Synapse only: the
 * Dendrite flavour answers it 404 M_UNRECOGNIZED. */
typedef enum {
  TEST_HOMESERVER_SYNAPSE,
  TEST_HOMESERVER_DENDRITE,
} TestHomeserverFlavour;

TestHomeserver *test_homeserver_new (const gchar *server_name);
void test_homeserver_free (TestHomeserver *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestHomeserver, test_homeserver_free)

/* Listen on 127.0.0.1:0 and serve from a private thread. */
gboolean test_homeserver_start (TestHomeserver *self, GError **error);
void test_homeserver_stop (TestHomeserver *self);
/* "http://127.0.0.1:PORT", valid after start */
const gchar *test_homeserver_get_url (TestHomeserver *self);
const gchar *test_homeserver_get_server_name (TestHomeserver *self);

/* Configuration, before or after start. */
void test_homeserver_add_user (TestHomeserver *self, const gchar *localpart,
                               const gchar *password, gboolean admin);
/* Serve https with this certificate (and its private key); before start. */
void test_homeserver_set_tls_certificate (TestHomeserver *self, GTlsCertificate *certificate);
/* Synapse's login rate limit (per account: burst 3, then one per 6 s -> 429
 * with retry_after_ms). On by default, as on Synapse. */
void test_homeserver_set_login_rate_limit (TestHomeserver *self, gboolean enabled);
/* Drop m.login.password from GET /login flows (an OIDC / MAS delegated server). */
void test_homeserver_set_password_login (TestHomeserver *self, gboolean enabled);
/* Simulated per-request server cost: every answer is delayed by this many ms
 * without blocking other requests (0 = none). */
void test_homeserver_set_request_delay (TestHomeserver *self, guint delay_ms);
/* Model a real Synapse's server time per request, on top of the delay
 * above: 280 ms for a password login or setting a password (bcrypt; PUT
 * user, reset_password), 280 ms for each of the old password and
 * new_password in an account/password request, 200 ms for createRoom, 5 ms
 * for anything else. */
void test_homeserver_set_synapse_costs (TestHomeserver *self, gboolean enabled);
/* Apply `fault` to requests matching method and path (exact match on the
 * percent-decoded path, or a prefix match when `path` ends in '*'): skip the
 * first `skip` matching requests, then fault the next `count` ones. */
void test_homeserver_add_fault (TestHomeserver *self, const gchar *method,
                                const gchar *path, guint skip, guint count,
                                const TestFault *fault);
void test_homeserver_clear_faults (TestHomeserver *self);
/* TEST_HOMESERVER_SYNAPSE (the default) or TEST_HOMESERVER_DENDRITE */
void test_homeserver_set_flavour (TestHomeserver *self, TestHomeserverFlavour flavour);
/* Shared-secret registration at /_synapse/admin/v1/register (GET a nonce,
 * POST {nonce, username, password, admin, mac, displayname?, user_type?});
 * NULL or "" disables it, the default. Synapse: a nonce lives 60 s and the
 * first POST naming it consumes it, even a failing one. Dendrite: the endpoint
 * exists only while a secret is set, and a nonce lives 5 min, reusable. */
void test_homeserver_set_registration_secret (TestHomeserver *self, const gchar *secret);
/* Test only: forget every nonce handed out, as if their lifetime had passed. */
void test_homeserver_expire_nonces (TestHomeserver *self);
/* Test only: accept `nonce` as if GET /_synapse/admin/v1/register had handed
 * it out just now (for fixed HMAC test vectors). */
void test_homeserver_add_nonce (TestHomeserver *self, const gchar *nonce);
/* GET /.well-known/matrix/client answers `status` with `body` (application/json).
 * Never set: what the server itself answers without delegation configured,
 * a 404 (Synapse 1.67: text/plain ".well-known not available"; Dendrite:
 * JSON M_UNRECOGNIZED). */
void test_homeserver_set_well_known (TestHomeserver *self, guint status, const gchar *body);

/* State queries. user_id is a full MXID "@local:server_name". */
gboolean test_homeserver_user_exists (TestHomeserver *self, const gchar *user_id);
gboolean test_homeserver_user_is_deactivated (TestHomeserver *self, const gchar *user_id);
gboolean test_homeserver_user_is_admin (TestHomeserver *self, const gchar *user_id);
gchar *test_homeserver_get_user_password (TestHomeserver *self, const gchar *user_id);
gchar *test_homeserver_get_user_displayname (TestHomeserver *self, const gchar *user_id);
guint test_homeserver_count_users (TestHomeserver *self);
/* devices created by password login (puppet tokens from login-as-user have no device) */
guint test_homeserver_count_devices (TestHomeserver *self, const gchar *user_id);
/* user_id's device IDs in creation order; free with g_ptr_array_unref */
GPtrArray *test_homeserver_list_devices (TestHomeserver *self, const gchar *user_id);
/* the device's display name (initial_device_display_name at login or
 * registration; Dendrite's shared-secret registration names it after the
 * user), or NULL: no name, or no such device; g_free */
gchar *test_homeserver_get_device_display_name (TestHomeserver *self, const gchar *user_id,
                                                const gchar *device_id);
/* Test only: an access token for user_id on a new device, as a session the
 * user opened earlier elsewhere (an admin's token from Element, say). */
gchar *test_homeserver_issue_token (TestHomeserver *self, const gchar *user_id);
/* valid access tokens that act as user_id, device tokens and puppet tokens alike */
guint test_homeserver_count_tokens (TestHomeserver *self, const gchar *user_id);
/* room IDs in creation order; free with g_ptr_array_unref */
GPtrArray *test_homeserver_list_rooms (TestHomeserver *self);
/* whether the server still has the room: FALSE for an unknown room and
 * after DELETE /_synapse/admin/v1/rooms/<id> (purged or not) */
gboolean test_homeserver_room_exists (TestHomeserver *self, const gchar *room_id);
/* rooms user_id has joined */
GPtrArray *test_homeserver_list_joined_rooms (TestHomeserver *self, const gchar *user_id);
gboolean test_homeserver_room_is_joined (TestHomeserver *self, const gchar *room_id,
                                         const gchar *user_id);
gchar *test_homeserver_room_get_creator (TestHomeserver *self, const gchar *room_id);
/* whether anyone is still joined; a room whose last member left is kept, as
 * Synapse keeps it, so it still shows in list_rooms */
gboolean test_homeserver_room_has_members (TestHomeserver *self, const gchar *room_id);
/* whether user_id left and then forgot the room (POST .../rooms/<id>/forget) */
gboolean test_homeserver_room_is_forgotten (TestHomeserver *self, const gchar *room_id,
                                            const gchar *user_id);
/* a new reference to the state event's content, or NULL; free with json_object_put */
json_object *test_homeserver_room_get_state (TestHomeserver *self, const gchar *room_id,
                                             const gchar *type, const gchar *state_key);
/* the createRoom request body as received, or NULL; json_object_put */
json_object *test_homeserver_room_get_create_request (TestHomeserver *self, const gchar *room_id);
/* number of requests received whose method matches (NULL = any) and whose
 * percent-decoded path matches as in add_fault */
guint test_homeserver_count_requests (TestHomeserver *self, const gchar *method, const gchar *path);
/* number of TCP connections accepted so far (a client that keeps its
 * connection alive makes one) */
guint test_homeserver_count_connections (TestHomeserver *self);
/* every request so far as "METHOD /decoded/path STATUS", in order; g_ptr_array_unref */
GPtrArray *test_homeserver_get_request_log (TestHomeserver *self);
/* every Authorization header and request body received, concatenated: for
 * tests that must prove a secret was or was not sent. */
gchar *test_homeserver_get_raw_requests (TestHomeserver *self);

G_END_DECLS
