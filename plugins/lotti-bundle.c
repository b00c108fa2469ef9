/* lotti-bundle: the bundle step, the Base64url JSON the Lotti desktop
 * client ingests: version 1 as the original plan says (the default), or
 * version 2 ("kind":"provisioned"), the only one current Lotti releases
 * accept. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>

typedef struct {
  guint version;
} LottiBundle;

static gboolean
lotti_bundle_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  g_autofree LottiBundle *self = g_new0 (LottiBundle, 1);

  if (!mxprov_config_get_uint (config, group, "version", MXPROV_BUNDLE_VERSION, 1,
                               MXPROV_BUNDLE_VERSION_LATEST, &self->version, error))
    return FALSE;
  mxprov_plugin_set_data (plugin, g_steal_pointer (&self), g_free);
  return TRUE;
}

/* Say once per process (a batch makes many bundles) when the app would
 * refuse what we made, and why: the admin hands it over otherwise. */
static void
warn_if_lotti_refuses (const gchar *encoded, guint self_version)
{
  static gsize warned = 0;
  g_autoptr(GError) error = NULL;

  if (mxprov_bundle_lotti_accepts (encoded, &error))
    return;
  if (!g_once_init_enter (&warned))
    return;
  if (g_error_matches (error, MXPROV_LOTTI_ERROR, MXPROV_LOTTI_ERROR_UNSUPPORTED_VERSION))
    g_warning ("current Lotti releases refuse version %u bundles (\"unsupported version\"); "
               "make version 2 ones with --bundle-version 2 (or version=2 in [bundle])",
               self_version);
  else
    g_warning ("the Lotti app would refuse this bundle (%s)", error->message);
  g_once_init_leave (&warned, 1);
}

/* Under an OAuth service (MAS) the app logs in and joins, then fails at
 * its first step, the password change (backends-2026.md 1.8): say it
 * once per process, as above. */
static void
warn_if_app_cannot_rotate (MxprovContext *context)
{
  static gsize warned = 0;
  const gchar *issuer = mxprov_context_get (context, "server.oauth_issuer");

  if (issuer == NULL || !g_once_init_enter (&warned))
    return;
  g_warning ("login on this server is delegated to %s%s: the Lotti app logs in and joins with "
             "this bundle but cannot change its password there (no /account/password under "
             "OAuth), so it stops in its error state; other clients can use the bundle as it is",
             issuer, g_strcmp0 (mxprov_context_get (context, "server.oauth_service"), "MAS") == 0
                       ? " (the Matrix Authentication Service)" : "");
  g_once_init_leave (&warned, 1);
}

static gboolean
lotti_bundle_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  LottiBundle *self = mxprov_plugin_get_data (plugin);
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(MxprovSecret) encoded = NULL;
  const gchar *user_id, *password, *room_id;

  if ((user_id = mxprov_context_lookup (context, "user.id", error)) == NULL
      || (password = mxprov_context_lookup (context, "user.password", error)) == NULL
      || (room_id = mxprov_context_lookup (context, "room.id", error)) == NULL)
    return FALSE;
  /* the desktop client rotates this password on first use: it must be one
   * it can type back, ASCII and within bcrypt's 72 bytes */
  if (strlen (password) > 72 || !g_str_is_ascii (password))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                           "the user step made a password that is not ASCII or longer than 72 bytes");
      return FALSE;
    }
  /* The client base URL the run actually used (normalized, no trailing
   * '/'), never one rebuilt from the server name in the user ID. */
  bundle = mxprov_bundle_new_full ((gint) self->version,
                                   self->version == 1 ? MXPROV_BUNDLE_KIND_NONE
                                                      : MXPROV_BUNDLE_KIND_PROVISIONED,
                                   mxprov_http_get_base_url (mxprov_context_get_http (context)),
                                   user_id, password, room_id);
  encoded = mxprov_bundle_encode (bundle);
  warn_if_lotti_refuses (encoded, self->version);
  warn_if_app_cannot_rotate (context);
  mxprov_context_take (context, "bundle.json", mxprov_bundle_to_json (bundle),
                       MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_take (context, "bundle.base64", g_steal_pointer (&encoded),
                       MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

static const gchar *const requires[] = { "homeserver", "user.id", "user.password", "room.id", NULL };
static const gchar *const provides[] = { "bundle.json", "bundle.base64", NULL };
static const gchar *const options[] = { "version", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "lotti-bundle",
  .step = "bundle",
  .backend = "lotti",
  .description = "Encodes {v, [kind,] homeServer, user, password, roomId} as URL-safe Base64 (version=1|2)",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = lotti_bundle_init,
  .run = lotti_bundle_run,
)
