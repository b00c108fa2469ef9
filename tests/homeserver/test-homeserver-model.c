/* test-homeserver-model.c: the in-memory state every API family shares.
 *
 * Users, access tokens, devices and rooms, and what Synapse does to them
 * whoever asks (registering a device, logging a user out, setting a
 * password, deactivating, sending state), with the small helpers and the
 * reply builders the handlers use. Everything here that touches the server's
 * state runs with self->lock held.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* Memory */

void
hs_user_free (User *user)
{
  g_free (user->user_id);
  g_free (user->localpart);
  g_free (user->password);
  g_free (user->displayname);
  g_free (user->user_type);
  g_free (user);
}

void
hs_token_free (Token *token)
{
  g_free (token->token);
  g_free (token->owner);
  g_free (token->user_id);
  g_free (token->device_id);
  g_free (token);
}

void
hs_device_free (Device *device)
{
  g_free (device->user_id);
  g_free (device->device_id);
  g_free (device->display_name);
  g_free (device->last_seen_ip);
  g_free (device->last_seen_user_agent);
  g_free (device);
}

void
hs_state_event_free (StateEvent *ev)
{
  g_free (ev->type);
  g_free (ev->state_key);
  g_free (ev->sender);
  g_free (ev->event_id);
  json_object_put (ev->content);
  g_free (ev->replaces_state);
  g_free (ev);
}

void
hs_room_free (Room *room)
{
  g_free (room->room_id);
  g_free (room->creator);
  json_object_put (room->create_request);
  g_ptr_array_unref (room->state);
  g_ptr_array_unref (room->joined);
  g_ptr_array_unref (room->forgotten);
  g_free (room);
}

void
hs_uia_session_free (UiaSession *session)
{
  g_free (session->id);
  g_free (session->method);
  g_free (session->path);
  g_free (session->validated);
  json_object_put (session->clientdict);
  g_free (session->new_password);
  g_clear_pointer (&session->completed, g_ptr_array_unref);
  g_free (session->password_hash);
  g_free (session->registration_token);
  g_free (session->registered_user_id);
  g_free (session->owner);
  g_clear_pointer (&session->flows, g_ptr_array_unref);
  g_free (session);
}

void
hs_reg_token_free (RegToken *token)
{
  g_free (token->token);
  g_free (token);
}

void
hs_reply_clear (Reply *reply)
{
  g_clear_pointer (&reply->json, json_object_put);
  g_clear_pointer (&reply->raw, g_free);
  reply->content_type = NULL;
  reply->status = 0;
  reply->retry_after_s = 0;
}

/* ------------------------------------------------------------------------ */
/* Small helpers */

gchar *
hs_random_string (const gchar *alphabet, guint len)
{
  gsize n = strlen (alphabet);
  gchar *s = g_new (gchar, len + 1);

  for (guint i = 0; i < len; i++)
    s[i] = alphabet[g_random_int_range (0, (gint32) n)];
  s[len] = '\0';
  return s;
}

gint64
hs_now_ms (void)
{
  return g_get_real_time () / 1000;
}

json_object *
hs_json_copy (json_object *src)
{
  json_object *dst = NULL;

  if (src == NULL)
    return NULL;
  if (json_object_deep_copy (src, &dst, NULL) != 0)
    g_error ("json_object_deep_copy failed");
  return dst;
}

/* TRUE when the key is present, even with a JSON null (then *value is NULL) */
gboolean
hs_json_has (json_object *obj, const gchar *key, json_object **value)
{
  return json_object_object_get_ex (obj, key, value);
}

/* a JSON string, or null for NULL */
json_object *
hs_json_nullable_string (const gchar *s)
{
  return s != NULL ? json_object_new_string (s) : NULL;
}

/* Python's len() of a str: code points (bytes if it is not even UTF-8, which
 * json-c lets through) */
glong
hs_python_len (const gchar *s)
{
  return g_utf8_validate (s, -1, NULL) ? g_utf8_strlen (s, -1) : (glong) strlen (s);
}

/* Python's bool() of what json.loads() makes of `value` (NULL: null) */
gboolean
hs_python_truthy (json_object *value)
{
  switch (json_object_get_type (value))
    {
    case json_type_null:
      return FALSE;
    case json_type_boolean:
      return json_object_get_boolean (value);
    case json_type_int:
      return json_object_get_int64 (value) != 0;
    case json_type_double:
      return json_object_get_double (value) != 0.0;
    case json_type_string:
      return json_object_get_string_len (value) > 0;
    case json_type_array:
      return json_object_array_length (value) > 0;
    case json_type_object:
      return json_object_object_length (value) > 0;
    default:
      return TRUE;
    }
}

gboolean
hs_path_matches (const gchar *pattern, const gchar *path)
{
  gsize len = strlen (pattern);
  const gchar *star = strchr (pattern, '*');

  /* a '*' inside the pattern (standing for an ID the test cannot know,
   * as in a MAS user's set-password path) matches any run of characters,
   * '/' included */
  if (star != NULL && star != pattern + len - 1)
    return g_pattern_match_simple (pattern, path);
  if (len > 0 && pattern[len - 1] == '*')
    return strncmp (pattern, path, len - 1) == 0;
  return g_strcmp0 (pattern, path) == 0;
}

gboolean
hs_method_matches (const gchar *pattern, const gchar *method)
{
  return pattern == NULL || g_ascii_strcasecmp (pattern, method) == 0;
}

/* Splits "@local:domain"; FALSE if it is not a user ID at all. */
gboolean
hs_split_user_id (const gchar *user_id, gchar **localpart, gchar **domain)
{
  const gchar *colon;

  if (user_id == NULL || user_id[0] != '@')
    return FALSE;
  colon = strchr (user_id, ':');
  if (colon == NULL)
    return FALSE;
  if (localpart != NULL)
    *localpart = g_strndup (user_id + 1, colon - user_id - 1);
  if (domain != NULL)
    *domain = g_strdup (colon + 1);
  return TRUE;
}

gboolean
hs_is_local_user_id (TestHomeserver *self, const gchar *user_id)
{
  g_autofree gchar *domain = NULL;

  if (!hs_split_user_id (user_id, NULL, &domain))
    return FALSE;
  return g_strcmp0 (domain, self->server_name) == 0;
}

/* ------------------------------------------------------------------------ */
/* Replies */

void
hs_reply_json (Reply *reply, guint status, json_object *json)
{
  hs_reply_clear (reply);
  reply->status = status;
  reply->json = json;
}

/* `body` sent as is; content_type must be a static string (NULL = JSON) */
void
hs_reply_raw (Reply *reply, guint status, const gchar *content_type, const gchar *body)
{
  hs_reply_clear (reply);
  reply->status = status;
  reply->raw = g_strdup (body != NULL ? body : "");
  reply->content_type = content_type;
}

/* Go's util.ErrorResponse(): 500 and a bare {"message"}, no errcode */
void
hs_reply_go_message (Reply *reply, guint status, const gchar *message)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "message", json_object_new_string (message));
  hs_reply_json (reply, status, obj);
}

void
hs_reply_error (Reply *reply, guint status, const gchar *errcode, const gchar *text)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string (errcode));
  json_object_object_add (obj, "error", json_object_new_string (text));
  hs_reply_json (reply, status, obj);
}

void
hs_reply_unknown_token (Reply *reply)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string ("M_UNKNOWN_TOKEN"));
  json_object_object_add (obj, "error", json_object_new_string ("Invalid access token passed."));
  json_object_object_add (obj, "soft_logout", json_object_new_boolean (FALSE));
  hs_reply_json (reply, 401, obj);
}

/* Synapse's UserLockedError (401, soft_logout true), Tuwunel's
 * Request(UserLocked(...)) */
void
hs_reply_user_locked (TestHomeserver *self, Reply *reply)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string ("M_USER_LOCKED"));
  json_object_object_add (obj, "error", json_object_new_string (self->flavour->locked_text));
  if (self->flavour->locked_soft_logout)
    json_object_object_add (obj, "soft_logout", json_object_new_boolean (TRUE));
  hs_reply_json (reply, 401, obj);
}

void
hs_reply_rate_limited (Reply *reply, guint retry_after_ms)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string ("M_LIMIT_EXCEEDED"));
  json_object_object_add (obj, "error", json_object_new_string ("Too Many Requests"));
  json_object_object_add (obj, "retry_after_ms", json_object_new_int64 (retry_after_ms));
  hs_reply_json (reply, 429, obj);
}

/* Synapse's LimitExceededError: since 1.103 with a Retry-After header of
 * math.ceil(retry_after_ms / 1000) seconds */
void
hs_reply_limit_exceeded (TestHomeserver *self, Reply *reply, guint retry_after_ms)
{
  hs_reply_rate_limited (reply, retry_after_ms);
  if (self->flavour->retry_after_header)
    reply->retry_after_s = (retry_after_ms + 999) / 1000;
}

/* Synapse's parse_json_object_from_request(): anything but a JSON object is
 * M_NOT_JSON; allow_empty lets a missing body stand for {}. */
json_object *
hs_parse_body (Request *req, gboolean allow_empty, Reply *reply)
{
  json_tokener *tok;
  json_object *obj;
  gsize end;

  if (allow_empty && req->body_len == 0)
    return json_object_new_object ();

  tok = json_tokener_new ();
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
  obj = json_tokener_parse_ex (tok, req->body, (int) req->body_len);
  end = json_tokener_get_parse_end (tok);
  if (json_tokener_get_error (tok) != json_tokener_success)
    g_clear_pointer (&obj, json_object_put);
  json_tokener_free (tok);

  /* whitespace after the object is fine, anything else is not */
  for (gsize i = end; obj != NULL && i < req->body_len; i++)
    {
      if (!g_ascii_isspace (req->body[i]))
        g_clear_pointer (&obj, json_object_put);
    }
  if (obj == NULL || !json_object_is_type (obj, json_type_object))
    {
      g_clear_pointer (&obj, json_object_put);
      hs_reply_error (reply, 400, "M_NOT_JSON", "Content not JSON.");
      return NULL;
    }
  return obj;
}

/* ------------------------------------------------------------------------ */
/* State helpers; the caller holds self->lock */

User *
hs_lookup_user (TestHomeserver *self, const gchar *user_id)
{
  return user_id != NULL ? g_hash_table_lookup (self->users, user_id) : NULL;
}

/* Synapse finds users case-insensitively at login and registration */
User *
hs_lookup_user_caseless (TestHomeserver *self, const gchar *user_id)
{
  GHashTableIter iter;
  User *user = hs_lookup_user (self, user_id);

  if (user != NULL)
    return user;
  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user))
    {
      if (g_ascii_strcasecmp (user->user_id, user_id) == 0)
        return user;
    }
  return NULL;
}

User *
hs_add_user_locked (TestHomeserver *self, const gchar *localpart, const gchar *password,
                    const gchar *displayname, gboolean admin)
{
  User *user = g_new0 (User, 1);

  user->localpart = g_strdup (localpart);
  user->user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  user->password = g_strdup (password);
  /* Synapse registers users with their localpart as display name */
  user->displayname = g_strdup (displayname != NULL ? displayname : localpart);
  user->admin = admin;
  user->creation_ts = g_get_real_time () / G_USEC_PER_SEC;
  g_hash_table_replace (self->users, user->user_id, user);
  return user;
}

gboolean
hs_token_is_valid (const Token *token)
{
  return token->valid_until_ms == 0 || hs_now_ms () < token->valid_until_ms;
}

Token *
hs_add_token_locked (TestHomeserver *self, const gchar *owner, const gchar *user_id,
                     const gchar *device_id, gint64 valid_until_ms)
{
  Token *token = g_new0 (Token, 1);
  g_autofree gchar *suffix = hs_random_string (ALPHANUMERIC, 20);

  token->token = g_strconcat ("syt_", suffix, NULL);
  token->owner = g_strdup (owner);
  token->user_id = g_strdup (user_id);
  token->device_id = g_strdup (device_id);
  token->valid_until_ms = valid_until_ms;
  g_hash_table_replace (self->tokens, token->token, token);
  return token;
}

Device *
hs_lookup_device (TestHomeserver *self, const gchar *user_id, const gchar *device_id)
{
  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, user_id) == 0
          && g_strcmp0 (device->device_id, device_id) == 0)
        return device;
    }
  return NULL;
}

/* Synapse's DeviceHandler.check_device_registered(): a device ID the user
 * already has is reused as it is, display name and all. */
Device *
hs_device_register_locked (TestHomeserver *self, const gchar *user_id, const gchar *device_id,
                           const gchar *display_name)
{
  Device *device = hs_lookup_device (self, user_id, device_id);

  if (device != NULL)
    return device;
  device = g_new0 (Device, 1);
  device->user_id = g_strdup (user_id);
  device->device_id = g_strdup (device_id);
  device->display_name = g_strdup (display_name);
  g_ptr_array_add (self->devices, device);
  return device;
}

/* check_device_registered() refuses a long name before it looks whether the
 * device exists */
gboolean
hs_check_device_name_length (const gchar *display_name, Reply *reply)
{
  if (display_name != NULL && hs_python_len (display_name) > MAX_DEVICE_DISPLAY_NAME_LEN)
    {
      hs_reply_error (reply, 400, "M_TOO_LARGE", "Device display name is too long (max 100)");
      return FALSE;
    }
  return TRUE;
}

/* initial_device_display_name, when it is a string: what the login and
 * registration bodies name a new device */
const gchar *
hs_initial_device_display_name (json_object *body)
{
  json_object *value = NULL;

  if (hs_json_has (body, "initial_device_display_name", &value) && json_object_is_type (value, json_type_string))
    return json_object_get_string (value);
  return NULL;
}

/* Removes devices and every token acting as user_id, except what `keep`
 * (the requester's own token) needs, as Synapse's logout_devices does. */
void
hs_logout_user_locked (TestHomeserver *self, const gchar *user_id, const Requester *keep)
{
  GHashTableIter iter;
  Token *token;

  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->user_id, user_id) != 0)
        continue;
      if (keep != NULL && g_strcmp0 (keep->token, token->token) == 0)
        continue;
      g_hash_table_iter_remove (&iter);
    }
  for (guint i = self->devices->len; i > 0; i--)
    {
      Device *device = g_ptr_array_index (self->devices, i - 1);
      if (g_strcmp0 (device->user_id, user_id) != 0)
        continue;
      if (keep != NULL && keep->device_id != NULL
          && g_strcmp0 (keep->user_id, user_id) == 0
          && g_strcmp0 (keep->device_id, device->device_id) == 0)
        continue;
      g_ptr_array_remove_index (self->devices, i - 1);
    }
}

/* Synapse 1.67 SetPasswordHandler.set_password() (handlers/set_password.py),
 * for reset_password and account/password: 403 M_FORBIDDEN "Password change
 * disabled" without password auth, 404 M_NOT_FOUND "Unknown user" when there
 * is no such account (users on other servers never are), and nothing about
 * deactivation: the account keeps it, with a password again. logout_devices
 * deletes every device of the user but one whose ID is the requester's
 * device ID (compared by ID alone, whoever the requester is), then every
 * access token stored for the user (Token.owner) but the requester's own.
 * Puppet tokens from login-as-user are stored for the admin who asked for
 * them, so they survive. Unlike hs_logout_user_locked(), which PUT user and
 * deactivation use. */
gboolean
hs_set_password_locked (TestHomeserver *self, const gchar *user_id, const gchar *password,
                        gboolean logout_devices, const Requester *requester, Reply *reply)
{
  GHashTableIter iter;
  Token *token;
  User *user;

  if (!self->password_login)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Password change disabled");
      return FALSE;
    }
  user = hs_lookup_user (self, user_id);
  if (user == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "Unknown user");
      return FALSE;
    }
  g_free (user->password);
  user->password = g_strdup (password);
  if (!logout_devices)
    return TRUE;

  for (guint i = self->devices->len; i > 0; i--)
    {
      Device *device = g_ptr_array_index (self->devices, i - 1);
      if (g_strcmp0 (device->user_id, user_id) != 0)
        continue;
      if (requester->device_id != NULL && g_strcmp0 (device->device_id, requester->device_id) == 0)
        continue;
      g_ptr_array_remove_index (self->devices, i - 1);
    }
  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->owner, user_id) == 0 && g_strcmp0 (token->token, requester->token) != 0)
        g_hash_table_iter_remove (&iter);
    }
  return TRUE;
}

Room *
hs_lookup_room (TestHomeserver *self, const gchar *room_id)
{
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (g_strcmp0 (room->room_id, room_id) == 0)
        return room;
    }
  return NULL;
}

gboolean
hs_room_find_member (Room *room, const gchar *user_id, guint *index)
{
  return g_ptr_array_find_with_equal_func (room->joined, user_id, g_str_equal, index);
}

gboolean
hs_room_has_member (Room *room, const gchar *user_id)
{
  return user_id != NULL && hs_room_find_member (room, user_id, NULL);
}

StateEvent *
hs_room_lookup_state (Room *room, const gchar *type, const gchar *state_key, guint *index)
{
  for (guint i = 0; i < room->state->len; i++)
    {
      StateEvent *ev = g_ptr_array_index (room->state, i);
      if (g_strcmp0 (ev->type, type) == 0 && g_strcmp0 (ev->state_key, state_key) == 0)
        {
          if (index != NULL)
            *index = i;
          return ev;
        }
    }
  return NULL;
}

/* Takes `content`. A newer event replaces the current one and, being the
 * latest event, moves to the end; Synapse notes which event it replaced
 * (unsigned.replaces_state). */
void
hs_room_send_state (Room *room, const gchar *sender, const gchar *type,
                    const gchar *state_key, json_object *content)
{
  StateEvent *ev = g_new0 (StateEvent, 1);
  g_autofree gchar *id = hs_random_string (ALPHANUMERIC, 43);
  StateEvent *old;
  guint index;

  old = hs_room_lookup_state (room, type, state_key, &index);
  if (old != NULL)
    {
      ev->replaces_state = g_strdup (old->event_id);
      g_ptr_array_remove_index (room->state, index);
    }
  ev->type = g_strdup (type);
  ev->state_key = g_strdup (state_key);
  ev->sender = g_strdup (sender);
  ev->event_id = g_strconcat ("$", id, NULL);
  ev->origin_server_ts = hs_now_ms ();
  ev->content = content;
  g_ptr_array_add (room->state, ev);
}

/* Synapse copies the profile into join events, nulls included */
json_object *
hs_member_content (const gchar *membership, gboolean with_profile, const gchar *displayname)
{
  json_object *content = json_object_new_object ();

  json_object_object_add (content, "membership", json_object_new_string (membership));
  if (with_profile)
    {
      json_object_object_add (content, "displayname",
                              displayname != NULL ? json_object_new_string (displayname) : NULL);
      json_object_object_add (content, "avatar_url", NULL);
    }
  return content;
}

void
hs_deactivate_user_locked (TestHomeserver *self, User *user, gboolean erase)
{
  user->deactivated = TRUE;
  g_clear_pointer (&user->password, g_free);
  if (erase)
    {
      user->erased = TRUE;
      g_clear_pointer (&user->displayname, g_free);
    }
  hs_logout_user_locked (self, user->user_id, NULL);
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      guint index;

      if (!hs_room_find_member (room, user->user_id, &index))
        continue;
      g_ptr_array_remove_index (room->joined, index);
      hs_room_send_state (room, user->user_id, "m.room.member", user->user_id,
                          hs_member_content ("leave", FALSE, NULL));
    }
}

/* Synapse's Ratelimiter.can_do_action() for `key`: a leaky bucket holding
 * limit->burst actions that drains one every limit->period_ms. Each action
 * adds a period of "busy" time; refused attempts add nothing, as on
 * Synapse, and neither does a check with update FALSE. TRUE when allowed,
 * and always when the test switched the limit off. */
gboolean
hs_ratelimit_locked (TestHomeserver *self, const RateLimit *limit, const gchar *key,
                     gboolean update, guint *retry_after_ms)
{
  const gint64 period_us = limit->period_ms * G_GINT64_CONSTANT (1000);
  g_autofree gchar *bucket_key = g_strconcat (limit->name, "\n", key, NULL);
  gint64 now = g_get_monotonic_time ();
  RateBucket *bucket;
  gint64 excess;

  if (limit->limit == TEST_RATE_LIMIT_LOGIN ? !self->login_rate_limit : !self->rate_limits[limit->limit])
    return TRUE;
  bucket = g_hash_table_lookup (self->rate_buckets, bucket_key);
  if (bucket == NULL)
    {
      bucket = g_new0 (RateBucket, 1);
      g_hash_table_insert (self->rate_buckets, g_steal_pointer (&bucket_key), bucket);
    }
  bucket->busy_until_us = MAX (bucket->busy_until_us, now);
  excess = bucket->busy_until_us + period_us - now - (gint64) limit->burst * period_us;
  if (excess > 0)
    {
      *retry_after_ms = (guint) ((excess + 999) / 1000);
      return FALSE;
    }
  if (update)
    bucket->busy_until_us += period_us;
  return TRUE;
}

/* Synapse 1.67's per-account login limiter as modelled from the start:
 * LOGIN_BURST attempts, one more every LOGIN_PERIOD_MS, every attempt
 * counted. The caller checks whether it is switched on. */
gboolean
hs_login_ratelimit_locked (TestHomeserver *self, const gchar *key, guint *retry_after_ms)
{
  static const RateLimit login_1_67 = { "rc_login.account", LOGIN_BURST, LOGIN_PERIOD_MS,
                                        TEST_RATE_LIMIT_LOGIN };

  return hs_ratelimit_locked (self, &login_1_67, key, TRUE, retry_after_ms);
}

static gboolean
is_all_digits (const gchar *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    {
      if (!g_ascii_isdigit (*s))
        return FALSE;
    }
  return TRUE;
}

static gboolean
is_python_int (const gchar *s)
{
  /* int() in Python also takes a sign and '_' between digits, which is
   * what Synapse's "numeric user ID" check uses */
  gboolean digit_before = FALSE;

  if (*s == '-')
    s++;
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    {
      if (g_ascii_isdigit (*s))
        digit_before = TRUE;
      else if (*s == '_' && digit_before && g_ascii_isdigit (s[1]))
        digit_before = FALSE;
      else
        return FALSE;
    }
  return TRUE;
}

/* Synapse 1.67's RegistrationHandler.check_username(), in its order */
gboolean
hs_check_username_locked (TestHomeserver *self, const gchar *localpart, Reply *reply)
{
  /* the spec's localpart grammar took '+' in 1.8; Synapse followed */
  gboolean plus = self->flavour->localpart_plus;
  g_autofree gchar *user_id = NULL;

  for (const gchar *p = localpart; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr (plus ? "._=-/+" : "._=-/", *p) != NULL))
        {
          hs_reply_error (reply, 400, "M_INVALID_USERNAME",
                          plus ? "User ID can only contain characters a-z, 0-9, or '=_-./+'"
                               : "User ID can only contain characters a-z, 0-9, or '=_-./'");
          return FALSE;
        }
    }
  if (localpart[0] == '\0')
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", "User ID cannot be empty");
      return FALSE;
    }
  if (localpart[0] == '_')
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", "User ID may not begin with _");
      return FALSE;
    }
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  if (strlen (user_id) > MAX_USER_ID_LENGTH)
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME",
                      "User ID may not be longer than 255 characters");
      return FALSE;
    }
  if (hs_lookup_user_caseless (self, user_id) != NULL)
    {
      hs_reply_error (reply, 400, "M_USER_IN_USE", "User ID already taken.");
      return FALSE;
    }
  /* 1.67: int(localpart) succeeds; later GUEST_USER_ID_PATTERN ^\d+$ */
  if (plus ? is_all_digits (localpart) : is_python_int (localpart))
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME",
                      "Numeric user IDs are reserved for guest users.");
      return FALSE;
    }
  return TRUE;
}

gboolean
hs_parse_user_id_arg (const gchar *user_id, Reply *reply)
{
  if (user_id == NULL || user_id[0] != '@')
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Expected UserID string to start with '@'");
      return FALSE;
    }
  if (strchr (user_id, ':') == NULL)
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM",
                      "Expected UserID of the form '@localname:domain'");
      return FALSE;
    }
  return TRUE;
}
