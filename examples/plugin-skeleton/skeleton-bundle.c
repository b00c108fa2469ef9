/* skeleton-bundle: a complete out-of-tree mxprov step plugin.
 *
 * A bundle step that writes the standard bundle (so the desktop client
 * still reads it) and logs, at -v, which plugin made it. Copy this
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
)
