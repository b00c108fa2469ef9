/* mxprov-cmd-reissue.c: `mxprov reissue`, a new bundle for an account the
 * app has not used yet. The only command that changes an existing
 * account, and only its password: the user step's set_password entry,
 * then the bundle step's run for the account's existing marked room. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <mxprov/mxprov.h>
#include "mxprov-accounts.h"
#include "mxprov-commands.h"
#include "mxprov-exit.h"
#include "mxprov-log.h"
#include "mxprov-output.h"
#include "mxprov-session.h"

/* Only an unused account, or with --force one in use; never anything else. */
static gboolean
check_reissuable (const MxprovAccountStatus *status, gboolean force, GError **error)
{
  switch (status->state)
    {
    case MXPROV_ACCOUNT_UNUSED:
      break;
    case MXPROV_ACCOUNT_IN_USE:
      if (!force)
        {
          g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
                       "%s is in use (%s): the app has changed its password, and a new one would "
                       "lock its devices out at their next login; nothing was changed "
                       "(--force does it anyway)", status->user_id, status->detail);
          return FALSE;
        }
      g_warning ("--force: %s is in use (%s); its new password replaces the one the app set: "
                 "the devices stay logged in, but the app cannot log in again or change the "
                 "password until it ingests the new bundle", status->user_id, status->detail);
      break;
    case MXPROV_ACCOUNT_DEACTIVATED:
    case MXPROV_ACCOUNT_MISSING:
    case MXPROV_ACCOUNT_PROBLEM:
    default:
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                   "%s is %s (%s): reissue makes a bundle only for a working sync account; "
                   "nothing was changed", status->user_id,
                   mxprov_account_state_to_string (status->state), status->detail);
      return FALSE;
    }
  if (status->admin)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN,
                   "%s is a server admin's account: reissue never changes one", status->user_id);
      return FALSE;
    }
  if (status->room_id == NULL)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                   "%s: its marked sync room is not known (the room step cannot look); "
                   "give its old bundle with --bundle", status->user_id);
      return FALSE;
    }
  return TRUE;
}

/* Keep only `user` (a localpart or full ID) of a batch output's accounts. */
static gboolean
select_account (GPtrArray *accounts, const gchar *user, const gchar *input_file, GError **error)
{
  for (guint i = accounts->len; i > 0; i--)
    {
      const MxprovAccount *account = g_ptr_array_index (accounts, i - 1);
      g_autofree gchar *prefix = g_strdup_printf ("@%s:", user);

      if (g_strcmp0 (account->user, user) != 0 && !g_str_has_prefix (account->user, prefix))
        g_ptr_array_remove_index (accounts, i - 1);
    }
  if (accounts->len == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "%s has no created account %s", input_file, user);
      return FALSE;
    }
  return TRUE;
}

gint
mxprov_cmd_reissue (gint argc, gchar **argv)
{
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(MxprovAccountRun) run = NULL;
  g_autoptr(MxprovAccountStatus) status = NULL;
  g_autoptr(MxprovOutput) output = NULL;
  g_autofree GOptionEntry *session_entries = mxprov_session_admin_option_entries (session);
  g_autofree GOptionEntry *bundle_entries = mxprov_session_bundle_option_entries (session);
  g_autofree gchar **argv_copy = g_memdup2 (argv, sizeof (gchar *) * (gsize) (argc + 1));
  g_auto(GStrv) bundle_files = NULL;
  g_autofree gchar *output_file = NULL;
  g_autofree gchar *input_file = NULL;
  g_autofree gchar *format = NULL;
  const gchar *bundle_key;
  const gchar *bundle;
  gboolean force = FALSE;
  gint argc_copy = argc;
  const gint needed[] = { MXPROV_PIPELINE_ENTRY_STATUS, MXPROV_PIPELINE_ENTRY_SET_PASSWORD, -1 };
  const GOptionEntry entries[] = {
    { "bundle", 'b', 0, G_OPTION_ARG_FILENAME_ARRAY, &bundle_files,
      "The account by its old bundle in FILE (- = standard input)", "FILE" },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input_file,
      "Take USER's old bundle from a batch's --output file", "BATCH.jsonl" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_file,
      "Write the new bundle to FILE (created with mode 0600, never overwritten)", "FILE" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "Bundle format: base64 (default) or json", "FORMAT" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "Reissue an account in use too (says what it breaks)", NULL },
    { NULL }
  };

  options = g_option_context_new ("USER|--bundle FILE|USER --input BATCH.jsonl - a new bundle for an unused account");
  g_option_context_set_summary (options,
    "For an account that status calls unused, sets a new random password\n"
    "(only that: its devices and room are kept) and prints a new bundle for\n"
    "its existing marked room. The old bundle stops working. An account in\n"
    "use is refused unless --force.");
  g_option_context_set_description (options,
    "Exit status: 0 success, 73 the account is in use (or --output exists),\n"
    "1 deactivated, missing or not a sync account, or the codes of mxprov\n"
    "provision for errors. See mxprov(1).\n");
  g_option_context_add_main_entries (options, session_entries, NULL);
  g_option_context_add_main_entries (options, bundle_entries, NULL);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_session_scrub_argv (argc_copy, argv_copy);
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov reissue --help' for the options.\n");
      return EX_USAGE;
    }
  mxprov_session_scrub_argv (argc_copy, argv_copy);
  mxprov_log_setup (mxprov_option_verbosity);

  if (format == NULL || g_strcmp0 (format, "base64") == 0)
    bundle_key = "bundle.base64";
  else if (g_strcmp0 (format, "json") == 0)
    bundle_key = "bundle.json";
  else
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--format must be base64 or json, not '%s'", format);
      return mxprov_exit_with_error (error);
    }
  if (input_file != NULL)
    {
      /* USER picks its record out of the batch output */
      accounts = argc == 2 ? mxprov_accounts_collect (1, argv, bundle_files, input_file, &error)
                           : NULL;
      if (argc != 2)
        g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                             "with --input, name the account to reissue: USER");
      if (accounts != NULL && !select_account (accounts, argv[1], input_file, &error))
        g_clear_pointer (&accounts, g_ptr_array_unref);
    }
  else
    accounts = mxprov_accounts_collect (argc, argv, bundle_files, NULL, &error);
  if (accounts == NULL)
    return mxprov_exit_with_error (error);
  if (accounts->len != 1)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "reissue takes one account: one USER or one --bundle");
      return mxprov_exit_with_error (error);
    }
  if (output_file != NULL)
    {
      output = mxprov_output_create (output_file, &error);
      if (output == NULL)
        return mxprov_exit_with_error (error);
    }
  if (!mxprov_accounts_connect (session, accounts, needed, &error))
    return mxprov_exit_with_error (error);

  run = mxprov_account_run_new (session, g_ptr_array_index (accounts, 0), &error);
  if (run != NULL)
    status = mxprov_account_run_status (run, &error);
  if (status == NULL || !check_reissuable (status, force, &error))
    {
      g_clear_pointer (&run, mxprov_account_run_free);
      mxprov_pipeline_cleanup (session->pipeline, session->context);
      /* an account in the wrong state is an answer, as in status: 1 */
      if (g_error_matches (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED))
        {
          mxprov_log_error (error);
          return 1;
        }
      return mxprov_exit_with_error (error);
    }
  mxprov_context_set (run->context, "room.id", status->room_id, MXPROV_CONTEXT_FLAG_NONE);
  if (!mxprov_pipeline_call_entry (run->pipeline, run->context, MXPROV_PIPELINE_ENTRY_SET_PASSWORD,
                                   "user", "user", NULL, &error))
    {
      g_clear_pointer (&run, mxprov_account_run_free);
      mxprov_pipeline_cleanup (session->pipeline, session->context);
      return mxprov_exit_with_error (error);
    }
  /* From here the old bundle no longer logs in: a failure must say so. */
  if (!mxprov_pipeline_execute_step (run->pipeline, run->context, "bundle", &error)
      || (bundle = mxprov_context_lookup (run->context, bundle_key, &error)) == NULL
      || !(output != NULL ? mxprov_output_commit (output, bundle, &error)
                          : mxprov_output_write_line (STDOUT_FILENO, bundle, "standard output", &error)))
    {
      g_prefix_error (&error, "%s has a new password, but its new bundle was not delivered "
                      "(run reissue again; the old bundle no longer works): ", status->user_id);
      g_clear_pointer (&run, mxprov_account_run_free);
      mxprov_pipeline_cleanup (session->pipeline, session->context);
      return mxprov_exit_with_error (error);
    }
  g_clear_pointer (&run, mxprov_account_run_free);
  mxprov_pipeline_cleanup (session->pipeline, session->context);
  fprintf (stderr, "mxprov: reissued %s with room %s%s%s; the old bundle no longer logs in\n",
           status->user_id, status->room_id, output != NULL ? "; bundle written to " : "",
           output != NULL ? output_file : "");
  return EX_OK;
}
