/* test-provision.c: the real mxprov binary against the test homeserver.
 *
 * Each test starts a fresh in-memory homeserver, runs `mxprov provision`
 * as an admin would, then asserts on the exit code, on what stderr says,
 * and on the server's state. */
#include "config.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define ADMIN_PASSWORD "correct horse battery staple"
#define SERVER_NAME "example.test"

typedef struct {
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *password_file;
  gchar *admin_id;
} Fixture;


static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->hs = test_homeserver_new (SERVER_NAME);
  /* tests/test-provision-flavours.sh runs every case on the other Synapse */
  if (g_getenv ("MXPROV_TEST_FLAVOUR") != NULL)
    {
      g_assert_true (test_homeserver_set_flavour_by_name (f->hs, g_getenv ("MXPROV_TEST_FLAVOUR"), &error));
      g_assert_no_error (error);
    }
  test_homeserver_add_user (f->hs, "admin", ADMIN_PASSWORD, TRUE);
  test_homeserver_add_user (f->hs, "eve", "eve-password", FALSE);
  test_homeserver_add_user (f->hs, "taken", "original-password", FALSE);
  g_assert_true (test_homeserver_start (f->hs, &error));
  g_assert_no_error (error);
  f->tmpdir = g_dir_make_tmp ("mxprov-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->password_file = g_build_filename (f->tmpdir, "admin-password", NULL);
  g_assert_true (g_file_set_contents (f->password_file, ADMIN_PASSWORD "\n", -1, NULL));
  g_chmod (f->password_file, 0600);
  f->admin_id = g_strdup ("@admin:" SERVER_NAME);
}

static void
remove_tree (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
  remove_tree (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->password_file);
  g_free (f->admin_id);
}


/* `mxprov provision --homeserver URL --admin-user admin
 * --admin-password-file F` plus `extra` arguments. */
static RunResult *
provision (Fixture *f, const gchar *const *extra)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();

  g_ptr_array_add (args, (gpointer) "provision");
  g_ptr_array_add (args, (gpointer) "--homeserver");
  g_ptr_array_add (args, (gpointer) test_homeserver_get_url (f->hs));
  g_ptr_array_add (args, (gpointer) "--admin-user");
  g_ptr_array_add (args, (gpointer) "admin");
  g_ptr_array_add (args, (gpointer) "--admin-password-file");
  g_ptr_array_add (args, f->password_file);
  for (gsize i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  return run_mxprov_full ((const gchar *const *) args->pdata, NULL, NULL);
}



/* Nothing new on the server: no user besides the three seeded ones, no
 * room, and the admin's login was logged out again. */
static void
assert_nothing_created (Fixture *f)
{
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (f->hs);

  g_assert_cmpuint (test_homeserver_count_users (f->hs), ==, 3);
  g_assert_cmpuint (rooms->len, ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, f->admin_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, f->admin_id), ==, 0);
}

/* Like assert_nothing_created, for a run that made a user and rolled it
 * back: the deactivated account is the only trace (Synapse cannot delete). */
static void
assert_nothing_created_but_deactivated (Fixture *f)
{
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (f->hs);

  g_assert_cmpuint (test_homeserver_count_users (f->hs), ==, 4);
  g_assert_cmpuint (rooms->len, ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, f->admin_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, f->admin_id), ==, 0);
}

static void
assert_complete_account (Fixture *f, const gchar *bundle_text, const gchar *localpart)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (bundle_text, &error);
  g_autofree gchar *user_id = g_strdup_printf ("@%s:%s", localpart, SERVER_NAME);
  g_autofree gchar *password = NULL;
  g_autofree gchar *displayname = NULL;
  g_autofree gchar *creator = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autoptr(json_object) create = NULL;
  g_autoptr(json_object) encryption = NULL;
  g_autoptr(json_object) marker = NULL;
  g_autoptr(json_object) request = NULL;
  json_object *member = NULL;

  g_assert_no_error (error);
  g_assert_true ((bundle->version == 1 && bundle->kind == MXPROV_BUNDLE_KIND_NONE)
                 || (bundle->version == 2 && bundle->kind == MXPROV_BUNDLE_KIND_PROVISIONED));
  g_assert_cmpstr (bundle->home_server, ==, test_homeserver_get_url (f->hs));
  g_assert_cmpstr (bundle->user, ==, user_id);
  g_assert_cmpuint (strlen (bundle->password), ==, 43);

  /* the account exists with exactly that password and is not an admin */
  g_assert_true (test_homeserver_user_exists (f->hs, user_id));
  g_assert_false (test_homeserver_user_is_admin (f->hs, user_id));
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, user_id));
  password = test_homeserver_get_user_password (f->hs, user_id);
  g_assert_cmpstr (password, ==, bundle->password);
  displayname = test_homeserver_get_user_displayname (f->hs, user_id);
  g_assert_nonnull (displayname);

  /* exactly one room, the bundle's, created and joined by the user */
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rooms, 0), ==, bundle->room_id);
  creator = test_homeserver_room_get_creator (f->hs, bundle->room_id);
  g_assert_cmpstr (creator, ==, user_id);
  g_assert_true (test_homeserver_room_is_joined (f->hs, bundle->room_id, user_id));
  g_assert_false (test_homeserver_room_is_joined (f->hs, bundle->room_id, f->admin_id));

  create = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.room.create", "");
  g_assert_nonnull (create);
  g_assert_true (json_object_object_get_ex (create, "m.federate", &member));
  g_assert_true (json_object_is_type (member, json_type_boolean));
  g_assert_false (json_object_get_boolean (member));
  encryption = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.room.encryption", "");
  g_assert_nonnull (encryption);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (encryption, "algorithm")),
                   ==, "m.megolm.v1.aes-sha2");
  marker = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.lotti.sync_room", "");
  g_assert_nonnull (marker);
  g_assert_cmpint (json_object_get_int (json_object_object_get (marker, "version")), ==, 1);

  /* the request was the seed's body */
  request = test_homeserver_room_get_create_request (f->hs, bundle->room_id);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (request, "visibility")), ==, "private");
  g_assert_cmpstr (json_object_get_string (json_object_object_get (request, "preset")), ==, "trusted_private_chat");
  g_assert_cmpstr (json_object_get_string (json_object_object_get (request, "name")), ==, "Lotti Sync");

  /* no session left behind: the admin's device is gone and the user's
   * short-lived token was logged out */
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, f->admin_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, f->admin_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, user_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, user_id), ==, 0);
}

static void
test_happy_path (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "lotti_sync_user42", NULL };
  g_autoptr(RunResult) r = provision (f, extra);
  g_autofree gchar *bundle = NULL;
  g_autofree gchar *displayname = NULL;

  g_assert_cmpint (r->exit_code, ==, 0);
  /* stdout is the bundle and nothing else */
  g_assert_true (g_str_has_suffix (r->out, "\n"));
  bundle = g_strndup (r->out, strlen (r->out) - 1);
  g_assert_null (strchr (bundle, '\n'));
  assert_complete_account (f, bundle, "lotti_sync_user42");
  displayname = test_homeserver_get_user_displayname (f->hs, "@lotti_sync_user42:" SERVER_NAME);
  g_assert_cmpstr (displayname, ==, "Lotti Sync");
  assert_contains (r->err, "provisioned @lotti_sync_user42:" SERVER_NAME);
  /* the one PUT went to the new user, never to anyone else */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "PUT", "/_synapse/admin/v2/users/*"), ==, 1);
}

static void
test_display_name_and_json (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "carol", "--display-name", "Carol's Laptop",
                           "--format", "json", NULL };
  g_autoptr(RunResult) r = provision (f, extra);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autofree gchar *displayname = NULL;
  g_autofree gchar *prefix = NULL;

  g_assert_cmpint (r->exit_code, ==, 0);
  g_strchomp (r->out);
  prefix = g_strdup_printf ("{\"v\":1,\"homeServer\":\"%s\",\"user\":\"@carol:%s\",\"password\":\"",
                            test_homeserver_get_url (f->hs), SERVER_NAME);
  g_assert_true (g_str_has_prefix (r->out, prefix));
  bundle = mxprov_bundle_from_json (r->out, &error);
  g_assert_no_error (error);
  displayname = test_homeserver_get_user_displayname (f->hs, "@carol:" SERVER_NAME);
  g_assert_cmpstr (displayname, ==, "Carol's Laptop");
}

/* --bundle-version 2: the JSON the Lotti app reads, in the reference
 * encoder's key order; the account is the same complete one. Plain http
 * makes the app refuse it: mxprov says so. The default stays version 1,
 * with a warning that current Lotti releases need version 2. */
static void
test_bundle_version_2 (Fixture *f, gconstpointer data)
{
  const gchar *extra_json[] = { "--username", "v2json", "--bundle-version", "2", "--format", "json", NULL };
  const gchar *extra_b64[] = { "--username", "v2b64", "--bundle-version", "2", NULL };
  const gchar *extra_v1[] = { "--username", "v1user", NULL };
  const gchar *extra_bad[] = { "--username", "v9user", "--bundle-version", "9", NULL };
  g_autoptr(RunResult) r1 = provision (f, extra_json);
  g_autoptr(RunResult) r2 = NULL;
  g_autoptr(RunResult) r3 = NULL;
  g_autoptr(RunResult) r4 = NULL;
  g_autofree gchar *prefix = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) from_json = NULL;

  g_assert_cmpint (r1->exit_code, ==, 0);
  g_strchomp (r1->out);
  prefix = g_strdup_printf ("{\"v\":2,\"kind\":\"provisioned\",\"homeServer\":\"%s\","
                            "\"user\":\"@v2json:%s\",\"password\":\"",
                            test_homeserver_get_url (f->hs), SERVER_NAME);
  g_assert_true (g_str_has_prefix (r1->out, prefix));
  from_json = mxprov_bundle_from_json (r1->out, &error);
  g_assert_no_error (error);
  g_assert_cmpint (from_json->kind, ==, MXPROV_BUNDLE_KIND_PROVISIONED);
  assert_contains (r1->err, "the Lotti app would refuse this bundle");
  assert_contains (r1->err, "https://");

  r2 = provision (f, extra_b64);
  g_assert_cmpint (r2->exit_code, ==, 0);
  g_strchomp (r2->out);
  /* unpadded, URL-safe */
  g_assert_null (strpbrk (r2->out, "=+/"));
  {
    g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (r2->out, &error);
    g_assert_no_error (error);
    g_assert_cmpint (bundle->version, ==, 2);
    g_assert_cmpstr (bundle->user, ==, "@v2b64:" SERVER_NAME);
  }

  r3 = provision (f, extra_v1);
  g_assert_cmpint (r3->exit_code, ==, 0);
  assert_contains (r3->err, "current Lotti releases refuse version 1 bundles");
  assert_contains (r3->err, "--bundle-version 2");

  /* a bad version is refused before any request */
  r4 = provision (f, extra_bad);
  g_assert_cmpint (r4->exit_code, ==, EX_USAGE);
  assert_contains (r4->err, "--bundle-version must be 1 or 2, not 9");
  g_assert_false (test_homeserver_user_exists (f->hs, "@v9user:" SERVER_NAME));
}

/* version=2 in [bundle] of a step config does the same; --bundle-version
 * with a bundle plugin that has no such option is refused by name. */
static void
test_bundle_version_config (Fixture *f, gconstpointer data)
{
  g_autofree gchar *conf = g_build_filename (f->tmpdir, "v2.conf", NULL);
  g_autofree gchar *fixture_conf = g_build_filename (f->tmpdir, "fixture.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[pipeline]\nsteps=auth;user;room;bundle\n"
                                            "[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n"
                                            "[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\nversion=2\n");
  g_autofree gchar *no_bundle = g_strdup ("[pipeline]\nsteps=auth;user;room\n"
                                          "[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n"
                                          "[room]\nplugin=matrix-room\n");
  g_autoptr(RunResult) r1 = NULL;
  g_autoptr(RunResult) r2 = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  g_assert_true (g_file_set_contents (fixture_conf, no_bundle, -1, NULL));
  {
    const gchar *extra[] = { "--config", conf, "--username", "fromconf", NULL };
    r1 = provision (f, extra);
  }
  g_assert_cmpint (r1->exit_code, ==, 0);
  {
    g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (g_strstrip (r1->out), &error);
    g_assert_no_error (error);
    g_assert_cmpint (bundle->version, ==, 2);
  }
  {
    const gchar *extra[] = { "--config", fixture_conf, "--username", "nobundle",
                             "--bundle-version", "2", "--check", NULL };
    r2 = provision (f, extra);
  }
  g_assert_cmpint (r2->exit_code, ==, EX_CONFIG);
  assert_contains (r2->err, "--bundle-version: the pipeline of");
  assert_contains (r2->err, "has no bundle step");
}

/* An admin access token instead of a password: no login at all (so no
 * login rate limit, no device), the admin check as before, and the token
 * is never logged out: mxprov did not make it. */
static void
test_admin_token (Fixture *f, gconstpointer data)
{
  g_autofree gchar *token = test_homeserver_issue_token (f->hs, f->admin_id);
  g_autofree gchar *token_file = g_build_filename (f->tmpdir, "admin-token", NULL);
  g_autofree gchar *env_token = g_strdup_printf ("MXPROV_ADMIN_TOKEN=%s", token);
  g_autoptr(RunResult) r1 = NULL, r2 = NULL, r3 = NULL;

  g_assert_true (g_file_set_contents (token_file, token, -1, NULL));
  g_chmod (token_file, 0600);
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--admin-token-file", token_file, "--username", "bytoken", "-vv", NULL };
    r1 = run_mxprov_full (args, NULL, NULL);
  }
  g_assert_cmpint (r1->exit_code, ==, 0);
  g_strstrip (r1->out);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "GET", "/_matrix/client/v3/account/whoami"), ==, 1);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/logout"), ==, 1);
  /* the one logout was the new user's token: the admin's session stays */
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, f->admin_id), ==, 1);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, f->admin_id), ==, 1);
  assert_not_contains (r1->err, token);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (r1->out, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (bundle->user, ==, "@bytoken:" SERVER_NAME);
    g_assert_true (test_homeserver_room_is_joined (f->hs, bundle->room_id, bundle->user));
  }

  /* from the environment, for --check too */
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--username", "checked", "--check", NULL };
    const gchar *env[] = { env_token, NULL };
    r2 = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r2->exit_code, ==, 0);
  assert_contains (r2->err, "and @admin:" SERVER_NAME " is a server admin");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, f->admin_id), ==, 1);

  /* a token the server does not know: said plainly, nothing made */
  g_assert_true (g_file_set_contents (token_file, "syt_not_a_real_token", -1, NULL));
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--admin-token-file", token_file, "--username", "refused", NULL };
    r3 = run_mxprov_full (args, NULL, NULL);
  }
  g_assert_cmpint (r3->exit_code, ==, EX_NOPERM);
  assert_contains (r3->err, "the admin token was refused");
  g_assert_false (test_homeserver_user_exists (f->hs, "@refused:" SERVER_NAME));
}

/* A non-admin's token is refused as a non-admin's password is; two
 * credentials at one level are a usage error, not a guess. */
static void
test_admin_token_refusals (Fixture *f, gconstpointer data)
{
  g_autofree gchar *eve_token = test_homeserver_issue_token (f->hs, "@eve:" SERVER_NAME);
  g_autofree gchar *token_file = g_build_filename (f->tmpdir, "eve-token", NULL);
  g_autoptr(RunResult) r1 = NULL, r2 = NULL, r3 = NULL;
  guint requests;

  g_assert_true (g_file_set_contents (token_file, eve_token, -1, NULL));
  g_chmod (token_file, 0600);
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--admin-token-file", token_file, "--username", "byeve", NULL };
    r1 = run_mxprov_full (args, NULL, NULL);
  }
  g_assert_cmpint (r1->exit_code, ==, EX_NOPERM);
  assert_contains (r1->err, "@eve:" SERVER_NAME " is not a server admin");
  requests = test_homeserver_count_requests (f->hs, NULL, "/*");
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--admin-token-file", token_file, "--admin-password-file",
                            f->password_file, "--username", "both", NULL };
    r2 = run_mxprov_full (args, NULL, NULL);
  }
  g_assert_cmpint (r2->exit_code, ==, EX_USAGE);
  assert_contains (r2->err, "give either --admin-token-file or an admin password, not both");
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--admin-user", "admin", "--username", "both", NULL };
    const gchar *env[] = { "MXPROV_ADMIN_TOKEN=syt_x", "MXPROV_ADMIN_PASSWORD=" ADMIN_PASSWORD, NULL };
    r3 = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r3->exit_code, ==, EX_USAGE);
  assert_contains (r3->err, "both MXPROV_ADMIN_TOKEN and MXPROV_ADMIN_PASSWORD are set");
  /* the usage errors were found before any request */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, requests);
}

/* A secret in the environment wins over a *-file= from a config file; the
 * command line wins over both. */
static void
test_environment_wins_over_config (Fixture *f, gconstpointer data)
{
  g_autofree gchar *conf = g_build_filename (f->tmpdir, "secrets.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[pipeline]\nsteps=auth;user;room;bundle\n"
                                            "[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n"
                                            "[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\n"
                                            "[provision]\nadmin-user=admin\n"
                                            "admin-password-file=%s/no-such-file\n", f->tmpdir);
  g_autoptr(RunResult) r1 = NULL, r2 = NULL;

  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  {
    const gchar *args[] = { "provision", "--config", conf, "--homeserver",
                            test_homeserver_get_url (f->hs), "--username", "envwins", NULL };
    const gchar *env[] = { "MXPROV_ADMIN_PASSWORD=" ADMIN_PASSWORD, NULL };
    r1 = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r1->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_exists (f->hs, "@envwins:" SERVER_NAME));
  {
    const gchar *args[] = { "provision", "--config", conf, "--homeserver",
                            test_homeserver_get_url (f->hs), "--username", "cliwins",
                            "--admin-password-file", f->password_file, NULL };
    const gchar *env[] = { "MXPROV_ADMIN_PASSWORD=not the password", NULL };
    r2 = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r2->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_exists (f->hs, "@cliwins:" SERVER_NAME));
}

static void
test_existing_user_untouched (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "taken", NULL };
  g_autoptr(RunResult) r = provision (f, extra);
  g_autofree gchar *password = NULL;

  g_assert_cmpint (r->exit_code, ==, EX_CANTCREAT);
  assert_contains (r->err, "@taken:" SERVER_NAME " already exists");
  assert_contains (r->err, "synapse-user");
  g_assert_cmpstr (r->out, ==, "");
  password = test_homeserver_get_user_password (f->hs, "@taken:" SERVER_NAME);
  g_assert_cmpstr (password, ==, "original-password");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "PUT", "/_synapse/admin/v2/users/*"), ==, 0);
  assert_nothing_created (f);
}

static void
test_non_admin_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "eve", "--admin-password-file", "-",
                          "--username", "newbie", NULL };

  r = run_mxprov_full (args, "eve-password\n", NULL);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "@eve:" SERVER_NAME " is not a server admin");
  assert_nothing_created (f);
  /* eve's login was logged out again */
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@eve:" SERVER_NAME), ==, 0);
}

static void
test_wrong_admin_password (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--username", "newbie", NULL };
  const gchar *env[] = { "MXPROV_ADMIN_PASSWORD=not-the-password", NULL };

  r = run_mxprov_full (args, NULL, env);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "synapse-auth: admin login as 'admin' refused");
  assert_contains (r->err, "M_FORBIDDEN");
  assert_not_contains (r->err, "not-the-password");
  assert_nothing_created (f);
}

static void
test_invalid_localpart (Fixture *f, gconstpointer data)
{
  const gchar *names[] = { "Bob", "bob smith", "_bot", "12345", "bob+sync", NULL };

  for (gsize i = 0; names[i] != NULL; i++)
    {
      const gchar *extra[] = { "--username", names[i], NULL };
      g_autoptr(RunResult) r = provision (f, extra);

      g_assert_cmpint (r->exit_code, ==, EX_DATAERR);
      assert_contains (r->err, "invalid username");
    }
  /* refused before any request */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
  assert_nothing_created (f);
}

static void
test_server_unreachable (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GInetSocketAddress) any = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree gchar *url = NULL;
  g_autoptr(RunResult) r = NULL;
  guint16 port;
  const gchar *env[] = { "MXPROV_ADMIN_PASSWORD=x", NULL };

  /* A port that was free a moment ago and has no listener now. */
  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  any = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string ("127.0.0.1", 0));
  g_assert_true (g_socket_bind (sock, G_SOCKET_ADDRESS (any), FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL);
  url = g_strdup_printf ("http://127.0.0.1:%u", port);
  {
    const gchar *args[] = { "provision", "--homeserver", url, "--admin-user", "admin",
                            "--username", "newbie", NULL };
    r = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "cannot reach the homeserver");
  assert_contains (r->err, url);
}

static void
test_rate_limited_create_room (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 300 };
  const gchar *extra[] = { "--username", "patient", NULL };
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *bundle = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "rate limited");
  bundle = g_strstrip (g_strdup (r->out));
  assert_complete_account (f, bundle, "patient");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/createRoom"), ==, 2);
}

/* A 429 asking for longer than what is left of --timeout fails at once
 * (exit 75), saying how long the server asked for; for the admin login it
 * names the way around the limit. */
static void
test_rate_limit_longer_than_timeout (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 300000,
                            .retry_after_header = TRUE };
  const gchar *extra[] = { "--username", "later", "--timeout", "20", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/login", 0, 10, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_TEMPFAIL);
  assert_contains (r->err, "the server asks to wait 300 s, longer than what is left of --timeout");
  assert_contains (r->err, "--admin-token-file");
  /* no waiting, no second try */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 1);
  assert_nothing_created (f);
}

static void
test_rate_limit_exhausted (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 50 };
  const gchar *extra[] = { "--username", "impatient", NULL };
  g_autoptr(RunResult) r = NULL;

  /* more 429s than the retries mxprov allows, on the lookup (before any change) */
  test_homeserver_add_fault (f->hs, "GET", "/_synapse/admin/v2/users/*", 0, 10, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_TEMPFAIL);
  assert_contains (r->err, "still rate limited");
  assert_contains (r->err, "M_LIMIT_EXCEEDED");
  assert_nothing_created (f);
}

static void
test_html_502 (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_HTML_502 };
  const gchar *extra[] = { "--username", "behindproxy", NULL };
  g_autoptr(RunResult) r = NULL;

  /* a proxy that stays down: retried, then reported */
  test_homeserver_add_fault (f->hs, "GET", "/_synapse/admin/v2/users/*", 0, 1000, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "synapse-user");
  assert_contains (r->err, "HTTP 502");
  assert_contains (r->err, "text/html");
  assert_contains (r->err, "retrying");
  assert_nothing_created (f);
}

static void
test_html_502_on_versions (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_HTML_502 };
  const gchar *extra[] = { "--username", "behindproxy", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "GET", "/_matrix/client/versions", 0, 1000, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "cannot reach the homeserver");
  assert_contains (r->err, "HTTP 502");
  /* no credential was sent to something that is not a homeserver */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
}

static void
test_output_file (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (f->tmpdir, "bundle.txt", NULL);
  const gchar *extra[] = { "--username", "filed", "--output", path, NULL };
  g_autoptr(RunResult) r = provision (f, extra);
  g_autofree gchar *contents = NULL;
  struct stat st;

  g_assert_cmpint (r->exit_code, ==, 0);
  g_assert_cmpstr (r->out, ==, "");
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  assert_complete_account (f, g_strstrip (contents), "filed");
}

/* An --output that cannot be created is a write failure (74), named, found
 * before any request: not a missing input (66). */
static void
test_output_file_uncreatable (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (f->tmpdir, "no-such-dir", "bundle.txt", NULL);
  const gchar *extra[] = { "--username", "filed", "--output", path, NULL };
  g_autoptr(RunResult) r = provision (f, extra);

  g_assert_cmpint (r->exit_code, ==, EX_IOERR);
  assert_contains (r->err, "cannot create");
  assert_contains (r->err, "no-such-dir");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
}

static void
test_output_file_exists (Fixture *f, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (f->tmpdir, "existing.txt", NULL);
  const gchar *extra[] = { "--username", "filed", "--output", path, NULL };
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *contents = NULL;

  g_assert_true (g_file_set_contents (path, "keep me\n", -1, NULL));
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_CANTCREAT);
  assert_contains (r->err, "already exists");
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "keep me\n");
  /* refused before anything was provisioned, or even asked */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
}

static void
test_check_only (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "checked", "--check", NULL };
  g_autoptr(RunResult) r = provision (f, extra);

  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "check passed");
  assert_contains (r->err, "@admin:" SERVER_NAME);
  /* the probe's report and the pipeline used, at the end of the check */
  assert_contains (r->err, "mxprov: server: Synapse 1.");
  assert_contains (r->err, ": the built-in pipeline (examples/synapse.conf)");
  assert_contains (r->err, "mxprov: step config: built-in default");
  g_assert_cmpstr (r->out, ==, "");
  assert_nothing_created (f);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "PUT", "/*"), ==, 0);
}

static void
test_password_on_command_line_warns (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password", ADMIN_PASSWORD,
                          "--username", "seedstyle", NULL };
  g_autoptr(RunResult) r = run_mxprov_full (args, NULL, NULL);

  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "warning: --admin-password puts the password on the command line");
  g_assert_true (test_homeserver_user_exists (f->hs, "@seedstyle:" SERVER_NAME));
}

/* -v traces every request, and still shows no secret. */
static void
test_verbose_shows_no_secret (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "traced", "-v", "-v", NULL };
  g_autoptr(RunResult) r = provision (f, extra);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autofree gchar *raw = NULL;
  g_auto(GStrv) lines = NULL;
  guint n_tokens = 0;

  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "POST /_matrix/client/v3/login -> 200");
  assert_contains (r->err, "POST /_matrix/client/v3/createRoom -> 200");
  bundle = mxprov_bundle_decode (g_strstrip (r->out), &error);
  g_assert_no_error (error);
  assert_not_contains (r->err, ADMIN_PASSWORD);
  assert_not_contains (r->err, bundle->password);
  /* every bearer token the server saw */
  raw = test_homeserver_get_raw_requests (f->hs);
  lines = g_strsplit (raw, "Bearer ", -1);
  for (gsize i = 1; lines[i] != NULL; i++)
    {
      g_autofree gchar *token = g_strndup (lines[i], strcspn (lines[i], " \r\n\"{"));
      g_assert_cmpuint (strlen (token), >, 8);
      assert_not_contains (r->err, token);
      assert_not_contains (r->out, token);
      n_tokens++;
    }
  g_assert_cmpuint (n_tokens, >=, 5);
}

static void
test_admin_password_from_stdin (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", "-",
                          "--username", "piped", NULL };
  g_autoptr(RunResult) r = run_mxprov_full (args, ADMIN_PASSWORD "\r\n", NULL);

  g_assert_cmpint (r->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_exists (f->hs, "@piped:" SERVER_NAME));
}

static void
test_no_admin_password (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--username", "nopw", NULL };
  g_autoptr(RunResult) r = run_mxprov_full (args, NULL, NULL);

  g_assert_cmpint (r->exit_code, ==, EX_USAGE);
  assert_contains (r->err, "no admin password");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
}

/* Someone creates the account between our lookup and our PUT: Synapse
 * answers 200 and applies the PUT. mxprov must report it, never treat it
 * as provisioned, and create no room for it. */
static void
test_put_answers_200 (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 404,
                            .body = "{\"errcode\":\"M_NOT_FOUND\",\"error\":\"User not found\"}" };
  const gchar *extra[] = { "--username", "taken", NULL };
  g_autoptr(RunResult) r = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  test_homeserver_add_fault (f->hs, "GET", "/_synapse/admin/v2/users/@taken:" SERVER_NAME, 0, 1, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_CANTCREAT);
  assert_contains (r->err, "created by someone else");
  assert_contains (r->err, "HTTP 200");
  g_assert_cmpstr (r->out, ==, "");
  /* no token was asked for it and no room made */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/users/*"), ==, 0);
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 0);
}

static void
test_admin_api_blocked (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 404, .content_type = "text/html",
                            .body = "<html><body><h1>404 Not Found</h1></body></html>" };
  const gchar *extra[] = { "--username", "blocked", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, NULL, "/_synapse/admin/*", 0, 100, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_PROTOCOL);
  assert_contains (r->err, "synapse-auth: the Synapse admin API (/_synapse/admin) is not reachable");
  assert_contains (r->err, "text/html");
  assert_nothing_created (f);
}

static void
test_oidc_server_refused (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "oidc", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_set_password_login (f->hs, FALSE);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "does not offer password login");
  assert_contains (r->err, "OIDC");
  /* the password was never sent */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  assert_nothing_created (f);
}

/* A step config changes the room's name and marker without touching the code. */
static void
test_config_file_options (Fixture *f, gconstpointer data)
{
  g_autofree gchar *conf = g_build_filename (f->tmpdir, "mxprov.conf", NULL);
  g_autofree gchar *text = g_strdup_printf (
    "[pipeline]\nsteps=auth;user;room;bundle\n"
    "[provision]\nhomeserver=%s\nadmin-user=admin\nadmin-password-file=%s\ndisplay-name=From Config\n"
    "[auth]\nplugin=synapse-auth\n"
    "[user]\nplugin=synapse-user\ntoken-lifetime=120\n"
    "[room]\nplugin=matrix-room\nroom-name=Team Sync\nmarker-type=org.example.sync\nmarker-version=7\n"
    "[bundle]\nplugin=lotti-bundle\n",
    test_homeserver_get_url (f->hs), f->password_file);
  const gchar *args[] = { "provision", "--config", conf, "--username", "configured", NULL };
  g_autoptr(RunResult) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(json_object) marker = NULL;
  g_autoptr(json_object) request = NULL;
  g_autofree gchar *displayname = NULL;

  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  r = run_mxprov_full (args, NULL, NULL);
  g_assert_cmpint (r->exit_code, ==, 0);
  bundle = mxprov_bundle_decode (g_strstrip (r->out), &error);
  g_assert_no_error (error);
  marker = test_homeserver_room_get_state (f->hs, bundle->room_id, "org.example.sync", "");
  g_assert_nonnull (marker);
  g_assert_cmpint (json_object_get_int (json_object_object_get (marker, "version")), ==, 7);
  request = test_homeserver_room_get_create_request (f->hs, bundle->room_id);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (request, "name")), ==, "Team Sync");
  displayname = test_homeserver_get_user_displayname (f->hs, "@configured:" SERVER_NAME);
  g_assert_cmpstr (displayname, ==, "From Config");
}

static void
test_config_errors (Fixture *f, gconstpointer data)
{
  g_autofree gchar *conf = g_build_filename (f->tmpdir, "bad.conf", NULL);
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--config", conf, "--username", "never", NULL };
  static const struct {
    const gchar *text;
    const gchar *expected;
  } cases[] = {
    { "[pipeline]\nsteps=auth;user;room;bundle\n[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n"
      "[room]\nplugin=no-such-room\n[bundle]\nplugin=lotti-bundle\n",
      "plugin 'no-such-room' for step 'room' not found" },
    { "[pipeline]\nsteps=auth;user;room;bundle\n[auth]\nplugin=synapse-auth\n[user]\nplugin=matrix-room\n"
      "[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\n",
      "implements step 'room' but is configured for step 'user'" },
    { "[pipeline]\nsteps=auth;user;room\n[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n"
      "[room]\nplugin=matrix-room\n",
      "no step of the pipeline provides 'bundle.base64'" },
    { "[pipeline]\nsteps=auth;room;bundle\n[auth]\nplugin=synapse-auth\n"
      "[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\n",
      "needs 'user.token', which no earlier step provides" },
    { "[pipeline]\nsteps=auth;user;room;bundle\n", "has no [auth] group" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(RunResult) r = NULL;

      g_assert_true (g_file_set_contents (conf, cases[i].text, -1, NULL));
      r = run_mxprov_full (args, NULL, NULL);
      g_assert_cmpint (r->exit_code, ==, EX_CONFIG);
      assert_contains (r->err, cases[i].expected);
    }
  /* refused before any request */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
}

/* A plugin built for another ABI, found through the config's plugin-dir. */
static void
test_config_refuses_wrong_abi_plugin (Fixture *f, gconstpointer data)
{
  g_autofree gchar *conf = g_build_filename (f->tmpdir, "abi.conf", NULL);
  g_autofree gchar *text = g_strdup_printf (
    "[pipeline]\nsteps=auth;user;room;bundle\nplugin-dir=%s\n"
    "[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n"
    "[room]\nplugin=fixture-wrong-abi\n[bundle]\nplugin=lotti-bundle\n",
    g_getenv ("MXPROV_FIXTURE_DIR"));
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--config", conf, "--username", "never", NULL };
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *versions = g_strdup_printf ("plugin ABI version %d, but this mxprov needs version %d",
                                                MXPROV_PLUGIN_ABI_VERSION + 41, MXPROV_PLUGIN_ABI_VERSION);

  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  r = run_mxprov_full (args, NULL, NULL);
  g_assert_cmpint (r->exit_code, ==, EX_CONFIG);
  assert_contains (r->err, "fixture-wrong-abi.so");
  assert_contains (r->err, versions);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), ==, 0);
}

static void
test_plugins_command (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "plugins", NULL };
  g_autoptr(RunResult) r = run_mxprov_full (args, NULL, NULL);
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (r->exit_code, ==, 0);
  lines = g_strsplit (g_strchomp (r->out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 11);
  g_assert_true (g_str_has_prefix (lines[0], "NAME"));
  /* in step order, then by name, each with its step, backend, keys and file */
  g_assert_true (g_str_has_prefix (lines[1], "mas-auth "));
  assert_contains (lines[1], " mas ");
  g_assert_true (g_str_has_prefix (lines[2], "registration-token-auth "));
  assert_contains (lines[2], " registration-token ");
  g_assert_true (g_str_has_prefix (lines[3], "shared-secret-auth "));
  assert_contains (lines[3], " shared-secret ");
  g_assert_true (g_str_has_prefix (lines[4], "synapse-auth "));
  assert_contains (lines[4], " auth ");
  assert_contains (lines[4], "admin.user,admin.password");
  assert_contains (lines[4], "synapse-auth.so");
  g_assert_true (g_str_has_prefix (lines[5], "mas-user "));
  assert_contains (lines[5], "mas.url,mas.token,server.name,user.localpart");
  g_assert_true (g_str_has_prefix (lines[6], "registration-token-user "));
  assert_contains (lines[6], "registration.token,user.localpart");
  g_assert_true (g_str_has_prefix (lines[7], "shared-secret-user "));
  assert_contains (lines[7], "registration.secret,user.localpart");
  g_assert_true (g_str_has_prefix (lines[8], "synapse-user "));
  g_assert_true (g_str_has_prefix (lines[9], "matrix-room "));
  g_assert_true (g_str_has_prefix (lines[10], "lotti-bundle "));
  assert_contains (lines[10], "bundle.json,bundle.base64");
}

static void
test_usage_errors (Fixture *f, gconstpointer data)
{
  static const struct {
    const gchar *args[4];
    gint exit_code;
    const gchar *expected;
  } cases[] = {
    { { "frobnicate", NULL }, EX_USAGE, "unknown command 'frobnicate'" },
    { { NULL }, EX_USAGE, "Usage: mxprov COMMAND" },
    { { "provision", "--format", "yaml", NULL }, EX_USAGE, "--format must be base64 or json" },
    { { "provision", "--no-such-option", NULL }, EX_USAGE, "--no-such-option" },
    { { "provision", "stray", NULL }, EX_USAGE, "unexpected argument 'stray'" },
    { { "provision", "--username", "x", NULL }, EX_USAGE, "--homeserver" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(RunResult) r = run_mxprov_full (cases[i].args, NULL, NULL);
      g_assert_cmpint (r->exit_code, ==, cases[i].exit_code);
      assert_contains (r->err, cases[i].expected);
    }
}

static void
test_version_and_help (Fixture *f, gconstpointer data)
{
  const gchar *version[] = { "--version", NULL };
  const gchar *help[] = { "provision", "--help", NULL };
  g_autoptr(RunResult) r1 = run_mxprov_full (version, NULL, NULL);
  g_autoptr(RunResult) r2 = run_mxprov_full (help, NULL, NULL);
  g_autofree gchar *expected = g_strdup_printf ("mxprov %s (plugin ABI %d)\n", PACKAGE_VERSION,
                                                MXPROV_PLUGIN_ABI_VERSION);

  g_assert_cmpint (r1->exit_code, ==, 0);
  g_assert_cmpstr (r1->out, ==, expected);
  g_assert_cmpint (r2->exit_code, ==, 0);
  assert_contains (r2->out, "--admin-password-file");
  assert_contains (r2->out, "--output");
}

/* --admin-password stays usable but must not linger in /proc/PID/cmdline,
 * where every local user can read it. */
static void
test_password_argument_scrubbed (Fixture *f, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *cmdline_path = NULL;
  g_autofree gchar *cmdline = NULL;
  gsize len = 0;
  const gchar *argv[] = { g_getenv ("MXPROV_BINARY"), "provision", "--homeserver",
                          test_homeserver_get_url (f->hs), "--admin-user", "admin",
                          "--admin-password", ADMIN_PASSWORD, "--username", "slowpoke", NULL };

  /* slow answers keep mxprov alive while we look at it */
  test_homeserver_set_request_delay (f->hs, 400);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                        | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  /* the libtool wrapper execs the real binary; wait for its first request */
  for (guint i = 0; i < 500 && test_homeserver_count_requests (f->hs, NULL, "/*") == 0; i++)
    g_usleep (10 * 1000);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/*"), >, 0);
  cmdline_path = g_strdup_printf ("/proc/%s/cmdline", g_subprocess_get_identifier (proc));
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  for (gsize i = 0; i + 1 < len; i++)
    if (cmdline[i] == '\0')
      cmdline[i] = ' ';
  g_test_message ("cmdline: %s", cmdline);
  assert_contains (cmdline, "--admin-password");
  assert_not_contains (cmdline, ADMIN_PASSWORD);
  g_subprocess_wait_check (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (test_homeserver_user_exists (f->hs, "@slowpoke:" SERVER_NAME));
}

/* https with a private CA: refused by default, accepted with --cacert. */
static void
test_tls_cacert (Fixture *f, gconstpointer data)
{
  g_autofree gchar *server_pem = g_test_build_filename (G_TEST_DIST, "data", "test-server.pem", NULL);
  g_autofree gchar *ca_pem = g_test_build_filename (G_TEST_DIST, "data", "test-ca.pem", NULL);
  g_autoptr(TestHomeserver) hs = test_homeserver_new (SERVER_NAME);
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RunResult) r1 = NULL;
  g_autoptr(RunResult) r2 = NULL;
  const gchar *env[] = { "MXPROV_ADMIN_PASSWORD=" ADMIN_PASSWORD, NULL };

  cert = g_tls_certificate_new_from_file (server_pem, &error);
  g_assert_no_error (error);
  test_homeserver_set_tls_certificate (hs, cert);
  test_homeserver_add_user (hs, "admin", ADMIN_PASSWORD, TRUE);
  g_assert_true (test_homeserver_start (hs, &error));
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (hs),
                            "--admin-user", "admin", "--username", "tls", NULL };
    r1 = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r1->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r1->err, "--cacert");
  g_assert_cmpuint (test_homeserver_count_requests (hs, NULL, "/*"), ==, 0);
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (hs),
                            "--admin-user", "admin", "--username", "tls", "--cacert", ca_pem, NULL };
    r2 = run_mxprov_full (args, NULL, env);
  }
  g_assert_cmpint (r2->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_exists (hs, "@tls:" SERVER_NAME));
  test_homeserver_stop (hs);
}

/* The bundle cannot be handed over (stdout is a full disk): the account
 * would be useless, so it is rolled back, room and all. */
static void
test_undeliverable_bundle_rolls_back (Fixture *f, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rooms = NULL;
  g_autofree gchar *err = NULL;
  const gchar *argv[] = { g_getenv ("MXPROV_BINARY"), "provision", "--homeserver",
                          test_homeserver_get_url (f->hs), "--admin-user", "admin",
                          "--admin-password-file", f->password_file, "--username", "lost", NULL };

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/full");
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_test_message ("stderr: %s", err);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, EX_IOERR);
  assert_contains (err, "cannot write the bundle to standard output");
  assert_contains (err, "rolled back: deleted and purged room");
  assert_contains (err, "rolled back: deactivated @lost:" SERVER_NAME);
  assert_contains (err, "name stays taken");
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@lost:" SERVER_NAME));
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, f->admin_id), ==, 0);
}

/* The room cannot be made: the user made before it is deactivated. */
static void
test_rollback_after_room_failure (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 403,
                            .body = "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"You are not permitted to create rooms\"}" };
  const gchar *extra[] = { "--username", "roomless", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "matrix-room: creating the sync room: ");
  assert_contains (r->err, "not permitted to create rooms");
  assert_contains (r->err, "rolled back: deactivated @roomless:" SERVER_NAME);
  /* the original error is the last word */
  g_assert_true (g_str_has_prefix (strstr (r->err, "mxprov: error: "), "mxprov: error: matrix-room"));
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@roomless:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, "@roomless:" SERVER_NAME), ==, 0);
  assert_nothing_created_but_deactivated (f);
}

static void
test_no_rollback_keeps_and_tells (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 403,
                            .body = "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"no rooms for you\"}" };
  const gchar *extra[] = { "--username", "kept", "--no-rollback", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &fault);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "--no-rollback: left in place: ");
  assert_contains (r->err, "user.id=@kept:" SERVER_NAME);
  assert_not_contains (r->err, "user.password");
  assert_not_contains (r->err, "rolled back");
  g_assert_true (test_homeserver_user_exists (f->hs, "@kept:" SERVER_NAME));
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, "@kept:" SERVER_NAME));
  /* the sessions are still cleaned up */
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, f->admin_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, "@kept:" SERVER_NAME), ==, 0);
}

static void
test_insecure_http_refused (Fixture *f, gconstpointer data)
{
  const gchar *refused[] = { "provision", "--homeserver", "http://matrix.example.com",
                             "--admin-user", "admin", "--admin-password-file", f->password_file,
                             "--username", "x", NULL };
  /* with the flag, the run goes on to the next check (an invalid name),
   * which stops it before any request leaves this machine */
  const gchar *allowed[] = { "provision", "--homeserver", "http://matrix.example.com",
                             "--allow-insecure-http", "--admin-user", "admin",
                             "--admin-password-file", f->password_file, "--username", "Bad Name", NULL };
  g_autoptr(RunResult) r1 = run_mxprov_full (refused, NULL, NULL);
  g_autoptr(RunResult) r2 = run_mxprov_full (allowed, NULL, NULL);

  g_assert_cmpint (r1->exit_code, ==, EX_USAGE);
  assert_contains (r1->err, "refusing http://matrix.example.com");
  assert_contains (r1->err, "--allow-insecure-http");
  g_assert_cmpint (r2->exit_code, ==, EX_DATAERR);
  assert_not_contains (r2->err, "refusing");
}

static void
test_readable_password_file_warns (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--username", "warned", NULL };
  g_autoptr(RunResult) r = NULL;

  g_chmod (f->password_file, 0644);
  r = provision (f, extra);
  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "is readable by other users (mode 0644)");
  assert_contains (r->err, "chmod 600");
}

static void
raise_core_limit (gpointer data)
{
  struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
  setrlimit (RLIMIT_CORE, &unlimited);
}

/* Kill a process with SIGQUIT (whose default action dumps core) and return
 * its raw wait status. */
static gint
crash_and_wait (const gchar *const *argv, const gchar *cwd, TestHomeserver *hs)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                                       | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_set_cwd (launcher, cwd);
  g_subprocess_launcher_set_child_setup (launcher, raise_core_limit, NULL, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  if (hs != NULL)
    {
      /* wait until it has the admin password in memory and talks */
      for (guint i = 0; i < 500 && test_homeserver_count_requests (hs, NULL, "/*") == 0; i++)
        g_usleep (10 * 1000);
      g_assert_cmpuint (test_homeserver_count_requests (hs, NULL, "/*"), >, 0);
    }
  else
    g_usleep (100 * 1000);
  g_subprocess_send_signal (proc, SIGQUIT);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  return g_subprocess_get_status (proc);
}

/* A crash must not leave the admin password in a core file. */
static void
test_no_core_dump (Fixture *f, gconstpointer data)
{
  const gchar *control[] = { "/bin/sleep", "30", NULL };
  const gchar *argv[] = { g_getenv ("MXPROV_BINARY"), "provision", "--homeserver",
                          test_homeserver_get_url (f->hs), "--admin-user", "admin",
                          "--admin-password-file", f->password_file, "--username", "crash", NULL };
  gint control_status;
  gint status;

  /* Only meaningful where this machine writes core files at all: a
   * control process shows whether it does. */
  control_status = crash_and_wait (control, f->tmpdir, NULL);
  g_assert_true (WIFSIGNALED (control_status));
  if (!WCOREDUMP (control_status))
    {
      g_test_skip ("this machine writes no core dumps (see /proc/sys/kernel/core_pattern)");
      return;
    }
  test_homeserver_set_request_delay (f->hs, 2000);
  status = crash_and_wait (argv, f->tmpdir, f->hs);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGQUIT);
  g_assert_false (WCOREDUMP (status));
}

/* mxprov never uses GnuTLS, which Debian's libcurl loads anyway, and keeps it
 * from initialising itself (src/mxprov-gnutls-init-skip.c: memory and
 * start-up). An initialising GnuTLS logs "gnutls[2]: ..." to standard error
 * when GNUTLS_DEBUG_LEVEL is set. */
static void
test_gnutls_not_initialised (Fixture *f, gconstpointer data)
{
  const gchar *const env[] = { "GNUTLS_DEBUG_LEVEL=2", NULL };
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--username", "no_gnutls", NULL };
  g_autoptr(RunResult) r = run_mxprov_full (args, NULL, env);

  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "provisioned @no_gnutls:" SERVER_NAME);
  assert_not_contains (r->err, "gnutls[");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/provision/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("happy-path", test_happy_path);
  ADD ("display-name-and-json", test_display_name_and_json);
  ADD ("existing-user-untouched", test_existing_user_untouched);
  ADD ("bundle-version-2", test_bundle_version_2);
  ADD ("admin-token", test_admin_token);
  ADD ("admin-token-refusals", test_admin_token_refusals);
  ADD ("environment-wins-over-config", test_environment_wins_over_config);
  ADD ("bundle-version-config", test_bundle_version_config);
  ADD ("non-admin-refused", test_non_admin_refused);
  ADD ("wrong-admin-password", test_wrong_admin_password);
  ADD ("invalid-localpart", test_invalid_localpart);
  ADD ("server-unreachable", test_server_unreachable);
  ADD ("rate-limited-create-room", test_rate_limited_create_room);
  ADD ("rate-limit-exhausted", test_rate_limit_exhausted);
  ADD ("rate-limit-longer-than-timeout", test_rate_limit_longer_than_timeout);
  ADD ("html-502", test_html_502);
  ADD ("html-502-on-versions", test_html_502_on_versions);
  ADD ("output-file", test_output_file);
  ADD ("output-file-uncreatable", test_output_file_uncreatable);
  ADD ("output-file-exists", test_output_file_exists);
  ADD ("check-only", test_check_only);
  ADD ("password-on-command-line-warns", test_password_on_command_line_warns);
  ADD ("verbose-shows-no-secret", test_verbose_shows_no_secret);
  ADD ("admin-password-from-stdin", test_admin_password_from_stdin);
  ADD ("no-admin-password", test_no_admin_password);
  ADD ("put-answers-200", test_put_answers_200);
  ADD ("admin-api-blocked", test_admin_api_blocked);
  ADD ("oidc-server-refused", test_oidc_server_refused);
  ADD ("config-file-options", test_config_file_options);
  ADD ("config-errors", test_config_errors);
  ADD ("config-refuses-wrong-abi-plugin", test_config_refuses_wrong_abi_plugin);
  ADD ("plugins-command", test_plugins_command);
  ADD ("usage-errors", test_usage_errors);
  ADD ("version-and-help", test_version_and_help);
  ADD ("gnutls-not-initialised", test_gnutls_not_initialised);
  ADD ("password-argument-scrubbed", test_password_argument_scrubbed);
  ADD ("tls-cacert", test_tls_cacert);
  ADD ("undeliverable-bundle-rolls-back", test_undeliverable_bundle_rolls_back);
  ADD ("rollback-after-room-failure", test_rollback_after_room_failure);
  ADD ("no-rollback-keeps-and-tells", test_no_rollback_keeps_and_tells);
  ADD ("insecure-http-refused", test_insecure_http_refused);
  ADD ("readable-password-file-warns", test_readable_password_file_warns);
  ADD ("no-core-dump", test_no_core_dump);
#undef ADD
  return g_test_run ();
}
