/* lotti-bundle: the bundle step, the Base64url JSON the Lotti desktop
 * client ingests. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>

static gboolean
lotti_bundle_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  g_autoptr(MxprovBundle) bundle = NULL;
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
  bundle = mxprov_bundle_new (mxprov_http_get_base_url (mxprov_context_get_http (context)),
                              user_id, password, room_id);
  mxprov_context_take (context, "bundle.json", mxprov_bundle_to_json (bundle),
                       MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_take (context, "bundle.base64", mxprov_bundle_encode (bundle),
                       MXPROV_CONTEXT_FLAG_SECRET);
  return TRUE;
}

static const gchar *const requires[] = { "homeserver", "user.id", "user.password", "room.id", NULL };
static const gchar *const provides[] = { "bundle.json", "bundle.base64", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "lotti-bundle",
  .step = "bundle",
  .backend = "lotti",
  .description = "Encodes {v, homeServer, user, password, roomId} as URL-safe Base64",
  .requires = requires,
  .provides = provides,
  .run = lotti_bundle_run,
)
