/* test-homeserver.h: an in-memory Matrix homeserver for mxprov's tests.
 *
 * It answers the endpoints mxprov uses the way Synapse 1.67 does (see
 * ../shared/matrix-api-notes.md), or another server does (see
 * TestHomeserverFlavour), keeps users, devices, tokens and rooms in
 * memory, records every request, and can be told to fail chosen requests.
 * It listens on 127.0.0.1 on a port chosen at run time (the mas flavour
 * on a second one too, for MAS) and runs in its own thread with its own
 * GMainContext, so a test can spawn the real mxprov
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

/* Which server to imitate (test_homeserver_set_flavour(); names for
 * test_homeserver_set_flavour_by_name() and mxprov-test-homeserver
 * --flavour in brackets). Where a flavour differs from the default, only
 * what mxprov can see is modelled; test-homeserver-flavours.c has the table.
 *
 * TEST_HOMESERVER_SYNAPSE [synapse]: Synapse 1.67, the default. Its client
 * listener has no federation resource, so GET /_matrix/federation/v1/version
 * is 404 until test_homeserver_set_federation_listener (self, TRUE).
 *
 * TEST_HOMESERVER_SYNAPSE_LATEST [synapse-latest]: Synapse 1.157.1
 * (backends-2026.md section 4). GET user answers admin/deactivated as
 * booleans and has locked/suspended; PUT user checks every boolean field;
 * login-as answers 404 "User not found" for a missing user; every 429
 * carries Retry-After; locked users get 401 M_USER_LOCKED (soft_logout
 * true) on every request but logout, and at login; login is limited per
 * address and per account (burst 5, then one per ~333 s) with the failed
 * attempts limiter (burst 3, one per ~6 s) in between; createRoom is
 * limited per user (burst 10, then one per ~62 s); /.well-known/matrix/client
 * without delegation is JSON M_NOT_FOUND. It runs with default_room_version
 * "12", so room IDs are "!" + 43 URL-safe base64 characters, no server part
 * (Synapse's own default is still "10": ask for room_version "10" to get
 * classic IDs).
 *
 * TEST_HOMESERVER_DENDRITE [dendrite]: Dendrite 0.13.7. Every /_synapse
 * endpoint but the shared-secret register one answers 404 M_UNRECOGNIZED,
 * login has no home_server, there is no Server header, GET
 * /_matrix/federation/v1/version names Dendrite, and the register and
 * self-deactivate endpoints answer Dendrite's way. POST
 * /_matrix/client/v3/register is not modelled (404).
 *
 * TEST_HOMESERVER_CONDUIT [conduit]: Conduit 0.10.12. No /_synapse at all
 * (404 M_UNRECOGNIZED), POST /register with token-only user-interactive
 * auth (backends-2026.md 2.5; the token is static: unlimited, uses not
 * counted), no validity endpoint (404), no Server header.
 *
 * TEST_HOMESERVER_CONTINUWUITY [continuwuity]: continuwuity 26.8.0-alpha.1.
 * No /_synapse at all; /register counts a token use at the stage and checks
 * the username only after it, answers 400 for a stage no flow lists, and
 * refuses registration (403) while no token exists;
 * GET /_continuwuity/server_version.
 *
 * TEST_HOMESERVER_TUWUNEL [tuwunel]: Tuwunel 1.9.0 with mas_secret unset
 * (backends-2026.md 3): the Synapse admin endpoints modelled here, with
 * Tuwunel's differences (PUT user answers 200 on create too, GET user has
 * creation_ts 0, login-as makes a device "Admin login" on the target, its
 * own error texts), the registration token admin API (a token is consumed
 * at the stage and deleted once used up), GET /_tuwunel/server_version,
 * 404 "Not Found" and 405 "Method Not Allowed" for what it does not serve.
 * Only the seeded admin users are admins.
 *
 * TEST_HOMESERVER_SYNAPSE_MAS [mas]: Synapse 1.157.1 with its login
 * delegated to the Matrix Authentication Service 1.22.0 (backends-2026.md
 * 1), MAS on a second port of its own (test_homeserver_get_mas_url();
 * choose the flavour before test_homeserver_start(), since MAS only
 * listens when the server starts as mas). The client API is
 * synapse-latest's, but every access token is MAS's: personal-session
 * tokens (mpt_, with the C-S API scope; their device if the scope names
 * one), compat-login tokens (mct_); never MAS admin tokens (mat_), which
 * get 401 M_UNKNOWN_TOKEN "Token doesn't grant access to the Matrix C-S
 * API", and an unknown, expired or revoked token gets "Token is not
 * active". Synapse's own login, logout, account/password,
 * account/deactivate, register/available, registration token validity,
 * shared-secret registration, users/<id>/admin, login-as, reset_password
 * and registration token admin API are gone (404 M_UNRECOGNIZED
 * "Unrecognized request"); POST /register answers 403 M_FORBIDDEN
 * "Registration has been disabled. Only m.login.application_service
 * registrations are allowed."; GET/POST /login and /logout are MAS's
 * compat API (its flows, mct_ tokens, no home_server, a per-address limit
 * of 3 then one per 20 s counted before the password check, a 429 without
 * retry_after_ms or Retry-After); /_matrix/client/v1/auth_metadata and
 * the unstable auth_metadata and auth_issuer answer with MAS's
 * discovery. The Synapse admin API that remains (PUT/GET user,
 * deactivate, rooms, devices, username_available) takes as admin only a
 * token whose scope holds urn:synapse:admin:* (a personal session can
 * have one): a PUT user then makes a Synapse-only account MAS does not
 * know, which cannot log in and whose name MAS calls reserved. Without a
 * test-set well-known, Synapse serves its own with m.homeserver and
 * "org.matrix.msc2965.authentication"; a test-set JSON object gains that
 * key when it has none. test_homeserver_add_user() makes the account in
 * MAS (with the password; admin is MAS's can_request_admin) and in
 * Synapse. MAS's admin API, OAuth 2.0 endpoints and discovery are on its
 * own port; see test_homeserver_mas_add_client() and the functions after it.
 *
 * POST /_matrix/client/v3/account/password is modelled for the Synapse
 * flavours only: the others answer it 404 M_UNRECOGNIZED. */
typedef enum {
  TEST_HOMESERVER_SYNAPSE,
  TEST_HOMESERVER_DENDRITE,
  TEST_HOMESERVER_SYNAPSE_LATEST,
  TEST_HOMESERVER_CONDUIT,
  TEST_HOMESERVER_CONTINUWUITY,
  TEST_HOMESERVER_TUWUNEL,
  TEST_HOMESERVER_SYNAPSE_MAS,
} TestHomeserverFlavour;

/* Who may register through POST /_matrix/client/v3/register. */
typedef enum {
  TEST_REGISTRATION_OFF,   /* the default: registration disabled */
  TEST_REGISTRATION_TOKEN, /* a registration token is required (Synapse:
                            * enable_registration + registration_requires_token) */
  TEST_REGISTRATION_OPEN,  /* open registration, [[m.login.dummy]] (Synapse:
                            * enable_registration_without_verification; continuwuity:
                            * its open-registration flag) */
} TestRegistration;

/* The rate limits a test may switch off (all on by default, as on the
 * servers that have them) */
typedef enum {
  TEST_RATE_LIMIT_LOGIN,         /* rc_login: per account, and on synapse-latest per address
                                  * and failed attempts too; mas: MAS's compat login limits */
  TEST_RATE_LIMIT_REGISTRATION,  /* rc_registration: POST /register per address, burst 3,
                                  * then one per ~6 s; a created account spends one */
  TEST_RATE_LIMIT_ROOM_CREATION, /* rc_room_creation (synapse-latest) */
  TEST_RATE_LIMIT_TOKEN_VALIDITY,/* rc_registration_token_validity: burst 5, then one per 10 s */
} TestRateLimit;

TestHomeserver *test_homeserver_new (const gchar *server_name);
void test_homeserver_free (TestHomeserver *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestHomeserver, test_homeserver_free)

/* Listen on 127.0.0.1:0 and serve from a private thread; the mas flavour
 * (chosen before this) also starts MAS on a second port. */
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
/* Synapse's login rate limit (1.67: per account, burst 3, then one per 6 s
 * -> 429 with retry_after_ms; synapse-latest: see its flavour). On by
 * default, as on Synapse; the Conduit family has none. */
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
 * percent-decoded path, or a prefix match when `path` ends in '*', or, with a
 * '*' elsewhere, any run of characters there): skip the
 * first `skip` matching requests, then fault the next `count` ones. */
void test_homeserver_add_fault (TestHomeserver *self, const gchar *method,
                                const gchar *path, guint skip, guint count,
                                const TestFault *fault);
void test_homeserver_clear_faults (TestHomeserver *self);
/* TEST_HOMESERVER_SYNAPSE (the default) or another flavour, before or after
 * start; the mas flavour before start, since MAS only listens when the
 * server starts as mas */
void test_homeserver_set_flavour (TestHomeserver *self, TestHomeserverFlavour flavour);
/* by the names above; FALSE with G_IO_ERROR_INVALID_ARGUMENT for a name
 * that is none of them */
gboolean test_homeserver_set_flavour_by_name (TestHomeserver *self, const gchar *name, GError **error);
TestHomeserverFlavour test_homeserver_get_flavour (TestHomeserver *self);
/* every flavour's name, in the order above but the default first (mas,
 * the one on two ports, last); NULL-terminated, static */
const gchar *const *test_homeserver_list_flavours (void);
/* what a flavour name imitates ("Synapse 1.67"), or NULL; static */
const gchar *test_homeserver_describe_flavour (const gchar *name);
/* Synapse 1.67 only (the other flavours always serve it): whether the
 * client listener also carries the federation resource, so that GET
 * /_matrix/federation/v1/version answers. Off by default. */
void test_homeserver_set_federation_listener (TestHomeserver *self, gboolean enabled);
/* Registration through POST /_matrix/client/v3/register; off by default */
void test_homeserver_set_registration (TestHomeserver *self, TestRegistration mode);
/* A registration token, as the server's admin would make one (Synapse and
 * Tuwunel: in the database; Conduit: the static config token; continuwuity:
 * a database token). uses_allowed 0 means unlimited. Switches registration
 * to TEST_REGISTRATION_TOKEN when it was off. Replaces a token of that name. */
void test_homeserver_add_registration_token (TestHomeserver *self, const gchar *token,
                                             guint uses_allowed);
/* Test only: let every user-interactive auth session expire, as after 48 h
 * on Synapse (a session's pending token use is given back) or a restart of
 * the Conduit family (whose sessions live in memory). */
void test_homeserver_expire_uia_sessions (TestHomeserver *self);
/* test_homeserver_set_login_rate_limit() is rate_limit (LOGIN, enabled) */
void test_homeserver_set_rate_limit (TestHomeserver *self, TestRateLimit limit, gboolean enabled);
/* Shared-secret registration at /_synapse/admin/v1/register (GET a nonce,
 * POST {nonce, username, password, admin, mac, displayname?, user_type?});
 * NULL or "" disables it, the default. Synapse: a nonce lives 60 s and the
 * first POST naming it consumes it, even a failing one. Dendrite: the endpoint
 * exists only while a secret is set, and a nonce lives 5 min, reusable.
 * Tuwunel: no nonce at all without a secret (400), a nonce of 32 characters
 * lives 60 s and is consumed by the first POST; its own error texts, hex of
 * either case, inhibit_login/device_id/initial_device_display_name taken.
 * Conduit and continuwuity have no such endpoint. */
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

/* The mas flavour's MAS (backends-2026.md 1; MAS's own source where that
 * is silent, as test-homeserver-mas.c cites). Configuration may come
 * before or after start; every function works for the other flavours
 * too, but only the mas flavour ever serves what they set. */
/* "http://127.0.0.1:PORT" (https with a TLS certificate) of MAS, valid
 * after start; NULL unless the server started as the mas flavour */
const gchar *test_homeserver_get_mas_url (TestHomeserver *self);
/* A static OAuth 2.0 client of MAS (clients: in its config), for
 * POST /oauth2/token and /oauth2/revoke with client_secret_basic or
 * client_secret_post. admin_client: listed in policy.data.admin_clients,
 * so that the client_credentials grant gives it urn:mas:admin; any other
 * client asking for it gets 403 invalid_scope. client_secret NULL makes a
 * public client, which may not use client_credentials (401
 * unauthorized_client). Several clients may exist; a client ID added
 * again is replaced. */
void test_homeserver_mas_add_client (TestHomeserver *self, const gchar *client_id,
                                     const gchar *client_secret, gboolean admin_client);
/* MAS's version, "1.22.0" by default; GET /api/admin/v1/version answers
 * it as its release builds do ("v" + it). Below 1.5.0 the personal-session
 * routes do not exist, below 1.4.0 neither does /version, below 1.3.0
 * /site-config: MAS's fallback 404 page, as for any unknown path. */
void test_homeserver_mas_set_version (TestHomeserver *self, const gchar *version);
/* experimental.access_token_ttl: the lifetime of the admin tokens issued
 * from now on (expires_in); 300 s by default */
void test_homeserver_mas_set_token_ttl (TestHomeserver *self, guint seconds);
/* Test only: every admin token issued so far has expired (401 "Access
 * token expired" on the admin API) */
void test_homeserver_mas_expire_admin_tokens (TestHomeserver *self);
/* passwords.enabled, TRUE by default. FALSE: site-config says
 * password_login_enabled false, set-password answers 403 "Password auth is
 * disabled", GET /login lists no m.login.password and a password login is
 * 400 M_UNKNOWN "Invalid login type". */
void test_homeserver_mas_set_password_login (TestHomeserver *self, gboolean enabled);
/* passwords.minimum_complexity (0..4, default 3): the score a new password
 * needs. The score is a stand-in for zxcvbn: a common password, or one of
 * fewer than 3 distinct characters, scores 0; one shorter than 8
 * characters 1; one under 12 characters of a single character class
 * (lowercase, uppercase, digits, others) or of fewer than 5 distinct
 * characters 2; 4 from 16 characters with at least 5 distinct ones; 3
 * otherwise. So a random URL-safe Base64 password of 32+ characters
 * always passes. */
void test_homeserver_mas_set_minimum_password_complexity (TestHomeserver *self, guint complexity);
/* whether MAS has a user of this username (localpart), deactivated or not */
gboolean test_homeserver_mas_user_exists (TestHomeserver *self, const gchar *localpart);
gboolean test_homeserver_mas_user_is_deactivated (TestHomeserver *self, const gchar *localpart);
/* the user's ULID, or NULL; g_free */
gchar *test_homeserver_mas_get_user_id (TestHomeserver *self, const gchar *localpart);
/* the user's active MAS password, or NULL (none set, or no such user); g_free */
gchar *test_homeserver_mas_get_user_password (TestHomeserver *self, const gchar *localpart);
/* personal sessions acting as the user; active_only: not revoked */
guint test_homeserver_mas_count_personal_sessions (TestHomeserver *self, const gchar *localpart,
                                                   gboolean active_only);
/* compat sessions (password logins) of the user; active_only: not finished */
guint test_homeserver_mas_count_compat_sessions (TestHomeserver *self, const gchar *localpart,
                                                 gboolean active_only);
/* admin tokens (client credentials) issued; valid_only: neither expired nor revoked */
guint test_homeserver_mas_count_admin_tokens (TestHomeserver *self, gboolean valid_only);

/* State queries. user_id is a full MXID "@local:server_name". */
gboolean test_homeserver_user_exists (TestHomeserver *self, const gchar *user_id);
gboolean test_homeserver_user_is_deactivated (TestHomeserver *self, const gchar *user_id);
gboolean test_homeserver_user_is_admin (TestHomeserver *self, const gchar *user_id);
gchar *test_homeserver_get_user_password (TestHomeserver *self, const gchar *user_id);
gchar *test_homeserver_get_user_displayname (TestHomeserver *self, const gchar *user_id);
guint test_homeserver_count_users (TestHomeserver *self);
/* Synapse 1.91+'s lock (PUT user {"locked": true}); locked users get 401
 * M_USER_LOCKED on synapse-latest and Tuwunel, and the lock is stored but
 * has no effect on the other flavours */
gboolean test_homeserver_user_is_locked (TestHomeserver *self, const gchar *user_id);
void test_homeserver_set_user_locked (TestHomeserver *self, const gchar *user_id, gboolean locked);
/* whether erase was asked at deactivation */
gboolean test_homeserver_user_is_erased (TestHomeserver *self, const gchar *user_id);
/* whether the token exists; its counters as the admin API shows them
 * (Tuwunel: pending always 0; Conduit: both always 0). Either out may be
 * NULL. A Tuwunel token that was used up is deleted, so FALSE. */
gboolean test_homeserver_get_registration_token_uses (TestHomeserver *self, const gchar *token,
                                                      guint *pending, guint *completed);
/* registration token names, in creation order; g_ptr_array_unref */
GPtrArray *test_homeserver_list_registration_tokens (TestHomeserver *self);
/* how many user-interactive auth sessions are open */
guint test_homeserver_count_uia_sessions (TestHomeserver *self);
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
 * user opened earlier elsewhere (an admin's token from Element, say). On
 * the mas flavour, a compat session of MAS (mct_) when MAS knows the user. */
gchar *test_homeserver_issue_token (TestHomeserver *self, const gchar *user_id);
/* valid access tokens that act as user_id, device tokens and puppet tokens
 * alike; on the mas flavour those MAS issued that Synapse accepts (active
 * compat sessions, and unexpired personal sessions with the C-S API scope) */
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
