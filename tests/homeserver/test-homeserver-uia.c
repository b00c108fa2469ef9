/* test-homeserver-uia.c: user-interactive auth, for registration and the
 * account endpoints.
 *
 * Three engines, because the servers disagree: Synapse's check_ui_auth()
 * (1.67 and 1.157 alike: synapse/handlers/auth.py, ui_auth/checkers.py),
 * Dendrite 0.13.7's single password stage (auth/user_interactive.go), and
 * the Conduit family's UiaaInfo sessions (backends-2026.md 2.5; TUW and CTW
 * src/service/uiaa/mod.rs), tuned by the flavour's ConduitUia. Sessions of
 * all three live in self->uia_sessions.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* the flows the account endpoints offer */
static const gchar *const password_flow[] = { UIA_PASSWORD, NULL };
static const gchar *const email_flow[] = { UIA_EMAIL, NULL };
const gchar *const *const hs_uia_password_flows[] = { password_flow, NULL };
const gchar *const *const hs_uia_email_flows[] = { email_flow, NULL };

static json_object *
flows_json (const gchar *const *const *flows)
{
  json_object *arr = json_object_new_array ();

  for (guint i = 0; flows[i] != NULL; i++)
    {
      json_object *flow = json_object_new_object ();
      json_object *stages = json_object_new_array ();

      for (guint j = 0; flows[i][j] != NULL; j++)
        json_object_array_add (stages, json_object_new_string (flows[i][j]));
      json_object_object_add (flow, "stages", stages);
      json_object_array_add (arr, flow);
    }
  return arr;
}

static gboolean
stages_contain (GPtrArray *completed, const gchar *stage)
{
  return completed != NULL && g_ptr_array_find_with_equal_func (completed, stage, g_str_equal, NULL);
}

static void
complete_stage (UiaSession *session, const gchar *stage)
{
  if (session->completed == NULL)
    session->completed = g_ptr_array_new_with_free_func (g_free);
  if (!stages_contain (session->completed, stage))
    g_ptr_array_add (session->completed, g_strdup (stage));
}

/* any flow whose every stage is completed */
static gboolean
flows_done (const gchar *const *const *flows, GPtrArray *completed)
{
  for (guint i = 0; flows[i] != NULL; i++)
    {
      gboolean done = TRUE;

      for (guint j = 0; flows[i][j] != NULL && done; j++)
        done = stages_contain (completed, flows[i][j]);
      if (done)
        return TRUE;
    }
  return FALSE;
}

/* Synapse's _auth_dict_for_flows(), then "completed" (the stages the
 * session has passed) and the stage's error when the client tried one */
static void
reply_uia_synapse (Reply *reply, const UiaSession *session, const gchar *const *const *flows,
                   gboolean tried, const gchar *errcode, const gchar *error)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "session", json_object_new_string (session->id));
  json_object_object_add (obj, "flows", flows_json (flows));
  json_object_object_add (obj, "params", json_object_new_object ());
  if (tried)
    {
      json_object *completed = json_object_new_array ();

      for (guint i = 0; session->completed != NULL && i < session->completed->len; i++)
        json_object_array_add (completed, json_object_new_string (g_ptr_array_index (session->completed, i)));
      json_object_object_add (obj, "completed", completed);
    }
  if (errcode != NULL)
    {
      json_object_object_add (obj, "errcode", json_object_new_string (errcode));
      json_object_object_add (obj, "error", json_object_new_string (error));
    }
  hs_reply_json (reply, 401, obj);
}

/* Dendrite's Challenge, mixed with the stage's error by
 * ResponseWithChallenge() (a Go map: keys come out sorted) */
void
hs_reply_uia_dendrite (Reply *reply, const gchar *session_id, const gchar *errcode, const gchar *error)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "completed", json_object_new_array ());
  if (errcode != NULL)
    {
      json_object_object_add (obj, "errcode", json_object_new_string (errcode));
      json_object_object_add (obj, "error", json_object_new_string (error));
    }
  json_object_object_add (obj, "flows", flows_json (hs_uia_password_flows));
  json_object_object_add (obj, "params", json_object_new_object ());
  json_object_object_add (obj, "session", json_object_new_string (session_id));
  hs_reply_json (reply, 401, obj);
}

UiaSession *
hs_uia_session_new_locked (TestHomeserver *self, Request *req)
{
  UiaSession *session = g_new0 (UiaSession, 1);

  session->id = hs_random_string (LETTERS, 24);
  session->method = g_strdup (req->method);
  session->path = g_strdup (req->path);
  g_hash_table_replace (self->uia_sessions, session->id, session);
  return session;
}

const gchar *
hs_auth_string (json_object *auth, const gchar *key)
{
  json_object *value = NULL;

  if (!hs_json_has (auth, key, &value) || !json_object_is_type (value, json_type_string))
    return NULL;
  return json_object_get_string (value);
}

/* ------------------------------------------------------------------------ */
/* Synapse */

/* Synapse's RegistrationTokenAuthChecker.check_auth(), enabled while
 * registration requires a token. Its LoginErrors (whatever their own
 * status) end up merged into the 401 challenge; *errcode stays NULL when
 * the stage passed. */
static void
check_token_stage_synapse (TestHomeserver *self, UiaSession *session, json_object *auth,
                           const gchar **errcode, const gchar **error)
{
  json_object *value = NULL;
  const gchar *token;
  RegToken *stored;

  if (!hs_json_has (auth, "token", &value))
    {
      *errcode = "M_MISSING_PARAM";
      *error = "Missing registration token";
      return;
    }
  if (!json_object_is_type (value, json_type_string))
    {
      *errcode = "M_INVALID_PARAM";
      *error = "Registration token must be a string";
      return;
    }
  token = json_object_get_string (value);
  /* it reads the session from the auth dict itself */
  if (!hs_json_has (auth, "session", NULL))
    {
      *errcode = "M_MISSING_PARAM";
      *error = "Missing UIA session";
      return;
    }
  /* the stage was passed already: no second pending use */
  if (session->registration_token != NULL)
    {
      if (g_strcmp0 (token, session->registration_token) != 0)
        {
          *errcode = "M_INVALID_PARAM";
          *error = "Registration token has changed";
          return;
        }
      complete_stage (session, UIA_TOKEN);
      return;
    }
  stored = hs_reg_token_lookup (self, token);
  if (stored == NULL || !hs_reg_token_valid_synapse (stored))
    {
      *errcode = "M_UNAUTHORIZED";
      *error = "Invalid registration token";
      return;
    }
  /* set_registration_token_pending(): nobody else can use the last use up
   * in the meantime */
  stored->pending++;
  session->registration_token = g_strdup (token);
  complete_stage (session, UIA_TOKEN);
}

/* Synapse's AuthHandler.check_ui_auth() for `flows`, in its order: find the
 * session the client names (bound to the method and URI that started it)
 * or start one, keep the request's parameters in it, challenge when there
 * is no auth yet, else try the stage the client presented, a LoginError
 * being merged into the challenge so that the client may retry. The
 * checkers Synapse enables: m.login.dummy always, m.login.registration_token
 * while registration requires a token; anything else goes to
 * validate_login(), where only m.login.password passes (it records the user
 * it proved; whether that is the right user is the caller's business).
 * `clientdict` (taken; NULL is {}) is the request body without "auth" (and
 * /register's password): a later request that sends nothing else gets the
 * stored one, in session->clientdict. *session_out is the session, or NULL
 * when none was found. */
UiaResult
hs_uia_check_synapse_locked (TestHomeserver *self, Request *req, json_object *auth,
                             json_object *clientdict, const gchar *const *const *flows,
                             UiaSession **session_out, Reply *reply)
{
  g_autoptr(json_object) params = clientdict != NULL ? clientdict : json_object_new_object ();
  g_autofree gchar *qualified = NULL;
  json_object *value = NULL;
  json_object *identifier = NULL;
  UiaSession *session;
  const gchar *session_id;
  const gchar *type;
  const gchar *name = NULL;
  const gchar *password;
  const gchar *errcode = NULL;
  const gchar *error = NULL;
  User *user;

  *session_out = NULL;
  session_id = auth != NULL ? hs_auth_string (auth, "session") : NULL;
  if (session_id == NULL || session_id[0] == '\0')
    {
      session = hs_uia_session_new_locked (self, req);
      session->clientdict = g_steal_pointer (&params);
    }
  else
    {
      session = g_hash_table_lookup (self->uia_sessions, session_id);
      if (session == NULL)
        {
          g_autofree gchar *text = g_strdup_printf ("Unknown session ID: %s", session_id);
          hs_reply_error (reply, 400, "M_UNKNOWN", text);
          return UIA_FAILED;
        }
      if (g_strcmp0 (session->path, req->path) != 0 || g_strcmp0 (session->method, req->method) != 0)
        {
          hs_reply_error (reply, 403, "M_FORBIDDEN",
                          "Requested operation has changed during the UI authentication session.");
          return UIA_FAILED;
        }
      /* set_ui_auth_clientdict(): what the client sends now replaces it */
      if (json_object_object_length (params) > 0)
        {
          json_object_put (session->clientdict);
          session->clientdict = g_steal_pointer (&params);
        }
    }
  *session_out = session;
  if (auth == NULL || json_object_object_length (auth) == 0)
    {
      reply_uia_synapse (reply, session, flows, FALSE, NULL, NULL);
      return UIA_INCOMPLETE;
    }

  if (hs_json_has (auth, "type", &value))
    {
      type = json_object_is_type (value, json_type_string) ? json_object_get_string (value) : NULL;
      if (g_strcmp0 (type, UIA_DUMMY) == 0)
        complete_stage (session, UIA_DUMMY);
      else if (g_strcmp0 (type, UIA_TOKEN) == 0 && self->registration == TEST_REGISTRATION_TOKEN)
        check_token_stage_synapse (self, session, auth, &errcode, &error);
      /* AuthHandler.validate_login(is_reauth=True) */
      else if (type == NULL)
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: type");
          return UIA_FAILED;
        }
      else if (g_strcmp0 (type, UIA_PASSWORD) != 0)
        {
          g_autofree gchar *text = g_strdup_printf ("Unknown login type %s", type);
          hs_reply_error (reply, 400, "M_UNKNOWN", text);
          return UIA_FAILED;
        }
      else
        {
          password = hs_auth_string (auth, "password");
          if (password == NULL)
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: password");
              return UIA_FAILED;
            }
          if (hs_json_has (auth, "identifier", &identifier))
            {
              if (identifier == NULL || !json_object_is_type (identifier, json_type_object)
                  || g_strcmp0 (hs_auth_string (identifier, "type"), "m.id.user") != 0)
                {
                  hs_reply_error (reply, 400, "M_UNKNOWN", "Unknown login identifier type");
                  return UIA_FAILED;
                }
              name = hs_auth_string (identifier, "user");
            }
          else
            name = hs_auth_string (auth, "user");
          if (name == NULL || name[0] == '\0')
            {
              hs_reply_error (reply, 400, "M_UNKNOWN", "User identifier is missing 'user' key");
              return UIA_FAILED;
            }
          qualified = name[0] == '@' ? g_strdup (name) : g_strdup_printf ("@%s:%s", name, self->server_name);
          user = hs_lookup_user_caseless (self, qualified);
          if (user != NULL && user->password != NULL && g_strcmp0 (user->password, password) == 0)
            {
              g_free (session->validated);
              session->validated = g_strdup (user->user_id);
              complete_stage (session, UIA_PASSWORD);
            }
          else
            {
              /* a LoginError: merged into the challenge, the client may retry */
              errcode = "M_FORBIDDEN";
              error = "Invalid username or password";
            }
        }
    }
  /* a stage passed where every flow wants another completes nothing */
  if (!flows_done (flows, session->completed))
    {
      reply_uia_synapse (reply, session, flows, TRUE, errcode, error);
      return UIA_INCOMPLETE;
    }
  return UIA_DONE;
}

/* Synapse 1.67 AuthHandler.validate_user_via_ui_auth() for a requester with
 * an access token: the password stage, which must prove the requester's own
 * user ID, else 403 "Invalid auth" (and so for the rest of the session) */
UiaResult
hs_uia_validate_user_synapse_locked (TestHomeserver *self, Request *req, json_object *auth,
                                     json_object *clientdict, const Requester *who,
                                     UiaSession **session, Reply *reply)
{
  UiaResult result = hs_uia_check_synapse_locked (self, req, auth, clientdict, hs_uia_password_flows,
                                                  session, reply);

  /* "check that the UI auth matched the access token" */
  if (result == UIA_DONE && g_strcmp0 ((*session)->validated, who->user_id) != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Invalid auth");
      return UIA_FAILED;
    }
  return result;
}

/* Synapse's delete_old_ui_auth_sessions(): an expired session that holds a
 * pending token use gives it back */
void
hs_uia_expire_sessions_locked (TestHomeserver *self)
{
  GHashTableIter iter;
  UiaSession *session;

  g_hash_table_iter_init (&iter, self->uia_sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    {
      RegToken *token = session->registration_token != NULL
                        ? hs_reg_token_lookup (self, session->registration_token) : NULL;

      if (token != NULL && !session->token_used && token->pending > 0)
        token->pending--;
      g_hash_table_iter_remove (&iter);
    }
}

/* ------------------------------------------------------------------------ */
/* The Conduit family */

/* its UiaaInfo as ruma serializes it: flows, completed (left out while
 * empty), params (when given), session, and the stage's error flattened in */
static void
reply_uia_conduit (Reply *reply, const UiaSession *session, const gchar *params,
                   const gchar *errcode, const gchar *error)
{
  json_object *obj = json_object_new_object ();
  json_object *flows = json_object_new_array ();

  for (guint i = 0; i < session->flows->len; i++)
    {
      const gchar *const *stages = g_ptr_array_index (session->flows, i);
      json_object *flow = json_object_new_object ();
      json_object *arr = json_object_new_array ();

      for (guint j = 0; stages[j] != NULL; j++)
        json_object_array_add (arr, json_object_new_string (stages[j]));
      json_object_object_add (flow, "stages", arr);
      json_object_array_add (flows, flow);
    }
  json_object_object_add (obj, "flows", flows);
  if (session->completed != NULL && session->completed->len > 0)
    {
      json_object *completed = json_object_new_array ();

      for (guint i = 0; i < session->completed->len; i++)
        json_object_array_add (completed, json_object_new_string (g_ptr_array_index (session->completed, i)));
      json_object_object_add (obj, "completed", completed);
    }
  if (params != NULL)
    json_object_object_add (obj, "params", json_tokener_parse (params));
  json_object_object_add (obj, "session", json_object_new_string (session->id));
  if (errcode != NULL)
    {
      json_object_object_add (obj, "errcode", json_object_new_string (errcode));
      json_object_object_add (obj, "error", json_object_new_string (error));
    }
  hs_reply_json (reply, 401, obj);
}

static UiaSession *
conduit_session_new (const gchar *owner, const gchar *const *const *flows)
{
  UiaSession *session = g_new0 (UiaSession, 1);

  /* SESSION_ID_LENGTH, utils::random_string() */
  session->id = hs_random_string (ALPHANUMERIC, 32);
  session->owner = g_strdup (owner);
  session->flows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  for (guint i = 0; flows[i] != NULL; i++)
    g_ptr_array_add (session->flows, g_strdupv ((gchar **) flows[i]));
  return session;
}

static gboolean
session_flows_list (UiaSession *session, const gchar *stage)
{
  for (guint i = 0; i < session->flows->len; i++)
    {
      if (g_strv_contains (g_ptr_array_index (session->flows, i), stage))
        return TRUE;
    }
  return FALSE;
}

static gboolean
session_flows_done (UiaSession *session)
{
  for (guint i = 0; i < session->flows->len; i++)
    {
      const gchar *const *stages = g_ptr_array_index (session->flows, i);
      gboolean done = TRUE;

      for (guint j = 0; stages[j] != NULL && done; j++)
        done = stages_contain (session->completed, stages[j]);
      if (done)
        return TRUE;
    }
  return FALSE;
}

/* the registration token stage: TRUE when the (trimmed) token passes, its
 * use taken as the flavour does */
static gboolean
conduit_token_passes (TestHomeserver *self, const gchar *raw)
{
  g_autofree gchar *token = g_strstrip (g_strdup (raw != NULL ? raw : ""));
  RegToken *stored = hs_reg_token_lookup (self, token);

  if (stored == NULL || !hs_reg_token_valid (self, stored))
    return FALSE;
  hs_reg_token_consume_locked (self, stored);
  return TRUE;
}

/* the password stage of the Conduit family for `owner`: *errcode set when it
 * fails as a stage, FALSE with `reply` set when it is a hard error */
static gboolean
conduit_password_stage (TestHomeserver *self, const ConduitUia *uia, const gchar *owner,
                        json_object *auth, const gchar **errcode, const gchar **error, Reply *reply)
{
  g_autofree gchar *owner_local = NULL;
  g_autofree gchar *name_local = NULL;
  g_autofree gchar *user_id = NULL;
  json_object *identifier = NULL;
  const gchar *name = NULL;
  const gchar *password = hs_auth_string (auth, "password");
  User *user;

  if (hs_json_has (auth, "identifier", &identifier) && identifier != NULL
      && g_strcmp0 (hs_auth_string (identifier, "type"), "m.id.user") == 0)
    name = hs_auth_string (identifier, "user");
  if (name == NULL)
    {
      /* Tuwunel: "Identifier type not recognized." is a hard error */
      hs_reply_error (reply, 400, "M_UNRECOGNIZED", "Identifier type not recognized.");
      return FALSE;
    }
  if (name[0] == '@')
    {
      if (!hs_split_user_id (name, &name_local, NULL))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "User ID is invalid.");
          return FALSE;
        }
    }
  else
    name_local = g_strdup (name);
  hs_split_user_id (owner, &owner_local, NULL);
  if (g_strcmp0 (owner_local, name_local) != 0)
    {
      /* continuwuity's Identity.try_set_localpart() fails the stage;
       * Tuwunel refuses the request */
      if (uia->mismatch_fails_stage)
        {
          *errcode = "M_INVALID_PARAM";
          *error = "User ID mismatch";
          return TRUE;
        }
      hs_reply_error (reply, 403, "M_FORBIDDEN", "User ID and access token mismatch.");
      return FALSE;
    }
  user_id = g_strdup_printf ("@%s:%s", name_local, self->server_name);
  user = hs_lookup_user (self, user_id);
  if (user == NULL || user->password == NULL || password == NULL || g_strcmp0 (user->password, password) != 0)
    {
      *errcode = "M_FORBIDDEN";
      *error = uia->bad_password_text;
    }
  return TRUE;
}

/* The Conduit family's UIA for `owner` ("" for registration) with `flows`
 * and the challenge's `params` (NULL: none): no auth opens a session and
 * challenges; an auth without session opens one and tries the stage at
 * once; a session the server does not know is an error of its own. Stages:
 * dummy, registration token, password. A failed stage answers 401 with
 * its error; Tuwunel and Conduit then keep the session as it was (and a
 * session opened by that very request is never stored), continuwuity keeps
 * the error in it. The session is gone once a flow is complete. */
UiaResult
hs_uia_conduit_locked (TestHomeserver *self, const gchar *owner, const gchar *const *const *flows,
                       const gchar *params, json_object *auth, Reply *reply)
{
  const ConduitUia *uia = self->flavour->uia;
  const gchar *session_id = auth != NULL ? hs_auth_string (auth, "session") : NULL;
  const gchar *errcode = NULL;
  const gchar *error = NULL;
  json_object *type_value = NULL;
  const gchar *type = NULL;
  gboolean stored;
  UiaSession *session;

  if (auth == NULL)
    {
      session = conduit_session_new (owner, flows);
      g_hash_table_replace (self->uia_sessions, session->id, session);
      reply_uia_conduit (reply, session, params, NULL, NULL);
      return UIA_INCOMPLETE;
    }
  if (!json_object_is_type (auth, json_type_object))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "auth is not an object");
      return UIA_FAILED;
    }
  if (session_id != NULL)
    {
      session = g_hash_table_lookup (self->uia_sessions, session_id);
      /* Tuwunel keys its sessions by (user, device, session) */
      if (session == NULL || session->flows == NULL || g_strcmp0 (session->owner, owner) != 0)
        {
          hs_reply_error (reply, uia->unknown_session_status, uia->unknown_session_errcode,
                          uia->unknown_session_text);
          return UIA_FAILED;
        }
      stored = TRUE;
    }
  else
    {
      session = conduit_session_new (owner, flows);
      stored = FALSE;
      /* continuwuity's create_session() stores it at once */
      if (uia->skip_completed_stages)
        {
          g_hash_table_replace (self->uia_sessions, session->id, session);
          stored = TRUE;
        }
    }

  if (hs_json_has (auth, "type", &type_value))
    {
      if (!json_object_is_type (type_value, json_type_string))
        {
          if (!stored)
            hs_uia_session_free (session);
          hs_reply_error (reply, 400, "M_BAD_JSON", "invalid type: auth.type is not a string");
          return UIA_FAILED;
        }
      type = json_object_get_string (type_value);
    }
  /* no type: ruma's FallbackAcknowledgement, a re-poll that completes
   * nothing */
  if (type != NULL && uia->refuse_stage_outside_flows && !session_flows_list (session, type))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "No flows include the supplied stage");
      return UIA_FAILED;
    }
  if (type != NULL && !(uia->skip_completed_stages && stages_contain (session->completed, type)))
    {
      if (g_strcmp0 (type, UIA_DUMMY) == 0)
        complete_stage (session, UIA_DUMMY);
      else if (g_strcmp0 (type, UIA_TOKEN) == 0)
        {
          if (conduit_token_passes (self, hs_auth_string (auth, "token")))
            complete_stage (session, UIA_TOKEN);
          else
            {
              errcode = "M_FORBIDDEN";
              error = uia->bad_token_text;
            }
        }
      else if (g_strcmp0 (type, UIA_PASSWORD) == 0)
        {
          if (!conduit_password_stage (self, uia, owner, auth, &errcode, &error, reply))
            {
              if (!stored)
                hs_uia_session_free (session);
              return UIA_FAILED;
            }
          if (errcode == NULL)
            complete_stage (session, UIA_PASSWORD);
        }
      /* Tuwunel logs any other stage and carries on */
    }

  if (errcode == NULL && session_flows_done (session))
    {
      if (stored)
        g_hash_table_remove (self->uia_sessions, session->id);
      else
        hs_uia_session_free (session);
      return UIA_DONE;
    }
  /* Tuwunel returns a failed stage without update_uiaa_session() */
  if (!stored && errcode == NULL)
    {
      g_hash_table_replace (self->uia_sessions, session->id, session);
      stored = TRUE;
    }
  reply_uia_conduit (reply, session, params, errcode, error);
  if (!stored)
    hs_uia_session_free (session);
  return UIA_INCOMPLETE;
}
