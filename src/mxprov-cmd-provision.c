/* mxprov-cmd-provision.c: `mxprov provision`, one account and its sync room. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <mxprov/mxprov.h>
#include "mxprov-commands.h"
#include "mxprov-exit.h"
#include "mxprov-log.h"
#include "mxprov-output.h"
#include "mxprov-pipeline.h"
#include "mxprov-session.h"

typedef struct {
  gchar *username;
  gchar *output_file;
  gchar *format;
  gboolean check_only;
  gboolean no_rollback;
} ProvisionOptions;

static void
provision_options_clear (ProvisionOptions *o)
{
  g_free (o->username);
  g_free (o->output_file);
  g_free (o->format);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ProvisionOptions, provision_options_clear)

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

gint
mxprov_cmd_provision (gint argc, gchar **argv)
{
  g_auto(ProvisionOptions) o = { 0 };
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovOutput) output = NULL;
  g_autofree GOptionEntry *session_entries = mxprov_session_option_entries (session);
  g_autofree GOptionEntry *bundle_entries = mxprov_session_bundle_option_entries (session);
  g_autofree gchar **argv_copy = g_memdup2 (argv, sizeof (gchar *) * (gsize) (argc + 1));
  const gchar *outputs[] = { "bundle.base64", "bundle.json", NULL };
  const gchar *bundle_key;
  MxprovPipeline *pipeline;
  MxprovContext *context;
  gint argc_copy = argc;
  const GOptionEntry entries[] = {
    { "username", 'u', 0, G_OPTION_ARG_STRING, &o.username,
      "Localpart of the account to create", "NAME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output_file,
      "Write the bundle to FILE (created with mode 0600, never overwritten) instead of standard output", "FILE" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &o.format,
      "Bundle format: base64 (default) or json", "FORMAT" },
    { "no-rollback", 0, 0, G_OPTION_ARG_NONE, &o.no_rollback,
      "After a failure, keep what was made (and say what it is) instead of undoing it", NULL },
    { "check", 0, 0, G_OPTION_ARG_NONE, &o.check_only,
      "Only validate: the config, the server, and the admin credentials; create nothing", NULL },
    { NULL }
  };

  options = g_option_context_new ("- create a Matrix account and its sync room");
  g_option_context_set_summary (options,
    "Logs in as a server admin, creates the account with a random password,\n"
    "creates its private, encrypted, non-federated sync room, and prints the\n"
    "provisioning bundle on standard output.");
  g_option_context_set_description (options,
    "Exit status: 0 success, 64 usage, 65 invalid name, 69 server unavailable,\n"
    "73 account (or output file) exists, 74 bundle not written, 75 rate limited,\n"
    "76 unexpected answer, 77 permission denied, 78 configuration. See mxprov(1).\n");
  g_option_context_add_main_entries (options, session_entries, NULL);
  g_option_context_add_main_entries (options, bundle_entries, NULL);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_session_scrub_argv (argc_copy, argv_copy);
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov provision --help' for the options.\n");
      return EX_USAGE;
    }
  mxprov_session_scrub_argv (argc_copy, argv_copy);
  mxprov_log_setup (mxprov_option_verbosity);

  if (argc > 1)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument '%s'", argv[1]);
      return mxprov_exit_with_error (error);
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
      return mxprov_exit_with_error (error);
    }

  /* Everything that needs no network: config, plugins, contract. */
  if (!mxprov_session_prepare (session, (const gchar *const[]) { "user.localpart", NULL },
                               o.check_only ? NULL : outputs, &error))
    return mxprov_exit_with_error (error);
  pipeline = session->pipeline;
  context = session->context;
  if (o.username != NULL)
    {
      /* The grammar needs no server; the length check with the real server
       * name happens in the user step once the server name is known. */
      if (!mxprov_matrix_validate_localpart (o.username, NULL, &error))
        return mxprov_exit_with_error (error);
      mxprov_context_set (context, "user.localpart", o.username, MXPROV_CONTEXT_FLAG_NONE);
    }
  if (!mxprov_pipeline_check (pipeline, context, mxprov_session_deferred_inputs (session),
                              o.check_only ? NULL : outputs, &error))
    return mxprov_exit_with_error (error);
  if (o.output_file != NULL && !o.check_only)
    {
      output = mxprov_output_create (o.output_file, &error);
      if (output == NULL)
        return mxprov_exit_with_error (error);
    }

  /* The network part. */
  if (!mxprov_session_connect (session, &error))
    return mxprov_exit_with_error (error);
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
      return mxprov_exit_with_error (error);
    }
  mxprov_pipeline_cleanup (pipeline, context);

  if (o.check_only)
    {
      const gchar *admin = mxprov_context_get (context, "admin.user_id");
      const gchar *server_name = mxprov_context_get (context, "server.name");

      /* say only what the auth step established: a shared-secret
       * pipeline has no admin account to vouch for */
      fprintf (stderr, "mxprov: check passed: %s is a Matrix homeserver", mxprov_http_get_base_url (session->http));
      if (server_name != NULL)
        fprintf (stderr, " (server name %s)", server_name);
      if (admin != NULL)
        fprintf (stderr, " and %s is a server admin", admin);
      else if (mxprov_pipeline_get_n_steps (pipeline) > 0)
        fprintf (stderr, " and step auth (%s) succeeded",
                 mxprov_plugin_get_name (mxprov_pipeline_get_plugin (pipeline, 0)));
      fprintf (stderr, "; nothing was created\n");
      /* what mxprov probe would say, learnt before the auth step */
      if (mxprov_context_get (context, "server.advice") != NULL)
        fprintf (stderr, "mxprov: server: %s\n", mxprov_context_get (context, "server.advice"));
      fprintf (stderr, "mxprov: step config: %s\n", session->config->source);
      return EX_OK;
    }

  fprintf (stderr, "mxprov: provisioned %s with room %s%s%s\n",
           mxprov_context_get (context, "user.id"), mxprov_context_get (context, "room.id"),
           output != NULL ? "; bundle written to " : "", output != NULL ? o.output_file : "");
  {
    guint n_requests = 0;
    gint64 waited_us = 0;
    mxprov_http_get_stats (session->http, &n_requests, &waited_us);
    g_info ("%u requests, %.1f ms waiting for the server", n_requests, waited_us / 1000.0);
  }
  return EX_OK;
}
