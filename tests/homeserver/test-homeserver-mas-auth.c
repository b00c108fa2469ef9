/* test-homeserver-mas-auth.c: the homeserver port of the mas flavour,
 * where Synapse 1.157.1 delegates its login to MAS.
 *
 * Synapse asks MAS about every access token (SYN synapse/api/auth/mas.py
 * get_user_by_access_token(), MAS crates/handlers/src/oauth2/
 * introspection.rs), advertises MAS (SYN synapse/rest/client/
 * auth_metadata.py, synapse/rest/well_known.py) and only lets application
 * services register (SYN synapse/rest/client/register.py). /login and
 * /logout on this port are MAS's compat API, which the reverse proxy in
 * front of both sends to MAS (MAS crates/handlers/src/compat/login.rs,
 * logout.rs, logout_all.rs). The MAS state itself is in
 * test-homeserver-mas.c.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* SYN synapse/api/auth/mas.py */
#define STABLE_API_SCOPE "urn:matrix:client:api:*"
#define UNSTABLE_API_SCOPE "urn:matrix:org.matrix.msc2967.client:api:*"
#define SYNAPSE_ADMIN_SCOPE "urn:synapse:admin:*"

/* MAS's defaults (crates/config/src/sections/rate_limiting.rs): login per
 * requester (its IP) burst 3, 3 per minute; per account burst 1800, 1800
 * per hour. Refused attempts cost nothing, as in governor. */
static const RateLimit compat_login_per_ip = { "mas.login.per_ip", 3, 20000, TEST_RATE_LIMIT_LOGIN };
static const RateLimit compat_login_per_account = { "mas.login.per_account", 1800, 2000, TEST_RATE_LIMIT_LOGIN };

/* experimental.compat_token_ttl: what a refreshable compat token lives */
#define COMPAT_TOKEN_TTL_MS 300000

/* ------------------------------------------------------------------------ */
/* Token introspection */

static gboolean
mas_user_valid (const MasUser *user)
{
  return user != NULL && user->locked_at == 0 && user->deactivated_at == 0;
}

/* What MAS's POST /oauth2/introspect tells Synapse about a token: FALSE
 * for an inactive one (unknown, malformed, expired, its session ended, its
 * user locked or deactivated). A client-credentials token has no user; a
 * compat one always the C-S API scope and its device given apart
 * (device_id). Refresh tokens are not modelled as access tokens. */
gboolean
hs_mas_introspect_locked (TestHomeserver *self, const gchar *token, gchar **scope, gchar **username,
                          gchar **device_id)
{
  g_autofree gchar *format_error = NULL;
  const gchar *type = hs_mas_token_type (token, &format_error);

  *scope = NULL;
  *username = NULL;
  *device_id = NULL;
  if (g_strcmp0 (type, "mat") == 0)
    {
      MasAdminToken *admin = hs_mas_lookup_admin_token (self, token);

      if (admin == NULL || admin->finished || g_get_real_time () > admin->expires_at)
        return FALSE;
      *scope = g_strdup (admin->scope);
      return TRUE;
    }
  if (g_strcmp0 (type, "mpt") == 0)
    {
      MasPersonalSession *session = hs_mas_lookup_personal_token (self, token);
      MasUser *actor;

      if (session == NULL || !hs_mas_personal_session_active (session, TRUE))
        return FALSE;
      actor = hs_mas_lookup_user_by_id (self, session->actor_user_id);
      if (!mas_user_valid (actor)
          || (session->owner_user_id != NULL && !mas_user_valid (hs_mas_lookup_user_by_id (self, session->owner_user_id))))
        return FALSE;
      *scope = g_strdup (session->scope);
      *username = g_strdup (actor->username);
      return TRUE;
    }
  if (g_strcmp0 (type, "mct") == 0)
    {
      MasCompatSession *session = hs_mas_lookup_compat_token (self, token);
      MasUser *user;

      if (session == NULL || session->finished_at != 0
          || (session->token_expires_at != 0 && g_get_real_time () > session->token_expires_at))
        return FALSE;
      user = hs_mas_lookup_user_by_id (self, session->user_id);
      if (!mas_user_valid (user))
        return FALSE;
      *scope = g_strdup (STABLE_API_SCOPE " " UNSTABLE_API_SCOPE);
      *username = g_strdup (user->username);
      *device_id = g_strdup (session->device_id);
      return TRUE;
    }
  return FALSE;
}

/* InvalidClientTokenError (SYN synapse/api/errors.py): 401 M_UNKNOWN_TOKEN
 * with soft_logout false */
static void
reply_invalid_token (Reply *reply, const gchar *text)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string ("M_UNKNOWN_TOKEN"));
  json_object_object_add (obj, "error", json_object_new_string (text));
  json_object_object_add (obj, "soft_logout", json_object_new_boolean (FALSE));
  hs_reply_json (reply, 401, obj);
}

/* The flavour's authenticate hook: MasDelegatedAuth.get_user_by_access_token()
 * in its order. An inactive token is "Token is not active"; one without
 * the C-S API scope (stable or unstable) "Token doesn't grant access to
 * the Matrix C-S API"; then the user must exist in Synapse, the device
 * (the compat session's, or the one device of the scope) too. Synapse's
 * 2 minute introspection cache is not modelled: a revoked token stops
 * working at once. */
gboolean
hs_mas_authenticate_locked (TestHomeserver *self, Request *req, const gchar *token, Requester *who,
                            Reply *reply)
{
  g_autofree gchar *scope = NULL;
  g_autofree gchar *username = NULL;
  g_autofree gchar *device_id = NULL;
  g_autofree gchar *user_id = NULL;
  guint n_devices = 0;

  if (!hs_mas_introspect_locked (self, token, &scope, &username, &device_id))
    {
      reply_invalid_token (reply, "Token is not active");
      return FALSE;
    }
  if (!hs_mas_scope_has (scope, STABLE_API_SCOPE) && !hs_mas_scope_has (scope, UNSTABLE_API_SCOPE))
    {
      reply_invalid_token (reply, "Token doesn't grant access to the Matrix C-S API");
      return FALSE;
    }
  /* AuthError's errcode is M_FORBIDDEN, even for these 500s */
  if (username == NULL)
    {
      hs_reply_error (reply, 500, "M_FORBIDDEN", "Invalid username claim in the introspection result");
      return FALSE;
    }
  user_id = g_strdup_printf ("@%s:%s", username, self->server_name);
  if (hs_lookup_user (self, user_id) == NULL)
    {
      hs_reply_error (reply, 500, "M_FORBIDDEN", "User not found");
      return FALSE;
    }
  if (device_id == NULL)
    {
      hs_mas_scope_device (scope, &device_id, &n_devices);
      if (n_devices > 1)
        {
          hs_reply_error (reply, 500, "M_FORBIDDEN", "Multiple device IDs in scope");
          return FALSE;
        }
    }
  if (device_id != NULL)
    {
      Device *device;

      if (strlen (device_id) > 255 || device_id[0] == '\0')
        {
          hs_reply_error (reply, 500, "M_FORBIDDEN", "Invalid device ID in introspection result");
          return FALSE;
        }
      /* the device went with its session: MAS's device sync deleted it */
      device = hs_lookup_device (self, user_id, device_id);
      if (device == NULL)
        {
          reply_invalid_token (reply, "Token is not active");
          return FALSE;
        }
      /* _record_request(), as for Synapse's own tokens */
      device->last_seen_ts = hs_now_ms ();
      g_free (device->last_seen_ip);
      device->last_seen_ip = g_strdup (req->remote_ip);
      g_free (device->last_seen_user_agent);
      device->last_seen_user_agent = g_strdup (req->user_agent);
    }
  who->user_id = g_steal_pointer (&user_id);
  who->device_id = g_steal_pointer (&device_id);
  who->token = g_strdup (token);
  who->scoped_admin = hs_mas_scope_has (scope, SYNAPSE_ADMIN_SCOPE);
  return TRUE;
}

/* the MAS user of a local user ID, or NULL */
static MasUser *
mas_user_for (TestHomeserver *self, const gchar *user_id)
{
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *domain = NULL;

  if (!hs_split_user_id (user_id, &localpart, &domain) || g_strcmp0 (domain, self->server_name) != 0)
    return NULL;
  return hs_mas_lookup_user_by_name (self, localpart);
}

/* test_homeserver_count_tokens() under MAS: the tokens of the user that
 * Synapse would take (see hs_mas_authenticate_locked) */
guint
hs_mas_count_cs_tokens_locked (TestHomeserver *self, const gchar *user_id)
{
  MasUser *user = mas_user_for (self, user_id);
  MasState *mas = self->mas;
  guint ret = 0;

  if (!mas_user_valid (user))
    return 0;
  for (guint i = 0; i < mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (mas->compat_sessions, i);
      g_autofree gchar *scope = NULL, *username = NULL, *device_id = NULL;

      if (g_strcmp0 (session->user_id, user->id) == 0
          && hs_mas_introspect_locked (self, session->token, &scope, &username, &device_id))
        ret++;
    }
  for (guint i = 0; i < mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (mas->personal_sessions, i);
      g_autofree gchar *scope = NULL, *username = NULL, *device_id = NULL;

      if (g_strcmp0 (session->actor_user_id, user->id) == 0
          && hs_mas_introspect_locked (self, session->token, &scope, &username, &device_id)
          && (hs_mas_scope_has (scope, STABLE_API_SCOPE) || hs_mas_scope_has (scope, UNSTABLE_API_SCOPE)))
        ret++;
    }
  return ret;
}

/* test_homeserver_issue_token() under MAS: a compat session opened
 * earlier elsewhere; NULL when MAS does not know an active such user */
gchar *
hs_mas_issue_token_locked (TestHomeserver *self, const gchar *user_id)
{
  MasUser *user = mas_user_for (self, user_id);
  MasCompatSession *session;
  g_autofree gchar *device_id = NULL;

  if (!mas_user_valid (user))
    return NULL;
  device_id = hs_random_string (ALPHANUMERIC, 10);
  session = hs_mas_compat_session_start_locked (self, user, device_id, "admin's own session", NULL);
  return g_strdup (session->token);
}

/* ------------------------------------------------------------------------ */
/* Discovery */

/* AuthMetadataServlet and AuthIssuerServlet */
static const gchar *const discovery_headers[] = {
  "Cache-Control", "public, max-age=600, s-maxage=3600, stale-while-revalidate=600", NULL,
};

/* Synapse fetches MAS's metadata; when MAS is not there (the flavour was
 * chosen after start), that fails as any unexpected error does */
static gboolean
mas_reachable (TestHomeserver *self, Reply *reply)
{
  if (self->mas->url != NULL)
    return TRUE;
  hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
  return FALSE;
}

/* GET /_matrix/client/v1/auth_metadata and the unstable
 * org.matrix.msc2965/auth_metadata: MAS's discovery document as it is */
void
hs_mas_handle_auth_metadata (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  (void) req, (void) who, (void) args;
  if (!mas_reachable (self, reply))
    return;
  hs_reply_json (reply, 200, hs_mas_discovery_json (self));
  reply->headers = discovery_headers;
}

/* GET /_matrix/client/unstable/org.matrix.msc2965/auth_issuer */
void
hs_mas_handle_auth_issuer (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *issuer = NULL;
  json_object *obj;

  (void) req, (void) who, (void) args;
  if (!mas_reachable (self, reply))
    return;
  issuer = hs_mas_base_url_locked (self, "/");
  obj = json_object_new_object ();
  json_object_object_add (obj, "issuer", json_object_new_string (issuer));
  hs_reply_json (reply, 200, obj);
  reply->headers = discovery_headers;
}

static json_object *
authentication_json (TestHomeserver *self)
{
  g_autofree gchar *issuer = hs_mas_base_url_locked (self, "/");
  g_autofree gchar *account = hs_mas_base_url_locked (self, "/account/");
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "issuer", json_object_new_string (issuer));
  json_object_object_add (obj, "account", json_object_new_string (account));
  return obj;
}

/* GET /.well-known/matrix/client under MAS (WellKnownBuilder): Synapse's
 * own, with the homeserver and "org.matrix.msc2965.authentication"; a
 * document the test set is served as set, but gains that key when it is a
 * 200 JSON object without one. */
void
hs_mas_well_known (TestHomeserver *self, Reply *reply)
{
  json_object *obj;

  if (!self->well_known_set)
    {
      g_autofree gchar *base_url = g_strconcat (self->url != NULL ? self->url : "", "/", NULL);
      json_object *homeserver = json_object_new_object ();

      obj = json_object_new_object ();
      json_object_object_add (homeserver, "base_url", json_object_new_string (base_url));
      json_object_object_add (obj, "m.homeserver", homeserver);
      json_object_object_add (obj, "org.matrix.msc2965.authentication", authentication_json (self));
      hs_reply_json (reply, 200, obj);
      return;
    }
  obj = self->well_known_status == 200 ? json_tokener_parse (self->well_known_body) : NULL;
  if (obj != NULL && json_object_is_type (obj, json_type_object)
      && !json_object_object_get_ex (obj, "org.matrix.msc2965.authentication", NULL))
    {
      json_object_object_add (obj, "org.matrix.msc2965.authentication", authentication_json (self));
      hs_reply_json (reply, 200, obj);
      return;
    }
  json_object_put (obj);
  hs_reply_raw (reply, self->well_known_status, NULL, self->well_known_body);
}

/* ------------------------------------------------------------------------ */
/* Registration */

/* POST /_matrix/client/v3/register under MAS (RegisterAppServiceOnlyRestServlet):
 * only m.login.application_service with inhibit_login, for an application
 * service's token; none is registered here */
void
hs_mas_handle_register (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;

  (void) self, (void) who, (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!hs_json_has (body, "type", &value) || !json_object_is_type (value, json_type_string)
      || g_strcmp0 (json_object_get_string (value), "m.login.application_service") != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN",
                      "Registration has been disabled. Only m.login.application_service registrations are allowed.");
      return;
    }
  if (!hs_json_has (body, "inhibit_login", &value) || !hs_python_truthy (value))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN",
                      "This server uses OAuth2, so the inhibit_login parameter must be set to true for "
                      "appservice registrations.");
      return;
    }
  /* get_appservice_by_req(): no application service is configured */
  if (req->authorization == NULL && (req->query == NULL || !g_hash_table_contains (req->query, "access_token")))
    hs_reply_error (reply, 401, "M_MISSING_TOKEN", "Missing access token.");
  else
    reply_invalid_token (reply, "Unrecognised access token");
}

/* ------------------------------------------------------------------------ */
/* MAS's compat API (the reverse proxy sends it /login and /logout) */

/* MatrixJsonBody (MAS crates/handlers/src/compat/mod.rs): a Content-Type,
 * when there is one, must be JSON; the body must parse. With `optional`,
 * an empty body without a Content-Type is no body: NULL, no reply. */
static json_object *
matrix_json_body (Request *req, gboolean optional, Reply *reply)
{
  json_tokener *tok;
  json_object *obj;
  gsize end;
  gboolean ok;

  if (req->content_type != NULL && !hs_mas_is_json_type (req->content_type))
    {
      hs_reply_error (reply, 400, "M_NOT_JSON", "Invalid Content-Type header: expected application/json");
      return NULL;
    }
  if (optional && req->content_type == NULL && req->body_len == 0)
    return NULL;
  tok = json_tokener_new ();
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
  obj = json_tokener_parse_ex (tok, req->body, (int) req->body_len);
  end = json_tokener_get_parse_end (tok);
  ok = json_tokener_get_error (tok) == json_tokener_success;
  json_tokener_free (tok);
  for (gsize i = end; ok && i < req->body_len; i++)
    ok = g_ascii_isspace (req->body[i]);
  if (!ok)
    {
      g_clear_pointer (&obj, json_object_put);
      hs_reply_error (reply, 400, "M_NOT_JSON", "Body is not a valid JSON document");
      return NULL;
    }
  /* json-c makes NULL of a JSON null: valid JSON, but no body here takes it */
  if (obj == NULL)
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "JSON fields are not valid");
      return NULL;
    }
  return obj;
}

/* serde's checks of a login body field; FALSE means "JSON fields are not
 * valid" */
static gboolean
field_ok (json_object *body, const gchar *key, json_type type, gboolean required, gboolean nullable,
          json_object **out)
{
  json_object *value = NULL;

  *out = NULL;
  if (!hs_json_has (body, key, &value))
    return !required;
  if (value == NULL)
    return nullable;
  if (!json_object_is_type (value, type))
    return FALSE;
  *out = value;
  return TRUE;
}

static void
reply_bad_json (Reply *reply)
{
  hs_reply_error (reply, 400, "M_BAD_JSON", "JSON fields are not valid");
}

/* GET /_matrix/client/v3/login (compat/login.rs get()) */
void
hs_mas_handle_login_flows (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();
  json_object *flows = json_object_new_array ();
  json_object *flow;

  (void) who, (void) args;
  req->answered_by_mas = TRUE;
  if (self->mas->password_login)
    {
      flow = json_object_new_object ();
      json_object_object_add (flow, "type", json_object_new_string ("m.login.password"));
      json_object_array_add (flows, flow);
    }
  flow = json_object_new_object ();
  json_object_object_add (flow, "type", json_object_new_string ("m.login.sso"));
  json_object_object_add (flow, "oauth_aware_preferred", json_object_new_boolean (TRUE));
  json_object_object_add (flow, "org.matrix.msc3824.delegated_oidc_compatibility", json_object_new_boolean (TRUE));
  json_object_array_add (flows, flow);
  flow = json_object_new_object ();
  json_object_object_add (flow, "type", json_object_new_string ("m.login.token"));
  json_object_array_add (flows, flow);
  json_object_object_add (obj, "flows", flows);
  hs_reply_json (reply, 200, obj);
}

/* The identity a password login names: the deprecated top-level "user"
 * wins over the identifier; NULL with the error answered */
static const gchar *
login_user (json_object *body, Reply *reply)
{
  json_object *identifier = NULL;
  json_object *user = NULL;
  json_object *value = NULL;

  if (!field_ok (body, "user", json_type_string, FALSE, TRUE, &user)
      || !field_ok (body, "identifier", json_type_object, FALSE, TRUE, &identifier))
    {
      reply_bad_json (reply);
      return NULL;
    }
  if (identifier != NULL)
    {
      /* Identifier: tagged by "type", #[serde(other)] Unsupported */
      if (!field_ok (identifier, "type", json_type_string, TRUE, FALSE, &value))
        {
          reply_bad_json (reply);
          return NULL;
        }
      if (g_strcmp0 (json_object_get_string (value), "m.id.user") == 0)
        {
          if (!field_ok (identifier, "user", json_type_string, TRUE, FALSE, &value))
            {
              reply_bad_json (reply);
              return NULL;
            }
          if (user == NULL)
            return json_object_get_string (value);
        }
      else if (user == NULL)
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Unsupported login identifier");
          return NULL;
        }
    }
  if (user != NULL)
    return json_object_get_string (user);
  /* sic: the closing quote is missing in MAS too */
  hs_reply_error (reply, 400, "M_BAD_JSON", "Missing property 'identifier");
  return NULL;
}

/* POST /_matrix/client/v3/login (compat/login.rs post() and
 * user_password_login()): the body's fields (serde: a wrong type anywhere
 * is 400 M_BAD_JSON "JSON fields are not valid"), then the credentials:
 * m.login.token never matches a login token here (403 "Invalid login
 * token"); m.login.password, only with passwords enabled, else 400
 * M_UNKNOWN "Invalid login type". The user: a localpart or an
 * own-server MXID, found caselessly among MAS's users that are not
 * deactivated (else 403 M_FORBIDDEN "Invalid username/password"); locked
 * 401 M_USER_LOCKED; then the rate limits (per address, then per
 * account: 429 M_LIMIT_EXCEEDED "Too many login attempts", nothing more),
 * counted before the password check so that failures count too; no
 * password yet or a wrong one 403 as above. Success: a compat session on
 * the device asked for or a new one, the device made in Synapse, and
 * {access_token, device_id, user_id}, no home_server. */
void
hs_mas_handle_login (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *domain = NULL;
  g_autofree gchar *mxid = NULL;
  json_object *type = NULL;
  json_object *refresh = NULL;
  json_object *device_id = NULL;
  json_object *display_name = NULL;
  json_object *password = NULL;
  json_object *token = NULL;
  const gchar *name;
  const gchar *username;
  MasCompatSession *session;
  MasUser *user;
  guint retry_after_ms = 0;
  json_object *obj;

  (void) who, (void) args;
  req->answered_by_mas = TRUE;
  body = matrix_json_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!json_object_is_type (body, json_type_object)
      || !field_ok (body, "type", json_type_string, TRUE, FALSE, &type)
      || !field_ok (body, "refresh_token", json_type_boolean, FALSE, FALSE, &refresh)
      || !field_ok (body, "device_id", json_type_string, FALSE, TRUE, &device_id)
      || !field_ok (body, "initial_device_display_name", json_type_string, FALSE, TRUE, &display_name))
    {
      reply_bad_json (reply);
      return;
    }
  if (g_strcmp0 (json_object_get_string (type), "m.login.password") == 0
      && !field_ok (body, "password", json_type_string, TRUE, FALSE, &password))
    {
      reply_bad_json (reply);
      return;
    }
  if (g_strcmp0 (json_object_get_string (type), "m.login.token") == 0)
    {
      if (!field_ok (body, "token", json_type_string, TRUE, FALSE, &token))
        reply_bad_json (reply);
      else
        hs_reply_error (reply, 403, "M_FORBIDDEN", "Invalid login token");
      return;
    }
  if (password == NULL || !self->mas->password_login)
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid login type");
      return;
    }
  name = login_user (body, reply);
  if (name == NULL)
    return;
  /* HomeserverConnection::localpart(): only an MXID of this server */
  username = name;
  if (hs_split_user_id (name, &localpart, &domain) && g_strcmp0 (domain, self->server_name) == 0)
    username = localpart;
  user = hs_mas_lookup_user_by_name (self, username);
  if (user == NULL || user->deactivated_at != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Invalid username/password");
      return;
    }
  if (user->locked_at != 0)
    {
      hs_reply_error (reply, 401, "M_USER_LOCKED", "User account has been locked");
      return;
    }
  /* Limiter::check_password() */
  if (!hs_ratelimit_locked (self, &compat_login_per_ip, req->remote_ip, TRUE, &retry_after_ms)
      || !hs_ratelimit_locked (self, &compat_login_per_account, user->id, TRUE, &retry_after_ms))
    {
      hs_reply_error (reply, 429, "M_LIMIT_EXCEEDED", "Too many login attempts");
      return;
    }
  if (user->password == NULL || g_strcmp0 (user->password, json_object_get_string (password)) != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Invalid username/password");
      return;
    }
  mxid = hs_mas_user_mxid (self, user);
  if (hs_lookup_user (self, mxid) == NULL)
    {
      /* upsert_device() fails: the session is ended again */
      session = hs_mas_compat_session_start_locked (self, user, device_id != NULL ? json_object_get_string (device_id)
                                                                                  : NULL,
                                                    NULL, req->user_agent);
      session->finished_at = g_get_real_time ();
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }
  session = hs_mas_compat_session_start_locked (self, user,
                                                device_id != NULL ? json_object_get_string (device_id) : NULL,
                                                display_name != NULL ? json_object_get_string (display_name) : NULL,
                                                req->user_agent);
  obj = json_object_new_object ();
  json_object_object_add (obj, "access_token", json_object_new_string (session->token));
  json_object_object_add (obj, "device_id", json_object_new_string (session->device_id));
  json_object_object_add (obj, "user_id", json_object_new_string (mxid));
  /* a refreshable token expires, after compat_token_ttl */
  if (refresh != NULL && json_object_get_boolean (refresh))
    {
      session->refresh_token = hs_mas_token_new ("mcr");
      session->token_expires_at = g_get_real_time () + COMPAT_TOKEN_TTL_MS * G_GINT64_CONSTANT (1000);
      json_object_object_add (obj, "refresh_token", json_object_new_string (session->refresh_token));
      json_object_object_add (obj, "expires_in_ms", json_object_new_int64 (COMPAT_TOKEN_TTL_MS));
    }
  hs_reply_json (reply, 200, obj);
}

/* the bearer token of a compat request (TypedHeader<Authorization<Bearer>>:
 * the header only, never the access_token parameter) */
static const gchar *
bearer_token (Request *req)
{
  if (req->authorization == NULL || g_ascii_strncasecmp (req->authorization, "Bearer ", 7) != 0)
    return NULL;
  return req->authorization + 7;
}

/* POST /_matrix/client/v3/logout (compat/logout.rs): a valid compat token
 * (anything else 401 M_UNKNOWN_TOKEN "Invalid access token"; none 401
 * M_MISSING_TOKEN "Missing access token"); its session ends and the
 * device sync removes its device. 200 {}. */
void
hs_mas_handle_logout (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *format_error = NULL;
  const gchar *token = bearer_token (req);
  MasCompatSession *session;
  MasUser *user;

  (void) who, (void) args;
  req->answered_by_mas = TRUE;
  if (token == NULL)
    {
      hs_reply_error (reply, 401, "M_MISSING_TOKEN", "Missing access token");
      return;
    }
  session = g_strcmp0 (hs_mas_token_type (token, &format_error), "mct") == 0
            ? hs_mas_lookup_compat_token (self, token) : NULL;
  user = session != NULL ? hs_mas_lookup_user_by_id (self, session->user_id) : NULL;
  if (session == NULL || session->finished_at != 0 || user == NULL
      || (session->token_expires_at != 0 && g_get_real_time () > session->token_expires_at))
    {
      hs_reply_error (reply, 401, "M_UNKNOWN_TOKEN", "Invalid access token");
      return;
    }
  session->finished_at = g_get_real_time ();
  hs_mas_sync_devices_locked (self, user);
  hs_reply_json (reply, 200, json_object_new_object ());
}

/* POST /_matrix/client/v3/logout/all (compat/logout_all.rs): the token
 * checks of logout, then unless the body says
 * "io.element.only_compat_is_fine": true, 404 M_UNRECOGNIZED; else every
 * compat session of the user ends */
void
hs_mas_handle_logout_all (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *format_error = NULL;
  const gchar *token = bearer_token (req);
  json_object *fine = NULL;
  MasCompatSession *session;
  MasUser *user;

  (void) who, (void) args;
  req->answered_by_mas = TRUE;
  body = matrix_json_body (req, TRUE, reply);
  if (body == NULL && reply->status != 0)
    return;
  if (body != NULL && (!json_object_is_type (body, json_type_object)
                       || !field_ok (body, "io.element.only_compat_is_fine", json_type_boolean, FALSE, FALSE,
                                     &fine)))
    {
      reply_bad_json (reply);
      return;
    }
  if (token == NULL)
    {
      hs_reply_error (reply, 401, "M_MISSING_TOKEN", "Missing access token");
      return;
    }
  session = g_strcmp0 (hs_mas_token_type (token, &format_error), "mct") == 0
            ? hs_mas_lookup_compat_token (self, token) : NULL;
  user = session != NULL ? hs_mas_lookup_user_by_id (self, session->user_id) : NULL;
  if (session == NULL || session->finished_at != 0 || !mas_user_valid (user)
      || (session->token_expires_at != 0 && g_get_real_time () > session->token_expires_at))
    {
      hs_reply_error (reply, 401, "M_UNKNOWN_TOKEN", "Invalid access token");
      return;
    }
  if (fine == NULL || !json_object_get_boolean (fine))
    {
      hs_reply_error (reply, 404, "M_UNRECOGNIZED", "The /logout/all endpoint is not supported by this deployment");
      return;
    }
  for (guint i = 0; i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *other = g_ptr_array_index (self->mas->compat_sessions, i);
      if (other->finished_at == 0 && g_strcmp0 (other->user_id, user->id) == 0)
        other->finished_at = g_get_real_time ();
    }
  hs_mas_sync_devices_locked (self, user);
  hs_reply_json (reply, 200, json_object_new_object ());
}
