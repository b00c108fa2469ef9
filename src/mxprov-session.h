/* mxprov-session.h: what `provision` and `batch` share: the connection
 * options, the step config and pipeline, the admin's inputs, and the
 * checked connection to the homeserver. */
#pragma once

#include <glib.h>
#include <mxprov/mxprov.h>
#include "mxprov-pipeline.h"
#include "mxprov-step-config.h"

G_BEGIN_DECLS

#define MXPROV_DEFAULT_DISPLAY_NAME "Lotti Sync"

typedef struct {
  /* options (command line, else [provision] in the config) */
  gchar *homeserver;
  gchar *admin_user;
  gchar *admin_password_file;
  gchar *admin_password; /* discouraged: visible in ps */
  gchar *admin_token_file;
  gchar *display_name;
  gchar *config_file;
  gchar *cacert;
  gint timeout;
  gint request_timeout;
  gint retries;
  gboolean allow_insecure_http;
  gint bundle_version; /* --bundle-version; 0 = the bundle step's own setting */

  /* from [provision]: weaker than the command line and the environment */
  gchar *config_admin_password_file;
  gchar *config_admin_token_file;
  /* prepare decides: an admin token replaces the password login */
  gboolean use_admin_token;

  /* set up by prepare and connect */
  MxprovStepConfig *config;
  gchar **plugin_dirs;
  MxprovPipeline *pipeline;
  MxprovContext *context;
  MxprovHttp *http;
  gint64 deadline_us;
} MxprovSession;

MxprovSession *mxprov_session_new (void);
void mxprov_session_free (MxprovSession *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovSession, mxprov_session_free)

/* The shared options, for g_option_context_add_main_entries; free with g_free. */
GOptionEntry *mxprov_session_option_entries (MxprovSession *self);
/* The same without --display-name: for the commands on accounts made
 * earlier (status, revoke, reissue); free with g_free. */
GOptionEntry *mxprov_session_admin_option_entries (MxprovSession *self);
/* --bundle-version, for the commands that make bundles; free with g_free. */
GOptionEntry *mxprov_session_bundle_option_entries (MxprovSession *self);
/* Overwrite --admin-password values in the process's argv. */
void mxprov_session_scrub_argv (gint argc, gchar **argv);

/* Everything before the network: config and its [provision] defaults,
 * plugins, inputs into the context, the pipeline's contract (`outputs`
 * must be provided by the end; `per_account` keys are filled later, per
 * account), plain-http and --cacert checks. */
gboolean mxprov_session_prepare (MxprovSession *self, const gchar *const *per_account,
                                 const gchar *const *outputs, GError **error);
/* The network: .well-known discovery of a bare server name, the HTTP
 * client, the admin password if the pipeline needs it, and
 * /_matrix/client/versions. */
gboolean mxprov_session_connect (MxprovSession *self, GError **error);

/* The inputs the host fills in at connect time, for mxprov_pipeline_check:
 * the admin password, or with an admin token the admin's user and password
 * (the token stands for both). */
const gchar *const *mxprov_session_deferred_inputs (MxprovSession *self);

/* Refuse plain http:// to anything but this machine (the admin password,
 * or a bundle's, would cross the network in clear text). */
gboolean mxprov_session_check_transport_security (const gchar *url, GError **error);

/* A client configured like the session's (timeouts, CA, retries). */
MxprovHttp *mxprov_session_new_http (MxprovSession *self, GError **error);

G_END_DECLS
