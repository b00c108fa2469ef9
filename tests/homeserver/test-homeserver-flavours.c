/* test-homeserver-flavours.c: the servers the test homeserver can imitate,
 * and the routing table that says which of them serves which endpoint.
 *
 * A flavour is data (names, versions, the error texts that differ) plus a
 * few hooks where the behaviour really differs; the handlers look at
 * self->flavour instead of comparing flavour IDs.
 *
 * The mas flavour is Synapse 1.157.1 whose login is delegated to MAS: its
 * client API is synapse-latest's, but the routes Synapse does not register
 * under MAS are absent (SYN synapse/rest/admin/__init__.py,
 * rest/client/register.py, account.py, login.py), and the reverse proxy
 * sends /login and /logout to MAS's compat API.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* Routing table */

const Route hs_routes[] = {
  { "GET", "_matrix/client/versions", AUTH_NONE, hs_handle_versions, FOR_ALL, FALSE },
  { "GET", "_matrix/client/{v}/login", AUTH_NONE, hs_handle_login_flows, FOR_OWN_AUTH, FALSE },
  { "POST", "_matrix/client/{v}/login", AUTH_NONE, hs_handle_login, FOR_OWN_AUTH, FALSE },
  { "POST", "_matrix/client/{v}/logout", AUTH_USER, hs_handle_logout, FOR_OWN_AUTH, TRUE },
  /* under MAS, the reverse proxy sends these to MAS's compat API, which
   * reads the access token itself */
  { "GET", "_matrix/client/{v}/login", AUTH_NONE, hs_mas_handle_login_flows, FOR_MAS, FALSE },
  { "POST", "_matrix/client/{v}/login", AUTH_NONE, hs_mas_handle_login, FOR_MAS, FALSE },
  { "POST", "_matrix/client/{v}/logout", AUTH_NONE, hs_mas_handle_logout, FOR_MAS, FALSE },
  { "POST", "_matrix/client/{v}/logout/all", AUTH_NONE, hs_mas_handle_logout_all, FOR_MAS, FALSE },
  { "GET", "_matrix/client/{v}/account/whoami", AUTH_USER, hs_handle_whoami, FOR_ALL, FALSE },
  { "POST", "_matrix/client/{v}/createRoom", AUTH_USER, hs_handle_create_room, FOR_ALL, FALSE },
  { "GET", "_matrix/client/{v}/rooms/{}/state", AUTH_USER, hs_handle_room_state_all, FOR_ALL, FALSE },
  { "GET", "_matrix/client/{v}/rooms/{}/state/{}", AUTH_USER, hs_handle_room_state, FOR_ALL, FALSE },
  { "GET", "_matrix/client/{v}/rooms/{}/state/{}/{}", AUTH_USER, hs_handle_room_state, FOR_ALL, FALSE },
  { "GET", "_matrix/client/{v}/rooms/{}/joined_members", AUTH_USER, hs_handle_joined_members, FOR_ALL, FALSE },
  { "GET", "_matrix/client/{v}/joined_rooms", AUTH_USER, hs_handle_joined_rooms, FOR_ALL, FALSE },
  { "POST", "_matrix/client/{v}/account/deactivate", AUTH_USER, hs_handle_account_deactivate, FOR_OWN_AUTH,
    FALSE },
  /* the token is optional: the handler authenticates when there is one */
  { "POST", "_matrix/client/{v}/account/password", AUTH_NONE, hs_handle_account_password, FOR_SYNAPSES, FALSE },
  { "POST", "_matrix/client/{v}/rooms/{}/leave", AUTH_USER, hs_handle_room_leave, FOR_ALL, FALSE },
  { "POST", "_matrix/client/{v}/rooms/{}/forget", AUTH_USER, hs_handle_room_forget, FOR_ALL, FALSE },
  /* registration; the handlers look for an access token themselves */
  { "POST", "_matrix/client/{v}/register", AUTH_NONE, hs_handle_client_register,
    FOR_SYNAPSES | FOR_CONDUITS, FALSE },
  { "GET", "_matrix/client/{v}/register/available", AUTH_NONE, hs_handle_register_available,
    FOR_SYNAPSES | FOR_CONDUITS, FALSE },
  { "GET", "_matrix/client/v1/register/m.login.registration_token/validity", AUTH_NONE,
    hs_handle_token_validity, FOR_SYNAPSES | FOR_CONTINUWUITY | FOR_TUWUNEL, FALSE },
  /* Synapse under MAS: only application services may register */
  { "POST", "_matrix/client/{v}/register", AUTH_NONE, hs_mas_handle_register, FOR_MAS, FALSE },
  /* discovery */
  { "GET", ".well-known/matrix/client", AUTH_NONE, hs_handle_well_known, FOR_ALL, FALSE },
  { "GET", "_matrix/federation/v1/version", AUTH_NONE, hs_handle_federation_version, FOR_ALL, FALSE },
  { "GET", "_tuwunel/server_version", AUTH_NONE, hs_handle_brand_server_version, FOR_TUWUNEL, FALSE },
  { "GET", "_continuwuity/server_version", AUTH_NONE, hs_handle_brand_server_version, FOR_CONTINUWUITY, FALSE },
  { "GET", "_synapse/admin/v1/server_version", AUTH_NONE, hs_handle_server_version,
    FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL, FALSE },
  /* registered only while MAS is on (SYN synapse/rest/client/auth_metadata.py) */
  { "GET", "_matrix/client/v1/auth_metadata", AUTH_NONE, hs_mas_handle_auth_metadata, FOR_MAS, FALSE },
  { "GET", "_matrix/client/unstable/org.matrix.msc2965/auth_metadata", AUTH_NONE, hs_mas_handle_auth_metadata,
    FOR_MAS, FALSE },
  { "GET", "_matrix/client/unstable/org.matrix.msc2965/auth_issuer", AUTH_NONE, hs_mas_handle_auth_issuer,
    FOR_MAS, FALSE },
  /* shared-secret registration */
  { "GET", "_synapse/admin/v1/register", AUTH_NONE, hs_handle_register_nonce, FOR_SYNAPSES | FOR_DENDRITE, FALSE },
  { "GET", "_synapse/admin/v1/register", AUTH_NONE, hs_tuwunel_register_nonce, FOR_TUWUNEL, FALSE },
  { "POST", "_synapse/admin/v1/register", AUTH_NONE, hs_handle_register,
    FOR_SYNAPSES | FOR_DENDRITE | FOR_TUWUNEL, FALSE },
  /* the Synapse admin API, and Tuwunel 1.9's own take on part of it;
   * under MAS Synapse drops users/<id>/admin, login-as, reset_password,
   * shared-secret registration and the registration tokens */
  { "GET", "_synapse/admin/v1/users/{}/admin", AUTH_ADMIN, hs_handle_user_admin, FOR_SYNAPSES, FALSE },
  { "GET", "_synapse/admin/v1/users/{}/admin", AUTH_ADMIN, hs_tuwunel_user_admin, FOR_TUWUNEL, FALSE },
  { "GET", "_synapse/admin/v2/users/{}", AUTH_ADMIN, hs_handle_get_user, FOR_SYNAPSES | FOR_MAS, FALSE },
  { "GET", "_synapse/admin/v2/users/{}", AUTH_ADMIN, hs_tuwunel_get_user, FOR_TUWUNEL, FALSE },
  { "PUT", "_synapse/admin/v2/users/{}", AUTH_ADMIN, hs_handle_put_user, FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL,
    FALSE },
  { "GET", "_synapse/admin/v1/username_available", AUTH_ADMIN, hs_handle_username_available,
    FOR_SYNAPSES | FOR_MAS, FALSE },
  { "GET", "_synapse/admin/v1/username_available", AUTH_ADMIN, hs_tuwunel_username_available, FOR_TUWUNEL,
    FALSE },
  { "POST", "_synapse/admin/v1/users/{}/login", AUTH_ADMIN, hs_handle_login_as_user, FOR_SYNAPSES | FOR_TUWUNEL,
    FALSE },
  { "POST", "_synapse/admin/v1/deactivate/{}", AUTH_ADMIN, hs_handle_deactivate, FOR_SYNAPSES | FOR_MAS, FALSE },
  { "POST", "_synapse/admin/v1/deactivate/{}", AUTH_ADMIN, hs_tuwunel_deactivate, FOR_TUWUNEL, FALSE },
  { "DELETE", "_synapse/admin/v1/rooms/{}", AUTH_ADMIN, hs_handle_delete_room, FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL,
    FALSE },
  { "GET", "_synapse/admin/v1/rooms/{}", AUTH_ADMIN, hs_handle_admin_room, FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL,
    FALSE },
  { "GET", "_synapse/admin/v1/rooms/{}/state", AUTH_ADMIN, hs_handle_admin_room_state,
    FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL, FALSE },
  { "GET", "_synapse/admin/v2/users/{}/devices", AUTH_ADMIN, hs_handle_admin_user_devices,
    FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL, FALSE },
  { "GET", "_synapse/admin/v1/users/{}/joined_rooms", AUTH_ADMIN, hs_handle_admin_user_joined_rooms,
    FOR_SYNAPSES | FOR_MAS | FOR_TUWUNEL, FALSE },
  { "POST", "_synapse/admin/v1/reset_password/{}", AUTH_ADMIN, hs_handle_reset_password, FOR_SYNAPSES, FALSE },
  { "POST", "_synapse/admin/v1/reset_password/{}", AUTH_ADMIN, hs_tuwunel_reset_password, FOR_TUWUNEL, FALSE },
  /* registration tokens; "new" before the {} that would take it */
  { "GET", "_synapse/admin/v1/registration_tokens", AUTH_ADMIN, hs_handle_reg_tokens_list,
    FOR_SYNAPSES | FOR_TUWUNEL, FALSE },
  { "POST", "_synapse/admin/v1/registration_tokens/new", AUTH_ADMIN, hs_handle_reg_token_new,
    FOR_SYNAPSES | FOR_TUWUNEL, FALSE },
  { "GET", "_synapse/admin/v1/registration_tokens/{}", AUTH_ADMIN, hs_handle_reg_token_get,
    FOR_SYNAPSES | FOR_TUWUNEL, FALSE },
  { "PUT", "_synapse/admin/v1/registration_tokens/{}", AUTH_ADMIN, hs_handle_reg_token_put,
    FOR_SYNAPSES | FOR_TUWUNEL, FALSE },
  { "DELETE", "_synapse/admin/v1/registration_tokens/{}", AUTH_ADMIN, hs_handle_reg_token_delete,
    FOR_SYNAPSES | FOR_TUWUNEL, FALSE },
};
const guint hs_n_routes = G_N_ELEMENTS (hs_routes);

/* ------------------------------------------------------------------------ */
/* Flavours */

/* Dendrite routes only /_synapse/admin/v1/register under /_synapse, and
 * only while a shared secret is configured: its SynapseAdminRouter filter
 * answers everything else there 404 before any route sees it */
static gboolean
dendrite_serves_path (TestHomeserver *self, gchar **segments)
{
  if (g_strcmp0 (segments[0], "_synapse") != 0)
    return TRUE;
  return self->registration_secret != NULL
         && g_strv_equal ((const gchar *const *) segments,
                          (const gchar *const[]) { "_synapse", "admin", "v1", "register", NULL });
}

/* GET /_matrix/client/versions */
static const gchar *const synapse_1_67_versions[] = {
  "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
  "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", NULL,
};
/* SYN rust/src/handlers/versions.rs */
static const gchar *const synapse_latest_versions[] = {
  "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
  "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12", NULL,
};
/* not read from source (Conduit is not among the sources here) */
static const gchar *const conduit_versions[] = {
  "r0.5.0", "r0.6.0", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", NULL,
};
/* CTW src/core/matrix/versions.rs */
static const gchar *const continuwuity_versions[] = {
  "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
  "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.8", "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16",
  "v1.17", "v1.18", NULL,
};
/* TUW src/api/client/versions.rs */
static const gchar *const tuwunel_versions[] = {
  "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
  "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
  "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19", NULL,
};

/* Conduit 0.10: the texts of backends-2026.md 2.5 (which read CON
 * src/service/uiaa/mod.rs); the rest as in Tuwunel, which kept Conduit's
 * UIA (Conduit's own source was not available here to confirm the params
 * and the deactivation answer) */
static const ConduitUia conduit_uia = {
  .unknown_session_status = 403,
  .unknown_session_errcode = "M_FORBIDDEN",
  .unknown_session_text = "UIAA session does not exist.",
  .refuse_stage_outside_flows = FALSE,
  .skip_completed_stages = FALSE,
  .mismatch_fails_stage = FALSE,
  .bad_token_text = "Invalid registration token.",
  .bad_password_text = "Invalid username or password.",
  .register_params = NULL,
  .password_params = "{}",
  .deactivate_result = "no-support",
};

/* TUW src/service/uiaa/mod.rs, src/api/client/register/register.rs,
 * src/api/router/auth/uiaa.rs */
static const ConduitUia tuwunel_uia = {
  .unknown_session_status = 403,
  .unknown_session_errcode = "M_FORBIDDEN",
  .unknown_session_text = "UIAA session does not exist.",
  .refuse_stage_outside_flows = FALSE,
  .skip_completed_stages = FALSE,
  .mismatch_fails_stage = FALSE,
  .bad_token_text = "Invalid registration token.",
  .bad_password_text = "Invalid username or password.",
  .register_params = NULL,
  .password_params = "{}",
  .deactivate_result = "no-support",
};

/* CTW src/service/uiaa/mod.rs (an in-memory session store),
 * src/api/client/account/register.rs and mod.rs */
static const ConduitUia continuwuity_uia = {
  .unknown_session_status = 400,
  .unknown_session_errcode = "M_INVALID_PARAM",
  .unknown_session_text = "Invalid session",
  .refuse_stage_outside_flows = TRUE,
  .skip_completed_stages = TRUE,
  .mismatch_fails_stage = TRUE,
  .bad_token_text = "Invalid registration token",
  .bad_password_text = "Invalid identifier or password",
  .register_params = "{}",
  .password_params = "null", /* Box::<RawValue>::default() */
  .deactivate_result = "success",
};

static const Flavour flavours[] = {
  {
    .id = TEST_HOMESERVER_SYNAPSE,
    .name = "synapse",
    .title = "Synapse 1.67",
    .version = "1.67.0",
    .federation_name = "Synapse",
    .federation_always = FALSE,                /* a client-only listener, as modelled from the start */
    .server_header = "Synapse/1.67.0",
    .python_version = "3.11.2",
    .client_versions = synapse_1_67_versions,
    .login_home_server = TRUE,
    .login_forbidden_text = "Invalid username or password",
    .login_limits = LOGIN_LIMITS_1_67,
    .retry_after_header = FALSE,
    .locks_users = FALSE,
    .localpart_plus = FALSE,
    .token_style = TOKENS_SYNAPSE,
    .default_room_version = "9",
    .max_room_version = 10,
    .put_user_created_status = 201,
    .nonce_lifetime_s = 60,                    /* UserRegisterServlet.NONCE_TIMEOUT */
    .nonce_alphabet = "0123456789abcdef",      /* secrets.token_hex(64) */
    .nonce_length = 128,
    /* ClientWellKnownResource.render_GET() without serve_client_wellknown
     * or public_baseurl */
    .well_known_absent_type = "text/plain",
    .well_known_absent_body = ".well-known not available",
    .unrecognized_text = "Unrecognized request",
    .method_not_allowed_text = "Unrecognized request",
    .not_admin_text = "You are not a server admin",
    .serves_path = NULL,
    .shared_secret_register = hs_register_synapse,
    .self_deactivate = hs_account_deactivate_synapse,
    .client_register = hs_register_client_synapse,
    .put_user = hs_put_user_synapse_1_67,
    .login_as = hs_login_as_synapse_1_67,
    .user_json = hs_user_json_synapse_1_67,
  },
  {
    .id = TEST_HOMESERVER_SYNAPSE_LATEST,
    .name = "synapse-latest",
    .title = "Synapse 1.157.1",
    .version = "1.157.1",
    .federation_name = "Synapse",
    .federation_always = TRUE,
    .server_header = "Synapse/1.157.1",
    .python_version = NULL,                    /* gone in 1.94 */
    .client_versions = synapse_latest_versions,
    .login_home_server = TRUE,
    .login_forbidden_text = "Invalid username or password",
    .login_limits = LOGIN_LIMITS_1_79,
    .retry_after_header = TRUE,                /* 1.103 */
    .locks_users = TRUE,                       /* 1.91, stable errcode 1.121, at login 1.134 */
    .locked_text = "User account has been locked",
    .locked_soft_logout = TRUE,
    .localpart_plus = TRUE,
    .token_style = TOKENS_SYNAPSE,
    /* Synapse's own default is "10" (synapse/config/server.py); this
     * server is configured with default_room_version "12" so that room IDs
     * have no server part */
    .default_room_version = "12",
    .max_room_version = 12,
    .room_creation_limit = TRUE,               /* 1.136 */
    .put_user_created_status = 201,
    .nonce_lifetime_s = 60,
    .nonce_alphabet = "0123456789abcdef",
    .nonce_length = 128,
    /* NotFoundError(".well-known not available") */
    .well_known_absent_type = NULL,
    .well_known_absent_errcode = "M_NOT_FOUND",
    .well_known_absent_body = ".well-known not available",
    .unrecognized_text = "Unrecognized request",
    .method_not_allowed_text = "Unrecognized request",
    .not_admin_text = "You are not a server admin",
    .serves_path = NULL,
    .shared_secret_register = hs_register_synapse,
    .self_deactivate = hs_account_deactivate_synapse,
    .client_register = hs_register_client_synapse,
    .put_user = hs_put_user_synapse,
    .login_as = hs_login_as_synapse,
    .user_json = hs_user_json_synapse,
  },
  {
    .id = TEST_HOMESERVER_DENDRITE,
    .name = "dendrite",
    .title = "Dendrite 0.13.7",
    .version = "0.13.7",
    .federation_name = "Dendrite",
    .federation_always = TRUE,
    .server_header = NULL,                     /* Go's net/http sends none */
    .python_version = NULL,
    .client_versions = synapse_1_67_versions,  /* as modelled from the start */
    .login_home_server = FALSE,                /* its loginResponse has no home_server */
    .login_forbidden_text = "Invalid username or password",
    .login_limits = LOGIN_LIMITS_1_67,         /* as modelled from the start */
    .retry_after_header = FALSE,               /* never */
    .locks_users = FALSE,
    .localpart_plus = FALSE,
    .token_style = TOKENS_SYNAPSE,
    .default_room_version = "9",
    .max_room_version = 10,
    .put_user_created_status = 201,
    .nonce_lifetime_s = 300,                   /* go-cache, 5 min */
    .nonce_alphabet = ALPHANUMERIC,            /* util.RandomString(16) */
    .nonce_length = 16,
    .well_known_absent_type = NULL,
    .well_known_absent_errcode = "M_UNRECOGNIZED",
    .well_known_absent_body = "Unrecognized request",
    .unrecognized_text = "Unrecognized request",
    .method_not_allowed_text = "Unrecognized request",
    .not_admin_text = "You are not a server admin",
    .serves_path = dendrite_serves_path,
    .shared_secret_register = hs_register_dendrite,
    .self_deactivate = hs_account_deactivate_dendrite,
    .client_register = NULL,
    .put_user = NULL,
    .login_as = NULL,
    .user_json = hs_user_json_synapse_1_67,
  },
  {
    .id = TEST_HOMESERVER_CONDUIT,
    .name = "conduit",
    .title = "Conduit 0.10.12",
    .version = "0.10.12",
    .federation_name = "Conduit",
    .federation_always = TRUE,
    .server_header = NULL,                     /* axum/hyper send none */
    .python_version = NULL,
    .client_versions = conduit_versions,
    .login_home_server = TRUE,
    .login_forbidden_text = "Wrong username or password.",
    .login_limits = LOGIN_LIMITS_NONE,
    .retry_after_header = FALSE,
    .locks_users = FALSE,
    .localpart_plus = FALSE,
    .token_style = TOKENS_STATIC,
    .uia = &conduit_uia,
    /* U+26A1 U+FE0F, for enable_lightning_bolt (not read from source) */
    .displayname_suffix = "\xe2\x9a\xa1\xef\xb8\x8f",
    .default_room_version = "10",
    .max_room_version = 11,
    .put_user_created_status = 201,
    .nonce_lifetime_s = 60,
    .nonce_alphabet = ALPHANUMERIC,
    .nonce_length = 32,
    .well_known_absent_type = NULL,
    .well_known_absent_errcode = "M_UNRECOGNIZED",
    .well_known_absent_body = "Unrecognized request",
    .unrecognized_text = "Unrecognized request",
    .method_not_allowed_text = "Method not allowed",
    .not_admin_text = "You are not a server admin",
    .serves_path = NULL,
    .shared_secret_register = NULL,
    .self_deactivate = hs_account_deactivate_conduit,
    .client_register = hs_register_client_conduit,
    .put_user = NULL,
    .login_as = NULL,
    .user_json = hs_user_json_synapse,
  },
  {
    .id = TEST_HOMESERVER_CONTINUWUITY,
    .name = "continuwuity",
    .title = "continuwuity 26.8.0-alpha.1",
    .version = "26.8.0-alpha.1",
    .federation_name = "continuwuity",         /* conduwuit::BRANDING */
    .federation_always = TRUE,
    .server_header = NULL,
    .python_version = NULL,
    .client_versions = continuwuity_versions,
    .login_home_server = TRUE,                 /* CTW src/api/client/session.rs */
    .login_forbidden_text = "Invalid identifier or password",
    .login_limits = LOGIN_LIMITS_NONE,
    .retry_after_header = FALSE,
    .locks_users = FALSE,
    .localpart_plus = TRUE,
    .token_style = TOKENS_CONTINUWUITY,
    .uia = &continuwuity_uia,
    /* the transgender flag, CTW default_new_user_displayname_suffix() */
    .displayname_suffix = "\xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xe2\x9a\xa7\xef\xb8\x8f",
    .default_room_version = "12",              /* CTW default_default_room_version() */
    .max_room_version = 12,
    .put_user_created_status = 201,
    .nonce_lifetime_s = 60,
    .nonce_alphabet = ALPHANUMERIC,
    .nonce_length = 32,
    .well_known_absent_type = NULL,
    .well_known_absent_errcode = "M_NOT_FOUND",
    .well_known_absent_body = "This server is not configured to serve well-known client information.",
    .unrecognized_text = "not found :(",       /* CTW src/router/router.rs */
    .method_not_allowed_text = "Method not allowed", /* src/router/request.rs */
    .not_admin_text = "You are not a server admin",
    .serves_path = NULL,
    .shared_secret_register = NULL,
    .self_deactivate = hs_account_deactivate_conduit,
    .client_register = hs_register_client_conduit,
    .put_user = NULL,
    .login_as = NULL,
    .user_json = hs_user_json_synapse,
  },
  {
    .id = TEST_HOMESERVER_TUWUNEL,
    .name = "tuwunel",
    .title = "Tuwunel 1.9.0",
    .version = "1.9.0",
    .federation_name = "Tuwunel",
    .federation_compiler = "1.95.0",           /* its Cargo rust-version */
    .federation_always = TRUE,
    .server_header = NULL,
    .python_version = NULL,
    .client_versions = tuwunel_versions,
    .login_home_server = TRUE,                 /* TUW src/api/client/session/mod.rs */
    .login_forbidden_text = "Wrong username or password.",
    .login_limits = LOGIN_LIMITS_NONE,
    .retry_after_header = FALSE,
    .locks_users = TRUE,                       /* TUW src/api/router/auth.rs */
    .locked_text = "This account has been locked.",
    .locked_soft_logout = FALSE,
    .localpart_plus = TRUE,
    .token_style = TOKENS_TUWUNEL,
    .uia = &tuwunel_uia,
    /* U+1F495, TUW default_new_user_displayname_suffix() */
    .displayname_suffix = "\xf0\x9f\x92\x95",
    .default_room_version = "11",              /* TUW default_default_room_version() */
    .max_room_version = 12,
    .put_user_created_status = 200,            /* SAA create_or_modify v2: no 201 */
    .nonce_lifetime_s = 60,                    /* TUW src/service/admin/register.rs */
    .nonce_alphabet = ALPHANUMERIC,
    .nonce_length = 32,
    .well_known_absent_type = NULL,
    .well_known_absent_errcode = "M_NOT_FOUND",
    .well_known_absent_body = "Not found.",
    .unrecognized_text = "Not Found",          /* TUW src/router/router.rs */
    .method_not_allowed_text = "Method Not Allowed", /* src/router/request.rs */
    .not_admin_text = "Only server administrators can use this endpoint",
    .serves_path = NULL,
    .shared_secret_register = hs_register_tuwunel,
    .self_deactivate = hs_account_deactivate_conduit,
    .client_register = hs_register_client_conduit,
    .put_user = hs_put_user_tuwunel,
    .login_as = hs_login_as_tuwunel,
    .user_json = hs_user_json_tuwunel,
  },
  {
    /* synapse-latest with matrix_authentication_service enabled
     * (backends-2026.md 1); MAS itself is in test-homeserver-mas.c */
    .id = TEST_HOMESERVER_SYNAPSE_MAS,
    .name = "mas",
    .title = "Synapse 1.157.1 with MAS 1.22.0",
    .version = "1.157.1",
    .federation_name = "Synapse",
    .federation_always = TRUE,
    .server_header = "Synapse/1.157.1",
    .python_version = NULL,
    .client_versions = synapse_latest_versions,
    .login_home_server = FALSE,                /* MAS's compat login has none */
    .login_forbidden_text = "Invalid username/password",
    .login_limits = LOGIN_LIMITS_NONE,         /* MAS limits its compat login itself */
    .retry_after_header = TRUE,
    /* MasDelegatedAuth.get_user_by_req() has no lock check of its own: MAS
     * answers that a locked user's token is not active */
    .locks_users = FALSE,
    .localpart_plus = TRUE,
    .token_style = TOKENS_SYNAPSE,
    .default_room_version = "12",
    .max_room_version = 12,
    .room_creation_limit = TRUE,
    .put_user_created_status = 201,
    .nonce_lifetime_s = 60,
    .nonce_alphabet = "0123456789abcdef",
    .nonce_length = 128,
    /* only for a test-set well-known; without one Synapse serves its own
     * (hs_mas_well_known) */
    .well_known_absent_type = NULL,
    .well_known_absent_errcode = "M_NOT_FOUND",
    .well_known_absent_body = ".well-known not available",
    .unrecognized_text = "Unrecognized request",
    .method_not_allowed_text = "Unrecognized request",
    .not_admin_text = "You are not a server admin",
    .delegated_auth = TRUE,
    .admin_by_scope = TRUE,
    .authenticate = hs_mas_authenticate_locked,
    .serves_path = NULL,
    .shared_secret_register = NULL,
    .self_deactivate = NULL,
    .client_register = NULL,
    .put_user = hs_put_user_synapse,
    .login_as = NULL,
    .user_json = hs_user_json_synapse,
  },
};

/* flavours[]' names, in its order */
static const gchar *const flavour_names[] = {
  "synapse", "synapse-latest", "dendrite", "conduit", "continuwuity", "tuwunel", "mas", NULL,
};
G_STATIC_ASSERT (G_N_ELEMENTS (flavour_names) == G_N_ELEMENTS (flavours) + 1);

const Flavour *
hs_flavour_get (TestHomeserverFlavour id)
{
  for (guint i = 0; i < G_N_ELEMENTS (flavours); i++)
    {
      if (flavours[i].id == id)
        return &flavours[i];
    }
  return NULL;
}

void
test_homeserver_set_flavour (TestHomeserver *self, TestHomeserverFlavour flavour)
{
  const Flavour *desc = hs_flavour_get (flavour);

  g_return_if_fail (desc != NULL);

  g_mutex_lock (&self->lock);
  self->flavour = desc;
  g_mutex_unlock (&self->lock);
}

gboolean
test_homeserver_set_flavour_by_name (TestHomeserver *self, const gchar *name, GError **error)
{
  g_autofree gchar *known = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (flavours); i++)
    {
      if (g_strcmp0 (flavours[i].name, name) == 0)
        {
          test_homeserver_set_flavour (self, flavours[i].id);
          return TRUE;
        }
    }
  known = g_strjoinv (", ", (gchar **) flavour_names);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown flavour '%s' (known: %s)",
               name != NULL ? name : "", known);
  return FALSE;
}

TestHomeserverFlavour
test_homeserver_get_flavour (TestHomeserver *self)
{
  TestHomeserverFlavour ret;

  g_mutex_lock (&self->lock);
  ret = self->flavour->id;
  g_mutex_unlock (&self->lock);
  return ret;
}

const gchar *const *
test_homeserver_list_flavours (void)
{
  return flavour_names;
}

const gchar *
test_homeserver_describe_flavour (const gchar *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (flavours); i++)
    {
      if (g_strcmp0 (flavours[i].name, name) == 0)
        return flavours[i].title;
    }
  return NULL;
}

void
test_homeserver_set_federation_listener (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->federation_listener = enabled;
  g_mutex_unlock (&self->lock);
}
