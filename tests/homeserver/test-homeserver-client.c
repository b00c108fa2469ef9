/* test-homeserver-client.c: the client API of an account: login, logout,
 * whoami, account/password and account/deactivate.
 *
 * Synapse 1.67's rest/client/login.py and account.py; self-deactivation is
 * the one place here where the flavours differ, through their
 * self_deactivate hook (Dendrite 0.13.7's clientapi/routing/deactivate.go).
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* Login, logout, whoami */

/* Synapse >= 1.79's rc_login defaults (synapse/config/ratelimiting.py):
 * address and account 0.003/s burst 5, failed_attempts 0.17/s burst 3 */
static const RateLimit login_address_limit = { "rc_login.address", 5, 333333, TEST_RATE_LIMIT_LOGIN };
static const RateLimit login_account_limit = { "rc_login.account", 5, 333333, TEST_RATE_LIMIT_LOGIN };
static const RateLimit login_failed_limit = { "rc_login.failed_attempts", 3, 5882, TEST_RATE_LIMIT_LOGIN };

/* the failed attempts limiter counts a wrong password (can_do_action(),
 * whose answer is ignored) */
static void
login_failed_locked (TestHomeserver *self, const gchar *key)
{
  guint ignored;

  if (self->flavour->login_limits == LOGIN_LIMITS_1_79)
    hs_ratelimit_locked (self, &login_failed_limit, key, TRUE, &ignored);
}

void
hs_handle_login_flows (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();
  json_object *flows = json_object_new_array ();
  json_object *flow;

  (void) req, (void) who, (void) args;
  if (self->password_login)
    {
      flow = json_object_new_object ();
      json_object_object_add (flow, "type", json_object_new_string ("m.login.password"));
      json_object_array_add (flows, flow);
    }
  flow = json_object_new_object ();
  json_object_object_add (flow, "type", json_object_new_string ("m.login.token"));
  json_object_array_add (flows, flow);
  json_object_object_add (obj, "flows", flows);
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_login (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *rate_key = NULL;
  g_autofree gchar *device_id = NULL;
  json_object *value = NULL;
  json_object *identifier = NULL;
  const gchar *type;
  const gchar *name = NULL;
  const gchar *password;
  User *user;
  Token *token;
  guint retry_after_ms = 0;
  json_object *obj;

  (void) who, (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;

  if (!hs_json_has (body, "type", &value) || !json_object_is_type (value, json_type_string))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: type");
      return;
    }
  type = json_object_get_string (value);
  /* Synapse >= 1.79 (rest/client/login.py): the per-address limiter comes
   * first, for every login type, and counts every attempt */
  if (self->flavour->login_limits == LOGIN_LIMITS_1_79
      && !hs_ratelimit_locked (self, &login_address_limit, req->remote_ip, TRUE, &retry_after_ms))
    {
      hs_reply_limit_exceeded (self, reply, retry_after_ms);
      return;
    }
  if (g_strcmp0 (type, "m.login.token") == 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Invalid login token");
      return;
    }
  if (g_strcmp0 (type, "m.login.password") != 0 || !self->password_login)
    {
      hs_reply_error (reply, 400, "M_UNRECOGNIZED", "Unknown login type");
      return;
    }

  /* the legacy top-level "user" is what convert_client_dict_legacy_fields() accepts */
  if (hs_json_has (body, "identifier", &identifier))
    {
      if (!json_object_is_type (identifier, json_type_object)
          || !hs_json_has (identifier, "type", &value)
          || !json_object_is_type (value, json_type_string))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "Invalid identifier");
          return;
        }
      if (g_strcmp0 (json_object_get_string (value), "m.id.user") != 0)
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Unknown login identifier type");
          return;
        }
      if (!hs_json_has (identifier, "user", &value) || !json_object_is_type (value, json_type_string))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "User identifier is missing 'user' key");
          return;
        }
      name = json_object_get_string (value);
    }
  else if (hs_json_has (body, "user", &value) && json_object_is_type (value, json_type_string))
    {
      name = json_object_get_string (value);
    }
  else
    {
      hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing param 'identifier'");
      return;
    }
  if (!hs_json_has (body, "password", &value) || !json_object_is_type (value, json_type_string))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: password");
      return;
    }
  password = json_object_get_string (value);

  if (name[0] == '@')
    {
      if (!hs_parse_user_id_arg (name, reply))
        return;
      user_id = g_strdup (name);
    }
  else
    {
      user_id = g_strdup_printf ("@%s:%s", name, self->server_name);
    }

  rate_key = g_ascii_strdown (user_id, -1);
  if (self->flavour->login_limits == LOGIN_LIMITS_1_67 && self->login_rate_limit
      && !hs_login_ratelimit_locked (self, rate_key, &retry_after_ms))
    {
      hs_reply_limit_exceeded (self, reply, retry_after_ms);
      return;
    }
  /* >= 1.79: AuthHandler.validate_login() checks the failed attempts
   * limiter without counting, and counts a failure afterwards */
  if (self->flavour->login_limits == LOGIN_LIMITS_1_79
      && !hs_ratelimit_locked (self, &login_failed_limit, rate_key, FALSE, &retry_after_ms))
    {
      hs_reply_limit_exceeded (self, reply, retry_after_ms);
      return;
    }

  user = hs_lookup_user_caseless (self, user_id);
  if (user == NULL)
    {
      login_failed_locked (self, rate_key);
      hs_reply_error (reply, 403, "M_FORBIDDEN", self->flavour->login_forbidden_text);
      return;
    }
  /* deactivation cleared the hash, so no password can be right any more */
  if (user->deactivated && user->password == NULL)
    {
      hs_reply_error (reply, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
      return;
    }
  if (g_strcmp0 (user->password, password) != 0)
    {
      login_failed_locked (self, rate_key);
      hs_reply_error (reply, 403, "M_FORBIDDEN", self->flavour->login_forbidden_text);
      return;
    }
  /* >= 1.79 _complete_login(): the per-account limiter counts successful
   * logins only, before deactivation and the lock are looked at */
  if (self->flavour->login_limits == LOGIN_LIMITS_1_79)
    {
      g_autofree gchar *account_key = g_ascii_strdown (user->user_id, -1);

      if (!hs_ratelimit_locked (self, &login_account_limit, account_key, TRUE, &retry_after_ms))
        {
          hs_reply_limit_exceeded (self, reply, retry_after_ms);
          return;
        }
    }
  if (user->deactivated)
    {
      hs_reply_error (reply, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
      return;
    }
  /* Synapse >= 1.134, Tuwunel's locked_check() */
  if (self->flavour->locks_users && user->locked)
    {
      hs_reply_user_locked (self, reply);
      return;
    }

  if (hs_json_has (body, "device_id", &value) && json_object_is_type (value, json_type_string))
    device_id = g_strdup (json_object_get_string (value));
  else
    device_id = hs_random_string (UPPERCASE, 10);
  if (!hs_check_device_name_length (hs_initial_device_display_name (body), reply))
    return;
  hs_device_register_locked (self, user->user_id, device_id, hs_initial_device_display_name (body));
  token = hs_add_token_locked (self, user->user_id, user->user_id, device_id, 0);

  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  json_object_object_add (obj, "device_id", json_object_new_string (device_id));
  if (self->flavour->login_home_server)
    json_object_object_add (obj, "home_server", json_object_new_string (self->server_name));
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_logout (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  (void) req, (void) args;
  if (who->device_id != NULL)
    {
      GHashTableIter iter;
      Token *token;
      Device *device = hs_lookup_device (self, who->user_id, who->device_id);

      if (device != NULL)
        g_ptr_array_remove (self->devices, device);
      g_hash_table_iter_init (&iter, self->tokens);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
        {
          if (g_strcmp0 (token->user_id, who->user_id) == 0
              && g_strcmp0 (token->device_id, who->device_id) == 0)
            g_hash_table_iter_remove (&iter);
        }
    }
  else
    {
      g_hash_table_remove (self->tokens, who->token);
    }
  hs_reply_json (reply, 200, json_object_new_object ());
}

void
hs_handle_whoami (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();

  (void) self, (void) req, (void) args;
  json_object_object_add (obj, "user_id", json_object_new_string (who->user_id));
  if (who->device_id != NULL)
    json_object_object_add (obj, "device_id", json_object_new_string (who->device_id));
  json_object_object_add (obj, "is_guest", json_object_new_boolean (FALSE));
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Self-deactivation */

/* Dendrite 0.13 Deactivate(): UserInteractive.Verify(), then whoever the
 * auth named is deactivated (it is not compared with the access token) */
void
hs_account_deactivate_dendrite (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                                Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *lower = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *domain = NULL;
  g_autofree gchar *user_id = NULL;
  json_object *auth = NULL;
  json_object *identifier = NULL;
  const gchar *type;
  const gchar *session_id;
  const gchar *username = NULL;
  const gchar *password;
  User *user;
  Reply ignored = { 0, NULL, NULL, NULL };

  (void) who, (void) args;
  /* gjson: a body that does not parse simply has no "auth" */
  body = hs_parse_body (req, FALSE, &ignored);
  hs_reply_clear (&ignored);
  if (body == NULL || !hs_json_has (body, "auth", &auth))
    {
      UiaSession *session = hs_uia_session_new_locked (self, req);
      hs_reply_uia_dendrite (reply, session->id, NULL, NULL);
      return;
    }
  type = auth != NULL ? hs_auth_string (auth, "type") : NULL;
  if (g_strcmp0 (type, "m.login.password") != 0)
    {
      g_autofree gchar *text = g_strdup_printf ("Unknown auth.type: %s", type != NULL ? type : "");
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return;
    }
  /* an unknown session is fine: m.login.password is a single-stage flow */
  session_id = hs_auth_string (auth, "session");
  if (session_id == NULL)
    session_id = "";

  /* Login.Username() */
  if (hs_json_has (auth, "identifier", &identifier) && identifier != NULL
      && json_object_is_type (identifier, json_type_object)
      && g_strcmp0 (hs_auth_string (identifier, "type"), "m.id.user") == 0)
    username = hs_auth_string (identifier, "user");
  else
    username = hs_auth_string (auth, "user");
  if (username == NULL)
    username = "";
  password = hs_auth_string (auth, "password");
  if (password == NULL)
    password = "";

  /* LoginTypePassword.Login() */
  lower = g_ascii_strdown (username, -1);
  if (lower[0] == '\0')
    {
      hs_reply_uia_dendrite (reply, session_id, "M_BAD_JSON", "A username must be supplied.");
      return;
    }
  if (lower[0] == '@')
    {
      if (!hs_split_user_id (lower, &localpart, &domain))
        {
          hs_reply_uia_dendrite (reply, session_id, "M_INVALID_USERNAME", "invalid username");
          return;
        }
      if (g_strcmp0 (domain, self->server_name) != 0)
        {
          hs_reply_uia_dendrite (reply, session_id, "M_INVALID_USERNAME",
                                 "user ID does not belong to this server");
          return;
        }
    }
  else
    localpart = g_strdup (lower);
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  user = hs_lookup_user_caseless (self, user_id);
  if (user == NULL || user->deactivated || user->password == NULL || g_strcmp0 (user->password, password) != 0)
    {
      hs_reply_uia_dendrite (reply, session_id, "M_FORBIDDEN",
                             "The username or password was incorrect or the account does not exist.");
      return;
    }
  g_hash_table_remove (self->uia_sessions, session_id);

  /* gomatrixserverlib.SplitID('@', login.Username()): a bare localpart is
   * not a user ID, and that is a 500 after the password was accepted */
  g_clear_pointer (&localpart, g_free);
  g_clear_pointer (&domain, g_free);
  if (!hs_split_user_id (username, &localpart, &domain) || g_strcmp0 (domain, self->server_name) != 0)
    {
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal Server Error");
      return;
    }
  hs_deactivate_user_locked (self, user, FALSE);
  hs_reply_json (reply, 200, json_object_new_object ());
}

/* Synapse 1.67 DeactivateAccountRestServlet: "erase" checked, then
 * validate_user_via_ui_auth() */
void
hs_account_deactivate_synapse (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                               Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  json_object *auth = NULL;
  UiaSession *session = NULL;
  gboolean erase = FALSE;
  User *user;
  json_object *obj;

  (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (hs_json_has (body, "erase", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "Param 'erase' must be a boolean, if given");
          return;
        }
      erase = json_object_get_boolean (value);
    }

  if (hs_json_has (body, "auth", &auth) && auth != NULL && !json_object_is_type (auth, json_type_object))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "'auth' must be an object");
      return;
    }
  /* erase is read from the body itself, not from the session's parameters */
  if (hs_uia_validate_user_synapse_locked (self, req, auth, NULL, who, &session, reply) != UIA_DONE)
    return;

  user = hs_lookup_user (self, who->user_id);
  if (user != NULL)
    hs_deactivate_user_locked (self, user, erase);
  obj = json_object_new_object ();
  json_object_object_add (obj, "id_server_unbind_result", json_object_new_string ("success"));
  hs_reply_json (reply, 200, obj);
}

/* The Conduit family's POST /account/deactivate (TUW src/api/client/
 * account/deactivate.rs and router/auth/uiaa.rs, CTW src/api/client/account/
 * mod.rs): password UIA for the requester, then the account goes, erased if
 * asked; Tuwunel answers "no-support", continuwuity "success" */
void
hs_account_deactivate_conduit (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                               Reply *reply)
{
  const ConduitUia *uia = self->flavour->uia;
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  json_object *auth = NULL;
  gboolean erase = FALSE;
  User *user;
  json_object *obj;

  (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (hs_json_has (body, "erase", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "invalid type: expected a boolean for `erase`");
          return;
        }
      erase = json_object_get_boolean (value);
    }
  hs_json_has (body, "auth", &auth);
  if (hs_uia_conduit_locked (self, who->user_id, hs_uia_password_flows, uia->password_params, auth, reply)
      != UIA_DONE)
    return;
  user = hs_lookup_user (self, who->user_id);
  if (user != NULL)
    hs_deactivate_user_locked (self, user, erase);
  obj = json_object_new_object ();
  json_object_object_add (obj, "id_server_unbind_result", json_object_new_string (uia->deactivate_result));
  hs_reply_json (reply, 200, obj);
}

/* the flavour's self_deactivate */
void
hs_handle_account_deactivate (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  self->flavour->self_deactivate (self, req, who, args, reply);
}

/* ------------------------------------------------------------------------ */
/* Password change */

static void
add_validation_error (GString *errors, guint *n_errors, const gchar *loc, const gchar *msg)
{
  g_string_append_printf (errors, "\n%s\n  %s", loc, msg);
  (*n_errors)++;
}

/* pydantic 1.9's (Synapse 1.67's) validation of PasswordRestServlet.PostBody:
 * auth an object or null, and in it session and type strings or null;
 * logout_devices a boolean; new_password a string of at most 512
 * characters, or null. Every field is checked, and any failure is 400
 * M_BAD_JSON worded as str(ValidationError). Other keys are ignored. */
static gboolean
check_password_body (json_object *body, Reply *reply)
{
  static const gchar not_str[] = "str type expected (type=type_error.str)";
  g_autoptr(GString) errors = g_string_new (NULL);
  g_autofree gchar *text = NULL;
  json_object *value = NULL;
  guint n_errors = 0;

  if (hs_json_has (body, "auth", &value) && value != NULL)
    {
      json_object *field = NULL;

      if (!json_object_is_type (value, json_type_object))
        add_validation_error (errors, &n_errors, "auth", "value is not a valid dict (type=type_error.dict)");
      else
        {
          if (hs_json_has (value, "session", &field) && field != NULL
              && !json_object_is_type (field, json_type_string))
            add_validation_error (errors, &n_errors, "auth -> session", not_str);
          if (hs_json_has (value, "type", &field) && field != NULL
              && !json_object_is_type (field, json_type_string))
            add_validation_error (errors, &n_errors, "auth -> type", not_str);
        }
    }
  if (hs_json_has (body, "logout_devices", &value))
    {
      if (value == NULL)
        add_validation_error (errors, &n_errors, "logout_devices",
                              "none is not an allowed value (type=type_error.none.not_allowed)");
      else if (!json_object_is_type (value, json_type_boolean))
        add_validation_error (errors, &n_errors, "logout_devices",
                              "value is not a valid boolean (type=value_error.strictbool)");
    }
  if (hs_json_has (body, "new_password", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string))
        add_validation_error (errors, &n_errors, "new_password", not_str);
      else if (hs_python_len (json_object_get_string (value)) > MAX_PASSWORD_LENGTH)
        add_validation_error (errors, &n_errors, "new_password",
                              "ensure this value has at most 512 characters "
                              "(type=value_error.any_str.max_length; limit_value=512)");
    }
  if (n_errors == 0)
    return TRUE;
  text = g_strdup_printf ("%u validation error%s for PostBody%s", n_errors, n_errors > 1 ? "s" : "",
                          errors->str);
  hs_reply_error (reply, 400, "M_BAD_JSON", text);
  return FALSE;
}

/* Synapse 1.67 PasswordRestServlet.on_POST (rest/client/account.py), as the
 * Matrix Dart SDK uses it. The body is validated first (check_password_body).
 * An access token is optional: with one (any Authorization header or
 * access_token parameter counts, and a bad one is the usual 401), the
 * requester must pass the password stage as themselves
 * (validate_user_via_ui_auth: 401 challenge with flows [m.login.password],
 * a wrong password merged into it as M_FORBIDDEN "Invalid username or
 * password" with "completed", someone else's password 403 "Invalid auth").
 * Without one it is a password reset that only m.login.email.identity can
 * authorise, which no account here can pass: a 401 challenge offering that
 * flow, even after a right password ("completed": [m.login.password]).
 * While the auth is incomplete, a non-empty new_password is kept in the
 * session, and the request that completes it may leave it out; with none
 * at all, 400 M_MISSING_PARAM "Missing params: password". Then
 * hs_set_password_locked() with logout_devices (default true): every other
 * device and access token of the user goes, the requester's device and
 * token stay, and so do puppet tokens. 200 {}. The UIA session lives on, as
 * in Synapse until it expires. */
void
hs_handle_account_password (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  static const gchar *const fields[] = { "logout_devices", "new_password" };
  g_autoptr(json_object) body = NULL;
  g_autoptr(json_object) clientdict = NULL;
  json_object *value = NULL;
  json_object *auth = NULL;
  UiaSession *session = NULL;
  UiaResult result;
  const gchar *new_password = NULL;
  const gchar *password;
  gboolean logout_devices = TRUE;

  (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!check_password_body (body, reply))
    return;
  if (hs_json_has (body, "new_password", &value) && value != NULL)
    new_password = json_object_get_string (value);
  /* body.dict(exclude_unset=True) less "auth": the model's other fields
   * that the client set */
  clientdict = json_object_new_object ();
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      if (hs_json_has (body, fields[i], &value))
        json_object_object_add (clientdict, fields[i], hs_json_copy (value));
    }

  /* Auth.has_access_token(), then get_user_by_req() */
  if ((req->authorization != NULL || (req->query != NULL && g_hash_table_contains (req->query, "access_token")))
      && !hs_authenticate_locked (self, req, who, reply))
    return;
  /* clientdict.pop("auth", {}) is None for "auth": null, and
   * "session" in None raises */
  if (hs_json_has (body, "auth", &auth) && auth == NULL)
    {
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }

  if (who->user_id != NULL)
    result = hs_uia_validate_user_synapse_locked (self, req, auth, g_steal_pointer (&clientdict), who,
                                                  &session, reply);
  else
    result = hs_uia_check_synapse_locked (self, req, auth, g_steal_pointer (&clientdict), hs_uia_email_flows,
                                          &session, reply);
  /* InteractiveAuthIncompleteError: the new password waits in the session */
  if (result == UIA_INCOMPLETE && new_password != NULL && new_password[0] != '\0')
    {
      g_free (session->new_password);
      session->new_password = g_strdup (new_password);
    }
  if (result != UIA_DONE)
    return;

  /* one in this request wins over one an earlier request left */
  password = new_password != NULL && new_password[0] != '\0' ? new_password : session->new_password;
  if (password == NULL)
    {
      hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing params: password");
      return;
    }
  /* params.get("logout_devices", True), params being the session's */
  if (hs_json_has (session->clientdict, "logout_devices", &value))
    logout_devices = json_object_get_boolean (value);
  if (!hs_set_password_locked (self, who->user_id, password, logout_devices, who, reply))
    return;
  hs_reply_json (reply, 200, json_object_new_object ());
}

/* ------------------------------------------------------------------------ */
/* Public API */

void
test_homeserver_set_login_rate_limit (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->login_rate_limit = enabled;
  g_hash_table_remove_all (self->rate_buckets);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_rate_limit (TestHomeserver *self, TestRateLimit limit, gboolean enabled)
{
  g_return_if_fail ((guint) limit < G_N_ELEMENTS (self->rate_limits));

  if (limit == TEST_RATE_LIMIT_LOGIN)
    {
      test_homeserver_set_login_rate_limit (self, enabled);
      return;
    }
  g_mutex_lock (&self->lock);
  self->rate_limits[limit] = enabled;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_password_login (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->password_login = enabled;
  g_mutex_unlock (&self->lock);
}
