/* mxprov-plugin.h: the step plugin ABI.
 *
 * A plugin is a shared object that runs one step of the provisioning
 * pipeline (auth, user, room or bundle) for one backend. It exports exactly
 * one symbol, mxprov_plugin_get_info(), written by MXPROV_PLUGIN_DEFINE,
 * which returns a constant MxprovPluginInfo. The host refuses a plugin whose
 * abi_version differs from its own, whose run is NULL, or whose step is not
 * the one it was configured for.
 *
 * Lifecycle, for each configured step in pipeline order:
 *   init      once, with the plugin's config group (options); optional
 *   run       does the step: reads its `requires` keys from the context and
 *             must set every `provides` key before returning TRUE
 *   rollback  undoes what run made when a later step fails; optional
 *   cleanup   always called (success or failure) for every step whose run
 *             was called, in reverse order: log tokens out, etc.; optional
 *   finalize  frees the plugin's private data; optional
 *
 * Accounts made earlier (mxprov 0.2; still ABI 1): the commands status,
 * revoke and reissue run the auth step's run, then for each account call
 * these optional entries of the later steps, with the account's user.id in
 * the context (and, when the admin gave its bundle, user.password and
 * room.id); cleanup is called for each step whose entry was called:
 *   status        fills `report` (a JSON object) with what the step can
 *                 tell of the account, never changing anything; the keys
 *                 are listed in mxprov-plugin(7): the user step reports
 *                 "state" ("active", "deactivated" or "missing"), "admin",
 *                 "devices" or "login", the room step "marked_rooms"
 *   adopt         takes the account (user.id, room.id) as if run had made
 *                 it, so that rollback undoes it: what revoke does
 *   set_password  user step: gives the account a new random password
 *                 (user.password) and changes nothing else: what reissue
 *                 does before the bundle step's run
 * A plugin without an entry makes that command answer "not supported by
 * PLUGIN".
 *
 * Logging: use GLib's g_message (always shown), g_info (shown with -v),
 * g_debug (-vv) and g_warning; all go to standard error. Never log a
 * password, token or bundle: the host cannot redact free text.
 *
 * Never call curl_global_init or set a GLib log handler: the host owns both.
 * mxprov turns off GnuTLS's implicit initialisation (it never uses GnuTLS,
 * which Debian's libcurl drags in): a plugin that uses GnuTLS itself calls
 * gnutls_global_init() first, as GnuTLS documents.
 */
#pragma once

#include <glib.h>
#include <gmodule.h>
#include <mxprov/mxprov-abi.h>
#include <mxprov/mxprov-context.h>
#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-http.h>
#include <mxprov/mxprov-secret.h>

G_BEGIN_DECLS

/* The host's handle on one loaded plugin instance. */
typedef struct _MxprovPlugin MxprovPlugin;

typedef struct {
  /* Never moves: the loader reads these two before anything else. */
  guint32 abi_version;
  guint32 struct_size;

  const gchar *name;        /* unique, also the file name: NAME.so */
  const gchar *step;        /* "auth", "user", "room" or "bundle" */
  const gchar *backend;     /* e.g. "synapse", "shared-secret", "matrix" */
  const gchar *description; /* one line for `mxprov plugins` */
  const gchar *const *requires; /* context keys read; NULL-terminated, may be NULL */
  const gchar *const *provides; /* context keys set by run; NULL-terminated, may be NULL */
  const gchar *const *options;  /* keys accepted in the config group, besides "plugin" */

  gboolean (*init) (MxprovPlugin *plugin, GKeyFile *config, const gchar *group,
                    GError **error);
  gboolean (*run) (MxprovPlugin *plugin, MxprovContext *context, GError **error);
  gboolean (*rollback) (MxprovPlugin *plugin, MxprovContext *context, GError **error);
  void (*cleanup) (MxprovPlugin *plugin, MxprovContext *context);
  void (*finalize) (MxprovPlugin *plugin);

  /* Since mxprov 0.2, taken from the padding: plugins built before have
   * NULL here and keep loading. */
  gboolean (*status) (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                      GError **error);
  gboolean (*adopt) (MxprovPlugin *plugin, MxprovContext *context, GError **error);
  gboolean (*set_password) (MxprovPlugin *plugin, MxprovContext *context, GError **error);

  /* Room to grow without bumping the ABI version: must be zero. */
  gpointer padding[5];
} MxprovPluginInfo;

typedef const MxprovPluginInfo *(*MxprovPluginGetInfoFunc) (void);

/* Write the plugin's getter and its constant descriptor:
 *
 *   MXPROV_PLUGIN_DEFINE (.name = "synapse-auth", .step = "auth",
 *                         .backend = "synapse", .run = synapse_auth_run, …)
 */
#define MXPROV_PLUGIN_DEFINE(...)                                             \
  G_MODULE_EXPORT const MxprovPluginInfo *mxprov_plugin_get_info (void);      \
  G_MODULE_EXPORT const MxprovPluginInfo *mxprov_plugin_get_info (void)       \
  {                                                                           \
    static const MxprovPluginInfo mxprov_plugin_info = {                      \
      .abi_version = MXPROV_PLUGIN_ABI_VERSION,                               \
      .struct_size = sizeof (MxprovPluginInfo),                               \
      __VA_ARGS__                                                             \
    };                                                                        \
    return &mxprov_plugin_info;                                               \
  }

/* Host services for the plugin's own use. */
const MxprovPluginInfo *mxprov_plugin_get_info_struct (MxprovPlugin *plugin);
const gchar *mxprov_plugin_get_name (MxprovPlugin *plugin);
/* Private data, freed with `destroy` after finalize. */
void mxprov_plugin_set_data (MxprovPlugin *plugin, gpointer data, GDestroyNotify destroy);
gpointer mxprov_plugin_get_data (MxprovPlugin *plugin);

/* Option readers for init: an absent key gives `default_value`; a present
 * but invalid one is an MXPROV_CONFIG_ERROR naming the group and key. */
gboolean mxprov_config_get_string (GKeyFile *config, const gchar *group,
                                   const gchar *key, const gchar *default_value,
                                   gchar **out_value, GError **error);
gboolean mxprov_config_get_uint (GKeyFile *config, const gchar *group,
                                 const gchar *key, guint default_value,
                                 guint min_value, guint max_value,
                                 guint *out_value, GError **error);

G_END_DECLS
