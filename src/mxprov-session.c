/* mxprov-session.c: the set-up `provision` and `batch` share. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mxprov/mxprov.h>
#include "mxprov-commands.h"
#include "mxprov-address.h"
#include "mxprov-discovery.h"
#include "mxprov-loader.h"
#include "mxprov-log.h"
#include "mxprov-probe.h"
#include "mxprov-secret-input.h"
#include "mxprov-session.h"

/* The whole run, retries and rate-limit waits included. */
#define DEFAULT_TIMEOUT_S 120
/* One attempt of one request: Synapse's slowest call takes ~0.3 s. */
#define DEFAULT_REQUEST_TIMEOUT_S 30
#define DEFAULT_RETRIES 4

MxprovSession *
mxprov_session_new (void)
{
  MxprovSession *self = g_new0 (MxprovSession, 1);
  self->retries = -1;
  return self;
}

void
mxprov_session_free (MxprovSession *self)
{
  if (self == NULL)
    return;
  g_free (self->homeserver);
  g_free (self->admin_user);
  g_free (self->admin_password_file);
  mxprov_secret_free (self->admin_password);
  g_free (self->admin_token_file);
  g_free (self->config_admin_password_file);
  g_free (self->config_admin_token_file);
  g_free (self->display_name);
  g_free (self->config_file);
  g_free (self->cacert);
  /* the context refers to the client, plugins to nothing else */
  g_clear_pointer (&self->context, mxprov_context_free);
  g_clear_pointer (&self->pipeline, mxprov_pipeline_free);
  g_clear_pointer (&self->http, mxprov_http_free);
  g_strfreev (self->plugin_dirs);
  g_clear_pointer (&self->config, mxprov_step_config_free);
  g_free (self);
}

GOptionEntry *
mxprov_session_option_entries (MxprovSession *o)
{
  const GOptionEntry entries[] = {
    { "homeserver", 's', 0, G_OPTION_ARG_STRING, &o->homeserver,
      "Client API base URL of the homeserver, or its server name", "URL" },
    { "admin-user", 'a', 0, G_OPTION_ARG_STRING, &o->admin_user,
      "Admin user (localpart or full ID)", "NAME" },
    { "admin-password-file", 'p', 0, G_OPTION_ARG_FILENAME, &o->admin_password_file,
      "Read the admin password from FILE (- = standard input)", "FILE" },
    { "admin-password", 0, 0, G_OPTION_ARG_STRING, &o->admin_password,
      "Admin password on the command line (discouraged: visible to other users)", "PASSWORD" },
    { "admin-token-file", 'T', 0, G_OPTION_ARG_FILENAME, &o->admin_token_file,
      "Use the admin access token in FILE (- = standard input) instead of a password login",
      "FILE" },
    { "display-name", 'd', 0, G_OPTION_ARG_STRING, &o->display_name,
      "Display name of the new account (default: " MXPROV_DEFAULT_DISPLAY_NAME ")", "NAME" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &o->config_file,
      "Step config file (default: $XDG_CONFIG_HOME/mxprov/mxprov.conf, then "
      SYSCONFDIR "/mxprov/mxprov.conf, then the built-in Synapse pipeline)", "FILE" },
    { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &o->cacert,
      "Trust the CA certificates in FILE (PEM) instead of the system's", "FILE" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &o->timeout,
      "Give up after SECONDS in all, retries included (default 120)", "SECONDS" },
    { "request-timeout", 0, 0, G_OPTION_ARG_INT, &o->request_timeout,
      "Give up on one attempt of one request after SECONDS (default 30)", "SECONDS" },
    { "retries", 0, 0, G_OPTION_ARG_INT, &o->retries,
      "Retry a request at most N times after transient failures (default 4)", "N" },
    { "allow-insecure-http", 0, 0, G_OPTION_ARG_NONE, &o->allow_insecure_http,
      "Allow a plain http:// homeserver URL that is not on this machine", NULL },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, mxprov_option_verbose_cb,
      "Trace each HTTP request (secrets are never shown); -vv for debug", NULL },
    { NULL }
  };
  return g_memdup2 (entries, sizeof entries);
}

GOptionEntry *
mxprov_session_admin_option_entries (MxprovSession *o)
{
  GOptionEntry *entries = mxprov_session_option_entries (o);
  gsize kept = 0;

  /* everything but what only a new account needs */
  for (gsize i = 0; entries[i].long_name != NULL; i++)
    if (g_strcmp0 (entries[i].long_name, "display-name") != 0)
      entries[kept++] = entries[i];
  memset (&entries[kept], 0, sizeof entries[kept]);
  return entries;
}

GOptionEntry *
mxprov_session_bundle_option_entries (MxprovSession *o)
{
  const GOptionEntry entries[] = {
    { "bundle-version", 'B', 0, G_OPTION_ARG_INT, &o->bundle_version,
      "Bundle version: 1 (the default, the original plan's) or 2 (what current Lotti releases accept)",
      "N" },
    { NULL }
  };
  return g_memdup2 (entries, sizeof entries);
}

/* --bundle-version is the bundle step's "version" option, set from the
 * command line: a bundle plugin without one refuses it by name. */
static gboolean
apply_bundle_version (MxprovSession *self, GError **error)
{
  if (self->bundle_version == 0)
    return TRUE;
  if (self->bundle_version < 1 || self->bundle_version > MXPROV_BUNDLE_VERSION_LATEST)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--bundle-version must be 1 or %d, not %d", MXPROV_BUNDLE_VERSION_LATEST,
                   self->bundle_version);
      return FALSE;
    }
  if (mxprov_step_config_plugin_for (self->config, "bundle") == NULL)
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "--bundle-version: the pipeline of %s has no bundle step", self->config->source);
      return FALSE;
    }
  g_key_file_set_integer (self->config->keyfile, "bundle", "version", self->bundle_version);
  return TRUE;
}

/* The values of --admin-password also live in the process's argv, which
 * /proc/PID/cmdline shows to every local user: overwrite them there. */
void
mxprov_session_scrub_argv (gint argc, gchar **argv)
{
  for (gint i = 1; i < argc; i++)
    {
      if (g_strcmp0 (argv[i], "--admin-password") == 0 && i + 1 < argc)
        mxprov_secret_wipe (argv[i + 1], strlen (argv[i + 1]));
      else if (g_str_has_prefix (argv[i], "--admin-password="))
        {
          gchar *value = argv[i] + strlen ("--admin-password=");
          mxprov_secret_wipe (value, strlen (value));
        }
    }
}

/* Options from [provision] fill what the command line left unset. */
static gboolean
apply_config_defaults (MxprovSession *o, GKeyFile *keyfile, GError **error)
{
  static const struct {
    const gchar *key;
    gsize offset;
  } keys[] = {
    { "homeserver", G_STRUCT_OFFSET (MxprovSession, homeserver) },
    { "admin-user", G_STRUCT_OFFSET (MxprovSession, admin_user) },
    /* secrets files: the environment wins over these (see resolve_admin_credential) */
    { "admin-password-file", G_STRUCT_OFFSET (MxprovSession, config_admin_password_file) },
    { "admin-token-file", G_STRUCT_OFFSET (MxprovSession, config_admin_token_file) },
    { "display-name", G_STRUCT_OFFSET (MxprovSession, display_name) },
    { "cacert", G_STRUCT_OFFSET (MxprovSession, cacert) },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gchar **field = G_STRUCT_MEMBER_P (o, keys[i].offset);
      if (*field != NULL)
        continue;
      if (!mxprov_config_get_string (keyfile, "provision", keys[i].key, NULL, field, error))
        return FALSE;
    }
  if (o->timeout <= 0)
    {
      guint timeout;
      if (!mxprov_config_get_uint (keyfile, "provision", "timeout", DEFAULT_TIMEOUT_S, 1, 86400,
                                   &timeout, error))
        return FALSE;
      o->timeout = (gint) timeout;
    }
  if (o->retries < 0)
    {
      guint retries;
      if (!mxprov_config_get_uint (keyfile, "provision", "retries", DEFAULT_RETRIES, 0, 100,
                                   &retries, error))
        return FALSE;
      o->retries = (gint) retries;
    }
  if (o->request_timeout <= 0)
    {
      guint timeout;
      if (!mxprov_config_get_uint (keyfile, "provision", "request-timeout",
                                   DEFAULT_REQUEST_TIMEOUT_S, 1, 3600, &timeout, error))
        return FALSE;
      o->request_timeout = (gint) timeout;
    }
  return TRUE;
}

static gboolean
env_is_set (const gchar *name)
{
  const gchar *value = g_getenv (name);
  return value != NULL && *value != '\0';
}

/* Which admin credential this run uses, decided before any request: the
 * command line wins over the environment, which wins over [provision] in
 * a config file (as git, curl and ssh have it); at each level a token and
 * a password together are an error, not a guess. */
static gboolean
resolve_admin_credential (MxprovSession *o, GError **error)
{
  gboolean cli_password = o->admin_password_file != NULL || o->admin_password != NULL;
  gboolean env_password = env_is_set ("MXPROV_ADMIN_PASSWORD");
  gboolean env_token = env_is_set ("MXPROV_ADMIN_TOKEN");

  if (o->admin_token_file != NULL || cli_password)
    {
      if (o->admin_token_file != NULL && cli_password)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               "give either --admin-token-file or an admin password, not both");
          return FALSE;
        }
      o->use_admin_token = o->admin_token_file != NULL;
      return TRUE;
    }
  if (env_token || env_password)
    {
      if (env_token && env_password)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               "both MXPROV_ADMIN_TOKEN and MXPROV_ADMIN_PASSWORD are set: "
                               "unset one of them");
          return FALSE;
        }
      o->use_admin_token = env_token;
      return TRUE;
    }
  if (o->config_admin_token_file != NULL && o->config_admin_password_file != NULL)
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "%s: [provision] has both admin-token-file and admin-password-file; keep one",
                   o->config->source);
      return FALSE;
    }
  o->use_admin_token = o->config_admin_token_file != NULL;
  return TRUE;
}

const gchar *const *
mxprov_session_deferred_inputs (MxprovSession *self)
{
  static const gchar *const password[] = { "admin.password", NULL };
  static const gchar *const token[] = { "admin.user", "admin.password", NULL };

  return self->use_admin_token ? token : password;
}

/* The value of a secret environment variable, removed from the
 * environment so that no child process inherits it. */
static gchar *
take_env_secret (const gchar *name)
{
  gchar *value = g_strdup (g_getenv (name));
  g_unsetenv (name);
  return value;
}

static gchar *
obtain_admin_token (MxprovSession *o, GError **error)
{
  if (o->admin_token_file != NULL)
    return mxprov_secret_read_file (o->admin_token_file, "admin token", error);
  if (env_is_set ("MXPROV_ADMIN_TOKEN"))
    return take_env_secret ("MXPROV_ADMIN_TOKEN");
  return mxprov_secret_read_file (o->config_admin_token_file, "admin token", error);
}

static gchar *
obtain_admin_password (MxprovSession *o, GError **error)
{
  if (o->admin_password_file != NULL)
    return mxprov_secret_read_file (o->admin_password_file, "admin password", error);
  if (o->admin_password != NULL)
    {
      g_warning ("--admin-password puts the password on the command line, where other local "
                 "users can read it; use --admin-password-file FILE or MXPROV_ADMIN_PASSWORD");
      return g_strdup (o->admin_password);
    }
  if (env_is_set ("MXPROV_ADMIN_PASSWORD"))
    return take_env_secret ("MXPROV_ADMIN_PASSWORD");
  if (o->config_admin_password_file != NULL)
    return mxprov_secret_read_file (o->config_admin_password_file, "admin password", error);
  if (isatty (STDIN_FILENO))
    {
      g_autofree gchar *prompt = g_strdup_printf ("Password for %s: ",
                                                  o->admin_user != NULL ? o->admin_user : "admin");
      return mxprov_secret_prompt (prompt, error);
    }
  g_set_error_literal (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT,
                       "no admin password: give --admin-password-file FILE (- for standard input), "
                       "set MXPROV_ADMIN_PASSWORD, use an admin token (--admin-token-file FILE), "
                       "or run on a terminal to be asked");
  return NULL;
}

/* Confirm the URL is a Matrix homeserver before sending it any credential:
 * a typo or a proxy page shows up here, with nothing yet at stake. */
static gboolean
check_server_speaks_matrix (MxprovHttp *http, GError **error)
{
  g_autoptr(json_object) answer = NULL;
  json_object *versions = NULL;

  answer = mxprov_http_request (http, "GET", "/_matrix/client/versions", NULL, NULL, NULL, error);
  if (answer == NULL)
    {
      if (g_error_matches (*error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_NOT_JSON)
          || g_error_matches (*error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TOO_LARGE)
          || (*error)->domain == MXPROV_MATRIX_ERROR)
        g_prefix_error (error, "%s does not look like a Matrix homeserver: ",
                        mxprov_http_get_base_url (http));
      else
        g_prefix_error (error, "cannot reach the homeserver: ");
      return FALSE;
    }
  if (!json_object_object_get_ex (answer, "versions", &versions)
      || !json_object_is_type (versions, json_type_array))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "%s does not look like a Matrix homeserver: /_matrix/client/versions has no \"versions\" list",
                   mxprov_http_get_base_url (http));
      return FALSE;
    }
  return TRUE;
}

/* Plain http:// sends the admin password in clear text: only to this
 * machine, unless the admin says otherwise. */
gboolean
mxprov_session_check_transport_security (const gchar *url, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *host;

  if (uri == NULL || g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0)
    return TRUE;
  host = g_uri_get_host (uri);
  if (mxprov_address_is_loopback (host) || g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "refusing %s: plain http:// to another machine would send the admin password "
               "unencrypted; use https://, or --allow-insecure-http on a network you trust",
               url);
  return FALSE;
}

gboolean
mxprov_session_prepare (MxprovSession *self, const gchar *const *per_account,
                        const gchar *const *outputs, GError **error)
{
  g_autofree gchar *config_path = NULL;
  g_autoptr(GStrvBuilder) deferred_builder = g_strv_builder_new ();
  g_auto(GStrv) deferred = NULL;
  g_auto(GStrv) inputs = NULL;

  if (self->retries < -1 || self->retries > 100)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--retries must be from 0 to 100");
      return FALSE;
    }
  if (self->timeout < 0 || self->request_timeout < 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--timeout and --request-timeout must be positive numbers of seconds");
      return FALSE;
    }

  /* Configuration and plugins. */
  config_path = mxprov_step_config_find (self->config_file, mxprov_step_config_sysconfdir ());
  self->config = config_path != NULL
                 ? mxprov_step_config_load_file (config_path, error)
                 : mxprov_step_config_new_builtin (self->admin_password_file != NULL
                                                   || self->admin_password != NULL
                                                   || self->admin_token_file != NULL
                                                   || env_is_set ("MXPROV_ADMIN_PASSWORD")
                                                   || env_is_set ("MXPROV_ADMIN_TOKEN"),
                                                   error);
  if (self->config == NULL)
    return FALSE;
  g_info ("step config: %s", self->config->source);
  if (!apply_config_defaults (self, self->config->keyfile, error)
      || !resolve_admin_credential (self, error))
    return FALSE;
  if (self->display_name == NULL)
    self->display_name = g_strdup (MXPROV_DEFAULT_DISPLAY_NAME);
  if (!apply_bundle_version (self, error))
    return FALSE;
  self->plugin_dirs = mxprov_loader_search_path (self->config->plugin_dir);
  self->pipeline = mxprov_pipeline_new (self->config, (const gchar *const *) self->plugin_dirs,
                                        error);
  if (self->pipeline == NULL)
    {
      if (self->bundle_version != 0
          && g_error_matches (*error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_UNKNOWN_KEY))
        g_prefix_error (error, "--bundle-version sets the bundle step's 'version': ");
      return FALSE;
    }

  /* Inputs, and the contract, before any network request. */
  self->context = mxprov_context_new ();
  if (self->homeserver != NULL)
    mxprov_context_set (self->context, "homeserver", self->homeserver, MXPROV_CONTEXT_FLAG_NONE);
  if (self->admin_user != NULL)
    mxprov_context_set (self->context, "admin.user", self->admin_user, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (self->context, "user.displayname", self->display_name,
                      MXPROV_CONTEXT_FLAG_NONE);
  if (self->homeserver == NULL)
    {
      g_set_error_literal (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT,
                           "no homeserver: give --homeserver URL (or homeserver= in [provision])");
      return FALSE;
    }
  inputs = mxprov_pipeline_get_inputs (self->pipeline);
  if (self->use_admin_token && !g_strv_contains ((const gchar *const *) inputs, "admin.password"))
    {
      g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT,
                   "an admin token was given, but the auth step (plugin %s) logs in with no admin "
                   "credential; drop --admin-token-file or MXPROV_ADMIN_TOKEN",
                   mxprov_plugin_get_name (mxprov_pipeline_get_plugin (self->pipeline, 0)));
      return FALSE;
    }
  for (const gchar *const *key = mxprov_session_deferred_inputs (self); *key != NULL; key++)
    if (g_strv_contains ((const gchar *const *) inputs, *key))
      g_strv_builder_add (deferred_builder, *key);
  for (gsize i = 0; per_account != NULL && per_account[i] != NULL; i++)
    g_strv_builder_add (deferred_builder, per_account[i]);
  deferred = g_strv_builder_end (deferred_builder);
  if (!mxprov_pipeline_check (self->pipeline, self->context, (const gchar *const *) deferred,
                              outputs, error))
    return FALSE;
  if (!self->allow_insecure_http && !mxprov_discovery_is_server_name (self->homeserver)
      && !mxprov_session_check_transport_security (self->homeserver, error))
    return FALSE;
  if (self->cacert != NULL && !g_file_test (self->cacert, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "--cacert %s: no such file",
                   self->cacert);
      return FALSE;
    }
  return TRUE;
}

MxprovHttp *
mxprov_session_new_http (MxprovSession *self, GError **error)
{
  MxprovHttp *http = mxprov_http_new (self->homeserver, error);

  if (http == NULL)
    return NULL;
  mxprov_http_set_timeouts (http, MIN ((guint) self->request_timeout, 10) * 1000,
                            (guint) self->request_timeout * 1000);
  mxprov_http_set_max_retries (http, (guint) self->retries);
  mxprov_http_set_deadline (http, self->deadline_us);
  if (self->cacert != NULL)
    mxprov_http_set_ca_file (http, self->cacert);
  return http;
}

gboolean
mxprov_session_connect (MxprovSession *self, GError **error)
{
  g_auto(GStrv) inputs = mxprov_pipeline_get_inputs (self->pipeline);

  self->deadline_us = g_get_monotonic_time () + (gint64) self->timeout * G_USEC_PER_SEC;
  if (mxprov_discovery_is_server_name (self->homeserver))
    {
      /* The first network request: the contract was checked before. */
      g_autofree gchar *base_url = mxprov_discovery_resolve (self->homeserver, self->cacert,
                                                             (guint) self->request_timeout * 1000,
                                                             self->deadline_us, error);
      if (base_url == NULL)
        return FALSE;
      if (!self->allow_insecure_http && !mxprov_session_check_transport_security (base_url, error))
        return FALSE;
      g_free (self->homeserver);
      self->homeserver = g_steal_pointer (&base_url);
      mxprov_context_set (self->context, "homeserver", self->homeserver, MXPROV_CONTEXT_FLAG_NONE);
    }
  self->http = mxprov_session_new_http (self, error);
  if (self->http == NULL)
    return FALSE;
  mxprov_context_set_http (self->context, self->http);

  if (self->use_admin_token)
    {
      /* the auth step finds the token given and skips its password login */
      g_autoptr(MxprovSecret) token = obtain_admin_token (self, error);
      if (token == NULL)
        return FALSE;
      mxprov_context_take (self->context, "admin.token", g_steal_pointer (&token),
                           MXPROV_CONTEXT_FLAG_SECRET);
    }
  else if (g_strv_contains ((const gchar *const *) inputs, "admin.password"))
    {
      g_autoptr(MxprovSecret) password = obtain_admin_password (self, error);
      if (password == NULL)
        return FALSE;
      mxprov_context_take (self->context, "admin.password", g_steal_pointer (&password),
                           MXPROV_CONTEXT_FLAG_SECRET);
    }
  if (!check_server_speaks_matrix (self->http, error))
    return FALSE;
  /* Which server this is, before any credential goes out: a step that
   * cannot serve it refuses by name (server.* keys), and the probe's
   * advice says what to use instead. Best effort: what it cannot learn
   * stays unknown. */
  {
    g_autoptr(MxprovProbe) probe = mxprov_probe_run (self->http, MXPROV_PROBE_IDENTIFY
                                                                 | MXPROV_PROBE_OAUTH
                                                                 | MXPROV_PROBE_KNOWN_MATRIX, NULL);
    mxprov_probe_fill_context (probe, self->context);
    g_debug ("server: %s", probe->advice);
  }
  return TRUE;
}
