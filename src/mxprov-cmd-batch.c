/* mxprov-cmd-batch.c: `mxprov batch`, many accounts with one admin login.
 *
 * Synapse rate-limits logins (burst 3, then one per ~6 s, admins
 * included), so a loop of `provision` fails from the third account on.
 * Here the auth step runs once; then N worker threads take accounts from
 * a queue, each with its own HTTP client (one kept-alive connection per
 * worker) and fresh plugin instances per account, run the remaining steps
 * (user, room, bundle), roll an account back on failure as `provision`
 * does, and append one JSON line per account to the output file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <mxprov/mxprov.h>
#include "mxprov-commands.h"
#include "mxprov-exit.h"
#include "mxprov-log.h"
#include "mxprov-output.h"
#include "mxprov-session.h"

#define DEFAULT_JOBS 4
#define MAX_JOBS 64

typedef struct {
  gchar *localpart;
  gchar *display_name; /* NULL: the session's */
} Account;

static void
account_free (Account *account)
{
  if (account == NULL)
    return;
  g_free (account->localpart);
  g_free (account->display_name);
  g_free (account);
}

typedef struct {
  MxprovSession *session;
  GAsyncQueue *queue;       /* Account */
  GPtrArray *shared_keys;   /* keys of the session context copied into each account's */
  MxprovHttp *share_anchor; /* holds the DNS and TLS session cache the workers share */
  gint fd;                  /* output, O_APPEND */
  gint journal_fd;          /* the accounts started, O_APPEND: see journal_path */
  GHashTable *orphans;      /* started by a run that died before recording them */
  GThread *syncer;          /* puts the records on disk: see syncer() */
  GMutex sync_lock;         /* one fdatasync at a time; guards the fields below */
  GCond sync_cond;          /* wakes the syncer to stop */
  gboolean sync_stop;
  guint64 synced;           /* records known to be on disk */
  GError *sync_error;       /* why the syncer stopped the batch */
  GMutex lock;              /* guards everything below */
  guint64 written;          /* records written to fd */
  guint total;
  guint done;
  guint created;
  guint existed;
  guint failed;
  gint64 started_us;
  gboolean progress;        /* stderr is a terminal */
  guint requests;
  gint64 waited_us;
} Batch;

static volatile sig_atomic_t interrupted = 0;

static void
on_signal (int signum)
{
  interrupted = 1;
}

/* One JSON line per account, written whole with one write(2), so a crash
 * leaves at most a partial last line, which --resume skips. Called under
 * batch->lock; the syncer then puts it on disk. */
static gboolean
append_record (Batch *batch, const gchar *username, const gchar *user_id, const gchar *status,
               const gchar *bundle, const gchar *error_text, GError **error)
{
  g_autoptr(MxprovSecretJson) record = json_object_new_object ();
  const gchar *text;
  gboolean ok;

  json_object_object_add (record, "username", json_object_new_string (username));
  if (user_id != NULL)
    json_object_object_add (record, "user", json_object_new_string (user_id));
  json_object_object_add (record, "status", json_object_new_string (status));
  if (bundle != NULL)
    json_object_object_add (record, "bundle", json_object_new_string (bundle));
  if (error_text != NULL)
    json_object_object_add (record, "error", json_object_new_string (error_text));
  text = json_object_to_json_string_ext (record, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  ok = mxprov_output_write_line (batch->fd, text, "the output file", error);
  /* the serialized record holds the bundle: wipe it (the json_object's
   * strings are wiped when it is released) */
  mxprov_secret_wipe ((gpointer) text, strlen (text));
  if (ok)
    batch->written++;
  return ok;
}

/* Puts every record written so far on disk. */
static gboolean
sync_records (Batch *batch, GError **error)
{
  gboolean ok = TRUE;
  guint64 target;

  g_mutex_lock (&batch->sync_lock);
  g_mutex_lock (&batch->lock);
  target = batch->written;
  g_mutex_unlock (&batch->lock);
  if (batch->synced < target)
    {
      if (fdatasync (batch->fd) == 0)
        batch->synced = target;
      else
        {
          gint saved = errno;
          g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                       "cannot save the output file: %s; once the disk is fixed, "
                       "re-run with --resume", g_strerror (saved));
          ok = FALSE;
        }
    }
  g_mutex_unlock (&batch->sync_lock);
  return ok;
}

/* A record must reach the disk soon after it is written, but a sync per
 * record was a fifth of the batch's CPU (an fdatasync every 7 ms at -j 16).
 * The syncer thread syncs what has been written every SYNC_INTERVAL, and
 * the batch syncs once more at the end: a power cut loses at most the
 * records of the last interval (a crash of mxprov alone loses none: they
 * are in the page cache). Workers never wait for it. */
#define SYNC_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)

static gpointer
syncer (gpointer data)
{
  Batch *batch = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gint64 until = g_get_monotonic_time () + SYNC_INTERVAL_US;
      gboolean stop;

      g_mutex_lock (&batch->sync_lock);
      while (!batch->sync_stop && g_cond_wait_until (&batch->sync_cond, &batch->sync_lock, until))
        ;
      stop = batch->sync_stop;
      g_mutex_unlock (&batch->sync_lock);
      if (stop)
        return NULL;
      if (!sync_records (batch, &error))
        {
          /* the bundles written would be lost: stop the batch */
          g_warning ("stopping the batch: %s", error->message);
          g_mutex_lock (&batch->sync_lock);
          batch->sync_error = g_steal_pointer (&error);
          g_mutex_unlock (&batch->sync_lock);
          interrupted = 1;
          return NULL;
        }
    }
}

static void
batch_clear (Batch *batch)
{
  close (batch->fd);
  close (batch->journal_fd);
  g_mutex_clear (&batch->lock);
  g_mutex_clear (&batch->sync_lock);
  g_cond_clear (&batch->sync_cond);
}

static void
syncer_stop (Batch *batch)
{
  g_mutex_lock (&batch->sync_lock);
  batch->sync_stop = TRUE;
  g_cond_signal (&batch->sync_cond);
  g_mutex_unlock (&batch->sync_lock);
  g_thread_join (g_steal_pointer (&batch->syncer));
}

static void
show_progress_locked (Batch *batch)
{
  gdouble elapsed = (g_get_monotonic_time () - batch->started_us) / (gdouble) G_USEC_PER_SEC;
  gdouble rate = elapsed > 0 ? batch->done / elapsed : 0;
  gdouble eta = rate > 0 ? (batch->total - batch->done) / rate : 0;

  if (!batch->progress)
    return;
  fprintf (stderr, "\rmxprov: %u/%u accounts, %.1f/s, ETA %.0f s, %u failed   ",
           batch->done, batch->total, rate, eta, batch->failed);
  fflush (stderr);
}

static void
record_result (Batch *batch, const Account *account, MxprovContext *context, GError *run_error)
{
  g_autoptr(GError) error = NULL;
  const gchar *status;
  const gchar *bundle = NULL;
  gboolean written;

  if (run_error == NULL)
    {
      status = "created";
      bundle = mxprov_context_get (context, "bundle.base64");
    }
  else if (g_error_matches (run_error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS)
           || g_error_matches (run_error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_IN_USE))
    {
      status = "exists";
      if (batch->orphans != NULL && g_hash_table_contains (batch->orphans, account->localpart))
        g_prefix_error (&run_error,
                        "an earlier run of this batch was killed while creating this account, "
                        "before its bundle was saved: the account exists without a known "
                        "password and mxprov leaves it as it is (deactivate it, or set its "
                        "password by other means); ");
    }
  else
    status = "failed";

  g_mutex_lock (&batch->lock);
  written = append_record (batch, account->localpart, mxprov_context_get (context, "user.id"),
                           status, bundle, run_error != NULL ? run_error->message : NULL, &error);
  g_mutex_unlock (&batch->lock);
  if (!written)
    {
      /* the account would be lost with its bundle: stop the batch */
      g_warning ("%s: %s; stopping", account->localpart, error->message);
      interrupted = 1;
      status = "failed";
    }

  g_mutex_lock (&batch->lock);
  batch->done++;
  if (g_strcmp0 (status, "created") == 0)
    batch->created++;
  else if (g_strcmp0 (status, "exists") == 0)
    batch->existed++;
  else
    batch->failed++;
  if (run_error != NULL && batch->progress)
    fprintf (stderr, "\n");
  if (run_error != NULL)
    g_message ("%s: %s", account->localpart, run_error->message);
  show_progress_locked (batch);
  g_mutex_unlock (&batch->lock);
}

/* The journal, OUTPUT.journal, lists each account as it starts. A batch that
 * ends, even by Ctrl-C, records every account it started and deletes it; one
 * killed outright (kill -9, a crash, a power cut) leaves it behind, and
 * --resume then knows which existing accounts that run made but never
 * recorded. A lost line only makes --resume less specific, so there is no
 * sync: the page cache outlives the process. */
static gchar *
journal_path (const gchar *output_file)
{
  return g_strconcat (output_file, ".journal", NULL);
}

static void
journal_start (Batch *batch, const gchar *localpart)
{
  g_autofree gchar *line = g_strconcat (localpart, "\n", NULL);
  gsize len = strlen (line);

  if (write (batch->journal_fd, line, len) != (gssize) len)
    g_debug ("cannot journal %s: %s", localpart, g_strerror (errno));
}

/* Usernames in the journal of a run that died. */
static GHashTable *
journal_read (const gchar *path)
{
  GHashTable *started = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return started;
  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      g_hash_table_add (started, g_strdup (lines[i]));
  return started;
}

static void
provision_account (Batch *batch, MxprovHttp *http, const Account *account)
{
  MxprovSession *session = batch->session;
  g_autoptr(MxprovContext) context = mxprov_context_new ();
  g_autoptr(MxprovPipeline) pipeline = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < batch->shared_keys->len; i++)
    {
      const gchar *key = g_ptr_array_index (batch->shared_keys, i);
      mxprov_context_set (context, key, mxprov_context_get (session->context, key),
                          mxprov_context_is_secret (session->context, key)
                            ? MXPROV_CONTEXT_FLAG_SECRET : MXPROV_CONTEXT_FLAG_NONE);
    }
  mxprov_context_set (context, "user.localpart", account->localpart, MXPROV_CONTEXT_FLAG_NONE);
  if (account->display_name != NULL)
    mxprov_context_set (context, "user.displayname", account->display_name, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set_http (context, http);
  mxprov_http_set_deadline (http, g_get_monotonic_time () + (gint64) session->timeout * G_USEC_PER_SEC);

  journal_start (batch, account->localpart);
  /* Fresh plugin instances (their private data is per account) of the
   * modules the session loaded once. */
  pipeline = mxprov_pipeline_new_instances (session->pipeline, session->config, &error);
  if (pipeline != NULL)
    {
      if (!mxprov_pipeline_execute_from (pipeline, context, "user", &error))
        mxprov_pipeline_rollback (pipeline, context);
      mxprov_pipeline_cleanup (pipeline, context);
    }
  record_result (batch, account, context, error);
}

static gpointer
worker (gpointer data)
{
  Batch *batch = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovHttp) http = mxprov_session_new_http (batch->session, &error);
  Account *account;

  if (http != NULL)
    mxprov_http_share_connections (http, batch->share_anchor);

  while ((account = g_async_queue_try_pop (batch->queue)) != NULL)
    {
      if (interrupted || http == NULL)
        {
          account_free (account);
          continue;
        }
      provision_account (batch, http, account);
      account_free (account);
    }
  if (http != NULL)
    {
      guint n = 0;
      gint64 waited = 0;
      mxprov_http_get_stats (http, &n, &waited);
      g_mutex_lock (&batch->lock);
      batch->requests += n;
      batch->waited_us += waited;
      g_mutex_unlock (&batch->lock);
    }
  else
    g_warning ("cannot start a worker: %s", error->message);
  return NULL;
}

/* Usernames whose bundle is already in the output file; `recorded` gets
 * every username with a record of any status. */
static GHashTable *
read_done (const gchar *filename, GHashTable *recorded, GError **error)
{
  g_autoptr(GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gsize len = 0;

  if (!g_file_get_contents (filename, &contents, &len, error))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  mxprov_secret_wipe (contents, len);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(MxprovSecretJson) record = json_tokener_parse (lines[i]);
      json_object *username = NULL;
      json_object *status = NULL;

      mxprov_secret_wipe (lines[i], strlen (lines[i]));
      /* a partial last line from a crash is simply not done */
      if (record == NULL || !json_object_object_get_ex (record, "username", &username)
          || !json_object_object_get_ex (record, "status", &status))
        continue;
      g_hash_table_add (recorded, g_strdup (json_object_get_string (username)));
      if (g_strcmp0 (json_object_get_string (status), "created") == 0)
        g_hash_table_add (done, g_strdup (json_object_get_string (username)));
    }
  return g_steal_pointer (&done);
}

/* `localpart[,display name]` per line; '#' comments and blank lines skipped. */
static GPtrArray *
read_accounts (const gchar *filename, GPtrArray *invalid, GError **error)
{
  g_autoptr(GPtrArray) accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (g_strcmp0 (filename, "-") == 0)
    {
      GString *buf = g_string_new (NULL);
      gchar chunk[4096];
      gssize n;

      while ((n = read (STDIN_FILENO, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
          g_string_append_len (buf, chunk, n);
      if (n < 0)
        {
          gint saved = errno;
          g_string_free (buf, TRUE);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       "cannot read standard input: %s", g_strerror (saved));
          return NULL;
        }
      contents = g_string_free (buf, FALSE);
    }
  else if (!g_file_get_contents (filename, &contents, NULL, error))
    return NULL;

  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GError) error_local = NULL;
      gchar *line = g_strstrip (lines[i]);
      gchar *comma;
      Account *account;

      if (*line == '\0' || *line == '#')
        continue;
      account = g_new0 (Account, 1);
      comma = strchr (line, ',');
      if (comma != NULL)
        {
          *comma = '\0';
          account->display_name = g_strdup (g_strstrip (comma + 1));
        }
      account->localpart = g_strdup (g_strstrip (line));
      if (!mxprov_matrix_validate_localpart (account->localpart, NULL, &error_local))
        {
          g_ptr_array_add (invalid, g_strdup_printf ("%s\t%s", account->localpart,
                                                     error_local->message));
          account_free (account);
          continue;
        }
      /* one account per name: a repeat is ignored, not a failure, so
       * the output keeps one record per username */
      if (g_hash_table_contains (seen, account->localpart))
        {
          g_message ("%s: listed again on line %" G_GSIZE_FORMAT " of the input; provisioned once",
                     account->localpart, i + 1);
          account_free (account);
          continue;
        }
      g_hash_table_add (seen, account->localpart);
      g_ptr_array_add (accounts, account);
    }
  return g_steal_pointer (&accounts);
}

static gint
open_output (const gchar *filename, gboolean resume, GError **error)
{
  gint flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
  gint fd;

  if (!resume)
    flags |= O_EXCL;
  fd = open (filename, flags, 0600);
  if (fd < 0)
    {
      gint saved = errno;
      if (saved == EEXIST)
        g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_EXISTS,
                     "%s already exists: give --resume to finish that batch, or another --output",
                     filename);
      else
        g_set_error (error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED, "cannot open %s: %s",
                     filename, g_strerror (saved));
      return -1;
    }
  /* a file given to --resume may have been loosened since */
  if (!mxprov_output_make_private (fd, filename, error))
    {
      close (fd);
      return -1;
    }
  /* a crash may have cut the last line short: start on a fresh line */
  if (resume && lseek (fd, 0, SEEK_END) > 0)
    {
      gchar last = '\n';
      if (pread (fd, &last, 1, lseek (fd, 0, SEEK_END) - 1) == 1 && last != '\n'
          && write (fd, "\n", 1) != 1)
        g_warning ("cannot repair the last line of %s", filename);
    }
  return fd;
}

gint
mxprov_cmd_batch (gint argc, gchar **argv)
{
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree GOptionEntry *session_entries = mxprov_session_option_entries (session);
  g_autofree GOptionEntry *bundle_entries = mxprov_session_bundle_option_entries (session);
  g_autofree gchar **argv_copy = g_memdup2 (argv, sizeof (gchar *) * (gsize) (argc + 1));
  g_autofree gchar *input_file = NULL;
  g_autofree gchar *output_file = NULL;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(GPtrArray) invalid = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) done = NULL;
  g_autoptr(GHashTable) recorded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) orphans = NULL;
  g_autofree gchar *journal_file = NULL;
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();
  g_auto(GStrv) keys = NULL;
  const gchar *outputs[] = { "bundle.base64", NULL };
  gboolean resume = FALSE;
  gint jobs = DEFAULT_JOBS;
  gint argc_copy = argc;
  guint skipped = 0;
  gdouble elapsed;
  Batch batch = { 0 };
  const GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input_file,
      "Accounts to create, one 'localpart[,display name]' per line (- = standard input)", "FILE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output_file,
      "Append one JSON line per account (with its bundle) to FILE, mode 0600", "FILE" },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs,
      "Provision N accounts at once (default 4)", "N" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &resume,
      "Continue an interrupted batch: skip the accounts whose bundle is in --output", NULL },
    { NULL }
  };

  options = g_option_context_new ("- create many accounts with one admin login");
  g_option_context_set_summary (options,
    "Logs in once, then creates every account of --input with its sync room,\n"
    "N at a time, and appends a JSON line per account to --output:\n"
    "{\"username\",\"user\",\"status\":\"created|exists|failed\",\"bundle\"|\"error\"}.");
  g_option_context_set_description (options,
    "Exit status: 0 all created, 73 none failed but some already existed,\n"
    "75 some failed (fix the cause and re-run with --resume), or the codes of\n"
    "mxprov provision when the batch cannot start. See mxprov(1).\n");
  g_option_context_add_main_entries (options, session_entries, NULL);
  g_option_context_add_main_entries (options, bundle_entries, NULL);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_session_scrub_argv (argc_copy, argv_copy);
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov batch --help' for the options.\n");
      return EX_USAGE;
    }
  mxprov_session_scrub_argv (argc_copy, argv_copy);
  mxprov_log_setup (mxprov_option_verbosity);
  if (argc > 1)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'", argv[1]);
      return mxprov_exit_with_error (error);
    }
  if (input_file == NULL || output_file == NULL)
    {
      g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "give --input FILE (the accounts) and --output FILE (their bundles)");
      return mxprov_exit_with_error (error);
    }
  if (jobs < 1 || jobs > MAX_JOBS)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--jobs must be from 1 to %d", MAX_JOBS);
      return mxprov_exit_with_error (error);
    }

  /* Everything local first: input, output, config, contract. */
  accounts = read_accounts (input_file, invalid, &error);
  if (accounts == NULL)
    {
      g_prefix_error (&error, "--input: ");
      return mxprov_exit_with_error (error);
    }
  if (resume && g_file_test (output_file, G_FILE_TEST_EXISTS))
    {
      done = read_done (output_file, recorded, &error);
      if (done == NULL)
        return mxprov_exit_with_error (error);
      for (guint i = accounts->len; i > 0; i--)
        {
          Account *account = g_ptr_array_index (accounts, i - 1);
          if (g_hash_table_contains (done, account->localpart))
            {
              g_ptr_array_remove_index (accounts, i - 1);
              skipped++;
            }
        }
    }
  if (!mxprov_session_prepare (session, (const gchar *const[]) { "user.localpart", NULL },
                               outputs, &error))
    return mxprov_exit_with_error (error);
  batch.fd = open_output (output_file, resume, &error);
  if (batch.fd < 0)
    return mxprov_exit_with_error (error);
  journal_file = journal_path (output_file);
  if (resume)
    {
      GHashTableIter iter;
      gpointer name;

      orphans = journal_read (journal_file);
      g_hash_table_iter_init (&iter, orphans);
      while (g_hash_table_iter_next (&iter, &name, NULL))
        if (g_hash_table_contains (recorded, name))
          g_hash_table_iter_remove (&iter);
      if (g_hash_table_size (orphans) > 0)
        g_message ("--resume: the last run was killed with %u accounts in progress",
                   g_hash_table_size (orphans));
      batch.orphans = orphans;
    }
  /* Started afresh without --resume: whatever journal is there belongs to
   * an output file that is gone. With --resume, add to it: this run may die
   * too before the orphans above get their record. */
  batch.journal_fd = open (journal_file,
                           O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | (resume ? 0 : O_TRUNC),
                           0600);
  if (batch.journal_fd < 0)
    {
      gint saved = errno;
      close (batch.fd);
      g_set_error (&error, MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED,
                   "cannot create %s: %s", journal_file, g_strerror (saved));
      return mxprov_exit_with_error (error);
    }
  batch.session = session;
  batch.total = accounts->len + invalid->len;
  batch.progress = isatty (STDERR_FILENO);
  g_mutex_init (&batch.lock);
  g_mutex_init (&batch.sync_lock);
  g_cond_init (&batch.sync_cond);

  for (guint i = 0; i < invalid->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_ptr_array_index (invalid, i), "\t", 2);
      if (!append_record (&batch, parts[0], NULL, "failed", NULL, parts[1], &error))
        return mxprov_exit_with_error (error);
      g_message ("%s: %s", parts[0], parts[1]);
      batch.done++;
      batch.failed++;
    }
  if (skipped > 0)
    g_message ("--resume: %u accounts already have their bundle in %s", skipped, output_file);

  if (accounts->len > 0)
    {
      /* One admin login for the whole batch. */
      if (!mxprov_session_connect (session, &error)
          || !mxprov_pipeline_execute (session->pipeline, session->context, "auth", &error))
        {
          mxprov_pipeline_cleanup (session->pipeline, session->context);
          batch_clear (&batch);
          return mxprov_exit_with_error (error);
        }
      /* what every account's steps start from: the auth step's results */
      batch.shared_keys = g_ptr_array_new_with_free_func (g_free);
      keys = mxprov_context_list_keys (session->context);
      for (gsize i = 0; keys[i] != NULL; i++)
        if (!g_str_has_prefix (keys[i], "user."))
          g_ptr_array_add (batch.shared_keys, g_strdup (keys[i]));
      g_ptr_array_add (batch.shared_keys, g_strdup ("user.displayname"));

      batch.share_anchor = mxprov_session_new_http (session, &error);
      if (batch.share_anchor == NULL)
        return mxprov_exit_with_error (error);
      batch.queue = g_async_queue_new ();
      for (guint i = 0; i < accounts->len; i++)
        g_async_queue_push (batch.queue, g_steal_pointer (&g_ptr_array_index (accounts, i)));
      signal (SIGINT, on_signal);
      signal (SIGTERM, on_signal);
      batch.started_us = g_get_monotonic_time ();
      batch.syncer = g_thread_new ("mxprov-sync", syncer, &batch);
      for (gint i = 0; i < MIN (jobs, (gint) accounts->len); i++)
        g_ptr_array_add (threads, g_thread_new ("mxprov-batch", worker, &batch));
      for (guint i = 0; i < threads->len; i++)
        g_thread_join (g_ptr_array_index (threads, i));
      syncer_stop (&batch);
      signal (SIGINT, SIG_DFL);
      signal (SIGTERM, SIG_DFL);
      g_async_queue_unref (batch.queue);
      mxprov_http_free (batch.share_anchor);
      g_ptr_array_unref (batch.shared_keys);
      mxprov_pipeline_cleanup (session->pipeline, session->context);
    }
  /* what the syncer had not put on disk yet, and the records of invalid
   * names when no account followed them */
  if (batch.sync_error != NULL || !sync_records (&batch, &error))
    {
      if (batch.sync_error != NULL)
        g_propagate_error (&error, g_steal_pointer (&batch.sync_error));
      batch_clear (&batch);
      return mxprov_exit_with_error (error);
    }
  batch_clear (&batch);
  /* Every account started has its record now. Interrupted, some accounts
   * were not started, and among them may be orphans still to explain. */
  if (!interrupted && unlink (journal_file) != 0)
    g_warning ("cannot remove %s: %s", journal_file, g_strerror (errno));

  elapsed = batch.started_us > 0 ? (g_get_monotonic_time () - batch.started_us) / (gdouble) G_USEC_PER_SEC : 0;
  if (batch.progress)
    fprintf (stderr, "\n");
  fprintf (stderr, "mxprov: batch: %u created, %u already existed, %u failed, %u skipped (--resume)"
                   "; %.1f s, %.1f accounts/s\n",
           batch.created, batch.existed, batch.failed, skipped, elapsed,
           elapsed > 0 ? batch.created / elapsed : 0.0);
  g_info ("%u requests, %.1f ms waiting for the server", batch.requests, batch.waited_us / 1000.0);
  if (interrupted)
    {
      fprintf (stderr, "mxprov: interrupted: %u accounts not started; re-run with --resume\n",
               batch.total - batch.done);
      return EX_TEMPFAIL;
    }
  if (batch.failed > 0)
    {
      fprintf (stderr, "mxprov: %u accounts failed (see %s); fix the cause and re-run with --resume\n",
               batch.failed, output_file);
      return EX_TEMPFAIL;
    }
  return batch.existed > 0 ? EX_CANTCREAT : EX_OK;
}
