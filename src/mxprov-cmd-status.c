/* mxprov-cmd-status.c: `mxprov status`, was the bundle used? Reads only. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sysexits.h>

#include <mxprov/mxprov.h>
#include "mxprov-accounts.h"
#include "mxprov-commands.h"
#include "mxprov-exit.h"
#include "mxprov-log.h"
#include "mxprov-output.h"
#include "mxprov-session.h"

gint
mxprov_cmd_status (gint argc, gchar **argv)
{
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autofree GOptionEntry *session_entries = mxprov_session_admin_option_entries (session);
  g_autofree gchar **argv_copy = g_memdup2 (argv, sizeof (gchar *) * (gsize) (argc + 1));
  g_auto(GStrv) bundle_files = NULL;
  g_autofree gchar *input_file = NULL;
  g_autofree gchar *format = NULL;
  MxprovTable *table = NULL;
  guint counts[MXPROV_ACCOUNT_PROBLEM + 1] = { 0 };
  gboolean json = FALSE;
  gint argc_copy = argc;
  const gint needed[] = { MXPROV_PIPELINE_ENTRY_STATUS, -1 };
  const GOptionEntry entries[] = {
    { "bundle", 'b', 0, G_OPTION_ARG_FILENAME_ARRAY, &bundle_files,
      "An account by its bundle in FILE (- = standard input); repeatable", "FILE" },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input_file,
      "The accounts a batch made: its --output file", "BATCH.jsonl" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "table (the default) or json (one object per line)", "FORMAT" },
    { NULL }
  };

  options = g_option_context_new ("USER...|--bundle FILE|--input BATCH.jsonl - was the bundle used?");
  g_option_context_set_summary (options,
    "For each account, from the server's admin API and without changing\n"
    "anything: unused (no device, in its one marked room), in-use (the app\n"
    "logged in: its devices), deactivated, missing, or problem (what is wrong).\n"
    "Backends without an admin API answer from the bundle: its password\n"
    "still logs in (that session is logged out again) or not (in-use).");
  g_option_context_set_description (options,
    "Exit status: 0 every account unused or in-use, 1 any other state,\n"
    "or the codes of mxprov provision for errors. See mxprov(1).\n");
  g_option_context_add_main_entries (options, session_entries, NULL);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_session_scrub_argv (argc_copy, argv_copy);
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov status --help' for the options.\n");
      return EX_USAGE;
    }
  mxprov_session_scrub_argv (argc_copy, argv_copy);
  mxprov_log_setup (mxprov_option_verbosity);
  if (!mxprov_accounts_check_format (format, &json, &error))
    return mxprov_exit_with_error (error);
  accounts = mxprov_accounts_collect (argc, argv, bundle_files, input_file, &error);
  if (accounts == NULL || !mxprov_accounts_connect (session, accounts, needed, &error))
    return mxprov_exit_with_error (error);

  if (!json)
    table = mxprov_table_new ("USER", "STATE", "DETAIL", NULL);
  for (guint i = 0; i < accounts->len; i++)
    {
      g_autoptr(MxprovAccountRun) run = mxprov_account_run_new (session, g_ptr_array_index (accounts, i),
                                                                &error);
      g_autoptr(MxprovAccountStatus) status = run != NULL ? mxprov_account_run_status (run, &error) : NULL;

      if (status == NULL)
        {
          if (table != NULL)
            mxprov_table_print (table);
          mxprov_pipeline_cleanup (session->pipeline, session->context);
          return mxprov_exit_with_error (error);
        }
      counts[status->state]++;
      if (json)
        {
          g_autoptr(json_object) obj = mxprov_account_status_to_json (status);
          printf ("%s\n", json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN
                                                               | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
      else
        mxprov_table_add_row (table, status->user_id, mxprov_account_state_to_string (status->state),
                              status->detail, NULL);
    }
  if (table != NULL)
    mxprov_table_print (table);
  mxprov_pipeline_cleanup (session->pipeline, session->context);

  fprintf (stderr, "mxprov: status: %u account%s: %u unused, %u in-use, %u deactivated, "
                   "%u missing, %u problem\n",
           accounts->len, accounts->len == 1 ? "" : "s", counts[MXPROV_ACCOUNT_UNUSED],
           counts[MXPROV_ACCOUNT_IN_USE], counts[MXPROV_ACCOUNT_DEACTIVATED],
           counts[MXPROV_ACCOUNT_MISSING], counts[MXPROV_ACCOUNT_PROBLEM]);
  if (fflush (stdout) != 0)
    {
      g_set_error (&error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                   "cannot write standard output: %s", g_strerror (errno));
      return mxprov_exit_with_error (error);
    }
  return counts[MXPROV_ACCOUNT_DEACTIVATED] + counts[MXPROV_ACCOUNT_MISSING]
         + counts[MXPROV_ACCOUNT_PROBLEM] > 0 ? 1 : EX_OK;
}
