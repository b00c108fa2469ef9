/* matrix-room: the room step, with the client-server API as the new user.
 * Works on any homeserver: it needs only the user's access token. */
#include "config.h"

#include <mxprov/mxprov.h>

#define DEFAULT_ROOM_NAME "Lotti Sync"
#define DEFAULT_MARKER_TYPE "m.lotti.sync_room"
#define DEFAULT_MARKER_VERSION 1

typedef struct {
  gchar *room_name;
  gchar *marker_type;
  guint marker_version;
} MatrixRoom;

static void
matrix_room_free (gpointer data)
{
  MatrixRoom *self = data;
  g_free (self->room_name);
  g_free (self->marker_type);
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

static gboolean
matrix_room_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MatrixRoom *self = mxprov_plugin_get_data (plugin);
  g_autoptr(json_object) body = NULL;
  g_autoptr(json_object) answer = NULL;
  const gchar *token = mxprov_context_lookup (context, "user.token", error);
  const gchar *room_id;

  if (token == NULL)
    return FALSE;
  body = build_create_room_body (self);
  answer = mxprov_http_request (mxprov_context_get_http (context), "POST",
                                "/_matrix/client/v3/createRoom", token, body, NULL, error);
  if (answer == NULL)
    {
      g_prefix_error (error, "creating the sync room: ");
      return FALSE;
    }
  /* Room IDs are opaque (v12 ones have no server part): check only the sigil. */
  room_id = mxprov_json_get_string (answer, "room_id", error);
  if (room_id == NULL || room_id[0] != '!')
    {
      if (room_id != NULL)
        g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                     "'%s' is not a room ID", room_id);
      g_prefix_error (error, "creating the sync room: ");
      return FALSE;
    }
  mxprov_context_set (context, "room.id", room_id, MXPROV_CONTEXT_FLAG_NONE);
  g_info ("created room %s", room_id);
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
)
