/* test-homeserver-tokens.c: registration tokens (spec v1.2, MSC3231) and
 * the admin API that manages them.
 *
 * The token model follows each flavour's TokenStyle: Synapse's
 * registration_tokens table with pending/completed counters
 * (synapse/storage/databases/main/registration.py), Tuwunel's database
 * tokens whose uses are consumed at the UIA stage and which are deleted
 * once used up (TUW src/service/registration_tokens), continuwuity's
 * counted database tokens, Conduit's static config token. The admin API is
 * Synapse's rest/admin/registration_tokens.py (backends-2026.md 2.4) and
 * Tuwunel 1.9's src/api/client/admin/tokens.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* Synapse's NewRegistrationTokenRestServlet.allowed_chars */
#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

/* ------------------------------------------------------------------------ */
/* The model; the caller holds self->lock */

RegToken *
hs_reg_token_lookup (TestHomeserver *self, const gchar *token)
{
  for (guint i = 0; token != NULL && i < self->reg_tokens->len; i++)
    {
      RegToken *stored = g_ptr_array_index (self->reg_tokens, i);
      if (g_strcmp0 (stored->token, token) == 0)
        return stored;
    }
  return NULL;
}

static RegToken *
reg_token_add_locked (TestHomeserver *self, const gchar *token, gint64 uses_allowed, gint64 expiry_time)
{
  RegToken *stored = g_new0 (RegToken, 1);

  stored->token = g_strdup (token);
  stored->uses_allowed = uses_allowed;
  stored->expiry_time = expiry_time;
  g_ptr_array_add (self->reg_tokens, stored);
  return stored;
}

static void
reg_token_remove_locked (TestHomeserver *self, RegToken *token)
{
  g_ptr_array_remove (self->reg_tokens, token);
}

/* registration_token_is_valid(): not past expiry_time, and pending plus
 * completed below uses_allowed, which is skipped when it is falsy (null
 * or 0, so 0 is unlimited) */
gboolean
hs_reg_token_valid_synapse (const RegToken *token)
{
  if (token->expiry_time != 0 && token->expiry_time < hs_now_ms ())
    return FALSE;
  if (token->uses_allowed > 0 && token->pending + token->completed >= token->uses_allowed)
    return FALSE;
  return TRUE;
}

/* Tuwunel's DatabaseTokenInfo.is_valid(): a cap of 0 is spent at once;
 * continuwuity's is the same for uses */
static gboolean
reg_token_valid_counted (const RegToken *token)
{
  if (token->uses_allowed >= 0 && token->completed >= token->uses_allowed)
    return FALSE;
  if (token->expiry_time != 0 && hs_now_ms () > token->expiry_time)
    return FALSE;
  return TRUE;
}

/* whether the flavour lets `token` register an account now */
gboolean
hs_reg_token_valid (TestHomeserver *self, const RegToken *token)
{
  switch (self->flavour->token_style)
    {
    case TOKENS_STATIC:
      return TRUE;
    case TOKENS_TUWUNEL:
    case TOKENS_CONTINUWUITY:
      return reg_token_valid_counted (token);
    case TOKENS_SYNAPSE:
    default:
      return hs_reg_token_valid_synapse (token);
    }
}

/* the Conduit family's use of a token at the UIA stage: Tuwunel's
 * try_consume() counts it and deletes a token it used up; continuwuity's
 * mark_token_as_used() counts it; Conduit's static token counts nothing */
void
hs_reg_token_consume_locked (TestHomeserver *self, RegToken *token)
{
  switch (self->flavour->token_style)
    {
    case TOKENS_TUWUNEL:
      token->completed++;
      if (!reg_token_valid_counted (token))
        reg_token_remove_locked (self, token);
      break;
    case TOKENS_CONTINUWUITY:
      token->completed++;
      break;
    case TOKENS_STATIC:
    case TOKENS_SYNAPSE:
    default:
      break;
    }
}

/* whether any token would let someone register: Tuwunel's
 * registration_tokens.is_enabled() (an invalid token is cleaned away on
 * iteration) and the others' "a token is configured" */
gboolean
hs_reg_tokens_any_locked (TestHomeserver *self)
{
  for (guint i = self->reg_tokens->len; i > 0; i--)
    {
      RegToken *token = g_ptr_array_index (self->reg_tokens, i - 1);

      if (self->flavour->token_style != TOKENS_TUWUNEL || reg_token_valid_counted (token))
        return TRUE;
      reg_token_remove_locked (self, token);
    }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* The admin API */

static json_object *
json_int_or_null (gint64 value, gint64 null_value)
{
  return value == null_value ? NULL : json_object_new_int64 (value);
}

/* {"token", "uses_allowed", "pending", "completed", "expiry_time"};
 * Tuwunel's pending is always 0 (it consumes uses in one step) */
static json_object *
reg_token_json (const RegToken *token)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "token", json_object_new_string (token->token));
  json_object_object_add (obj, "uses_allowed", json_int_or_null (token->uses_allowed, -1));
  json_object_object_add (obj, "pending", json_object_new_int64 (token->pending));
  json_object_object_add (obj, "completed", json_object_new_int64 (token->completed));
  json_object_object_add (obj, "expiry_time", json_int_or_null (token->expiry_time, 0));
  return obj;
}

static gboolean
tuwunel (TestHomeserver *self)
{
  return self->flavour->token_style == TOKENS_TUWUNEL;
}

/* ruma's deserialization of an unsigned integer field, null allowed */
static gboolean
tuwunel_uint_field (json_object *body, const gchar *key, gboolean *present, gint64 *value,
                    Reply *reply)
{
  json_object *field = NULL;
  g_autofree gchar *text = NULL;

  *present = hs_json_has (body, key, &field);
  *value = -1;
  if (!*present || field == NULL)
    return TRUE;
  if (!json_object_is_type (field, json_type_int) || json_object_get_int64 (field) < 0)
    {
      text = g_strdup_printf ("invalid type: %s, expected a non-negative integer for `%s`",
                              json_type_to_name (json_object_get_type (field)), key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *value = json_object_get_int64 (field);
  return TRUE;
}

/* GET /_synapse/admin/v1/registration_tokens[?valid=true|false]. Synapse
 * filters in SQL: valid means uses_allowed > pending + completed or null,
 * and expiry_time > now or null, so a token of uses_allowed 0 (unlimited
 * for registration) is listed as invalid. Tuwunel keeps valid tokens only,
 * so valid=false is always empty. */
void
hs_handle_reg_tokens_list (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                           Reply *reply)
{
  const gchar *valid = req->query != NULL ? g_hash_table_lookup (req->query, "valid") : NULL;
  gint64 now = hs_now_ms ();
  json_object *arr;
  json_object *obj;

  (void) who, (void) args;
  if (valid != NULL && g_strcmp0 (valid, "true") != 0 && g_strcmp0 (valid, "false") != 0)
    {
      /* parse_boolean() */
      if (tuwunel (self))
        hs_reply_error (reply, 400, "M_BAD_JSON", "invalid value for `valid`: expected a boolean");
      else
        hs_reply_error (reply, 400, "M_INVALID_PARAM",
                        "Boolean query parameter 'valid' must be one of ['true', 'false']");
      return;
    }
  if (tuwunel (self))
    hs_reg_tokens_any_locked (self);
  arr = json_object_new_array ();
  for (guint i = 0; i < self->reg_tokens->len; i++)
    {
      RegToken *token = g_ptr_array_index (self->reg_tokens, i);
      gboolean listed = TRUE;

      if (valid != NULL && tuwunel (self))
        listed = g_strcmp0 (valid, "true") == 0;
      else if (valid != NULL)
        {
          gint64 used = token->pending + token->completed;
          gboolean sql_valid = (token->uses_allowed < 0 || token->uses_allowed > used)
                               && (token->expiry_time == 0 || token->expiry_time > now);
          gboolean sql_invalid = (token->uses_allowed >= 0 && token->uses_allowed <= used)
                                 || (token->expiry_time != 0 && token->expiry_time <= now);

          listed = g_strcmp0 (valid, "true") == 0 ? sql_valid : sql_invalid;
        }
      if (listed)
        json_object_array_add (arr, reg_token_json (token));
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "registration_tokens", arr);
  hs_reply_json (reply, 200, obj);
}

/* POST /_synapse/admin/v1/registration_tokens/new: Synapse's checks in
 * order, every error 400 M_INVALID_PARAM, 200 (not 201) with the token;
 * Tuwunel checks only the JSON types, takes any token name, rejects a
 * duplicate with 400 too */
void
hs_handle_reg_token_new (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                         Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *generated = NULL;
  g_autofree gchar *text = NULL;
  json_object *value = NULL;
  const gchar *token = NULL;
  gint64 uses_allowed = -1;
  gint64 expiry_time = 0;
  gint64 length = 16;
  RegToken *stored;

  (void) who, (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;

  if (tuwunel (self))
    {
      gboolean present;
      gint64 number;

      if (hs_json_has (body, "token", &value) && value != NULL)
        {
          if (!json_object_is_type (value, json_type_string))
            {
              hs_reply_error (reply, 400, "M_BAD_JSON", "invalid type: expected a string for `token`");
              return;
            }
          token = json_object_get_string (value);
        }
      if (!tuwunel_uint_field (body, "length", &present, &number, reply))
        return;
      if (number >= 0)
        length = number;
      if (!tuwunel_uint_field (body, "uses_allowed", &present, &uses_allowed, reply)
          || !tuwunel_uint_field (body, "expiry_time", &present, &expiry_time, reply))
        return;
      if (expiry_time < 0)
        expiry_time = 0;
      if (token == NULL)
        token = generated = hs_random_string (ALPHANUMERIC, (guint) MIN (length, 1024));
      if (hs_reg_token_lookup (self, token) != NULL)
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "Registration token already exists");
          return;
        }
      stored = reg_token_add_locked (self, token, uses_allowed, expiry_time);
      hs_reply_json (reply, 200, reg_token_json (stored));
      return;
    }

  if (hs_json_has (body, "token", &value))
    {
      if (!json_object_is_type (value, json_type_string))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "token must be a string");
          return;
        }
      token = json_object_get_string (value);
      if (!(strlen (token) > 0 && hs_python_len (token) <= 64))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM",
                          "token must not be empty and must not be longer than 64 characters");
          return;
        }
      for (const gchar *p = token; *p != '\0'; p++)
        {
          if (strchr (TOKEN_CHARS, *p) == NULL)
            {
              /* the regex in the text is Synapse's, narrower than what it allows */
              hs_reply_error (reply, 400, "M_INVALID_PARAM",
                              "token must consist only of characters matched by the regex [A-Za-z0-9-_]");
              return;
            }
        }
    }
  else
    {
      if (hs_json_has (body, "length", &value))
        {
          if (!json_object_is_type (value, json_type_int))
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "length must be an integer");
              return;
            }
          length = json_object_get_int64 (value);
        }
      if (!(length > 0 && length <= 64))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM",
                          "length must be greater than zero and not greater than 64");
          return;
        }
      /* generate_registration_token(): random.choices() of allowed_chars */
      do
        {
          g_free (generated);
          generated = hs_random_string (TOKEN_CHARS, (guint) length);
        }
      while (hs_reg_token_lookup (self, generated) != NULL);
      token = generated;
    }

  if (hs_json_has (body, "uses_allowed", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_int) || json_object_get_int64 (value) < 0)
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "uses_allowed must be a non-negative integer or null");
          return;
        }
      uses_allowed = json_object_get_int64 (value);
    }
  if (hs_json_has (body, "expiry_time", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_int))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "expiry_time must be an integer or null");
          return;
        }
      expiry_time = json_object_get_int64 (value);
      if (expiry_time < hs_now_ms ())
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "expiry_time must not be in the past");
          return;
        }
    }
  if (hs_reg_token_lookup (self, token) != NULL)
    {
      text = g_strdup_printf ("Token already exists: %s", token);
      hs_reply_error (reply, 400, "M_INVALID_PARAM", text);
      return;
    }
  stored = reg_token_add_locked (self, token, uses_allowed, expiry_time);
  hs_reply_json (reply, 200, reg_token_json (stored));
}

static void
reply_no_such_token (TestHomeserver *self, Reply *reply, const gchar *token)
{
  g_autofree gchar *text = g_strdup_printf ("No such registration token: %s", token);

  /* Tuwunel: NotFound("Registration token not found") */
  hs_reply_error (reply, 404, "M_NOT_FOUND", tuwunel (self) ? "Registration token not found" : text);
}

/* GET /_synapse/admin/v1/registration_tokens/<token> */
void
hs_handle_reg_token_get (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  RegToken *token = hs_reg_token_lookup (self, args[0]);

  (void) req, (void) who;
  if (token == NULL)
    {
      reply_no_such_token (self, reply, args[0]);
      return;
    }
  hs_reply_json (reply, 200, reg_token_json (token));
}

/* PUT /_synapse/admin/v1/registration_tokens/<token> {uses_allowed?,
 * expiry_time?}: the body is checked before the token is looked up; an
 * absent field is left as it is, null clears it */
void
hs_handle_reg_token_put (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  gboolean set_uses = FALSE;
  gboolean set_expiry = FALSE;
  gint64 uses_allowed = -1;
  gint64 expiry_time = 0;
  RegToken *token;

  (void) who;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (tuwunel (self))
    {
      if (!tuwunel_uint_field (body, "uses_allowed", &set_uses, &uses_allowed, reply)
          || !tuwunel_uint_field (body, "expiry_time", &set_expiry, &expiry_time, reply))
        return;
      if (expiry_time < 0)
        expiry_time = 0;
    }
  else
    {
      if (hs_json_has (body, "uses_allowed", &value))
        {
          if (value != NULL && (!json_object_is_type (value, json_type_int) || json_object_get_int64 (value) < 0))
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "uses_allowed must be a non-negative integer or null");
              return;
            }
          set_uses = TRUE;
          uses_allowed = value != NULL ? json_object_get_int64 (value) : -1;
        }
      if (hs_json_has (body, "expiry_time", &value))
        {
          if (value != NULL && !json_object_is_type (value, json_type_int))
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "expiry_time must be an integer or null");
              return;
            }
          if (value != NULL && json_object_get_int64 (value) < hs_now_ms ())
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "expiry_time must not be in the past");
              return;
            }
          set_expiry = TRUE;
          expiry_time = value != NULL ? json_object_get_int64 (value) : 0;
        }
    }
  token = hs_reg_token_lookup (self, args[0]);
  if (token == NULL)
    {
      reply_no_such_token (self, reply, args[0]);
      return;
    }
  if (set_uses)
    token->uses_allowed = uses_allowed;
  if (set_expiry)
    token->expiry_time = expiry_time;
  hs_reply_json (reply, 200, reg_token_json (token));
}

/* DELETE /_synapse/admin/v1/registration_tokens/<token>: 200 {} or 404 */
void
hs_handle_reg_token_delete (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                            Reply *reply)
{
  RegToken *token = hs_reg_token_lookup (self, args[0]);

  (void) req, (void) who;
  if (token == NULL)
    {
      reply_no_such_token (self, reply, args[0]);
      return;
    }
  reg_token_remove_locked (self, token);
  hs_reply_json (reply, 200, json_object_new_object ());
}

/* ------------------------------------------------------------------------ */
/* Public API */

void
test_homeserver_add_registration_token (TestHomeserver *self, const gchar *token, guint uses_allowed)
{
  RegToken *old;

  g_return_if_fail (token != NULL);

  g_mutex_lock (&self->lock);
  old = hs_reg_token_lookup (self, token);
  if (old != NULL)
    reg_token_remove_locked (self, old);
  reg_token_add_locked (self, token, uses_allowed == 0 ? -1 : (gint64) uses_allowed, 0);
  if (self->registration == TEST_REGISTRATION_OFF)
    self->registration = TEST_REGISTRATION_TOKEN;
  g_mutex_unlock (&self->lock);
}

gboolean
test_homeserver_get_registration_token_uses (TestHomeserver *self, const gchar *token,
                                             guint *pending, guint *completed)
{
  RegToken *stored;

  g_mutex_lock (&self->lock);
  stored = hs_reg_token_lookup (self, token);
  if (pending != NULL)
    *pending = stored != NULL ? stored->pending : 0;
  if (completed != NULL)
    *completed = stored != NULL ? stored->completed : 0;
  g_mutex_unlock (&self->lock);
  return stored != NULL;
}

GPtrArray *
test_homeserver_list_registration_tokens (TestHomeserver *self)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->reg_tokens->len; i++)
    g_ptr_array_add (ret, g_strdup (((RegToken *) g_ptr_array_index (self->reg_tokens, i))->token));
  g_mutex_unlock (&self->lock);
  return ret;
}

void
test_homeserver_set_registration (TestHomeserver *self, TestRegistration mode)
{
  g_mutex_lock (&self->lock);
  self->registration = mode;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_expire_uia_sessions (TestHomeserver *self)
{
  g_mutex_lock (&self->lock);
  hs_uia_expire_sessions_locked (self);
  g_mutex_unlock (&self->lock);
}

guint
test_homeserver_count_uia_sessions (TestHomeserver *self)
{
  guint ret;

  g_mutex_lock (&self->lock);
  ret = g_hash_table_size (self->uia_sessions);
  g_mutex_unlock (&self->lock);
  return ret;
}
