/* test-accounts.c: status, revoke and reissue, the real mxprov binary
 * against the test homeserver, on accounts mxprov provisioned earlier and
 * that the Lotti app then used the way it does: a password login, then a
 * password change through POST /account/password with user-interactive
 * auth (backends-2026.md 5.2). */
#include "config.h"

#include <string.h>
#include <sysexits.h>
#include <curl/curl.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define ADMIN_PASSWORD "accounts admin password"
#define SERVER_NAME "accounts.test"
#define SECRET "accounts shared secret"
#define APP_PASSWORD "the app's own rotated password"

typedef struct {
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *password_file;
  gchar *shared_secret_config; /* a shared-secret pipeline, for the tests that want it */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *secret_file = NULL;
  g_autofree gchar *config = NULL;

  f->hs = test_homeserver_new (SERVER_NAME);
  test_homeserver_add_user (f->hs, "admin", ADMIN_PASSWORD, TRUE);
  test_homeserver_add_user (f->hs, "someone", "someone's password", FALSE);
  /* every mxprov run logs the admin in once: no waiting out Synapse's limit */
  test_homeserver_set_login_rate_limit (f->hs, FALSE);
  test_homeserver_set_registration_secret (f->hs, SECRET);
  g_assert_true (test_homeserver_start (f->hs, &error));
  f->tmpdir = g_dir_make_tmp ("mxprov-accounts-XXXXXX", &error);
  g_assert_no_error (error);
  f->password_file = g_build_filename (f->tmpdir, "admin-password", NULL);
  g_assert_true (g_file_set_contents (f->password_file, ADMIN_PASSWORD "\n", -1, NULL));
  g_chmod (f->password_file, 0600);
  secret_file = g_build_filename (f->tmpdir, "secret", NULL);
  g_assert_true (g_file_set_contents (secret_file, SECRET "\n", -1, NULL));
  g_chmod (secret_file, 0600);
  f->shared_secret_config = g_build_filename (f->tmpdir, "shared-secret.conf", NULL);
  config = g_strdup_printf ("[pipeline]\nsteps=auth;user;room;bundle\n"
                            "[auth]\nplugin=shared-secret-auth\nsecret-file=%s\n"
                            "[user]\nplugin=shared-secret-user\n[room]\nplugin=matrix-room\n"
                            "[bundle]\nplugin=lotti-bundle\nversion=2\n", secret_file);
  g_assert_true (g_file_set_contents (f->shared_secret_config, config, -1, NULL));
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (f->tmpdir, 0, NULL);
  const gchar *name;

  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (f->tmpdir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->password_file);
  g_free (f->shared_secret_config);
}

/* `mxprov COMMAND --homeserver URL --admin-user admin --admin-password-file F`
 * (or, with `config`, that config's pipeline), then `extra`. */
static RunResult *
run_admin (Fixture *f, const gchar *command, const gchar *config, const gchar *const *extra)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();

  g_ptr_array_add (args, (gpointer) command);
  g_ptr_array_add (args, (gpointer) "--homeserver");
  g_ptr_array_add (args, (gpointer) test_homeserver_get_url (f->hs));
  if (config != NULL)
    {
      g_ptr_array_add (args, (gpointer) "--config");
      g_ptr_array_add (args, (gpointer) config);
    }
  else
    {
      g_ptr_array_add (args, (gpointer) "--admin-user");
      g_ptr_array_add (args, (gpointer) "admin");
      g_ptr_array_add (args, (gpointer) "--admin-password-file");
      g_ptr_array_add (args, f->password_file);
    }
  for (gsize i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  return run_mxprov ((const gchar *const *) args->pdata, NULL, NULL, FALSE);
}

/* Provision `localpart` (version 2) and keep its bundle in a 0600 file. */
static gchar *
provision (Fixture *f, const gchar *config, const gchar *localpart, MxprovBundle **out_bundle)
{
  const gchar *extra[] = { "--username", localpart, "--bundle-version", "2", NULL };
  g_autoptr(RunResult) r = run_admin (f, "provision", config, extra);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *name = g_strdup_printf ("%s.bundle", localpart);
  gchar *path = g_build_filename (f->tmpdir, name, NULL);

  g_assert_cmpint (r->exit_code, ==, 0);
  g_strstrip (r->out);
  g_assert_true (g_file_set_contents (path, r->out, -1, NULL));
  g_chmod (path, 0600);
  if (out_bundle != NULL)
    {
      *out_bundle = mxprov_bundle_decode (r->out, &error);
      g_assert_no_error (error);
    }
  return path;
}

/* --- a client in-process, as the Lotti app talks to the server --------- */

static size_t
collect_cb (char *data, size_t size, size_t nmemb, void *user_data)
{
  g_string_append_len (user_data, data, (gssize) (size * nmemb));
  return size * nmemb;
}

/* One request; the answer's JSON (or NULL) and its status. */
static json_object *
request (Fixture *f, const gchar *method, const gchar *path, const gchar *token,
         const gchar *body, long *out_status)
{
  g_autofree gchar *url = g_strconcat (test_homeserver_get_url (f->hs), path, NULL);
  g_autofree gchar *auth = token != NULL ? g_strdup_printf ("Authorization: Bearer %s", token) : NULL;
  g_autoptr(GString) answer = g_string_new (NULL);
  struct curl_slist *headers = NULL;
  CURL *curl = curl_easy_init ();
  long status = 0;

  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, collect_cb);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, answer);
  if (auth != NULL)
    headers = curl_slist_append (headers, auth);
  headers = curl_slist_append (headers, "Content-Type: application/json");
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
  g_assert_cmpint (curl_easy_perform (curl), ==, CURLE_OK);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
  if (out_status != NULL)
    *out_status = status;
  return json_tokener_parse (answer->str);
}

/* A password login like the app's (full user ID, a device display name):
 * its token, or NULL with the status when refused. */
static gchar *
login (Fixture *f, const gchar *user_id, const gchar *password, long *out_status)
{
  g_autofree gchar *body = g_strdup_printf ("{\"type\":\"m.login.password\",\"identifier\":"
                                            "{\"type\":\"m.id.user\",\"user\":\"%s\"},"
                                            "\"password\":\"%s\","
                                            "\"initial_device_display_name\":\"Lotti desktop\"}",
                                            user_id, password);
  g_autoptr(json_object) answer = request (f, "POST", "/_matrix/client/v3/login", NULL, body,
                                           out_status);
  json_object *token = NULL;

  if (answer == NULL || !json_object_object_get_ex (answer, "access_token", &token))
    return NULL;
  return g_strdup (json_object_get_string (token));
}

/* What the app does with a provisioned bundle (5.2): log in, then change
 * the password with the old one as user-interactive auth and no
 * logout_devices (the server default). The app's device stays. */
static void
app_ingests (Fixture *f, const MxprovBundle *bundle)
{
  g_autofree gchar *token = login (f, bundle->user, bundle->password, NULL);
  g_autofree gchar *body = NULL;
  g_autoptr(json_object) answer = NULL;
  long status = 0;

  g_assert_nonnull (token);
  body = g_strdup_printf ("{\"auth\":{\"type\":\"m.login.password\",\"identifier\":"
                          "{\"type\":\"m.id.user\",\"user\":\"%s\"},\"password\":\"%s\"},"
                          "\"new_password\":\"" APP_PASSWORD "\"}", bundle->user, bundle->password);
  answer = request (f, "POST", "/_matrix/client/v3/account/password", token, body, &status);
  g_assert_cmpint (status, ==, 200);
}

static gboolean
password_logs_in (Fixture *f, const gchar *user_id, const gchar *password)
{
  long status = 0;
  g_autofree gchar *token = login (f, user_id, password, &status);
  g_autoptr(json_object) answer = NULL;

  if (token == NULL)
    return FALSE;
  /* leave no device behind */
  answer = request (f, "POST", "/_matrix/client/v3/logout", token, "{}", &status);
  g_assert_cmpint (status, ==, 200);
  return TRUE;
}

static gchar *
admin_token (Fixture *f)
{
  g_autofree gchar *token = login (f, "@admin:" SERVER_NAME, ADMIN_PASSWORD, NULL);
  g_assert_nonnull (token);
  return g_steal_pointer (&token);
}

static void
put_json (gpointer obj)
{
  json_object_put (obj);
}

/* `mxprov status --format json` lines, by user ID */
static GHashTable *
parse_json_lines (const gchar *out)
{
  GHashTable *by_user = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               put_json);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++)
    {
      json_object *obj;

      if (*lines[i] == '\0')
        continue;
      obj = json_tokener_parse (lines[i]);
      g_assert_nonnull (obj);
      g_hash_table_insert (by_user,
                           g_strdup (json_object_get_string (json_object_object_get (obj, "user"))),
                           obj);
    }
  return by_user;
}

static const gchar *
member (GHashTable *by_user, const gchar *user_id, const gchar *name)
{
  json_object *obj = g_hash_table_lookup (by_user, user_id);

  if (obj == NULL)
    g_error ("no line for %s", user_id);
  return json_object_get_string (json_object_object_get (obj, name));
}

/* --- status ----------------------------------------------------------- */

/* Every state, each made the way it comes about, and nothing changed by
 * looking: no login as any of the users, no write request. */
static void
test_status_every_state (Fixture *f, gconstpointer data)
{
  g_autoptr(MxprovBundle) fresh = NULL, used = NULL, gone = NULL, roomless = NULL;
  g_autoptr(MxprovBundle) left = NULL, doubled = NULL;
  g_autofree gchar *fresh_file = provision (f, NULL, "fresh", &fresh);
  g_autofree gchar *used_file = provision (f, NULL, "used", &used);
  g_autofree gchar *gone_file = provision (f, NULL, "gone", &gone);
  g_autofree gchar *roomless_file = provision (f, NULL, "roomless", &roomless);
  g_autofree gchar *left_file = provision (f, NULL, "left", &left);
  g_autofree gchar *doubled_file = provision (f, NULL, "doubled", &doubled);
  g_autofree gchar *admin = admin_token (f);
  g_autofree gchar *token = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *fresh_password_before = NULL;
  g_autofree gchar *fresh_password_after = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(RunResult) r = NULL;
  g_autoptr(RunResult) table = NULL;
  json_object *devices;
  guint logins_before, puts_before, posts_before, login_as_before;
  long status = 0;

  /* used: the app logged in and rotated the password */
  app_ingests (f, used);
  /* gone: an admin deactivated it */
  escaped = g_uri_escape_string (gone->user, NULL, FALSE);
  path = g_strdup_printf ("/_synapse/admin/v1/deactivate/%s", escaped);
  g_clear_pointer (&answer, json_object_put);
  answer = request (f, "POST", path, admin, "{\"erase\":true}", &status);
  g_assert_cmpint (status, ==, 200);
  /* roomless: its room was deleted and purged */
  g_free (escaped);
  g_free (path);
  escaped = g_uri_escape_string (roomless->room_id, NULL, FALSE);
  path = g_strdup_printf ("/_synapse/admin/v1/rooms/%s", escaped);
  g_clear_pointer (&answer, json_object_put);
  answer = request (f, "DELETE", path, admin, "{\"purge\":true}", &status);
  g_assert_cmpint (status, ==, 200);
  /* left: it left its room (and its login was logged out again) */
  token = login (f, left->user, left->password, NULL);
  g_free (escaped);
  g_free (path);
  escaped = g_uri_escape_string (left->room_id, NULL, FALSE);
  path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", escaped);
  g_clear_pointer (&answer, json_object_put);
  answer = request (f, "POST", path, token, "{}", &status);
  g_assert_cmpint (status, ==, 200);
  g_clear_pointer (&answer, json_object_put);
  answer = request (f, "POST", "/_matrix/client/v3/logout", token, "{}", &status);
  g_clear_pointer (&token, g_free);
  /* doubled: a second marked room */
  token = login (f, doubled->user, doubled->password, NULL);
  g_clear_pointer (&answer, json_object_put);
  answer = request (f, "POST", "/_matrix/client/v3/createRoom", token,
                    "{\"initial_state\":[{\"type\":\"m.lotti.sync_room\",\"state_key\":\"\","
                    "\"content\":{\"version\":1}}]}", &status);
  g_assert_cmpint (status, ==, 200);
  g_clear_pointer (&answer, json_object_put);
  answer = request (f, "POST", "/_matrix/client/v3/logout", token, "{}", &status);

  fresh_password_before = test_homeserver_get_user_password (f->hs, fresh->user);
  logins_before = test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login");
  puts_before = test_homeserver_count_requests (f->hs, "PUT", "/*");
  posts_before = test_homeserver_count_requests (f->hs, "POST", "/*");
  login_as_before = test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/users/*");
  {
    const gchar *extra[] = { "--format", "json", "fresh", "@used:" SERVER_NAME, "gone", "roomless",
                             "--bundle", left_file, "doubled", "@never:" SERVER_NAME, NULL };
    r = run_admin (f, "status", NULL, extra);
  }
  g_assert_cmpint (r->exit_code, ==, 1);
  lines = parse_json_lines (r->out);
  g_assert_cmpuint (g_hash_table_size (lines), ==, 7);
  g_assert_cmpstr (member (lines, fresh->user, "state"), ==, "unused");
  g_assert_cmpstr (member (lines, fresh->user, "room"), ==, fresh->room_id);
  g_assert_cmpstr (member (lines, used->user, "state"), ==, "in-use");
  devices = json_object_object_get (g_hash_table_lookup (lines, used->user), "devices");
  g_assert_cmpuint (json_object_array_length (devices), ==, 1);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (json_object_array_get_idx (devices, 0),
                                                                   "display_name")), ==, "Lotti desktop");
  assert_contains (member (lines, used->user, "detail"), "Lotti desktop");
  g_assert_cmpstr (member (lines, gone->user, "state"), ==, "deactivated");
  g_assert_cmpstr (member (lines, roomless->user, "state"), ==, "problem");
  assert_contains (member (lines, roomless->user, "detail"), "joined to no marked sync room");
  g_assert_cmpstr (member (lines, left->user, "state"), ==, "problem");
  assert_contains (member (lines, left->user, "detail"), "not joined to its room");
  g_assert_cmpstr (member (lines, doubled->user, "state"), ==, "problem");
  assert_contains (member (lines, doubled->user, "detail"), "joined to 2 marked sync rooms");
  g_assert_cmpstr (member (lines, "@never:" SERVER_NAME, "state"), ==, "missing");
  assert_contains (r->err, "status: 7 accounts: 1 unused, 1 in-use, 1 deactivated, 1 missing, 3 problem");

  /* looking changed nothing: one login (the admin's), no write but its logout */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"),
                    ==, logins_before + 1);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "PUT", "/*"), ==, puts_before);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/*"), ==, posts_before + 2);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/users/*"),
                    ==, login_as_before);
  fresh_password_after = test_homeserver_get_user_password (f->hs, fresh->user);
  g_assert_cmpstr (fresh_password_after, ==, fresh_password_before);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, fresh->user), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, used->user), ==, 1);

  /* the table, and exit 0 when every account is unused or in use */
  {
    const gchar *extra[] = { "fresh", "used", NULL };
    table = run_admin (f, "status", NULL, extra);
  }
  g_assert_cmpint (table->exit_code, ==, 0);
  g_assert_true (g_str_has_prefix (table->out, "USER "));
  assert_contains (table->out, "@fresh:" SERVER_NAME "  unused  no device; room ");
  assert_contains (table->out, "@used:" SERVER_NAME "   in-use  1 device: Lotti desktop (");
}

/* A status request needs accounts, and refuses bad names before any request. */
static void
test_status_usage (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *bad[] = { "Not A Name", NULL };
  const gchar *format[] = { "--format", "xml", "fresh", NULL };
  g_autoptr(RunResult) r1 = run_admin (f, "status", NULL, none);
  g_autoptr(RunResult) r2 = run_admin (f, "status", NULL, bad);
  g_autoptr(RunResult) r3 = run_admin (f, "status", NULL, format);

  g_assert_cmpint (r1->exit_code, ==, EX_USAGE);
  assert_contains (r1->err, "name the accounts");
  g_assert_cmpint (r2->exit_code, ==, EX_DATAERR);
  g_assert_cmpint (r3->exit_code, ==, EX_USAGE);
  assert_contains (r3->err, "--format must be table or json");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
}

/* --- revoke ----------------------------------------------------------- */

static void
assert_revoked (Fixture *f, const MxprovBundle *bundle, const gchar *password)
{
  long status = 0;
  g_autofree gchar *token = NULL;

  g_assert_true (test_homeserver_user_is_deactivated (f->hs, bundle->user));
  g_assert_false (test_homeserver_room_exists (f->hs, bundle->room_id));
  token = login (f, bundle->user, password, &status);
  g_assert_null (token);
  g_assert_cmpint (status, ==, 403);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, bundle->user), ==, 0);
}

static void
test_revoke (Fixture *f, gconstpointer data)
{
  g_autoptr(MxprovBundle) fresh = NULL, used = NULL;
  g_autofree gchar *fresh_file = provision (f, NULL, "fresh", &fresh);
  g_autofree gchar *used_file = provision (f, NULL, "used", &used);
  g_autoptr(RunResult) r1 = NULL, r2 = NULL, r3 = NULL;
  g_autoptr(GHashTable) lines = NULL;

  app_ingests (f, used);

  /* no terminal and no --yes: refused before any request */
  {
    const gchar *extra[] = { "fresh", NULL };
    guint before = test_homeserver_count_requests (f->hs, NULL, "/*");
    r1 = run_admin (f, "revoke", NULL, extra);
    g_assert_cmpint (r1->exit_code, ==, EX_USAGE);
    assert_contains (r1->err, "confirm on a terminal, or give --yes");
    g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, before);
    g_assert_false (test_homeserver_user_is_deactivated (f->hs, fresh->user));
  }
  /* --unused-only: the account in use is kept, and so is an admin's */
  {
    const gchar *extra[] = { "--yes", "--unused-only", "--format", "json", "used", "admin", NULL };
    r2 = run_admin (f, "revoke", NULL, extra);
  }
  g_assert_cmpint (r2->exit_code, ==, 1);
  lines = parse_json_lines (r2->out);
  g_assert_cmpstr (member (lines, used->user, "result"), ==, "skipped");
  g_assert_cmpstr (member (lines, "@admin:" SERVER_NAME, "result"), ==, "refused");
  assert_contains (member (lines, "@admin:" SERVER_NAME, "detail"), "server admin");
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, used->user));
  g_assert_true (test_homeserver_room_exists (f->hs, used->room_id));
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, "@admin:" SERVER_NAME));

  /* both taken back: deactivated, room deleted and purged, bundle dead */
  {
    const gchar *extra[] = { "--yes", "--bundle", fresh_file, "used", NULL };
    r3 = run_admin (f, "revoke", NULL, extra);
  }
  g_assert_cmpint (r3->exit_code, ==, 0);
  assert_contains (r3->out, "@fresh:" SERVER_NAME "  unused  revoked");
  assert_contains (r3->out, "@used:" SERVER_NAME "   in-use  revoked");
  assert_contains (r3->err, "revoke: 2 revoked, 0 refused or skipped, 0 failed");
  assert_contains (r3->err, "the name stays taken");
  assert_revoked (f, fresh, fresh->password);
  assert_revoked (f, used, APP_PASSWORD);
  /* the admin's sessions are gone too */
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@admin:" SERVER_NAME), ==, 0);
}

/* An account that is not a sync account mxprov made is refused. */
static void
test_revoke_refuses_non_sync_account (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--yes", "someone", "@never:" SERVER_NAME, NULL };
  g_autoptr(RunResult) r = run_admin (f, "revoke", NULL, extra);

  g_assert_cmpint (r->exit_code, ==, 1);
  assert_contains (r->out, "refused");
  assert_contains (r->out, "joined to no marked sync room");
  assert_contains (r->out, "no such account");
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, "@someone:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/deactivate/*"), ==, 0);
}

/* An undo step the server refuses: the rest still runs, the warning says
 * what is left, and the exit status (75) says to run revoke again. */
static void
test_revoke_undo_fails (Fixture *f, gconstpointer data)
{
  const TestFault broken = { .kind = TEST_FAULT_STATUS, .status = 500,
                             .body = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Internal server error\"}" };
  g_autoptr(MxprovBundle) fresh = NULL;
  g_autofree gchar *fresh_file = provision (f, NULL, "fresh", &fresh);
  const gchar *extra[] = { "--yes", "fresh", "--retries", "0", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "DELETE", "/_synapse/admin/v1/rooms/*", 0, 100, &broken);
  r = run_admin (f, "revoke", NULL, extra);
  g_assert_cmpint (r->exit_code, ==, EX_TEMPFAIL);
  assert_contains (r->err, "matrix-room: rollback failed");
  assert_contains (r->err, "was not fully revoked");
  assert_contains (r->out, "failed");
  g_assert_true (test_homeserver_room_exists (f->hs, fresh->room_id));
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, fresh->user));
}

/* --- reissue ---------------------------------------------------------- */

static void
test_reissue (Fixture *f, gconstpointer data)
{
  g_autoptr(MxprovBundle) fresh = NULL, used = NULL, reissued = NULL;
  g_autofree gchar *fresh_file = provision (f, NULL, "fresh", &fresh);
  g_autofree gchar *used_file = provision (f, NULL, "used", &used);
  g_autofree gchar *new_file = g_build_filename (f->tmpdir, "new.bundle", NULL);
  g_autofree gchar *raw = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *app_password = NULL;
  g_autoptr(RunResult) r1 = NULL, r2 = NULL, r3 = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  app_ingests (f, used);
  {
    const gchar *extra[] = { "fresh", "--bundle-version", "2", "--output", new_file, NULL };
    r1 = run_admin (f, "reissue", NULL, extra);
  }
  g_assert_cmpint (r1->exit_code, ==, 0);
  assert_contains (r1->err, "reissued @fresh:" SERVER_NAME);
  assert_contains (r1->err, "the old bundle no longer logs in");
  g_assert_cmpint (g_stat (new_file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (new_file, &text, NULL, NULL));
  reissued = mxprov_bundle_decode (text, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reissued->version, ==, 2);
  g_assert_cmpstr (reissued->user, ==, fresh->user);
  g_assert_cmpstr (reissued->room_id, ==, fresh->room_id);
  g_assert_cmpstr (reissued->password, !=, fresh->password);
  /* the old password is refused, the new bundle verifies */
  g_assert_false (password_logs_in (f, fresh->user, fresh->password));
  {
    const gchar *args[] = { "verify", new_file, NULL };
    g_autoptr(RunResult) v = run_mxprov (args, NULL, NULL, FALSE);
    g_assert_cmpint (v->exit_code, ==, 0);
    assert_not_contains (v->out, "FAIL");
  }
  /* only the password changed: logout_devices false, one room still */
  raw = test_homeserver_get_raw_requests (f->hs);
  assert_contains (raw, "\"logout_devices\":false");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/reset_password/*"), ==, 1);
  g_assert_true (test_homeserver_room_is_joined (f->hs, fresh->room_id, fresh->user));

  /* an account in use is refused: the app's password stays */
  {
    const gchar *extra[] = { "used", NULL };
    r2 = run_admin (f, "reissue", NULL, extra);
  }
  g_assert_cmpint (r2->exit_code, ==, EX_CANTCREAT);
  assert_contains (r2->err, "is in use");
  assert_contains (r2->err, "--force");
  g_assert_cmpstr (r2->out, ==, "");
  app_password = test_homeserver_get_user_password (f->hs, used->user);
  g_assert_cmpstr (app_password, ==, APP_PASSWORD);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/reset_password/*"), ==, 1);

  /* a missing account is an answer, as in status: exit 1 */
  {
    const gchar *extra[] = { "@never:" SERVER_NAME, NULL };
    g_autoptr(RunResult) missing = run_admin (f, "reissue", NULL, extra);
    g_assert_cmpint (missing->exit_code, ==, 1);
    assert_contains (missing->err, "is missing (no such account)");
  }

  /* --force does it, and says what it breaks; the app's device stays */
  {
    const gchar *extra[] = { "used", "--force", "--format", "json", NULL };
    r3 = run_admin (f, "reissue", NULL, extra);
  }
  g_assert_cmpint (r3->exit_code, ==, 0);
  assert_contains (r3->err, "--force: @used:" SERVER_NAME " is in use");
  g_assert_true (g_str_has_prefix (r3->out, "{\"v\":1,\"homeServer\":"));
  g_assert_false (password_logs_in (f, used->user, APP_PASSWORD));
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, used->user), ==, 1);
}

/* --- a batch's output -------------------------------------------------- */

static void
test_batch_output (Fixture *f, gconstpointer data)
{
  g_autofree gchar *input = g_build_filename (f->tmpdir, "accounts.txt", NULL);
  g_autofree gchar *output = g_build_filename (f->tmpdir, "bundles.jsonl", NULL);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) records = NULL;
  g_autoptr(MxprovBundle) used = NULL;
  g_autoptr(MxprovBundle) kept = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(RunResult) b = NULL, s = NULL, i = NULL, v = NULL;

  g_assert_true (g_file_set_contents (input, "team1\nteam2\nteam3\nsomeone\n", -1, NULL));
  {
    const gchar *extra[] = { "--input", input, "--output", output, "--bundle-version", "2", "-j", "2", NULL };
    b = run_admin (f, "batch", NULL, extra);
  }
  g_assert_cmpint (b->exit_code, ==, EX_CANTCREAT); /* someone existed */
  g_assert_true (g_file_get_contents (output, &contents, NULL, NULL));
  records = g_strsplit (contents, "\n", -1);
  for (gsize k = 0; records[k] != NULL; k++)
    {
      g_autoptr(json_object) record = json_tokener_parse (records[k]);
      const gchar *user;

      if (record == NULL)
        continue;
      user = json_object_get_string (json_object_object_get (record, "user"));
      if (g_strcmp0 (user, "@team2:" SERVER_NAME) == 0)
        used = mxprov_bundle_decode (json_object_get_string (json_object_object_get (record, "bundle")), &error);
      if (g_strcmp0 (user, "@team3:" SERVER_NAME) == 0)
        kept = mxprov_bundle_decode (json_object_get_string (json_object_object_get (record, "bundle")), &error);
    }
  g_assert_no_error (error);
  g_assert_nonnull (used);
  g_assert_nonnull (kept);
  app_ingests (f, used);

  /* status of the batch's accounts: its "exists" record is not one of them */
  {
    const gchar *extra[] = { "--input", output, "--format", "json", NULL };
    s = run_admin (f, "status", NULL, extra);
  }
  g_assert_cmpint (s->exit_code, ==, 0);
  lines = parse_json_lines (s->out);
  g_assert_cmpuint (g_hash_table_size (lines), ==, 3);
  g_assert_cmpstr (member (lines, "@team1:" SERVER_NAME, "state"), ==, "unused");
  g_assert_cmpstr (member (lines, "@team2:" SERVER_NAME, "state"), ==, "in-use");
  g_assert_false (g_hash_table_contains (lines, "@someone:" SERVER_NAME));
  assert_contains (s->err, "not \"created\"");

  /* reissue one of them, named, its old bundle taken from the batch output */
  {
    const gchar *extra[] = { "team3", "--input", output, NULL };
    i = run_admin (f, "reissue", NULL, extra);
  }
  g_assert_cmpint (i->exit_code, ==, 0);
  g_assert_false (password_logs_in (f, kept->user, kept->password));

  /* revoke what the app has not used; the used one stays */
  {
    const gchar *extra[] = { "--input", output, "--unused-only", "--yes", NULL };
    v = run_admin (f, "revoke", NULL, extra);
  }
  g_assert_cmpint (v->exit_code, ==, 1);
  assert_contains (v->err, "revoke: 2 revoked, 1 refused or skipped, 0 failed");
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@team1:" SERVER_NAME));
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@team3:" SERVER_NAME));
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, "@team2:" SERVER_NAME));
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, "@someone:" SERVER_NAME));
}

/* --- a backend without an admin API ------------------------------------- */

static void
test_shared_secret (Fixture *f, gconstpointer data)
{
  g_autoptr(MxprovBundle) fresh = NULL, used = NULL;
  g_autofree gchar *fresh_file = provision (f, f->shared_secret_config, "ssfresh", &fresh);
  g_autofree gchar *used_file = provision (f, f->shared_secret_config, "ssused", &used);
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(RunResult) s1 = NULL, s2 = NULL, v1 = NULL, v2 = NULL, re = NULL;

  app_ingests (f, used);
  {
    const gchar *extra[] = { "--bundle", fresh_file, "--bundle", used_file, "--format", "json", NULL };
    s1 = run_admin (f, "status", f->shared_secret_config, extra);
  }
  g_assert_cmpint (s1->exit_code, ==, 0);
  lines = parse_json_lines (s1->out);
  g_assert_cmpstr (member (lines, fresh->user, "state"), ==, "unused");
  g_assert_cmpstr (member (lines, fresh->user, "room"), ==, fresh->room_id);
  g_assert_cmpstr (member (lines, used->user, "state"), ==, "in-use");
  assert_contains (member (lines, used->user, "detail"), "no longer logs in");
  /* the check login was logged out again */
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, fresh->user), ==, 0);

  /* without a bundle there is nothing to go on */
  {
    const gchar *extra[] = { fresh->user, NULL };
    s2 = run_admin (f, "status", f->shared_secret_config, extra);
  }
  g_assert_cmpint (s2->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (s2->err, "give its bundle");

  /* the unused one deactivates itself; the used one needs an admin */
  {
    const gchar *extra[] = { "--yes", "--bundle", fresh_file, NULL };
    v1 = run_admin (f, "revoke", f->shared_secret_config, extra);
  }
  g_assert_cmpint (v1->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, fresh->user));
  g_assert_true (test_homeserver_room_is_forgotten (f->hs, fresh->room_id, fresh->user));
  {
    const gchar *extra[] = { "--yes", "--bundle", used_file, NULL };
    v2 = run_admin (f, "revoke", f->shared_secret_config, extra);
  }
  g_assert_cmpint (v2->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (v2->err, "a server admin must deactivate it");
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, used->user));

  /* reissue needs a backend that can set a password */
  {
    const gchar *extra[] = { "--bundle", used_file, NULL };
    re = run_admin (f, "reissue", f->shared_secret_config, extra);
  }
  g_assert_cmpint (re->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (re->err, "not supported by shared-secret-user");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add ("/accounts/" path, Fixture, NULL, setup, func, teardown)
  ADD ("status/every-state", test_status_every_state);
  ADD ("status/usage", test_status_usage);
  ADD ("revoke/unused-and-in-use", test_revoke);
  ADD ("revoke/refuses-non-sync-account", test_revoke_refuses_non_sync_account);
  ADD ("revoke/undo-fails", test_revoke_undo_fails);
  ADD ("reissue", test_reissue);
  ADD ("batch-output", test_batch_output);
  ADD ("shared-secret", test_shared_secret);
#undef ADD
  return g_test_run ();
}
