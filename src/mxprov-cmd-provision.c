/* mxprov-cmd-provision.c: `mxprov provision`, one account and its sync room. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <gio/gio.h>

#include <mxprov/mxprov.h>
#include "mxprov-commands.h"
#include "mxprov-discovery.h"
#include "mxprov-exit.h"
#include "mxprov-loader.h"
#include "mxprov-log.h"
#include "mxprov-output.h"
#include "mxprov-pipeline.h"
#include "mxprov-secret-input.h"
#include "mxprov-step-config.h"

#define DEFAULT_DISPLAY_NAME "Lotti Sync"
/* The whole run, retries and rate-limit waits included. */
#define DEFAULT_TIMEOUT_S 120
/* One attempt of one request: Synapse's slowest call takes ~0.3 s. */
#define DEFAULT_REQUEST_TIMEOUT_S 30
#define DEFAULT_RETRIES 4

typedef struct {
  gchar *homeserver;
  gchar *admin_user;
  gchar *admin_password_file;
  gchar *admin_password; /* discouraged: visible in ps */
  gchar *username;
  gchar *display_name;
  gchar *config_file;
  gchar *output_file;
  gchar *format;
  gchar *cacert;
  gint timeout;
  gint request_timeout;
  gint retries;
  gboolean check_only;
  gboolean no_rollback;
  gboolean allow_insecure_http;
} ProvisionOptions;

static void
provision_options_clear (ProvisionOptions *o)
{
  g_free (o->homeserver);
  g_free (o->admin_user);
  g_free (o->admin_password_file);
  mxprov_secret_free (o->admin_password);
  g_free (o->username);
  g_free (o->display_name);
  g_free (o->config_file);
  g_free (o->output_file);
  g_free (o->format);
  g_free (o->cacert);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ProvisionOptions, provision_options_clear)

/* The values of --admin-password also live in the process's argv, which
 * /proc/PID/cmdline shows to every local user: overwrite them there. */
static void
scrub_password_arguments (gint argc, gchar **argv)
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
apply_config_defaults (ProvisionOptions *o, GKeyFile *keyfile, GError **error)
{
  static const struct {
    const gchar *key;
    gsize offset;
  } keys[] = {
    { "homeserver", G_STRUCT_OFFSET (ProvisionOptions, homeserver) },
    { "admin-user", G_STRUCT_OFFSET (ProvisionOptions, admin_user) },
    { "admin-password-file", G_STRUCT_OFFSET (ProvisionOptions, admin_password_file) },
    { "display-name", G_STRUCT_OFFSET (ProvisionOptions, display_name) },
    { "cacert", G_STRUCT_OFFSET (ProvisionOptions, cacert) },
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

static gchar *
obtain_admin_password (ProvisionOptions *o, GError **error)
{
  const gchar *env;

  if (o->admin_password_file != NULL)
    return mxprov_secret_read_file (o->admin_password_file, "admin password", error);
  if (o->admin_password != NULL)
    {
      g_warning ("--admin-password puts the password on the command line, where other local "
                 "users can read it; use --admin-password-file FILE or MXPROV_ADMIN_PASSWORD");
      return g_strdup (o->admin_password);
    }
  env = g_getenv ("MXPROV_ADMIN_PASSWORD");
  if (env != NULL && *env != '\0')
    {
      gchar *password = g_strdup (env);
      g_unsetenv ("MXPROV_ADMIN_PASSWORD");
      return password;
    }
  if (isatty (STDIN_FILENO))
    {
      g_autofree gchar *prompt = g_strdup_printf ("Password for %s: ",
                                                  o->admin_user != NULL ? o->admin_user : "admin");
      return mxprov_secret_prompt (prompt, error);
    }
  g_set_error_literal (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT,
                       "no admin password: give --admin-password-file FILE (- for standard input), "
                       "set MXPROV_ADMIN_PASSWORD, or run on a terminal to be asked");
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
static gboolean
check_transport_security (const gchar *url, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GInetAddress) address = NULL;
  const gchar *host;

  if (uri == NULL || g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0)
    return TRUE;
  host = g_uri_get_host (uri);
  address = g_inet_address_new_from_string (host);
  if ((address != NULL && g_inet_address_get_is_loopback (address))
      || g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "refusing %s: plain http:// to another machine would send the admin password "
               "unencrypted; use https://, or --allow-insecure-http on a network you trust",
               url);
  return FALSE;
}

/* Hand the bundle over: to the --output file or standard output. If this
 * fails the account is useless (nobody has its password), so the caller
 * rolls back as after any other failure. */
static gboolean
deliver_bundle (MxprovOutput *output, MxprovContext *context, const gchar *bundle_key,
                GError **error)
{
  const gchar *bundle = mxprov_context_lookup (context, bundle_key, error);

  if (bundle == NULL)
    return FALSE;
  if (output != NULL)
    return mxprov_output_commit (output, bundle, error);
  return mxprov_output_write_line (STDOUT_FILENO, bundle, "standard output", error);
}

static gint
fail (const GError *error)
{
  mxprov_log_error (error);
  return mxprov_exit_code_for_error (error);
}

gint
mxprov_cmd_provision (gint argc, gchar **argv)
{
  g_auto(ProvisionOptions) o = { .retries = -1 };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = NULL;
  g_autoptr(MxprovPipeline) pipeline = NULL;
  g_autoptr(MxprovContext) context = NULL;
  g_autoptr(MxprovHttp) http = NULL;
  g_autoptr(MxprovOutput) output = NULL;
  g_autofree gchar *config_path = NULL;
  g_autofree gchar **argv_copy = g_memdup2 (argv, sizeof (gchar *) * (gsize) (argc + 1));
  g_auto(GStrv) dirs = NULL;
  g_auto(GStrv) inputs = NULL;
  const gchar *outputs[] = { "bundle.base64", "bundle.json", NULL };
  const gchar *deferred[] = { NULL, NULL };
  const gchar *bundle_key;
  gint argc_copy = argc;
  gint64 deadline_us;
  const GOptionEntry entries[] = {
    { "homeserver", 's', 0, G_OPTION_ARG_STRING, &o.homeserver,
      "Client API base URL of the homeserver", "URL" },
    { "admin-user", 'a', 0, G_OPTION_ARG_STRING, &o.admin_user,
      "Admin user (localpart or full ID)", "NAME" },
    { "admin-password-file", 'p', 0, G_OPTION_ARG_FILENAME, &o.admin_password_file,
      "Read the admin password from FILE (- = standard input)", "FILE" },
    { "admin-password", 0, 0, G_OPTION_ARG_STRING, &o.admin_password,
      "Admin password on the command line (discouraged: visible to other users)", "PASSWORD" },
    { "username", 'u', 0, G_OPTION_ARG_STRING, &o.username,
      "Localpart of the account to create", "NAME" },
    { "display-name", 'd', 0, G_OPTION_ARG_STRING, &o.display_name,
      "Display name of the new account (default: " DEFAULT_DISPLAY_NAME ")", "NAME" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config_file,
      "Step config file (default: $XDG_CONFIG_HOME/mxprov/mxprov.conf, then "
      SYSCONFDIR "/mxprov/mxprov.conf, then the built-in Synapse pipeline)", "FILE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output_file,
      "Write the bundle to FILE (created with mode 0600, never overwritten) instead of standard output", "FILE" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &o.format,
      "Bundle format: base64 (default) or json", "FORMAT" },
    { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &o.cacert,
      "Trust the CA certificates in FILE (PEM) instead of the system's", "FILE" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &o.timeout,
      "Give up after SECONDS in all, retries included (default 120)", "SECONDS" },
    { "request-timeout", 0, 0, G_OPTION_ARG_INT, &o.request_timeout,
      "Give up on one attempt of one request after SECONDS (default 30)", "SECONDS" },
    { "retries", 0, 0, G_OPTION_ARG_INT, &o.retries,
      "Retry a request at most N times after transient failures (default 4)", "N" },
    { "no-rollback", 0, 0, G_OPTION_ARG_NONE, &o.no_rollback,
      "After a failure, keep what was made (and say what it is) instead of undoing it", NULL },
    { "allow-insecure-http", 0, 0, G_OPTION_ARG_NONE, &o.allow_insecure_http,
      "Allow a plain http:// homeserver URL that is not on this machine", NULL },
    { "check", 0, 0, G_OPTION_ARG_NONE, &o.check_only,
      "Only validate: the config, the server, and the admin credentials; create nothing", NULL },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, mxprov_option_verbose_cb,
      "Trace each HTTP request (secrets are never shown); -vv for debug", NULL },
    { NULL }
  };

  options = g_option_context_new ("- create a Matrix account and its sync room");
  g_option_context_set_summary (options,
    "Logs in as a server admin, creates the account with a random password,\n"
    "creates its private, encrypted, non-federated sync room, and prints the\n"
    "provisioning bundle on standard output.");
  g_option_context_set_description (options,
    "Exit status: 0 success, 64 usage, 65 invalid name, 69 server unavailable,\n"
    "73 account (or output file) exists, 75 rate limited, 76 unexpected answer,\n"
    "77 permission denied, 78 configuration. See mxprov(1).\n");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      scrub_password_arguments (argc_copy, argv_copy);
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov provision --help' for the options.\n");
      return EX_USAGE;
    }
  scrub_password_arguments (argc_copy, argv_copy);
  mxprov_log_setup (mxprov_option_verbosity);

  if (argc > 1)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument '%s'", argv[1]);
      return fail (error);
    }
  if (o.format == NULL)
    o.format = g_strdup ("base64");
  if (g_strcmp0 (o.format, "base64") == 0)
    bundle_key = "bundle.base64";
  else if (g_strcmp0 (o.format, "json") == 0)
    bundle_key = "bundle.json";
  else
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--format must be base64 or json, not '%s'", o.format);
      return fail (error);
    }
  if (o.retries < -1 || o.retries > 100)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--retries must be from 0 to 100");
      return fail (error);
    }
  if (o.timeout < 0 || o.request_timeout < 0)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--timeout and --request-timeout must be positive numbers of seconds");
      return fail (error);
    }

  /* Configuration and plugins. */
  config_path = mxprov_step_config_find (o.config_file, SYSCONFDIR);
  config = config_path != NULL ? mxprov_step_config_load_file (config_path, &error)
                               : mxprov_step_config_new_default ();
  if (config == NULL)
    return fail (error);
  g_debug ("step config: %s", config->source);
  if (!apply_config_defaults (&o, config->keyfile, &error))
    return fail (error);
  if (o.display_name == NULL)
    o.display_name = g_strdup (DEFAULT_DISPLAY_NAME);
  dirs = mxprov_loader_search_path (config->plugin_dir);
  pipeline = mxprov_pipeline_new (config, (const gchar *const *) dirs, &error);
  if (pipeline == NULL)
    return fail (error);

  /* Inputs, and the contract, before any network request. */
  context = mxprov_context_new ();
  if (o.homeserver != NULL)
    mxprov_context_set (context, "homeserver", o.homeserver, MXPROV_CONTEXT_FLAG_NONE);
  if (o.admin_user != NULL)
    mxprov_context_set (context, "admin.user", o.admin_user, MXPROV_CONTEXT_FLAG_NONE);
  if (o.username != NULL)
    mxprov_context_set (context, "user.localpart", o.username, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "user.displayname", o.display_name, MXPROV_CONTEXT_FLAG_NONE);

  if (o.homeserver == NULL)
    {
      g_set_error_literal (&error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT,
                           "no homeserver: give --homeserver URL (or homeserver= in [provision])");
      return fail (error);
    }
  inputs = mxprov_pipeline_get_inputs (pipeline);
  if (g_strv_contains ((const gchar *const *) inputs, "admin.password"))
    deferred[0] = "admin.password";
  if (!mxprov_pipeline_check (pipeline, context, deferred, o.check_only ? NULL : outputs, &error))
    return fail (error);
  /* The grammar needs no server; the length check with the real server
   * name happens in the user step once the server name is known. */
  if (!o.allow_insecure_http && !mxprov_discovery_is_server_name (o.homeserver)
      && !check_transport_security (o.homeserver, &error))
    return fail (error);
  if (o.username != NULL && !mxprov_matrix_validate_localpart (o.username, NULL, &error))
    return fail (error);
  if (o.cacert != NULL && !g_file_test (o.cacert, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "--cacert %s: no such file", o.cacert);
      return fail (error);
    }
  deadline_us = g_get_monotonic_time () + (gint64) o.timeout * G_USEC_PER_SEC;
  if (mxprov_discovery_is_server_name (o.homeserver))
    {
      /* The first network request: the contract was checked above. */
      g_autofree gchar *base_url = mxprov_discovery_resolve (o.homeserver, o.cacert,
                                                             (guint) o.request_timeout * 1000,
                                                             deadline_us, &error);
      if (base_url == NULL)
        return fail (error);
      if (!o.allow_insecure_http && !check_transport_security (base_url, &error))
        return fail (error);
      g_free (o.homeserver);
      o.homeserver = g_steal_pointer (&base_url);
      mxprov_context_set (context, "homeserver", o.homeserver, MXPROV_CONTEXT_FLAG_NONE);
    }
  http = mxprov_http_new (o.homeserver, &error);
  if (http == NULL)
    return fail (error);
  mxprov_http_set_timeouts (http, MIN ((guint) o.request_timeout, 10) * 1000,
                            (guint) o.request_timeout * 1000);
  mxprov_http_set_max_retries (http, (guint) o.retries);
  if (o.cacert != NULL)
    mxprov_http_set_ca_file (http, o.cacert);
  mxprov_context_set_http (context, http);

  if (deferred[0] != NULL)
    {
      g_autoptr(MxprovSecret) password = obtain_admin_password (&o, &error);
      if (password == NULL)
        return fail (error);
      mxprov_context_take (context, "admin.password", g_steal_pointer (&password),
                           MXPROV_CONTEXT_FLAG_SECRET);
    }
  if (o.output_file != NULL && !o.check_only)
    {
      output = mxprov_output_create (o.output_file, &error);
      if (output == NULL)
        return fail (error);
    }

  /* The network part. */
  mxprov_http_set_deadline (http, deadline_us);
  if (!check_server_speaks_matrix (http, &error))
    return fail (error);
  if (!mxprov_pipeline_execute (pipeline, context, o.check_only ? "auth" : NULL, &error)
      || (!o.check_only && !deliver_bundle (output, context, bundle_key, &error)))
    {
      if (o.no_rollback)
        {
          g_autofree gchar *made = mxprov_pipeline_describe_results (pipeline, context);
          if (*made != '\0')
            g_message ("--no-rollback: left in place: %s", made);
        }
      else
        mxprov_pipeline_rollback (pipeline, context);
      mxprov_pipeline_cleanup (pipeline, context);
      return fail (error);
    }
  mxprov_pipeline_cleanup (pipeline, context);

  if (o.check_only)
    {
      const gchar *admin = mxprov_context_get (context, "admin.user_id");
      const gchar *server_name = mxprov_context_get (context, "server.name");

      /* say only what the auth step established: a shared-secret
       * pipeline has no admin account to vouch for */
      fprintf (stderr, "mxprov: check passed: %s is a Matrix homeserver", mxprov_http_get_base_url (http));
      if (server_name != NULL)
        fprintf (stderr, " (server name %s)", server_name);
      if (admin != NULL)
        fprintf (stderr, " and %s is a server admin", admin);
      else if (mxprov_pipeline_get_n_steps (pipeline) > 0)
        fprintf (stderr, " and step auth (%s) succeeded",
                 mxprov_plugin_get_name (mxprov_pipeline_get_plugin (pipeline, 0)));
      fprintf (stderr, "; nothing was created\n");
      return EX_OK;
    }

  fprintf (stderr, "mxprov: provisioned %s with room %s%s%s\n",
           mxprov_context_get (context, "user.id"), mxprov_context_get (context, "room.id"),
           output != NULL ? "; bundle written to " : "", output != NULL ? o.output_file : "");
  return EX_OK;
}
