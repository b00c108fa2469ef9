/* mxprov-cmd-revoke.c: `mxprov revoke`, take an account back: what
 * rollback does after a failed run, applied to an account made earlier.
 * The steps adopt the account (user ID, room ID from its status) and their
 * own rollback undoes it, so each backend's undo is the one used. */
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
#include "mxprov-session.h"

typedef enum {
  VERDICT_REVOKE,
  VERDICT_REFUSED, /* not an account revoke may touch */
  VERDICT_SKIPPED, /* --unused-only and in use */
} Verdict;

typedef struct {
  MxprovAccountRun *run;
  MxprovAccountStatus *status;
  Verdict verdict;
  gchar *why;          /* refused or skipped: why */
  const gchar *result; /* after phase 3: revoked, refused, skipped, failed */
  GError *error;       /* failed: why */
} Target;

static void
target_free (Target *target)
{
  mxprov_account_run_free (target->run);
  mxprov_account_status_free (target->status);
  g_free (target->why);
  g_clear_error (&target->error);
  g_free (target);
}

/* What revoke may take back: a sync account mxprov could have made, never
 * an admin's, never one without its marked room. */
static void
judge (Target *target, gboolean unused_only)
{
  MxprovAccountStatus *status = target->status;

  target->verdict = VERDICT_REFUSED;
  if (status->admin)
    target->why = g_strdup ("a server admin's account: revoke never touches one");
  else if (status->state == MXPROV_ACCOUNT_MISSING)
    target->why = g_strdup ("no such account");
  else if (status->state == MXPROV_ACCOUNT_DEACTIVATED)
    target->why = g_strdup ("already deactivated");
  else if (status->state == MXPROV_ACCOUNT_PROBLEM)
    target->why = g_strdup_printf ("%s: not the sync account mxprov made", status->detail);
  else if (status->room_id == NULL)
    target->why = g_strdup ("it owns no known marked sync room");
  else if (unused_only && status->state == MXPROV_ACCOUNT_IN_USE)
    {
      target->verdict = VERDICT_SKIPPED;
      target->why = g_strdup_printf ("in use (--unused-only): %s", status->detail);
    }
  else
    target->verdict = VERDICT_REVOKE;
}

/* On a terminal, ask; elsewhere only --yes goes ahead. */
static gboolean
confirm (guint n, gboolean yes, GError **error)
{
  gchar answer[16] = "";

  if (yes)
    return TRUE;
  if (!isatty (STDIN_FILENO))
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "revoke deactivates accounts: confirm on a terminal, or give --yes");
      return FALSE;
    }
  fprintf (stderr, "Revoke %u account%s? Each is deactivated with erase and its sync room "
                   "deleted; this cannot be undone, and on Synapse the names stay taken. [y/N] ",
           n, n == 1 ? "" : "s");
  if (fgets (answer, sizeof answer, stdin) == NULL
      || (g_ascii_strcasecmp (g_strstrip (answer), "y") != 0
          && g_ascii_strcasecmp (answer, "yes") != 0))
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "not confirmed: nothing was changed");
      return FALSE;
    }
  return TRUE;
}

/* Adopt the account and its room in every step that can, then undo them. */
static gboolean
revoke_target (Target *target, GError **error)
{
  MxprovAccountRun *run = target->run;
  MxprovPlugin *room_step = mxprov_pipeline_get_plugin_for_step (run->pipeline, "room");

  mxprov_context_set (run->context, "room.id", target->status->room_id, MXPROV_CONTEXT_FLAG_NONE);
  if (room_step != NULL && mxprov_plugin_get_info_struct (room_step)->adopt == NULL)
    g_warning ("%s: room %s is left in place: plugin %s cannot remove it (no adopt entry)",
               target->status->user_id, target->status->room_id, mxprov_plugin_get_name (room_step));
  if (!mxprov_pipeline_call_entry (run->pipeline, run->context, MXPROV_PIPELINE_ENTRY_ADOPT,
                                   "user", "user", NULL, error))
    return FALSE;
  if (!mxprov_pipeline_rollback (run->pipeline, run->context))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                   "%s was not fully revoked (see the warnings above)", target->status->user_id);
      return FALSE;
    }
  return TRUE;
}

static void
print_result (MxprovTable *table, const Target *target)
{
  const gchar *detail = target->error != NULL ? target->error->message
                        : target->why != NULL ? target->why
                        : target->status->room_id;

  if (table == NULL)
    {
      g_autoptr(json_object) obj = json_object_new_object ();

      json_object_object_add (obj, "user", json_object_new_string (target->status->user_id));
      json_object_object_add (obj, "state",
                              json_object_new_string (mxprov_account_state_to_string (target->status->state)));
      json_object_object_add (obj, "result", json_object_new_string (target->result));
      if (target->status->room_id != NULL)
        json_object_object_add (obj, "room", json_object_new_string (target->status->room_id));
      if (target->error != NULL || target->why != NULL)
        json_object_object_add (obj, "detail", json_object_new_string (detail));
      printf ("%s\n", json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN
                                                           | JSON_C_TO_STRING_NOSLASHESCAPE));
      return;
    }
  mxprov_table_add_row (table, target->status->user_id,
                        mxprov_account_state_to_string (target->status->state), target->result,
                        detail != NULL ? detail : "", NULL);
}

gint
mxprov_cmd_revoke (gint argc, gchar **argv)
{
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(GPtrArray) targets = g_ptr_array_new_with_free_func ((GDestroyNotify) target_free);
  g_autofree GOptionEntry *session_entries = mxprov_session_admin_option_entries (session);
  g_autofree gchar **argv_copy = g_memdup2 (argv, sizeof (gchar *) * (gsize) (argc + 1));
  g_auto(GStrv) bundle_files = NULL;
  g_autofree gchar *input_file = NULL;
  g_autofree gchar *format = NULL;
  MxprovTable *table = NULL;
  gboolean unused_only = FALSE;
  gboolean yes = FALSE;
  gboolean json = FALSE;
  guint n_revoke = 0, n_revoked = 0, n_not = 0;
  gint failure_code = EX_OK;
  gint argc_copy = argc;
  const gint needed[] = { MXPROV_PIPELINE_ENTRY_STATUS, MXPROV_PIPELINE_ENTRY_ADOPT, -1 };
  const GOptionEntry entries[] = {
    { "bundle", 'b', 0, G_OPTION_ARG_FILENAME_ARRAY, &bundle_files,
      "An account by its bundle in FILE (- = standard input); repeatable", "FILE" },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input_file,
      "The accounts a batch made: its --output file", "BATCH.jsonl" },
    { "unused-only", 0, 0, G_OPTION_ARG_NONE, &unused_only,
      "Take back only accounts the app has not used yet", NULL },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes,
      "Do not ask for confirmation (needed when not on a terminal)", NULL },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "table (the default) or json (one object per line)", "FORMAT" },
    { NULL }
  };

  options = g_option_context_new ("USER...|--bundle FILE|--input BATCH.jsonl - take accounts back");
  g_option_context_set_summary (options,
    "Deactivates each account with erase and removes its marked sync room,\n"
    "with the backend's own undo (Synapse: deactivate + erase, room deleted\n"
    "and purged; shared secret: the account deactivates itself with its\n"
    "bundle's password). Refuses server admins, accounts without their\n"
    "marked room, and with --unused-only accounts in use. Asks first on a\n"
    "terminal. On Synapse a deactivated name stays taken.");
  g_option_context_set_description (options,
    "Exit status: 0 every account revoked, 1 some refused or skipped, or the\n"
    "codes of mxprov provision for errors. See mxprov(1).\n");
  g_option_context_add_main_entries (options, session_entries, NULL);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_session_scrub_argv (argc_copy, argv_copy);
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov revoke --help' for the options.\n");
      return EX_USAGE;
    }
  mxprov_session_scrub_argv (argc_copy, argv_copy);
  mxprov_log_setup (mxprov_option_verbosity);
  if (!mxprov_accounts_check_format (format, &json, &error))
    return mxprov_exit_with_error (error);
  accounts = mxprov_accounts_collect (argc, argv, bundle_files, input_file, &error);
  if (accounts == NULL)
    return mxprov_exit_with_error (error);
  /* no terminal to ask on and no --yes: say so before logging in */
  if (!yes && !isatty (STDIN_FILENO) && !confirm (accounts->len, yes, &error))
    return mxprov_exit_with_error (error);
  if (!mxprov_accounts_connect (session, accounts, needed, &error))
    return mxprov_exit_with_error (error);

  /* 1. Look at every account before touching any. */
  for (guint i = 0; i < accounts->len; i++)
    {
      Target *target = g_new0 (Target, 1);

      g_ptr_array_add (targets, target);
      target->run = mxprov_account_run_new (session, g_ptr_array_index (accounts, i), &error);
      if (target->run != NULL)
        target->status = mxprov_account_run_status (target->run, &error);
      if (target->status == NULL)
        {
          g_ptr_array_set_size (targets, 0);
          mxprov_pipeline_cleanup (session->pipeline, session->context);
          return mxprov_exit_with_error (error);
        }
      judge (target, unused_only);
      if (target->verdict == VERDICT_REVOKE)
        n_revoke++;
    }

  /* 2. One confirmation for all of them. */
  if (n_revoke > 0 && !confirm (n_revoke, yes, &error))
    {
      g_ptr_array_set_size (targets, 0);
      mxprov_pipeline_cleanup (session->pipeline, session->context);
      return mxprov_exit_with_error (error);
    }

  /* 3. Take them back. */
  if (!json)
    table = mxprov_table_new ("USER", "STATE", "RESULT", "DETAIL", NULL);
  for (guint i = 0; i < targets->len; i++)
    {
      Target *target = g_ptr_array_index (targets, i);

      if (target->verdict != VERDICT_REVOKE)
        {
          target->result = target->verdict == VERDICT_SKIPPED ? "skipped" : "refused";
          n_not++;
        }
      else if (revoke_target (target, &target->error))
        {
          target->result = "revoked";
          n_revoked++;
        }
      else
        {
          target->result = "failed";
          /* an undo step that failed (its warning says what is left): the
           * server's trouble, so running revoke again may finish it */
          failure_code = g_error_matches (target->error, MXPROV_PROVISION_ERROR,
                                          MXPROV_PROVISION_ERROR_FAILED)
                         ? EX_TEMPFAIL : mxprov_exit_code_for_error (target->error);
          mxprov_log_error (target->error);
        }
      print_result (table, target);
      /* cleanup (logouts) now, while the server is still in reach */
      g_clear_pointer (&target->run, mxprov_account_run_free);
    }
  if (table != NULL)
    mxprov_table_print (table);
  mxprov_pipeline_cleanup (session->pipeline, session->context);
  fprintf (stderr, "mxprov: revoke: %u revoked, %u refused or skipped, %u failed%s\n",
           n_revoked, n_not, n_revoke - n_revoked,
           n_revoked > 0 ? "; on Synapse the deactivated names stay taken" : "");
  if (failure_code != EX_OK)
    return failure_code;
  return n_not > 0 ? 1 : EX_OK;
}
