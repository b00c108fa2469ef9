/* test-homeserver-tuwunel.c: Tuwunel 1.9's own implementation of part of
 * Synapse's admin API (backends-2026.md 3.2; TUW src/api/client/admin/users).
 *
 * Where Tuwunel answers the way Synapse does, the routing table sends its
 * requests to the Synapse handlers; the endpoints here are the ones whose
 * checks, texts or effects differ. Its requests are typed (ruma): a field
 * of the wrong JSON type refuses the whole request with 400 M_BAD_JSON
 * before any check of the handler. An admin is a member of its admin room;
 * here, a user added as admin.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ruma's deserialization of an optional field of `type` (null allowed) */
static gboolean
typed_field (json_object *body, const gchar *key, json_type type, json_object **out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *out = NULL;
  if (!hs_json_has (body, key, &value) || value == NULL)
    return TRUE;
  if (!json_object_is_type (value, type))
    {
      text = g_strdup_printf ("invalid type: %s, expected %s for `%s`",
                              json_type_to_name (json_object_get_type (value)), json_type_to_name (type), key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/* ruma parses the user ID of the path first */
static gboolean
path_user_id (const gchar *user_id, Reply *reply)
{
  if (!hs_split_user_id (user_id, NULL, NULL))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Invalid user ID in path");
      return FALSE;
    }
  return TRUE;
}

/* remove_device() for every device of the user, and so every token it has
 * (Tuwunel keeps no device-less tokens) */
static void
remove_all_devices_locked (TestHomeserver *self, const gchar *user_id)
{
  GHashTableIter iter;
  Token *token;

  for (guint i = self->devices->len; i > 0; i--)
    {
      Device *device = g_ptr_array_index (self->devices, i - 1);
      if (g_strcmp0 (device->user_id, user_id) == 0)
        g_ptr_array_remove_index (self->devices, i - 1);
    }
  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->user_id, user_id) == 0)
        g_hash_table_iter_remove (&iter);
    }
}

/* GET /_synapse/admin/v1/users/<id>/admin (is_user_admin.rs): no
 * existence check; its PUT is only planned, a 405 */
void
hs_tuwunel_user_admin (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  User *user;
  json_object *obj;

  (void) req, (void) who;
  if (!path_user_id (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Can only look up local users");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  obj = json_object_new_object ();
  json_object_object_add (obj, "admin", json_object_new_boolean (user != NULL && user->admin));
  hs_reply_json (reply, 200, obj);
}

/* GET /_synapse/admin/v2/users/<id> (get_details.rs) */
void
hs_tuwunel_get_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  User *user;

  (void) req, (void) who;
  if (!path_user_id (args[0], reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Can only look up local users");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  if (user == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  hs_reply_json (reply, 200, hs_user_json_tuwunel (self, user));
}

/* PUT /_synapse/admin/v2/users/<id> (create_or_modify.rs), in its order:
 * local users only, not deactivated and locked at once, no demoting
 * oneself; then create (a password, no display name and no username check
 * beyond the path's) or, with a password, replace it and with
 * logout_devices (default true) remove every device of the user; then the
 * display name ("" clears it), admin, deactivated (false on a deactivated
 * account without a password leaves it active with an unusable password),
 * locked. 200 with the details either way: there is no 201. user_type,
 * external_ids and approved are taken and ignored. */
void
hs_put_user_tuwunel (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *localpart = NULL;
  json_object *password = NULL;
  json_object *logout_devices = NULL;
  json_object *displayname = NULL;
  json_object *avatar_url = NULL;
  json_object *admin = NULL;
  json_object *deactivated = NULL;
  json_object *locked = NULL;
  json_object *ignored = NULL;
  User *user;

  if (!path_user_id (args[0], reply))
    return;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!typed_field (body, "password", json_type_string, &password, reply)
      || !typed_field (body, "logout_devices", json_type_boolean, &logout_devices, reply)
      || !typed_field (body, "displayname", json_type_string, &displayname, reply)
      || !typed_field (body, "avatar_url", json_type_string, &avatar_url, reply)
      || !typed_field (body, "admin", json_type_boolean, &admin, reply)
      || !typed_field (body, "deactivated", json_type_boolean, &deactivated, reply)
      || !typed_field (body, "locked", json_type_boolean, &locked, reply)
      || !typed_field (body, "threepids", json_type_array, &ignored, reply)
      || !typed_field (body, "external_ids", json_type_array, &ignored, reply)
      || !typed_field (body, "user_type", json_type_string, &ignored, reply)
      || !typed_field (body, "approved", json_type_boolean, &ignored, reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Can only create or modify local users");
      return;
    }
  if (deactivated != NULL && json_object_get_boolean (deactivated) && locked != NULL
      && json_object_get_boolean (locked))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "An account cannot be deactivated and locked");
      return;
    }
  if (admin != NULL && !json_object_get_boolean (admin) && g_strcmp0 (who->user_id, args[0]) == 0)
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "You may not demote yourself.");
      return;
    }

  user = hs_lookup_user (self, args[0]);
  if (user == NULL)
    {
      hs_split_user_id (args[0], &localpart, NULL);
      user = hs_add_user_locked (self, localpart, password != NULL ? json_object_get_string (password) : NULL,
                                 NULL, FALSE);
      /* users.create() sets no display name */
      g_clear_pointer (&user->displayname, g_free);
    }
  else if (password != NULL)
    {
      g_free (user->password);
      user->password = g_strdup (json_object_get_string (password));
      /* a password is what makes an account active there */
      user->deactivated = FALSE;
      if (logout_devices == NULL || json_object_get_boolean (logout_devices))
        remove_all_devices_locked (self, user->user_id);
    }
  if (displayname != NULL)
    {
      const gchar *name = json_object_get_string (displayname);

      g_free (user->displayname);
      user->displayname = name[0] != '\0' ? g_strdup (name) : NULL;
    }
  if (admin != NULL)
    user->admin = json_object_get_boolean (admin);
  if (deactivated != NULL && json_object_get_boolean (deactivated))
    hs_deactivate_user_locked (self, user, FALSE);
  else if (deactivated != NULL && user->deactivated)
    /* PASSWORD_SENTINEL: active, and no password opens it */
    user->deactivated = FALSE;
  if (locked != NULL)
    user->locked = json_object_get_boolean (locked);
  hs_reply_json (reply, self->flavour->put_user_created_status, hs_user_json_tuwunel (self, user));
}

/* GET /_synapse/admin/v1/username_available (username_available.rs): never
 * false; the username is taken as given, not lowercased */
void
hs_tuwunel_username_available (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                               Reply *reply)
{
  const gchar *username = req->query != NULL ? g_hash_table_lookup (req->query, "username") : NULL;
  g_autofree gchar *user_id = NULL;
  json_object *obj;

  (void) who, (void) args;
  if (username == NULL)
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "Failed to deserialize request: missing field `username`");
      return;
    }
  user_id = g_strdup_printf ("@%s:%s", username, self->server_name);
  if (username[0] == '\0' || strchr (username, ':') != NULL || strlen (user_id) > MAX_USER_ID_LENGTH)
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", "Username is not a valid localpart");
      return;
    }
  for (const gchar *p = username; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("._=-/+", *p) != NULL))
        {
          hs_reply_error (reply, 400, "M_INVALID_USERNAME", "Username contains disallowed characters");
          return;
        }
    }
  if (hs_lookup_user (self, user_id) != NULL)
    {
      hs_reply_error (reply, 400, "M_USER_IN_USE", "Username is not available");
      return;
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "available", json_object_new_boolean (TRUE));
  hs_reply_json (reply, 200, obj);
}

/* POST /_synapse/admin/v1/users/<id>/login (login_as.rs), in its order:
 * local users (400 M_INVALID_PARAM), not oneself (400 M_INVALID_PARAM),
 * the user exists (404). Unlike Synapse the token belongs to a new device
 * "Admin login" on the target, so the target's logout (or any removal of
 * its devices) revokes it; valid_until_ms in the past gives a token that
 * is already dead, none one that never expires. */
void
hs_login_as_tuwunel (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *device_id = hs_random_string (UPPERCASE, 10);
  json_object *valid_until = NULL;
  Token *token;
  json_object *obj;

  if (!path_user_id (args[0], reply))
    return;
  body = hs_parse_body (req, TRUE, reply);
  if (body == NULL)
    return;
  if (!typed_field (body, "valid_until_ms", json_type_int, &valid_until, reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Only local users can be logged in as");
      return;
    }
  if (g_strcmp0 (who->user_id, args[0]) == 0)
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Cannot use admin API to login as self");
      return;
    }
  if (hs_lookup_user (self, args[0]) == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  hs_device_register_locked (self, args[0], device_id, "Admin login");
  token = hs_add_token_locked (self, args[0], args[0], device_id,
                               valid_until != NULL ? MAX (json_object_get_int64 (valid_until), 1) : 0);
  obj = json_object_new_object ();
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  hs_reply_json (reply, 200, obj);
}

/* POST /_synapse/admin/v1/deactivate/<id> (deactivate_account.rs) */
void
hs_tuwunel_deactivate (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *erase = NULL;
  User *user;
  json_object *obj;

  (void) who;
  if (!path_user_id (args[0], reply))
    return;
  body = hs_parse_body (req, TRUE, reply);
  if (body == NULL)
    return;
  if (!typed_field (body, "erase", json_type_boolean, &erase, reply))
    return;
  if (!hs_is_local_user_id (self, args[0]))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Can only deactivate local users");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  if (user == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  hs_deactivate_user_locked (self, user, erase != NULL && json_object_get_boolean (erase));
  obj = json_object_new_object ();
  json_object_object_add (obj, "id_server_unbind_result", json_object_new_string ("success"));
  hs_reply_json (reply, 200, obj);
}

/* POST /_synapse/admin/v1/reset_password/<id> (reset_password.rs):
 * new_password required, 404 "User not found" (other servers' users
 * included), and logout_devices (default true) removes every device of the
 * user, the requester's own among them. 200 {}. */
void
hs_tuwunel_reset_password (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *new_password = NULL;
  json_object *logout_devices = NULL;
  User *user;

  (void) who;
  if (!path_user_id (args[0], reply))
    return;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!typed_field (body, "new_password", json_type_string, &new_password, reply)
      || !typed_field (body, "logout_devices", json_type_boolean, &logout_devices, reply))
    return;
  if (new_password == NULL)
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "Failed to deserialize request: missing field `new_password`");
      return;
    }
  user = hs_lookup_user (self, args[0]);
  if (user == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  g_free (user->password);
  user->password = g_strdup (json_object_get_string (new_password));
  user->deactivated = FALSE;
  if (logout_devices == NULL || json_object_get_boolean (logout_devices))
    remove_all_devices_locked (self, user->user_id);
  hs_reply_json (reply, 200, json_object_new_object ());
}
