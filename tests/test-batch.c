/* test-batch.c: `mxprov batch` against the test homeserver: many accounts
 * at once with existing and invalid names and injected faults, and a
 * batch interrupted and resumed that ends with every account provisioned
 * exactly once. */
#include "config.h"

#include <signal.h>
#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define ADMIN_PASSWORD "batch admin password"
#define SERVER_NAME "example.test"

typedef struct {
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *password_file;
  gchar *input;
  gchar *output;
  gchar *journal;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->hs = test_homeserver_new (SERVER_NAME);
  test_homeserver_add_user (f->hs, "admin", ADMIN_PASSWORD, TRUE);
  test_homeserver_add_user (f->hs, "user07", "seven's own password", FALSE);
  test_homeserver_add_user (f->hs, "user21", "twenty-one's own password", FALSE);
  g_assert_true (test_homeserver_start (f->hs, &error));
  f->tmpdir = g_dir_make_tmp ("mxprov-batch-XXXXXX", &error);
  g_assert_no_error (error);
  f->password_file = g_build_filename (f->tmpdir, "admin-password", NULL);
  g_assert_true (g_file_set_contents (f->password_file, ADMIN_PASSWORD "\n", -1, NULL));
  g_chmod (f->password_file, 0600);
  f->input = g_build_filename (f->tmpdir, "accounts.txt", NULL);
  f->output = g_build_filename (f->tmpdir, "bundles.jsonl", NULL);
  f->journal = g_strconcat (f->output, ".journal", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
  g_unlink (f->password_file);
  g_unlink (f->input);
  g_unlink (f->output);
  g_unlink (f->journal);
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->password_file);
  g_free (f->input);
  g_free (f->output);
  g_free (f->journal);
}

static void
record_free (gpointer record)
{
  json_object_put (record);
}

/* username -> its record (a json_object), checking each appears once */
static GHashTable *
read_records (const gchar *output)
{
  GHashTable *records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               record_free);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (output, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      json_object *record;
      const gchar *username;

      if (*lines[i] == '\0')
        continue;
      record = json_tokener_parse (lines[i]);
      g_assert_nonnull (record);
      username = json_object_get_string (json_object_object_get (record, "username"));
      g_assert_nonnull (username);
      if (g_hash_table_contains (records, username))
        g_error ("%s has two records in the output", username);
      g_hash_table_insert (records, g_strdup (username), record);
    }
  return records;
}

static const gchar *
record_status (GHashTable *records, const gchar *username)
{
  json_object *record = g_hash_table_lookup (records, username);
  g_assert_nonnull (record);
  return json_object_get_string (json_object_object_get (record, "status"));
}

/* Every "created" record's bundle is a complete account with one room. */
static guint
assert_created_accounts (Fixture *f, GHashTable *records)
{
  GHashTableIter iter;
  gpointer key, value;
  guint created = 0;

  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      json_object *record = value;
      g_autoptr(GError) error = NULL;
      g_autoptr(MxprovBundle) bundle = NULL;
      g_autoptr(GPtrArray) joined = NULL;
      g_autofree gchar *password = NULL;
      g_autofree gchar *user_id = g_strdup_printf ("@%s:%s", (const gchar *) key, SERVER_NAME);

      if (g_strcmp0 (json_object_get_string (json_object_object_get (record, "status")), "created") != 0)
        continue;
      created++;
      bundle = mxprov_bundle_decode (json_object_get_string (json_object_object_get (record, "bundle")), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (bundle->user, ==, user_id);
      g_assert_cmpstr (json_object_get_string (json_object_object_get (record, "user")), ==, user_id);
      password = test_homeserver_get_user_password (f->hs, user_id);
      g_assert_cmpstr (password, ==, bundle->password);
      joined = test_homeserver_list_joined_rooms (f->hs, user_id);
      g_assert_cmpuint (joined->len, ==, 1);
      g_assert_cmpstr (g_ptr_array_index (joined, 0), ==, bundle->room_id);
      g_assert_cmpuint (test_homeserver_count_devices (f->hs, user_id), ==, 0);
    }
  return created;
}

static void
test_batch_mixed (Fixture *f, gconstpointer data)
{
  const TestFault refused = { .kind = TEST_FAULT_STATUS, .status = 403,
                              .body = "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"not this one\"}" };
  const TestFault lost = { .kind = TEST_FAULT_DROP, .after_handling = TRUE };
  const TestFault limited = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 100 };
  g_autoptr(GString) input = g_string_new ("# fifty accounts\n\n");
  g_autoptr(RunResult) r = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autofree gchar *seven = NULL;
  const gchar *args[] = { "batch", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--input", f->input, "--output", f->output, "-j", "8", NULL };
  guint created;

  for (guint i = 0; i < 50; i++)
    g_string_append_printf (input, "user%02u%s\n", i, i == 3 ? ",Laptop of Three" : "");
  g_string_append (input, "Not Valid\nuser05\n");
  g_assert_true (g_file_set_contents (f->input, input->str, -1, NULL));
  /* user13's creation is refused; user14's answer is lost once; user15's
   * room creation is rate limited twice */
  test_homeserver_add_fault (f->hs, "PUT", "/_synapse/admin/v2/users/@user13:" SERVER_NAME, 0, 100, &refused);
  test_homeserver_add_fault (f->hs, "PUT", "/_synapse/admin/v2/users/@user14:" SERVER_NAME, 0, 1, &lost);
  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 10, 2, &limited);

  r = run_mxprov (args, NULL, NULL, FALSE);
  g_assert_cmpint (r->exit_code, ==, EX_TEMPFAIL);
  assert_contains (r->err, "batch: 47 created, 2 already existed, 2 failed");
  assert_contains (r->err, "user05: listed again on line 54 of the input; provisioned once");
  assert_contains (r->err, "re-run with --resume");

  records = read_records (f->output);
  /* 50 accounts, plus the invalid line; the repeated user05 once */
  g_assert_cmpuint (g_hash_table_size (records), ==, 51);
  g_assert_cmpstr (record_status (records, "user07"), ==, "exists");
  g_assert_cmpstr (record_status (records, "user21"), ==, "exists");
  g_assert_cmpstr (record_status (records, "user13"), ==, "failed");
  g_assert_cmpstr (record_status (records, "Not Valid"), ==, "failed");
  g_assert_cmpstr (record_status (records, "user14"), ==, "created");
  g_assert_cmpstr (record_status (records, "user15"), ==, "created");
  created = assert_created_accounts (f, records);
  g_assert_cmpuint (created, ==, 47);

  /* existing accounts untouched, the refused one not left behind */
  seven = test_homeserver_get_user_password (f->hs, "@user07:" SERVER_NAME);
  g_assert_cmpstr (seven, ==, "seven's own password");
  g_assert_false (test_homeserver_user_exists (f->hs, "@user13:" SERVER_NAME));
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 47);
  /* one admin login for the whole batch (the other login is user14's
   * ownership check after its lost answer), and it was logged out */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 2);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@admin:" SERVER_NAME), ==, 0);
}

/* --bundle-version 2 in a batch: every record's bundle is version 2 of
 * kind provisioned, and the warning that the app refuses plain http comes
 * once for the whole batch, not once per account. */
static void
test_batch_bundle_version_2 (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;
  g_autoptr(GHashTable) records = NULL;
  const gchar *args[] = { "batch", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--input", f->input, "--output", f->output, "-j", "3",
                          "--bundle-version", "2", NULL };
  GHashTableIter iter;
  gpointer value;
  const gchar *warning;

  g_assert_true (g_file_set_contents (f->input, "v2a\nv2b\nv2c\nv2d\nv2e\n", -1, NULL));
  r = run_mxprov (args, NULL, NULL, FALSE);
  g_assert_cmpint (r->exit_code, ==, 0);
  records = read_records (f->output);
  g_assert_cmpuint (g_hash_table_size (records), ==, 5);
  g_assert_cmpuint (assert_created_accounts (f, records), ==, 5);
  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MxprovBundle) bundle =
        mxprov_bundle_decode (json_object_get_string (json_object_object_get (value, "bundle")), &error);
      g_assert_no_error (error);
      g_assert_cmpint (bundle->version, ==, 2);
      g_assert_cmpint (bundle->kind, ==, MXPROV_BUNDLE_KIND_PROVISIONED);
    }
  warning = strstr (r->err, "the Lotti app would refuse this bundle");
  g_assert_nonnull (warning);
  g_assert_null (strstr (warning + 1, "the Lotti app would refuse this bundle"));
}

/* With an admin token a batch makes no login at all, and leaves the
 * token's session as it found it. */
static void
test_batch_admin_token (Fixture *f, gconstpointer data)
{
  g_autofree gchar *token = test_homeserver_issue_token (f->hs, "@admin:" SERVER_NAME);
  g_autofree gchar *env_token = g_strdup_printf ("MXPROV_ADMIN_TOKEN=%s", token);
  const gchar *env[] = { env_token, NULL };
  const gchar *args[] = { "batch", "--homeserver", test_homeserver_get_url (f->hs),
                          "--input", f->input, "--output", f->output, NULL };
  g_autoptr(RunResult) r = NULL;
  g_autoptr(GHashTable) records = NULL;

  g_assert_true (g_file_set_contents (f->input, "tok1\ntok2\ntok3\n", -1, NULL));
  r = run_mxprov (args, NULL, env, FALSE);
  g_assert_cmpint (r->exit_code, ==, 0);
  records = read_records (f->output);
  g_assert_cmpuint (assert_created_accounts (f, records), ==, 3);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, "@admin:" SERVER_NAME), ==, 1);
}

static void
test_batch_stdin_and_existing_output (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "batch", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--input", "-", "--output", f->output, NULL };
  g_autoptr(RunResult) r1 = run_mxprov (args, "alpha\nbeta,Beta's phone\n", NULL, FALSE);
  g_autoptr(RunResult) r2 = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autofree gchar *displayname = NULL;
  GStatBuf st;

  g_assert_cmpint (r1->exit_code, ==, 0);
  g_assert_cmpint (g_stat (f->output, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  records = read_records (f->output);
  g_assert_cmpuint (assert_created_accounts (f, records), ==, 2);
  displayname = test_homeserver_get_user_displayname (f->hs, "@beta:" SERVER_NAME);
  g_assert_cmpstr (displayname, ==, "Beta's phone");

  /* the same output again without --resume: refused, nothing sent */
  r2 = run_mxprov (args, "gamma\n", NULL, FALSE);
  g_assert_cmpint (r2->exit_code, ==, EX_CANTCREAT);
  assert_contains (r2->err, "give --resume");
  g_assert_false (test_homeserver_user_exists (f->hs, "@gamma:" SERVER_NAME));
}

/* `mxprov batch` over the fixture's input and output, -j `jobs`: with the
 * binary first for g_subprocess (`with_binary`), "--resume" last if asked. */
static GStrv
batch_args (Fixture *f, gboolean with_binary, const gchar *jobs, gboolean resume)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const gchar *const common[] = { "batch", "--homeserver", test_homeserver_get_url (f->hs),
                                  "--admin-user", "admin", "--admin-password-file", f->password_file,
                                  "--input", f->input, "--output", f->output, "-j", jobs };

  if (with_binary)
    g_strv_builder_add (builder, g_getenv ("MXPROV_BINARY"));
  for (gsize i = 0; i < G_N_ELEMENTS (common); i++)
    g_strv_builder_add (builder, common[i]);
  if (resume)
    g_strv_builder_add (builder, "--resume");
  return g_strv_builder_end (builder);
}

/* SIGTERM half way: in-flight accounts finish, the rest wait; --resume
 * completes the batch and nothing is provisioned twice. */
static void
test_batch_interrupted_and_resumed (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RunResult) resumed = NULL;
  g_autoptr(GHashTable) first = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_auto(GStrv) argv = batch_args (f, TRUE, "2", FALSE);
  g_auto(GStrv) resume_args = batch_args (f, FALSE, "4", TRUE);
  guint n_first;
  GStatBuf st;

  for (guint i = 0; i < 40; i++)
    g_string_append_printf (input, "sync%02u\n", i);
  g_assert_true (g_file_set_contents (f->input, input->str, -1, NULL));
  /* slow enough to be caught in the middle */
  test_homeserver_set_request_delay (f->hs, 30);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  proc = g_subprocess_launcher_spawnv (launcher, (const gchar *const *) argv, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree gchar *contents = NULL;
      g_auto(GStrv) lines = NULL;
      if (g_file_get_contents (f->output, &contents, NULL, NULL)
          && g_strv_length (lines = g_strsplit (contents, "\n", -1)) > 6)
        break;
      g_usleep (10 * 1000);
    }
  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, EX_TEMPFAIL);
  first = read_records (f->output);
  n_first = g_hash_table_size (first);
  g_test_message ("interrupted after %u accounts", n_first);
  g_assert_cmpuint (n_first, >, 0);
  g_assert_cmpuint (n_first, <, 40);
  /* every account that was started was finished and recorded */
  g_assert_cmpuint (test_homeserver_count_users (f->hs), ==, 3 + n_first);

  test_homeserver_set_request_delay (f->hs, 0);
  /* a file loosened in between goes back to 0600 before anything is added */
  g_assert_cmpint (g_chmod (f->output, 0644), ==, 0);
  resumed = run_mxprov ((const gchar *const *) resume_args, NULL, NULL, FALSE);
  g_assert_cmpint (resumed->exit_code, ==, 0);
  g_assert_cmpint (g_stat (f->output, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  assert_contains (resumed->err, "accounts already have their bundle");
  records = read_records (f->output); /* fails on any duplicate record */
  g_assert_cmpuint (g_hash_table_size (records), ==, 40);
  g_assert_cmpuint (assert_created_accounts (f, records), ==, 40);
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 40);
  g_assert_cmpuint (test_homeserver_count_users (f->hs), ==, 3 + 40);
}

/* kill -9 while two accounts wait for createRoom: they exist on the server
 * without a bundle. --resume must say so for exactly those two, leave them
 * as they are, and finish every other account exactly once. */
static void
test_batch_killed_and_resumed (Fixture *f, gconstpointer data)
{
  const TestFault slow_room = { .kind = TEST_FAULT_DELAY, .delay_ms = 60000 };
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RunResult) resumed = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GPtrArray) orphans = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) rooms = NULL;
  g_auto(GStrv) argv = batch_args (f, TRUE, "2", FALSE);
  g_auto(GStrv) resume_args = batch_args (f, FALSE, "2", TRUE);

  for (guint i = 0; i < 6; i++)
    g_string_append_printf (input, "kill%02u\n", i);
  g_assert_true (g_file_set_contents (f->input, input->str, -1, NULL));
  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 0, 2, &slow_room);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  proc = g_subprocess_launcher_spawnv (launcher, (const gchar *const *) argv, &error);
  g_assert_no_error (error);
  /* both workers are now stuck after creating their user */
  for (guint i = 0; i < 1000
       && test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/createRoom") < 2; i++)
    g_usleep (10 * 1000);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/createRoom"), ==, 2);
  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (f->journal, G_FILE_TEST_EXISTS));
  test_homeserver_clear_faults (f->hs);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree gchar *user_id = g_strdup_printf ("@kill%02u:" SERVER_NAME, i);
      if (test_homeserver_user_exists (f->hs, user_id))
        g_ptr_array_add (orphans, g_strdup_printf ("kill%02u", i));
    }
  g_assert_cmpuint (orphans->len, ==, 2);

  resumed = run_mxprov ((const gchar *const *) resume_args, NULL, NULL, FALSE);
  g_assert_cmpint (resumed->exit_code, ==, EX_CANTCREAT);
  assert_contains (resumed->err, "the last run was killed with 2 accounts in progress");
  records = read_records (f->output);
  g_assert_cmpuint (g_hash_table_size (records), ==, 6);
  for (guint i = 0; i < orphans->len; i++)
    {
      const gchar *name = g_ptr_array_index (orphans, i);
      json_object *record = g_hash_table_lookup (records, name);
      g_autofree gchar *user_id = g_strdup_printf ("@%s:" SERVER_NAME, name);

      g_assert_cmpstr (record_status (records, name), ==, "exists");
      g_assert_nonnull (strstr (json_object_get_string (json_object_object_get (record, "error")),
                                "was killed while creating this account"));
      /* left as it was: not deactivated, no second room */
      g_assert_false (test_homeserver_user_is_deactivated (f->hs, user_id));
    }
  g_assert_cmpuint (assert_created_accounts (f, records), ==, 4);
  /* the two stuck createRooms were never carried out */
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 4);
  /* a batch that ends removes its journal */
  g_assert_false (g_file_test (f->journal, G_FILE_TEST_EXISTS));
}

/* The disk fails under the output (every fdatasync answers EIO): the batch
 * stops, says why, exits 74 and keeps its journal; once the disk is back, a
 * --resume finishes the job with every account provisioned exactly once.
 * The server takes 40 ms a request, so the batch lasts over a second and its
 * syncer meets the failure while workers are busy. */
static void
test_batch_output_sync_fails (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) input = g_string_new (NULL);
  g_autofree gchar *preload = g_build_filename (g_getenv ("MXPROV_PRELOAD_DIR"),
                                                "fail-fdatasync.so", NULL);
  g_autofree gchar *preload_env = g_strconcat ("LD_PRELOAD=", preload, NULL);
  /* an ASan build insists on its runtime coming first */
  const gchar *asan_options = g_getenv ("ASAN_OPTIONS");
  g_autofree gchar *asan_env = g_strdup_printf ("ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                                                asan_options != NULL ? asan_options : "",
                                                asan_options != NULL ? ":" : "");
  const gchar *const env[] = { preload_env, asan_env, NULL };
  g_auto(GStrv) args = batch_args (f, FALSE, "2", FALSE);
  g_auto(GStrv) resume_args = batch_args (f, FALSE, "2", TRUE);
  g_autoptr(RunResult) failed = NULL;
  g_autoptr(RunResult) resumed = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  g_assert_true (g_file_test (preload, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < 12; i++)
    g_string_append_printf (input, "disk%02u\n", i);
  g_assert_true (g_file_set_contents (f->input, input->str, -1, NULL));
  test_homeserver_set_request_delay (f->hs, 40);

  failed = run_mxprov ((const gchar *const *) args, NULL, env, FALSE);
  g_assert_cmpint (failed->exit_code, ==, EX_IOERR);
  assert_contains (failed->err, "warning: stopping the batch: cannot save the output file: Input/output error");
  assert_contains (failed->err, "error: cannot save the output file: Input/output error; once the disk is fixed, re-run with --resume");
  g_assert_true (g_file_test (f->journal, G_FILE_TEST_EXISTS));
  test_homeserver_set_request_delay (f->hs, 0);

  resumed = run_mxprov ((const gchar *const *) resume_args, NULL, NULL, FALSE);
  g_assert_cmpint (resumed->exit_code, ==, 0);
  records = read_records (f->output);
  g_assert_cmpuint (g_hash_table_size (records), ==, 12);
  g_assert_cmpuint (assert_created_accounts (f, records), ==, 12);
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 12);
  g_assert_false (g_file_test (f->journal, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/batch/mixed", Fixture, NULL, setup, test_batch_mixed, teardown);
  g_test_add ("/batch/bundle-version-2", Fixture, NULL, setup, test_batch_bundle_version_2, teardown);
  g_test_add ("/batch/admin-token", Fixture, NULL, setup, test_batch_admin_token, teardown);
  g_test_add ("/batch/stdin-and-existing-output", Fixture, NULL, setup,
              test_batch_stdin_and_existing_output, teardown);
  g_test_add ("/batch/interrupted-and-resumed", Fixture, NULL, setup,
              test_batch_interrupted_and_resumed, teardown);
  g_test_add ("/batch/killed-and-resumed", Fixture, NULL, setup,
              test_batch_killed_and_resumed, teardown);
  g_test_add ("/batch/output-sync-fails", Fixture, NULL, setup,
              test_batch_output_sync_fails, teardown);
  return g_test_run ();
}
