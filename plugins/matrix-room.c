/* matrix-room: the room step, with the client-server API as the new user.
 * Works on any homeserver: it needs only the user's access token. */
#include "config.h"

#include <mxprov/mxprov.h>

#define DEFAULT_ROOM_NAME "Lotti Sync"
#define DEFAULT_MARKER_TYPE "m.lotti.sync_room"
#define DEFAULT_MARKER_VERSION 1

/* Attempts at createRoom when its answers keep getting lost. */
#define MAX_CREATE_ATTEMPTS 3

typedef struct {
  gchar *room_name;
  gchar *marker_type;
  guint marker_version;
  gchar *room_id; /* the room this run made, for rollback */
} MatrixRoom;

static void
matrix_room_free (gpointer data)
{
  MatrixRoom *self = data;
  g_free (self->room_name);
  g_free (self->marker_type);
  g_free (self->room_id);
  g_free (self);
}

static gboolean
matrix_room_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  MatrixRoom *self = g_new0 (MatrixRoom, 1);

  mxprov_plugin_set_data (plugin, self, matrix_room_free);
  if (!mxprov_config_get_string (config, group, "room-name", DEFAULT_ROOM_NAME,
                                 &self->room_name, error)
      || !mxprov_config_get_string (config, group, "marker-type", DEFAULT_MARKER_TYPE,
                                    &self->marker_type, error)
      || !mxprov_config_get_uint (config, group, "marker-version", DEFAULT_MARKER_VERSION,
                                  1, G_MAXINT32, &self->marker_version, error))
    return FALSE;
  return TRUE;
}

static json_object *
state_event (const gchar *type, json_object *content)
{
  json_object *event = json_object_new_object ();
  json_object_object_add (event, "type", json_object_new_string (type));
  json_object_object_add (event, "state_key", json_object_new_string (""));
  json_object_object_add (event, "content", content);
  return event;
}

/* The seed's body: private, trusted_private_chat (the creator is the only
 * member and admin), never federated, encrypted from the first event, and
 * marked so the clients' room discovery finds it. */
static json_object *
build_create_room_body (MatrixRoom *self)
{
  json_object *body = json_object_new_object ();
  json_object *creation_content = json_object_new_object ();
  json_object *initial_state = json_object_new_array ();
  json_object *encryption = json_object_new_object ();
  json_object *marker = json_object_new_object ();

  json_object_object_add (body, "visibility", json_object_new_string ("private"));
  json_object_object_add (body, "name", json_object_new_string (self->room_name));
  json_object_object_add (body, "preset", json_object_new_string ("trusted_private_chat"));
  json_object_object_add (creation_content, "m.federate", json_object_new_boolean (FALSE));
  json_object_object_add (body, "creation_content", creation_content);
  json_object_object_add (encryption, "algorithm", json_object_new_string ("m.megolm.v1.aes-sha2"));
  json_object_array_add (initial_state, state_event ("m.room.encryption", encryption));
  json_object_object_add (marker, "version", json_object_new_int ((gint) self->marker_version));
  json_object_array_add (initial_state, state_event (self->marker_type, marker));
  json_object_object_add (body, "initial_state", initial_state);
  return body;
}

/* Does the user already sit in a room carrying our marker? Used after a
 * createRoom whose answer was lost: creating again could make a second
 * room. Returns the room ID or NULL (with an error only when the lookup
 * itself failed). */
static gchar *
find_marked_room (MatrixRoom *self, MxprovHttp *http, const gchar *token, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  g_autofree gchar *escaped_type = mxprov_http_escape (self->marker_type);
  json_object *rooms = NULL;

  answer = mxprov_http_request (http, "GET", "/_matrix/client/v3/joined_rooms", token, NULL,
                                NULL, error);
  if (answer == NULL)
    return NULL;
  if (!json_object_object_get_ex (answer, "joined_rooms", &rooms)
      || !json_object_is_type (rooms, json_type_array))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                           "the server's answer has no \"joined_rooms\" list");
      return NULL;
    }
  for (gsize i = 0; i < json_object_array_length (rooms); i++)
    {
      const gchar *room_id = json_object_get_string (json_object_array_get_idx (rooms, i));
      g_autofree gchar *escaped_room = NULL;
      g_autofree gchar *path = NULL;
      g_autoptr(json_object) marker = NULL;
      g_autoptr(GError) error_local = NULL;

      if (room_id == NULL)
        continue;
      escaped_room = mxprov_http_escape (room_id);
      path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/%s/", escaped_room, escaped_type);
      marker = mxprov_http_request (http, "GET", path, token, NULL, NULL, &error_local);
      if (marker != NULL)
        return g_strdup (room_id);
      if (!g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&error_local));
          return NULL;
        }
    }
  return NULL;
}

static gboolean
matrix_room_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MatrixRoom *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *room_id = NULL;
  const gchar *token = mxprov_context_lookup (context, "user.token", error);

  if (token == NULL)
    return FALSE;
  body = build_create_room_body (self);
  for (guint attempt = 1; room_id == NULL; attempt++)
    {
      g_autoptr(json_object) answer = NULL;
      g_autoptr(GError) error_local = NULL;
      const gchar *created;

      answer = mxprov_http_request (http, "POST", "/_matrix/client/v3/createRoom", token, body,
                                    NULL, &error_local);
      if (answer != NULL)
        {
          /* Room IDs are opaque (v12 ones have no server part): check only the sigil. */
          created = mxprov_json_get_string (answer, "room_id", &error_local);
          if (created != NULL && created[0] == '!')
            {
              room_id = g_strdup (created);
              break;
            }
          if (created != NULL)
            g_set_error (&error_local, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                         "'%s' is not a room ID", created);
        }
      /* createRoom is not idempotent: after an answer that may hide a
       * created room, look for it before creating another. */
      if (!mxprov_error_maybe_applied (error_local) || attempt >= MAX_CREATE_ATTEMPTS)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                      "creating the sync room: ");
          return FALSE;
        }
      g_message ("creating the sync room: %s; checking whether it was created anyway",
                 error_local->message);
      room_id = find_marked_room (self, http, token, error);
      if (room_id == NULL && *error != NULL)
        {
          g_prefix_error (error, "creating the sync room: the answer was lost, and then: ");
          return FALSE;
        }
      if (room_id != NULL)
        g_info ("room %s was created by the request whose answer was lost", room_id);
    }
  self->room_id = g_strdup (room_id);
  mxprov_context_set (context, "room.id", room_id, MXPROV_CONTEXT_FLAG_NONE);
  g_info ("created room %s", room_id);
  return TRUE;
}

/* With a Synapse admin session, delete and purge the room; otherwise (or
 * if that API is missing) the user leaves and forgets it, which any
 * server supports. */
static gboolean
matrix_room_rollback (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MatrixRoom *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  const gchar *admin_token = mxprov_context_get (context, "admin.token");
  const gchar *user_token = mxprov_context_get (context, "user.token");
  g_autofree gchar *escaped = NULL;
  g_autoptr(GError) error_local = NULL;

  if (self->room_id == NULL)
    return TRUE;
  escaped = mxprov_http_escape (self->room_id);
  if (admin_token != NULL)
    {
      g_autofree gchar *path = g_strdup_printf ("/_synapse/admin/v1/rooms/%s", escaped);
      g_autoptr(json_object) body = json_object_new_object ();
      g_autoptr(json_object) answer = NULL;

      json_object_object_add (body, "purge", json_object_new_boolean (TRUE));
      answer = mxprov_http_request_full (http, "DELETE", path, admin_token, body,
                                         MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error_local);
      if (answer != NULL)
        {
          g_message ("rolled back: deleted and purged room %s", self->room_id);
          g_clear_pointer (&self->room_id, g_free);
          return TRUE;
        }
      if (user_token == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                      "room %s is left in place: ", self->room_id);
          return FALSE;
        }
      g_info ("deleting room %s as admin failed (%s); leaving it as the user instead",
              self->room_id, error_local->message);
      g_clear_error (&error_local);
    }
  if (user_token != NULL)
    {
      static const gchar *const actions[] = { "leave", "forget" };
      for (gsize i = 0; i < G_N_ELEMENTS (actions); i++)
        {
          g_autofree gchar *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/%s", escaped,
                                                    actions[i]);
          g_autoptr(json_object) body = json_object_new_object ();
          g_autoptr(json_object) answer = NULL;

          answer = mxprov_http_request_full (http, "POST", path, user_token, body,
                                             MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, error);
          if (answer == NULL)
            {
              g_prefix_error (error, "room %s is left in place: ", self->room_id);
              return FALSE;
            }
        }
      g_message ("rolled back: the new user left and forgot room %s", self->room_id);
      g_clear_pointer (&self->room_id, g_free);
      return TRUE;
    }
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
               "room %s is left in place: no session to remove it with", self->room_id);
  return FALSE;
}

/* --- accounts made earlier: status, revoke (adopt) ------------------------ */

/* Does the room carry our marker? With the user's own token (the client
 * API), or else with a Synapse admin token (its admin API), so that status
 * never has to log in as the user. A room that does not exist (any more)
 * is reported through `out_gone`. */
static gboolean
room_is_marked (MatrixRoom *self, MxprovHttp *http, const gchar *user_token,
                const gchar *admin_token, const gchar *room_id, gboolean *out_marked,
                gboolean *out_gone, GError **error)
{
  g_autofree gchar *escaped_room = mxprov_http_escape (room_id);
  g_autofree gchar *path = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;
  json_object *events = NULL;

  *out_marked = FALSE;
  *out_gone = FALSE;
  if (user_token != NULL)
    {
      g_autofree gchar *escaped_type = mxprov_http_escape (self->marker_type);
      path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/%s/", escaped_room, escaped_type);
      answer = mxprov_http_request (http, "GET", path, user_token, NULL, NULL, &error_local);
      if (answer != NULL)
        *out_marked = TRUE;
      else if (!g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&error_local));
          return FALSE;
        }
      return TRUE;
    }
  path = g_strdup_printf ("/_synapse/admin/v1/rooms/%s/state", escaped_room);
  answer = mxprov_http_request (http, "GET", path, admin_token, NULL, NULL, &error_local);
  if (answer == NULL)
    {
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND)
          && mxprov_matrix_error_get_status (error_local) == 404)
        {
          *out_gone = TRUE;
          return TRUE;
        }
      g_propagate_error (error, g_steal_pointer (&error_local));
      return FALSE;
    }
  if (!json_object_object_get_ex (answer, "state", &events)
      || !json_object_is_type (events, json_type_array))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "GET %s: the answer has no \"state\" list", path);
      return FALSE;
    }
  for (gsize i = 0; i < json_object_array_length (events); i++)
    {
      json_object *event = json_object_array_get_idx (events, i);
      json_object *type = NULL, *state_key = NULL;

      if (json_object_object_get_ex (event, "type", &type)
          && g_strcmp0 (json_object_get_string (type), self->marker_type) == 0
          && json_object_object_get_ex (event, "state_key", &state_key)
          && g_strcmp0 (json_object_get_string (state_key), "") == 0)
        *out_marked = TRUE;
    }
  return TRUE;
}

/* The rooms the user is joined to, through the client API with its own
 * token or Synapse's admin API. */
static json_object *
joined_rooms (MxprovHttp *http, const gchar *user_token, const gchar *admin_token,
              const gchar *user_id, GError **error)
{
  g_autofree gchar *path = NULL;
  g_autoptr(json_object) answer = NULL;
  json_object *rooms = NULL;

  if (user_token != NULL)
    path = g_strdup ("/_matrix/client/v3/joined_rooms");
  else
    {
      g_autofree gchar *escaped = mxprov_http_escape (user_id);
      path = g_strdup_printf ("/_synapse/admin/v1/users/%s/joined_rooms", escaped);
    }
  answer = mxprov_http_request (http, "GET", path, user_token != NULL ? user_token : admin_token,
                                NULL, NULL, error);
  if (answer == NULL)
    return NULL;
  if (!json_object_object_get_ex (answer, "joined_rooms", &rooms)
      || !json_object_is_type (rooms, json_type_array))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "GET %s: the answer has no \"joined_rooms\" list", path);
      return NULL;
    }
  return json_object_get (rooms);
}

/* Reports "marked_rooms" (the joined rooms that carry the marker) and, for
 * a room named by the bundle that is not among them, "room_gone" (it does
 * not exist any more) or "room_not_joined". Reads only. */
static gboolean
matrix_room_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                    GError **error)
{
  MatrixRoom *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  const gchar *user_token = mxprov_context_get (context, "user.token");
  const gchar *admin_token = mxprov_context_get (context, "admin.token");
  const gchar *bundle_room = mxprov_context_get (context, "room.id");
  const gchar *user_id;
  g_autoptr(json_object) rooms = NULL;
  json_object *marked;
  gboolean bundle_room_joined = FALSE;
  json_object *state = NULL;

  /* nothing to look at for an account that is gone, or whose password no
   * longer logs in on a backend without an admin API */
  if (json_object_object_get_ex (report, "state", &state)
      && g_strcmp0 (json_object_get_string (state), "active") != 0)
    return TRUE;
  if (user_token == NULL && admin_token == NULL)
    return TRUE;
  if ((user_id = mxprov_context_lookup (context, "user.id", error)) == NULL)
    return FALSE;
  rooms = joined_rooms (http, user_token, admin_token, user_id, error);
  if (rooms == NULL)
    {
      g_prefix_error (error, "listing the rooms of %s: ", user_id);
      return FALSE;
    }
  marked = json_object_new_array ();
  json_object_object_add (report, "marked_rooms", marked);
  for (gsize i = 0; i < json_object_array_length (rooms); i++)
    {
      const gchar *room_id = json_object_get_string (json_object_array_get_idx (rooms, i));
      gboolean is_marked = FALSE, gone = FALSE;

      if (room_id == NULL)
        continue;
      if (g_strcmp0 (room_id, bundle_room) == 0)
        bundle_room_joined = TRUE;
      if (!room_is_marked (self, http, user_token, admin_token, room_id, &is_marked, &gone, error))
        {
          g_prefix_error (error, "reading the state of %s: ", room_id);
          return FALSE;
        }
      if (is_marked)
        json_object_array_add (marked, json_object_new_string (room_id));
    }
  if (bundle_room != NULL && !bundle_room_joined)
    {
      gboolean is_marked = FALSE, gone = FALSE;

      /* only the admin API can tell a room that is gone from one the user
       * left; the user's own token sees neither */
      if (user_token == NULL
          && !room_is_marked (self, http, NULL, admin_token, bundle_room, &is_marked, &gone, error))
        return FALSE;
      json_object_object_add (report, gone ? "room_gone" : "room_not_joined",
                              json_object_new_boolean (TRUE));
    }
  return TRUE;
}

/* revoke: the room is the one rollback removes, as if this run had made it. */
static gboolean
matrix_room_adopt (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MatrixRoom *self = mxprov_plugin_get_data (plugin);
  const gchar *room_id = mxprov_context_lookup (context, "room.id", error);

  if (room_id == NULL)
    return FALSE;
  g_free (self->room_id);
  self->room_id = g_strdup (room_id);
  return TRUE;
}

static const gchar *const requires[] = { "user.token", NULL };
static const gchar *const provides[] = { "room.id", NULL };
static const gchar *const options[] = { "room-name", "marker-type", "marker-version", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "matrix-room",
  .step = "room",
  .backend = "matrix",
  .description = "Creates the private, encrypted, unfederated sync room with its marker",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = matrix_room_init,
  .run = matrix_room_run,
  .rollback = matrix_room_rollback,
  .status = matrix_room_status,
  .adopt = matrix_room_adopt,
)
