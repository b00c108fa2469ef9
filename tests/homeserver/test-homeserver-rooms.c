/* test-homeserver-rooms.c: the client room API: createRoom, room state,
 * joined_members, joined_rooms, leave and forget.
 *
 * Synapse 1.67's handlers/room.py and room_member.py.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* createRoom */

typedef struct {
  const gchar *name;
  const gchar *join_rule;
  gboolean guest_can_join;
  gboolean invitees_have_ops;
  gboolean invite_zero; /* power_level_content_override {"invite": 0} */
} Preset;

static const Preset presets[] = {
  { "private_chat", "invite", TRUE, FALSE, TRUE },
  { "trusted_private_chat", "invite", TRUE, TRUE, TRUE },
  { "public_chat", "public", FALSE, FALSE, FALSE },
};

/* Synapse's default power levels. From room version 12 (MSC4289) the
 * creators have infinite power: none of them is in "users", and a
 * tombstone needs 150. */
static json_object *
default_power_levels (const gchar *creator, const Preset *preset, json_object *invites, guint room_version)
{
  gboolean creator_power = room_version >= 12;
  static const struct {
    const gchar *type;
    gint level;
  } events[] = {
    { "m.room.name", 50 },
    { "m.room.power_levels", 100 },
    { "m.room.history_visibility", 100 },
    { "m.room.canonical_alias", 50 },
    { "m.room.avatar", 50 },
    { "m.room.tombstone", 100 }, /* 150 with creator power */
    { "m.room.server_acl", 100 },
    { "m.room.encryption", 100 },
  };
  json_object *pl = json_object_new_object ();
  json_object *users = json_object_new_object ();
  json_object *ev = json_object_new_object ();

  if (!creator_power)
    json_object_object_add (users, creator, json_object_new_int (100));
  if (preset->invitees_have_ops && invites != NULL && !creator_power)
    {
      for (gsize i = 0; i < json_object_array_length (invites); i++)
        json_object_object_add (users, json_object_get_string (json_object_array_get_idx (invites, i)),
                                json_object_new_int (100));
    }
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    {
      gboolean tombstone = g_strcmp0 (events[i].type, "m.room.tombstone") == 0;

      json_object_object_add (ev, events[i].type,
                              json_object_new_int (tombstone && creator_power ? 150 : events[i].level));
    }
  json_object_object_add (pl, "users", users);
  json_object_object_add (pl, "users_default", json_object_new_int (0));
  json_object_object_add (pl, "events", ev);
  json_object_object_add (pl, "events_default", json_object_new_int (0));
  json_object_object_add (pl, "state_default", json_object_new_int (50));
  json_object_object_add (pl, "ban", json_object_new_int (50));
  json_object_object_add (pl, "kick", json_object_new_int (50));
  json_object_object_add (pl, "redact", json_object_new_int (50));
  json_object_object_add (pl, "invite", json_object_new_int (preset->invite_zero ? 0 : 50));
  json_object_object_add (pl, "historical", json_object_new_int (100));
  return pl;
}

typedef struct {
  gchar *type;
  gchar *state_key;
  json_object *content;
} InitialState;

static void
initial_state_free (InitialState *st)
{
  g_free (st->type);
  g_free (st->state_key);
  json_object_put (st->content);
  g_free (st);
}

static InitialState *
initial_state_take (GPtrArray *list, const gchar *type)
{
  for (guint i = 0; i < list->len; i++)
    {
      InitialState *st = g_ptr_array_index (list, i);
      if (g_strcmp0 (st->type, type) == 0 && g_strcmp0 (st->state_key, "") == 0)
        return g_ptr_array_steal_index (list, i);
    }
  return NULL;
}

static gboolean
initial_state_has (GPtrArray *list, const gchar *type)
{
  for (guint i = 0; i < list->len; i++)
    {
      InitialState *st = g_ptr_array_index (list, i);
      if (g_strcmp0 (st->type, type) == 0 && g_strcmp0 (st->state_key, "") == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
optional_string (json_object *body, const gchar *key, const gchar **out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *out = NULL;
  if (!hs_json_has (body, key, &value) || value == NULL)
    return TRUE;
  if (!json_object_is_type (value, json_type_string))
    {
      text = g_strdup_printf ("'%s' must be a string", key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *out = json_object_get_string (value);
  return TRUE;
}

/* rc_room_creation: 0.016/s, burst 10, per user (Synapse >= 1.136) */
static const RateLimit room_creation_limit = { "rc_room_creation", 10, 62500, TEST_RATE_LIMIT_ROOM_CREATION };

/* the room version as a number when the flavour knows it, else 0 */
static guint
known_room_version (TestHomeserver *self, const gchar *room_version)
{
  guint64 version = 0;

  if (!g_ascii_string_to_unsigned (room_version, 10, 1, self->flavour->max_room_version, &version, NULL))
    return 0;
  /* "01" is not "1" */
  if (room_version[0] == '0')
    return 0;
  return (guint) version;
}

/* Room version 12 (MSC4291): the room ID is "!" and the create event's
 * reference hash, unpadded URL-safe base64, 43 characters, no server part.
 * A random hash is as good here. */
static gchar *
hash_room_id (void)
{
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree gchar *seed = hs_random_string (ALPHANUMERIC, 32);
  g_autofree gchar *b64 = NULL;

  g_checksum_update (checksum, (const guchar *) seed, strlen (seed));
  g_checksum_get_digest (checksum, digest, &digest_len);
  b64 = g_base64_encode (digest, digest_len);
  for (gchar *p = b64; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        *p = '\0';
    }
  return g_strconcat ("!", b64, NULL);
}

/* Synapse's RoomCreationHandler.create_room(): validate everything first,
 * then send the state events in the order Synapse does. */
void
hs_handle_create_room (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autoptr(GPtrArray) initial = g_ptr_array_new_with_free_func ((GDestroyNotify) initial_state_free);
  g_autofree gchar *text = NULL;
  g_autofree gchar *random_part = NULL;
  json_object *value = NULL;
  json_object *creation_content = NULL;
  json_object *invites = NULL;
  json_object *pl_override = NULL;
  json_object *create;
  json_object *content;
  json_object *obj;
  const gchar *visibility = NULL;
  const gchar *preset_name = NULL;
  const gchar *room_version = NULL;
  const gchar *name = NULL;
  const gchar *topic = NULL;
  const Preset *preset = NULL;
  InitialState *pl_initial;
  User *creator;
  Room *room;
  gboolean is_direct = FALSE;
  guint retry_after_ms = 0;
  guint version;

  (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  /* Synapse >= 1.136 RoomCreationHandler.create_room(): rc_room_creation
   * before anything in the body is looked at */
  if (self->flavour->room_creation_limit
      && !hs_ratelimit_locked (self, &room_creation_limit, who->user_id, TRUE, &retry_after_ms))
    {
      hs_reply_limit_exceeded (self, reply, retry_after_ms);
      return;
    }

  if (!optional_string (body, "visibility", &visibility, reply)
      || !optional_string (body, "preset", &preset_name, reply)
      || !optional_string (body, "room_version", &room_version, reply)
      || !optional_string (body, "name", &name, reply)
      || !optional_string (body, "topic", &topic, reply))
    return;
  if (preset_name == NULL)
    preset_name = g_strcmp0 (visibility, "public") == 0 ? "public_chat" : "private_chat";
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      if (g_strcmp0 (presets[i].name, preset_name) == 0)
        preset = &presets[i];
    }
  if (preset == NULL)
    {
      text = g_strdup_printf ("'%s' is not a valid preset", preset_name);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return;
    }
  if (room_version == NULL)
    room_version = self->flavour->default_room_version;
  version = known_room_version (self, room_version);
  if (version == 0)
    {
      hs_reply_error (reply, 400, "M_UNSUPPORTED_ROOM_VERSION",
                      "Your homeserver does not support this room version");
      return;
    }
  if (hs_json_has (body, "creation_content", &creation_content) && creation_content != NULL
      && !json_object_is_type (creation_content, json_type_object))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "'creation_content' must be an object");
      return;
    }
  if (hs_json_has (body, "power_level_content_override", &pl_override) && pl_override != NULL
      && !json_object_is_type (pl_override, json_type_object))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "'power_level_content_override' must be an object");
      return;
    }
  if (hs_json_has (body, "is_direct", &value) && json_object_is_type (value, json_type_boolean))
    is_direct = json_object_get_boolean (value);
  if (hs_json_has (body, "invite", &invites) && invites != NULL)
    {
      if (!json_object_is_type (invites, json_type_array))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "'invite' must be a list");
          return;
        }
      for (gsize i = 0; i < json_object_array_length (invites); i++)
        {
          json_object *invitee = json_object_array_get_idx (invites, i);
          if (!json_object_is_type (invitee, json_type_string)
              || !hs_split_user_id (json_object_get_string (invitee), NULL, NULL))
            {
              hs_reply_error (reply, 400, "M_INVALID_PARAM", "Invalid user_id in 'invite'");
              return;
            }
        }
    }
  if (hs_json_has (body, "initial_state", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_array))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "'initial_state' must be a list");
          return;
        }
      for (gsize i = 0; i < json_object_array_length (value); i++)
        {
          json_object *entry = json_object_array_get_idx (value, i);
          json_object *type = NULL;
          json_object *state_key = NULL;
          json_object *ev_content = NULL;
          const gchar *key_str = "";
          gboolean replaced = FALSE;

          if (!json_object_is_type (entry, json_type_object))
            {
              hs_reply_error (reply, 400, "M_BAD_JSON", "initial_state entries must be objects");
              return;
            }
          if (!hs_json_has (entry, "type", &type) || !json_object_is_type (type, json_type_string))
            {
              hs_reply_error (reply, 400, "M_BAD_JSON", "'type' not a string type");
              return;
            }
          if (hs_json_has (entry, "state_key", &state_key))
            {
              if (!json_object_is_type (state_key, json_type_string))
                {
                  hs_reply_error (reply, 400, "M_BAD_JSON", "'state_key' not a string type");
                  return;
                }
              key_str = json_object_get_string (state_key);
            }
          /* Synapse reads val["content"] unguarded: a KeyError, so a 500 */
          if (!hs_json_has (entry, "content", &ev_content))
            {
              hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
              return;
            }
          if (!json_object_is_type (ev_content, json_type_object))
            {
              hs_reply_error (reply, 400, "M_BAD_JSON", "'content' not an object");
              return;
            }
          /* an OrderedDict: a repeated key keeps its first place, last value */
          for (guint j = 0; j < initial->len; j++)
            {
              InitialState *st = g_ptr_array_index (initial, j);
              if (g_strcmp0 (st->type, json_object_get_string (type)) == 0
                  && g_strcmp0 (st->state_key, key_str) == 0)
                {
                  json_object_put (st->content);
                  st->content = hs_json_copy (ev_content);
                  replaced = TRUE;
                }
            }
          if (!replaced)
            {
              InitialState *st = g_new0 (InitialState, 1);
              st->type = g_strdup (json_object_get_string (type));
              st->state_key = g_strdup (key_str);
              st->content = hs_json_copy (ev_content);
              g_ptr_array_add (initial, st);
            }
        }
    }

  room = g_new0 (Room, 1);
  if (version >= 12)
    room->room_id = hash_room_id ();
  else
    {
      random_part = hs_random_string (LETTERS, 18);
      room->room_id = g_strdup_printf ("!%s:%s", random_part, self->server_name);
    }
  room->creator = g_strdup (who->user_id);
  room->create_request = hs_json_copy (body);
  room->state = g_ptr_array_new_with_free_func ((GDestroyNotify) hs_state_event_free);
  room->joined = g_ptr_array_new_with_free_func (g_free);
  room->forgotten = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->rooms, room);

  create = creation_content != NULL ? hs_json_copy (creation_content) : json_object_new_object ();
  /* MSC2175 (room version 11) dropped "creator": the sender is it */
  if (version < 11)
    json_object_object_add (create, "creator", json_object_new_string (who->user_id));
  json_object_object_add (create, "room_version", json_object_new_string (room_version));
  /* MSC4289: a trusted private chat makes its invitees creators as well */
  if (version >= 12 && preset->invitees_have_ops && invites != NULL && json_object_array_length (invites) > 0)
    {
      json_object *creators = json_object_new_array ();

      for (gsize i = 0; i < json_object_array_length (invites); i++)
        json_object_array_add (creators, hs_json_copy (json_object_array_get_idx (invites, i)));
      json_object_object_add (create, "additional_creators", creators);
    }
  hs_room_send_state (room, who->user_id, "m.room.create", "", create);

  creator = hs_lookup_user (self, who->user_id);
  hs_room_send_state (room, who->user_id, "m.room.member", who->user_id,
                      hs_member_content ("join", TRUE, creator != NULL ? creator->displayname : NULL));
  g_ptr_array_add (room->joined, g_strdup (who->user_id));

  /* initial_state's power levels take the default's place, not a later one */
  pl_initial = initial_state_take (initial, "m.room.power_levels");
  if (pl_initial != NULL)
    {
      hs_room_send_state (room, who->user_id, "m.room.power_levels", "", g_steal_pointer (&pl_initial->content));
      initial_state_free (pl_initial);
    }
  else
    {
      content = default_power_levels (who->user_id, preset, invites, version);
      if (pl_override != NULL)
        {
          json_object_object_foreach (pl_override, key, val)
            json_object_object_add (content, key, hs_json_copy (val));
        }
      hs_room_send_state (room, who->user_id, "m.room.power_levels", "", content);
    }
  if (!initial_state_has (initial, "m.room.join_rules"))
    {
      content = json_object_new_object ();
      json_object_object_add (content, "join_rule", json_object_new_string (preset->join_rule));
      hs_room_send_state (room, who->user_id, "m.room.join_rules", "", content);
    }
  if (!initial_state_has (initial, "m.room.history_visibility"))
    {
      content = json_object_new_object ();
      json_object_object_add (content, "history_visibility", json_object_new_string ("shared"));
      hs_room_send_state (room, who->user_id, "m.room.history_visibility", "", content);
    }
  if (preset->guest_can_join && !initial_state_has (initial, "m.room.guest_access"))
    {
      content = json_object_new_object ();
      json_object_object_add (content, "guest_access", json_object_new_string ("can_join"));
      hs_room_send_state (room, who->user_id, "m.room.guest_access", "", content);
    }
  for (guint i = 0; i < initial->len; i++)
    {
      InitialState *st = g_ptr_array_index (initial, i);
      hs_room_send_state (room, who->user_id, st->type, st->state_key, g_steal_pointer (&st->content));
    }
  if (name != NULL)
    {
      content = json_object_new_object ();
      json_object_object_add (content, "name", json_object_new_string (name));
      hs_room_send_state (room, who->user_id, "m.room.name", "", content);
    }
  if (topic != NULL)
    {
      content = json_object_new_object ();
      json_object_object_add (content, "topic", json_object_new_string (topic));
      hs_room_send_state (room, who->user_id, "m.room.topic", "", content);
    }
  for (gsize i = 0; invites != NULL && i < json_object_array_length (invites); i++)
    {
      const gchar *invitee = json_object_get_string (json_object_array_get_idx (invites, i));
      content = hs_member_content ("invite", FALSE, NULL);
      if (is_direct)
        json_object_object_add (content, "is_direct", json_object_new_boolean (TRUE));
      hs_room_send_state (room, who->user_id, "m.room.member", invitee, content);
    }

  obj = json_object_new_object ();
  json_object_object_add (obj, "room_id", json_object_new_string (room->room_id));
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Reading rooms */

/* Room reads are for joined members only; a missing room looks the same. */
static Room *
room_for_member (TestHomeserver *self, const gchar *room_id, Requester *who, Reply *reply)
{
  Room *room = hs_lookup_room (self, room_id);
  g_autofree gchar *text = NULL;

  if (room == NULL || !hs_room_has_member (room, who->user_id))
    {
      text = g_strdup_printf ("User %s not in room %s", who->user_id, room_id);
      hs_reply_error (reply, 403, "M_FORBIDDEN", text);
      return NULL;
    }
  return room;
}

json_object *
hs_state_event_json (Room *room, StateEvent *ev)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "type", json_object_new_string (ev->type));
  json_object_object_add (obj, "state_key", json_object_new_string (ev->state_key));
  json_object_object_add (obj, "content", hs_json_copy (ev->content));
  json_object_object_add (obj, "sender", json_object_new_string (ev->sender));
  json_object_object_add (obj, "room_id", json_object_new_string (room->room_id));
  json_object_object_add (obj, "event_id", json_object_new_string (ev->event_id));
  json_object_object_add (obj, "origin_server_ts", json_object_new_int64 (ev->origin_server_ts));
  json_object_object_add (obj, "unsigned", json_object_new_object ());
  return obj;
}

void
hs_handle_room_state_all (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  Room *room;
  json_object *arr;

  (void) req;
  room = room_for_member (self, args[0], who, reply);
  if (room == NULL)
    return;
  arr = json_object_new_array ();
  for (guint i = 0; i < room->state->len; i++)
    json_object_array_add (arr, hs_state_event_json (room, g_ptr_array_index (room->state, i)));
  hs_reply_json (reply, 200, arr);
}

void
hs_handle_room_state (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const gchar *state_key = args[2] != NULL ? args[2] : "";
  Room *room;
  StateEvent *ev;

  (void) req;
  room = room_for_member (self, args[0], who, reply);
  if (room == NULL)
    return;
  ev = hs_room_lookup_state (room, args[1], state_key, NULL);
  if (ev == NULL)
    {
      hs_reply_error (reply, 404, "M_NOT_FOUND", "Event not found.");
      return;
    }
  hs_reply_json (reply, 200, hs_json_copy (ev->content));
}

void
hs_handle_joined_members (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  Room *room;
  json_object *joined;
  json_object *obj;

  (void) req;
  room = room_for_member (self, args[0], who, reply);
  if (room == NULL)
    return;
  joined = json_object_new_object ();
  for (guint i = 0; i < room->joined->len; i++)
    {
      const gchar *member = g_ptr_array_index (room->joined, i);
      StateEvent *ev = hs_room_lookup_state (room, "m.room.member", member, NULL);
      json_object *profile = json_object_new_object ();
      json_object *dn = NULL;

      if (ev != NULL && hs_json_has (ev->content, "displayname", &dn) && dn != NULL)
        json_object_object_add (profile, "display_name", hs_json_copy (dn));
      else
        json_object_object_add (profile, "display_name", NULL);
      json_object_object_add (profile, "avatar_url", NULL);
      json_object_object_add (joined, member, profile);
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "joined", joined);
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_joined_rooms (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *arr = json_object_new_array ();
  json_object *obj = json_object_new_object ();

  (void) req, (void) args;
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (hs_room_has_member (room, who->user_id))
        json_object_array_add (arr, json_object_new_string (room->room_id));
    }
  json_object_object_add (obj, "joined_rooms", arr);
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Leave and forget (Synapse's room member handler) */

void
hs_handle_room_leave (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *text = NULL;
  Room *room = hs_lookup_room (self, args[0]);
  StateEvent *ev;
  const gchar *membership = NULL;
  guint index;

  /* any body, even an invalid one, is accepted */
  (void) req;
  ev = room != NULL ? hs_room_lookup_state (room, "m.room.member", who->user_id, NULL) : NULL;
  if (ev != NULL)
    membership = json_object_get_string (json_object_object_get (ev->content, "membership"));
  if (room == NULL || (room->joined->len == 0 && membership == NULL))
    {
      /* the server is not in the room and the user has no membership there */
      hs_reply_error (reply, 404, "M_UNKNOWN", "Not a known room");
      return;
    }
  if (g_strcmp0 (membership, "leave") == 0)
    {
      /* the same membership again: Synapse answers with the old event */
      hs_reply_json (reply, 200, json_object_new_object ());
      return;
    }
  if (g_strcmp0 (membership, "join") != 0 && g_strcmp0 (membership, "invite") != 0)
    {
      text = g_strdup_printf ("%s not in room %s.", who->user_id, room->room_id);
      hs_reply_error (reply, 403, "M_FORBIDDEN", text);
      return;
    }
  if (hs_room_find_member (room, who->user_id, &index))
    g_ptr_array_remove_index (room->joined, index);
  hs_room_send_state (room, who->user_id, "m.room.member", who->user_id,
                      hs_member_content ("leave", FALSE, NULL));
  hs_reply_json (reply, 200, json_object_new_object ());
}

void
hs_handle_room_forget (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *text = NULL;
  Room *room = hs_lookup_room (self, args[0]);
  StateEvent *ev;
  const gchar *membership = NULL;

  (void) req;
  ev = room != NULL ? hs_room_lookup_state (room, "m.room.member", who->user_id, NULL) : NULL;
  if (ev != NULL)
    membership = json_object_get_string (json_object_object_get (ev->content, "membership"));
  if (membership != NULL && g_strcmp0 (membership, "leave") != 0 && g_strcmp0 (membership, "ban") != 0)
    {
      text = g_strdup_printf ("User %s in room %s", who->user_id, args[0]);
      hs_reply_error (reply, 400, "M_UNKNOWN", text);
      return;
    }
  /* no membership at all (or no such room): nothing to forget, still 200 */
  if (membership != NULL && !g_ptr_array_find_with_equal_func (room->forgotten, who->user_id, g_str_equal, NULL))
    g_ptr_array_add (room->forgotten, g_strdup (who->user_id));
  hs_reply_json (reply, 200, json_object_new_object ());
}
