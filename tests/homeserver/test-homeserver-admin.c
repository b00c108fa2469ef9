/* test-homeserver-admin.c: Synapse's admin API (/_synapse/admin), but for
 * the shared-secret register endpoint (test-homeserver-register.c) and
 * server_version (test-homeserver-discovery.c).
 *
 * Synapse 1.67's rest/admin/users.py, devices.py and rooms.py. The routing
 * table says which flavours serve each endpoint; an admin token is checked
 * before any handler here runs.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* Users */

/* Synapse 1.67 AdminHandler.get_user() */
json_object *
hs_user_json_synapse_1_67 (TestHomeserver *self, User *user)
{
  json_object *obj = json_object_new_object ();

  (void) self;
  json_object_object_add (obj, "name", json_object_new_string (user->user_id));
  json_object_object_add (obj, "displayname",
                          user->displayname != NULL ? json_object_new_string (user->displayname) : NULL);
  json_object_object_add (obj, "avatar_url", NULL);
  json_object_object_add (obj, "threepids", json_object_new_array ());
  json_object_object_add (obj, "external_ids", json_object_new_array ());
  json_object_object_add (obj, "is_guest", json_object_new_int (0));
  /* integers, not booleans: that changed only in Synapse 1.93 */
  json_object_object_add (obj, "admin", json_object_new_int (user->admin ? 1 : 0));
  json_object_object_add (obj, "deactivated", json_object_new_int (user->deactivated ? 1 : 0));
  json_object_object_add (obj, "erased", json_object_new_boolean (user->erased));
  json_object_object_add (obj, "shadow_banned", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "creation_ts", json_object_new_int64 (user->creation_ts));
  json_object_object_add (obj, "appservice_id", NULL);
  json_object_object_add (obj, "consent_server_notice_sent", NULL);
  json_object_object_add (obj, "consent_version", NULL);
  json_object_object_add (obj, "user_type",
                          user->user_type != NULL ? json_object_new_string (user->user_type) : NULL);
  return obj;
}

/* the latest last_seen_ts of the user's devices, or null */
static json_object *
last_seen_json (TestHomeserver *self, User *user)
{
  gint64 last = 0;

  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, user->user_id) == 0)
        last = MAX (last, device->last_seen_ts);
    }
  return last != 0 ? json_object_new_int64 (last) : NULL;
}

/* Synapse 1.157 AdminHandler.get_user(), in its order: booleans since
 * 1.93, locked since 1.91, then the profile and last_seen_ts */
json_object *
hs_user_json_synapse (TestHomeserver *self, User *user)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "name", json_object_new_string (user->user_id));
  json_object_object_add (obj, "admin", json_object_new_boolean (user->admin));
  json_object_object_add (obj, "deactivated", json_object_new_boolean (user->deactivated));
  json_object_object_add (obj, "locked", json_object_new_boolean (user->locked));
  json_object_object_add (obj, "shadow_banned", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "creation_ts", json_object_new_int64 (user->creation_ts));
  json_object_object_add (obj, "appservice_id", NULL);
  json_object_object_add (obj, "consent_server_notice_sent", NULL);
  json_object_object_add (obj, "consent_version", NULL);
  json_object_object_add (obj, "consent_ts", NULL);
  json_object_object_add (obj, "user_type", hs_json_nullable_string (user->user_type));
  json_object_object_add (obj, "is_guest", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "suspended", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "displayname", hs_json_nullable_string (user->displayname));
  json_object_object_add (obj, "avatar_url", NULL);
  json_object_object_add (obj, "threepids", json_object_new_array ());
  json_object_object_add (obj, "external_ids", json_object_new_array ());
  json_object_object_add (obj, "erased", json_object_new_boolean (user->erased));
  json_object_object_add (obj, "last_seen_ts", last_seen_json (self, user));
  return obj;
}

/* Tuwunel 1.9 user_details() (TUW src/api/client/admin/users/mod.rs): the
 * fields it stores, the rest at their defaults, and creation_ts 0 because
 * it keeps none */
json_object *
hs_user_json_tuwunel (TestHomeserver *self, User *user)
{
  json_object *obj = hs_user_json_synapse (self, user);

  json_object_object_add (obj, "creation_ts", json_object_new_int64 (0));
  return obj;
}

void
hs_handle_user_admin (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  User *user;
  json_object *obj;

  (void) req, (void) who;
  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Only local users can be admins of this homeserver");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  obj = json_object_new_object ();
  json_object_object_add (obj, "admin", json_object_new_boolean (user != NULL && user->admin));
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_get_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  User *user;

  (void) req, (void) who;
  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Can only look up local users");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  if (user == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  hs_reply_json (reply, 200, self->flavour->user_json (self, user));
}

/* the flavour's put_user */
void
hs_handle_put_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  self->flavour->put_user (self, req, who, args, reply);
}

/* Synapse 1.67 UserRestServletV2.on_PUT, as modelled from the start */
void
hs_put_user_synapse_1_67 (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *localpart = NULL;
  json_object *value = NULL;
  const gchar *password = NULL;
  gboolean has_displayname = FALSE;
  const gchar *displayname = NULL;
  gboolean has_admin = FALSE;
  gboolean admin = FALSE;
  gboolean has_deactivated = FALSE;
  gboolean deactivated = FALSE;
  gboolean logout_devices = TRUE;
  User *user;

  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "This endpoint can only be used with local users");
      return;
    }

  if (hs_json_has (body, "deactivated", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          /* SynapseError's default errcode (backends-2026.md 3.2) */
          hs_reply_error (reply, 400, "M_UNKNOWN", "'deactivated' parameter is not of type boolean");
          return;
        }
      has_deactivated = TRUE;
      deactivated = json_object_get_boolean (value);
    }
  if (hs_json_has (body, "password", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string)
          || json_object_get_string_len (value) > MAX_PASSWORD_LENGTH)
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "Invalid password");
          return;
        }
      password = json_object_get_string (value);
    }
  if (hs_json_has (body, "logout_devices", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "'logout_devices' parameter is not of type boolean");
          return;
        }
      logout_devices = json_object_get_boolean (value);
    }
  if (hs_json_has (body, "displayname", &value))
    {
      if (value != NULL && !json_object_is_type (value, json_type_string))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "'displayname' parameter is not of type string");
          return;
        }
      has_displayname = TRUE;
      displayname = value != NULL ? json_object_get_string (value) : NULL;
    }
  if (hs_json_has (body, "admin", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "Param 'admin' must be a boolean, if given");
          return;
        }
      has_admin = TRUE;
      admin = json_object_get_boolean (value);
    }

  user = hs_lookup_user (self, args[0]);
  if (user != NULL)
    {
      if (has_admin && !admin && g_strcmp0 (who->user_id, user->user_id) == 0)
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "You may not demote yourself.");
          return;
        }
      if (has_deactivated && !deactivated && user->deactivated && password == NULL)
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Must provide a password to re-activate an account.");
          return;
        }
      /* The trap mxprov must avoid: an existing account is taken over. */
      if (password != NULL)
        {
          g_free (user->password);
          user->password = g_strdup (password);
          if (logout_devices)
            hs_logout_user_locked (self, user->user_id, who);
        }
      if (has_displayname)
        {
          g_free (user->displayname);
          user->displayname = g_strdup (displayname);
        }
      if (has_admin)
        user->admin = admin;
      if (has_deactivated && deactivated && !user->deactivated)
        hs_deactivate_user_locked (self, user, FALSE);
      else if (has_deactivated && !deactivated && user->deactivated)
        user->deactivated = FALSE;
      hs_reply_json (reply, 200, hs_user_json_synapse_1_67 (self, user));
      return;
    }

  hs_split_user_id (args[0], &localpart, NULL);
  if (!hs_check_username_locked (self, localpart, reply))
    return;
  user = hs_add_user_locked (self, localpart, password, displayname, admin);
  if (has_deactivated && deactivated)
    hs_deactivate_user_locked (self, user, FALSE);
  hs_reply_json (reply, 201, hs_user_json_synapse_1_67 (self, user));
}

/* a boolean field of Synapse's PUT user: body.get(key, default) must be a
 * bool, so an explicit null is refused too */
static gboolean
put_user_bool (json_object *body, const gchar *key, gboolean *present, gboolean *out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *present = hs_json_has (body, key, &value);
  if (!*present)
    return TRUE;
  if (!json_object_is_type (value, json_type_boolean))
    {
      text = g_strdup_printf ("'%s' parameter is not of type boolean", key);
      hs_reply_error (reply, 400, "M_UNKNOWN", text);
      return FALSE;
    }
  *out = json_object_get_boolean (value);
  return TRUE;
}

/* Synapse 1.157 UserRestServletV2.on_PUT (rest/admin/users.py), in its
 * order: local users only, user_type, then admin (M_BAD_JSON), password,
 * logout_devices, deactivated and locked (M_UNKNOWN: SynapseError's
 * default), not deactivated and locked at once. An existing user is
 * modified (a password through SetPasswordHandler, which keeps the
 * requester's device and token) and 200; a new one is registered with its
 * display name, admin flag and user type, deactivated/locked being ignored
 * there, and 201. */
void
hs_put_user_synapse (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *localpart = NULL;
  json_object *value = NULL;
  const gchar *password = NULL;
  const gchar *user_type = NULL;
  gboolean has_admin = FALSE;
  gboolean admin = FALSE;
  gboolean has_logout = FALSE;
  gboolean logout_devices = TRUE;
  gboolean has_deactivated = FALSE;
  gboolean deactivated = FALSE;
  gboolean has_locked = FALSE;
  gboolean locked = FALSE;
  User *user;

  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "This endpoint can only be used with local users");
      return;
    }
  if (!hs_split_user_id (args[0], &localpart, NULL))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Expected UserID string to start with '@'");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  if (hs_json_has (body, "user_type", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string)
          || !g_strv_contains ((const gchar *const[]) { "support", "bot", NULL }, json_object_get_string (value)))
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid user type");
          return;
        }
      user_type = json_object_get_string (value);
    }
  has_admin = hs_json_has (body, "admin", &value);
  if (has_admin)
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "Param 'admin' must be a boolean, if given");
          return;
        }
      admin = json_object_get_boolean (value);
    }
  if (hs_json_has (body, "password", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string) || hs_python_len (json_object_get_string (value)) > 512)
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid password");
          return;
        }
      password = json_object_get_string (value);
    }
  if (!put_user_bool (body, "logout_devices", &has_logout, &logout_devices, reply)
      || !put_user_bool (body, "deactivated", &has_deactivated, &deactivated, reply)
      || !put_user_bool (body, "locked", &has_locked, &locked, reply))
    return;
  if (deactivated && locked)
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "An user can't be deactivated and locked");
      return;
    }

  if (user != NULL)
    {
      if (hs_json_has (body, "displayname", &value))
        {
          /* ProfileHandler.set_displayname() */
          if (!json_object_is_type (value, json_type_string))
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "'displayname' must be a string");
              return;
            }
          g_free (user->displayname);
          user->displayname = g_strdup (json_object_get_string (value));
        }
      if (has_admin && admin != user->admin)
        {
          if (!admin && g_strcmp0 (who->user_id, user->user_id) == 0)
            {
              hs_reply_error (reply, 400, "M_UNKNOWN", "You may not demote yourself.");
              return;
            }
          user->admin = admin;
        }
      if (password != NULL && !hs_set_password_locked (self, user->user_id, password, logout_devices, who, reply))
        return;
      if (has_deactivated && deactivated && !user->deactivated)
        hs_deactivate_user_locked (self, user, FALSE);
      else if (has_deactivated && !deactivated && user->deactivated)
        user->deactivated = FALSE;
      if (has_locked)
        user->locked = locked;
      if (hs_json_has (body, "user_type", NULL))
        {
          g_free (user->user_type);
          user->user_type = g_strdup (user_type);
        }
      hs_reply_json (reply, 200, hs_user_json_synapse (self, user));
      return;
    }

  if (!hs_check_username_locked (self, localpart, reply))
    return;
  value = NULL;
  hs_json_has (body, "displayname", &value);
  user = hs_add_user_locked (self, localpart, password,
                             value != NULL && json_object_is_type (value, json_type_string)
                             ? json_object_get_string (value) : NULL,
                             admin);
  user->user_type = g_strdup (user_type);
  hs_reply_json (reply, self->flavour->put_user_created_status, hs_user_json_synapse (self, user));
}

void
hs_handle_username_available (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const gchar *username = req->query != NULL ? g_hash_table_lookup (req->query, "username") : NULL;
  json_object *obj;

  (void) who, (void) args;
  if (username == NULL)
    {
      hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing string query parameter 'username'");
      return;
    }
  if (!hs_check_username_locked (self, username, reply))
    return;
  obj = json_object_new_object ();
  json_object_object_add (obj, "available", json_object_new_boolean (TRUE));
  hs_reply_json (reply, 200, obj);
}

/* the flavour's login_as */
void
hs_handle_login_as_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  self->flavour->login_as (self, req, who, args, reply);
}

/* Synapse 1.157 UserTokenRestServlet.on_POST (rest/admin/users.py), in its
 * order: local users, a user ID, the user exists (1.149: 404 "User not
 * found"), the body, valid_until_ms an int or null, not oneself. The token
 * is still a puppet token without a device. */
void
hs_login_as_synapse (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  gint64 valid_until_ms = 0;
  Token *token;
  json_object *obj;

  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Only local users can be logged in as");
      return;
    }
  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  if (hs_lookup_user (self, args[0]) == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  body = hs_parse_body (req, TRUE, reply);
  if (body == NULL)
    return;
  if (hs_json_has (body, "valid_until_ms", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_int))
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "'valid_until_ms' parameter must be an int");
          return;
        }
      valid_until_ms = json_object_get_int64 (value);
    }
  if (g_strcmp0 (who->user_id, args[0]) == 0)
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Cannot use admin API to login as self");
      return;
    }
  token = hs_add_token_locked (self, who->user_id, args[0], NULL, valid_until_ms);
  obj = json_object_new_object ();
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  hs_reply_json (reply, 200, obj);
}

/* Synapse 1.67 UserTokenRestServlet.on_POST, as modelled from the start */
void
hs_login_as_synapse_1_67 (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  gint64 valid_until_ms = 0;
  Token *token;
  json_object *obj;

  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Only local users can be logged in as");
      return;
    }
  body = hs_parse_body (req, TRUE, reply);
  if (body == NULL)
    return;
  if (hs_json_has (body, "valid_until_ms", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_int))
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "'valid_until_ms' parameter must be an int");
          return;
        }
      valid_until_ms = json_object_get_int64 (value);
    }
  if (g_strcmp0 (who->user_id, args[0]) == 0)
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Cannot use admin API to login as self");
      return;
    }
  /* Like Synapse < 1.149, whether the user exists is not checked, and a
   * valid_until_ms in the past simply yields a token that is already dead. */
  token = hs_add_token_locked (self, who->user_id, args[0], NULL, valid_until_ms);
  obj = json_object_new_object ();
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_deactivate (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  gboolean erase = FALSE;
  User *user;
  json_object *obj;

  (void) who;
  body = hs_parse_body (req, TRUE, reply);
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
  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Can only deactivate local users");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  if (user == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  hs_deactivate_user_locked (self, user, erase);
  obj = json_object_new_object ();
  json_object_object_add (obj, "id_server_unbind_result", json_object_new_string ("success"));
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Devices and memberships */

/* DeviceWorkerHandler.get_devices_by_user(): the devices table's user_id,
 * device_id and display_name, then what the client IPs table knows, all
 * three null for a device no authenticated request has used yet */
static json_object *
device_json (const Device *device)
{
  json_object *obj = json_object_new_object ();
  gboolean seen = device->last_seen_ts != 0;

  json_object_object_add (obj, "user_id", json_object_new_string (device->user_id));
  json_object_object_add (obj, "device_id", json_object_new_string (device->device_id));
  json_object_object_add (obj, "display_name", hs_json_nullable_string (device->display_name));
  json_object_object_add (obj, "last_seen_user_agent",
                          seen ? hs_json_nullable_string (device->last_seen_user_agent) : NULL);
  json_object_object_add (obj, "last_seen_ts", seen ? json_object_new_int64 (device->last_seen_ts) : NULL);
  json_object_object_add (obj, "last_seen_ip", seen ? hs_json_nullable_string (device->last_seen_ip) : NULL);
  return obj;
}

/* Synapse 1.67 DevicesRestServlet.on_GET (rest/admin/devices.py): 400
 * M_INVALID_PARAM for what is no user ID, 400 M_UNKNOWN "Can only lookup
 * local users", 404 M_NOT_FOUND "Unknown user" (a deactivated account is
 * known, and has no devices), else 200 {"devices": [...], "total": n}. */
void
hs_handle_admin_user_devices (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *devices;
  json_object *obj;

  (void) req, (void) who;
  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Can only lookup local users");
      return;
    }
  if (hs_lookup_user (self, args[0]) == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "Unknown user");
      return;
    }
  devices = json_object_new_array ();
  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, args[0]) == 0)
        json_object_array_add (devices, device_json (device));
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "devices", devices);
  json_object_object_add (obj, "total", json_object_new_int ((gint) json_object_array_length (devices)));
  hs_reply_json (reply, 200, obj);
}

/* Synapse 1.67 UserMembershipRestServlet.on_GET (rest/admin/users.py):
 * get_rooms_for_user() on the path segment as it is, with no check at all,
 * so an unknown user, another server's or a string that is no user ID gets
 * 200 and an empty list. {"joined_rooms": [...], "total": n}; Synapse's is a
 * set, this one is in creation order. */
void
hs_handle_admin_user_joined_rooms (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                                   Reply *reply)
{
  json_object *rooms = json_object_new_array ();
  json_object *obj = json_object_new_object ();

  (void) req, (void) who;
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (hs_room_has_member (room, args[0]))
        json_object_array_add (rooms, json_object_new_string (room->room_id));
    }
  json_object_object_add (obj, "joined_rooms", rooms);
  json_object_object_add (obj, "total", json_object_new_int ((gint) json_object_array_length (rooms)));
  hs_reply_json (reply, 200, obj);
}

/* Synapse 1.67 ResetPasswordRestServlet.on_POST (rest/admin/users.py), in its
 * order: 400 M_INVALID_PARAM for what is no user ID, M_NOT_JSON, 400
 * M_MISSING_PARAM "Missing params: ['new_password']", a new_password that
 * is no string makes the bcrypt call raise (500; there is no length limit
 * here), then hs_set_password_locked() with the admin as the requester: 404
 * "Unknown user" also for other servers' users, and a deactivated account
 * gets the password without being reactivated. logout_devices is
 * params.get("logout_devices", True) with no type check, so any JSON value
 * counts by its truthiness: "no" logs out, 0 and null do not. 200 {}. */
void
hs_handle_reset_password (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  const gchar *new_password;
  gboolean logout_devices = TRUE;

  if (!hs_parse_user_id_arg (args[0], reply))
    return;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!hs_json_has (body, "new_password", &value))
    {
      hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing params: ['new_password']");
      return;
    }
  if (!json_object_is_type (value, json_type_string))
    {
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }
  new_password = json_object_get_string (value);
  if (hs_json_has (body, "logout_devices", &value))
    logout_devices = hs_python_truthy (value);
  if (!hs_set_password_locked (self, args[0], new_password, logout_devices, who, reply))
    return;
  hs_reply_json (reply, 200, json_object_new_object ());
}

/* ------------------------------------------------------------------------ */
/* Rooms */

/* RoomID.is_valid(): "!local:domain", and since MSC4291 (room version 12)
 * "!" and 43 characters of unpadded URL-safe base64 */
static gboolean
is_room_id (TestHomeserver *self, const gchar *room_id)
{
  if (room_id == NULL || room_id[0] != '!')
    return FALSE;
  if (strchr (room_id, ':') != NULL)
    return TRUE;
  return self->flavour->max_room_version >= 12 && strlen (room_id + 1) == 43
         && strspn (room_id + 1, URLSAFE_BASE64) == 43;
}

void
hs_handle_delete_room (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *text = NULL;
  const gchar *bool_params[] = { "purge", "block", "force_purge" };
  json_object *value = NULL;
  json_object *obj;
  json_object *kicked;
  Room *room;

  (void) who;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (bool_params); i++)
    {
      if (hs_json_has (body, bool_params[i], &value) && !json_object_is_type (value, json_type_boolean))
        {
          text = g_strdup_printf ("Param '%s' must be a boolean, if given", bool_params[i]);
          hs_reply_error (reply, 400, "M_BAD_JSON", text);
          return;
        }
    }
  if (!is_room_id (self, args[0]))
    {
      text = g_strdup_printf ("%s is not a legal room ID", args[0]);
      hs_reply_error (reply, 400, "M_INVALID_PARAM", text);
      return;
    }
  room = hs_lookup_room (self, args[0]);
  if (room == NULL)
    {
      text = g_strdup_printf ("Unknown room id %s", args[0]);
      hs_reply_error (reply, 404, "M_NOT_FOUND", text);
      return;
    }
  kicked = json_object_new_array ();
  for (guint i = 0; i < room->joined->len; i++)
    json_object_array_add (kicked, json_object_new_string (g_ptr_array_index (room->joined, i)));
  g_ptr_array_remove (self->rooms, room);

  obj = json_object_new_object ();
  json_object_object_add (obj, "kicked_users", kicked);
  json_object_object_add (obj, "failed_to_kick_users", json_object_new_array ());
  json_object_object_add (obj, "local_aliases", json_object_new_array ());
  json_object_object_add (obj, "new_room_id", NULL);
  hs_reply_json (reply, 200, obj);
}

/* content[key] of the room's (type, "") state event when it is a string,
 * else null: what Synapse's stats handler keeps in room_stats_state */
static json_object *
room_stat_string (Room *room, const gchar *type, const gchar *key)
{
  StateEvent *ev = hs_room_lookup_state (room, type, "", NULL);
  json_object *value = NULL;

  if (ev == NULL || !hs_json_has (ev->content, key, &value) || !json_object_is_type (value, json_type_string))
    return NULL;
  return json_object_new_string (json_object_get_string (value));
}

/* Synapse 1.67 RoomRestServlet.on_GET (rest/admin/rooms.py): 404 M_NOT_FOUND
 * "Room not found" for a room the server does not have (the room ID is not
 * checked; a deleted room is gone here, purged or not), else
 * get_room_with_stats()'s columns in its order, from the stats Synapse keeps
 * of the current state (federatable: m.federate is absent or true; public:
 * published in the room directory, createRoom's visibility "public"), then
 * joined_local_devices (the devices of the joined local users) and forgotten
 * (no local user's membership is left that they have not forgotten). */
void
hs_handle_admin_room (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj;
  json_object *value = NULL;
  StateEvent *create;
  gboolean federatable = TRUE;
  gboolean is_public;
  gboolean forgotten = TRUE;
  guint local_members = 0;
  guint local_devices = 0;
  Room *room;

  (void) req, (void) who;
  room = hs_lookup_room (self, args[0]);
  if (room == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "Room not found");
      return;
    }
  create = hs_room_lookup_state (room, "m.room.create", "", NULL);
  /* event_content.get("m.federate", True) is True */
  if (create != NULL && hs_json_has (create->content, "m.federate", &value))
    federatable = json_object_is_type (value, json_type_boolean) && json_object_get_boolean (value);
  is_public = hs_json_has (room->create_request, "visibility", &value)
              && json_object_is_type (value, json_type_string)
              && g_strcmp0 (json_object_get_string (value), "public") == 0;
  for (guint i = 0; i < room->joined->len; i++)
    {
      const gchar *member = g_ptr_array_index (room->joined, i);

      if (!hs_is_local_user_id (self, member))
        continue;
      local_members++;
      for (guint j = 0; j < self->devices->len; j++)
        {
          Device *device = g_ptr_array_index (self->devices, j);
          if (g_strcmp0 (device->user_id, member) == 0)
            local_devices++;
        }
    }
  for (guint i = 0; i < room->state->len; i++)
    {
      StateEvent *ev = g_ptr_array_index (room->state, i);

      if (g_strcmp0 (ev->type, "m.room.member") == 0 && hs_is_local_user_id (self, ev->state_key)
          && !g_ptr_array_find_with_equal_func (room->forgotten, ev->state_key, g_str_equal, NULL))
        forgotten = FALSE;
    }

  obj = json_object_new_object ();
  json_object_object_add (obj, "room_id", json_object_new_string (room->room_id));
  json_object_object_add (obj, "name", room_stat_string (room, "m.room.name", "name"));
  json_object_object_add (obj, "canonical_alias", room_stat_string (room, "m.room.canonical_alias", "alias"));
  json_object_object_add (obj, "joined_members", json_object_new_int ((gint) room->joined->len));
  json_object_object_add (obj, "joined_local_members", json_object_new_int ((gint) local_members));
  json_object_object_add (obj, "version", room_stat_string (room, "m.room.create", "room_version"));
  json_object_object_add (obj, "creator", json_object_new_string (room->creator));
  json_object_object_add (obj, "encryption", room_stat_string (room, "m.room.encryption", "algorithm"));
  json_object_object_add (obj, "federatable", json_object_new_boolean (federatable));
  json_object_object_add (obj, "public", json_object_new_boolean (is_public));
  json_object_object_add (obj, "join_rules", room_stat_string (room, "m.room.join_rules", "join_rule"));
  json_object_object_add (obj, "guest_access", room_stat_string (room, "m.room.guest_access", "guest_access"));
  json_object_object_add (obj, "history_visibility",
                          room_stat_string (room, "m.room.history_visibility", "history_visibility"));
  json_object_object_add (obj, "state_events", json_object_new_int ((gint) room->state->len));
  json_object_object_add (obj, "avatar", room_stat_string (room, "m.room.avatar", "url"));
  json_object_object_add (obj, "topic", room_stat_string (room, "m.room.topic", "topic"));
  json_object_object_add (obj, "room_type", room_stat_string (room, "m.room.create", "type"));
  json_object_object_add (obj, "joined_local_devices", json_object_new_int ((gint) local_devices));
  json_object_object_add (obj, "forgotten", json_object_new_boolean (forgotten));
  hs_reply_json (reply, 200, obj);
}

/* serialize_events()' default, format_event_for_client_v1(): the client
 * event, unsigned.age, and the sender once more as user_id, with age and
 * replaces_state copied from unsigned to the top level */
static json_object *
admin_state_event_json (Room *room, StateEvent *ev, gint64 now)
{
  json_object *obj = hs_state_event_json (room, ev);
  json_object *unsigned_obj = json_object_object_get (obj, "unsigned");
  gint64 age = now - ev->origin_server_ts;

  json_object_object_add (unsigned_obj, "age", json_object_new_int64 (age));
  if (ev->replaces_state != NULL)
    json_object_object_add (unsigned_obj, "replaces_state", json_object_new_string (ev->replaces_state));
  json_object_object_add (obj, "user_id", json_object_new_string (ev->sender));
  json_object_object_add (obj, "age", json_object_new_int64 (age));
  if (ev->replaces_state != NULL)
    json_object_object_add (obj, "replaces_state", json_object_new_string (ev->replaces_state));
  return obj;
}

/* Synapse 1.67 RoomStateRestServlet.on_GET (rest/admin/rooms.py): 404
 * M_NOT_FOUND "Room not found" when the server has no such room, else
 * {"state": [...]}, every current state event (an admin need not be in the
 * room). Synapse's order is a dict's; this one is the order they were sent. */
void
hs_handle_admin_room_state (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  gint64 now = hs_now_ms ();
  json_object *state;
  json_object *obj;
  Room *room;

  (void) req, (void) who;
  room = hs_lookup_room (self, args[0]);
  if (room == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "Room not found");
      return;
    }
  state = json_object_new_array ();
  for (guint i = 0; i < room->state->len; i++)
    json_object_array_add (state, admin_state_event_json (room, g_ptr_array_index (room->state, i), now));
  obj = json_object_new_object ();
  json_object_object_add (obj, "state", state);
  hs_reply_json (reply, 200, obj);
}
