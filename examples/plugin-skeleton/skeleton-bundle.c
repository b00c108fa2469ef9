/* skeleton-bundle: a complete out-of-tree mxprov step plugin.
 *
 * A bundle step that writes the standard bundle (version 1, so every
 * mxprov reads it; mxprov_bundle_new_full makes the version 2 bundle
 * current Lotti releases need) and logs, at -v, which plugin made it. It
 * also has a status entry, for mxprov status, revoke and reissue. Copy this
 * directory, rename the plugin, and change what run() does. */
#include <mxprov/mxprov.h>

typedef struct {
  gchar *greeting;
} SkeletonBundle;

static void
skeleton_bundle_free (gpointer data)
{
  SkeletonBundle *self = data;
  g_free (self->greeting);
  g_free (self);
}

/* Options come from this step's group in the step config; the host has
 * already refused keys not listed in .options below. */
static gboolean
skeleton_bundle_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  SkeletonBundle *self = g_new0 (SkeletonBundle, 1);

  mxprov_plugin_set_data (plugin, self, skeleton_bundle_free);
  return mxprov_config_get_string (config, group, "greeting", "made by skeleton-bundle",
                                   &self->greeting, error);
}

static gboolean
skeleton_bundle_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  SkeletonBundle *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovBundle) bundle = NULL;
  const gchar *user_id, *password, *room_id;

  if ((user_id = mxprov_context_lookup (context, "user.id", error)) == NULL
      || (password = mxprov_context_lookup (context, "user.password", error)) == NULL
      || (room_id = mxprov_context_lookup (context, "room.id", error)) == NULL)
    return FALSE;
  bundle = mxprov_bundle_new (mxprov_http_get_base_url (mxprov_context_get_http (context)),
                              user_id, password, room_id);
  /* Both keys hold the password: mark them secret so they are wiped and
   * never printed. */
  mxprov_context_take (context, "bundle.json", mxprov_bundle_to_json (bundle),
                       MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_take (context, "bundle.base64", mxprov_bundle_encode (bundle),
                       MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("bundle for %s %s", user_id, self->greeting);
  return TRUE;
}

/* The optional entries for accounts made earlier (mxprov 0.2, still plugin
 * ABI 1; a user step without an entry a command needs makes that command
 * answer "not supported by PLUGIN"). mxprov status, revoke and reissue run
 * the auth step, then for each account call one entry of every later step
 * that has it, with user.id (and, from the account's bundle, user.password
 * and room.id) in the context; cleanup then runs as after run.
 * mxprov-plugin(7) has the details.
 *   .status        all three, first: add what this step can tell of the
 *                  account to `report`, a JSON object the steps share; read
 *                  only, change nothing. The host reads "state", "admin",
 *                  "devices", "locked" and "login" from the user step and
 *                  "marked_rooms", "room_gone" and "room_not_joined" from the
 *                  room step, and ignores other members (they show at -vv).
 *   .adopt         revoke: take the account (user.id, room.id) as if run had
 *                  made it, so that rollback undoes it.
 *   .set_password  reissue, user step only: give the account a new password
 *                  (user.password) and change nothing else; the bundle step's
 *                  run then makes the new bundle.
 * A bundle step makes nothing on the server, so it has nothing to adopt and
 * no password to set; its status only says which plugin makes the bundles. */
static gboolean
skeleton_bundle_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                        GError **error)
{
  (void) plugin;
  (void) context;
  (void) error;
  json_object_object_add (report, "bundle_plugin", json_object_new_string ("skeleton-bundle"));
  return TRUE;
}

static const gchar *const requires[] = { "user.id", "user.password", "room.id", NULL };
static const gchar *const provides[] = { "bundle.json", "bundle.base64", NULL };
static const gchar *const options[] = { "greeting", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "skeleton-bundle",
  .step = "bundle",
  .backend = "example",
  .description = "Out-of-tree example: the standard bundle, built against the installed SDK",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = skeleton_bundle_init,
  .run = skeleton_bundle_run,
  .status = skeleton_bundle_status,
)
