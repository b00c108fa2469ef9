/* test-backends.c: the same host with other plugins, chosen by config
 * alone: shared-secret registration on Dendrite and on Synapse, and
 * .well-known discovery of the client API. Server state is checked as on
 * the Synapse admin path. */
#include "config.h"

#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define SECRET "s3cret-registration"
#define SERVER_NAME "example.test"

typedef struct {
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *secret_file;
  gchar *config;
} Fixture;

static void
write_config (Fixture *f, const gchar *extra_user_options)
{
  g_autofree gchar *text = g_strdup_printf (
    "[pipeline]\nsteps=auth;user;room;bundle\n"
    "[auth]\nplugin=shared-secret-auth\nsecret-file=%s\n"
    "[user]\nplugin=shared-secret-user\n%s"
    "[room]\nplugin=matrix-room\n"
    "[bundle]\nplugin=lotti-bundle\n",
    f->secret_file, extra_user_options != NULL ? extra_user_options : "");
  g_assert_true (g_file_set_contents (f->config, text, -1, NULL));
}

static void
setup (Fixture *f, TestHomeserverFlavour flavour, const gchar *server_secret)
{
  g_autoptr(GError) error = NULL;

  f->hs = test_homeserver_new (SERVER_NAME);
  test_homeserver_set_flavour (f->hs, flavour);
  if (server_secret != NULL)
    test_homeserver_set_registration_secret (f->hs, server_secret);
  test_homeserver_add_user (f->hs, "taken", "original-password", FALSE);
  g_assert_true (test_homeserver_start (f->hs, &error));
  f->tmpdir = g_dir_make_tmp ("mxprov-backends-XXXXXX", &error);
  g_assert_no_error (error);
  f->secret_file = g_build_filename (f->tmpdir, "registration-secret", NULL);
  g_assert_true (g_file_set_contents (f->secret_file, SECRET "\n", -1, NULL));
  g_chmod (f->secret_file, 0600);
  f->config = g_build_filename (f->tmpdir, "mxprov.conf", NULL);
  write_config (f, NULL);
}

static void
setup_dendrite (Fixture *f, gconstpointer data)
{
  setup (f, TEST_HOMESERVER_DENDRITE, SECRET);
}

static void
setup_synapse (Fixture *f, gconstpointer data)
{
  setup (f, TEST_HOMESERVER_SYNAPSE, SECRET);
}

static void
setup_dendrite_without_secret (Fixture *f, gconstpointer data)
{
  setup (f, TEST_HOMESERVER_DENDRITE, NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
  g_unlink (f->secret_file);
  g_unlink (f->config);
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->secret_file);
  g_free (f->config);
}

static RunResult *
provision (Fixture *f, const gchar *username, const gchar *const *env)
{
  const gchar *args[] = { "provision", "--config", f->config, "--homeserver",
                          test_homeserver_get_url (f->hs), "--username", username, NULL };
  return run_mxprov (args, NULL, env, FALSE);
}

/* The same checks as the Synapse path's happy-path test. */
static void
assert_complete_account (Fixture *f, const gchar *bundle_text, const gchar *user_id,
                         const gchar *home_server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (bundle_text, &error);
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (f->hs);
  g_autofree gchar *password = NULL;
  g_autofree gchar *creator = NULL;
  g_autoptr(json_object) create = NULL;
  g_autoptr(json_object) encryption = NULL;
  g_autoptr(json_object) marker = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (bundle->user, ==, user_id);
  g_assert_cmpstr (bundle->home_server, ==, home_server);
  g_assert_cmpuint (strlen (bundle->password), ==, 43);
  g_assert_true (test_homeserver_user_exists (f->hs, user_id));
  g_assert_false (test_homeserver_user_is_deactivated (f->hs, user_id));
  g_assert_false (test_homeserver_user_is_admin (f->hs, user_id));
  password = test_homeserver_get_user_password (f->hs, user_id);
  g_assert_cmpstr (password, ==, bundle->password);

  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rooms, 0), ==, bundle->room_id);
  creator = test_homeserver_room_get_creator (f->hs, bundle->room_id);
  g_assert_cmpstr (creator, ==, user_id);
  g_assert_true (test_homeserver_room_is_joined (f->hs, bundle->room_id, user_id));
  create = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.room.create", "");
  g_assert_false (json_object_get_boolean (json_object_object_get (create, "m.federate")));
  encryption = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.room.encryption", "");
  g_assert_cmpstr (json_object_get_string (json_object_object_get (encryption, "algorithm")),
                   ==, "m.megolm.v1.aes-sha2");
  marker = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.lotti.sync_room", "");
  g_assert_cmpint (json_object_get_int (json_object_object_get (marker, "version")), ==, 1);

  /* the registration's device was logged out: nothing left behind */
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, user_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, user_id), ==, 0);
}

static void
test_provision (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = provision (f, "secretsync", NULL);

  g_assert_cmpint (r->exit_code, ==, 0);
  assert_complete_account (f, g_strstrip (r->out), "@secretsync:" SERVER_NAME,
                           test_homeserver_get_url (f->hs));
  /* no admin password was asked for or sent, and no admin API touched */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "PUT", "/*"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_synapse/admin/v1/register"), ==, 1);
}

static void
test_secret_from_environment (Fixture *f, gconstpointer data)
{
  const gchar *env[] = { "MXPROV_REGISTRATION_SECRET=" SECRET, NULL };
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *text = g_strdup (
    "[pipeline]\nsteps=auth;user;room;bundle\n[auth]\nplugin=shared-secret-auth\n"
    "[user]\nplugin=shared-secret-user\n[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\n");

  g_assert_true (g_file_set_contents (f->config, text, -1, NULL));
  r = provision (f, "envsync", env);
  g_assert_cmpint (r->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_exists (f->hs, "@envsync:" SERVER_NAME));
}

/* Without a config file the credential chooses the pipeline: the shared
 * secret in the environment means shared-secret registration; given with
 * an admin password it is a usage error, not a guess. */
static void
test_builtin_chosen_by_secret (Fixture *f, gconstpointer data)
{
  const gchar *env[] = { "MXPROV_REGISTRATION_SECRET=" SECRET, NULL };
  const gchar *both[] = { "MXPROV_REGISTRATION_SECRET=" SECRET, "MXPROV_ADMIN_PASSWORD=pw", NULL };
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--username", "chosen", "-v", NULL };
  const gchar *plugins[] = { "plugins", NULL };
  g_autoptr(RunResult) r1 = run_mxprov (args, NULL, env, FALSE);
  g_autoptr(RunResult) r2 = run_mxprov (args, NULL, both, FALSE);
  g_autoptr(RunResult) r3 = run_mxprov (plugins, NULL, env, FALSE);

  g_assert_cmpint (r1->exit_code, ==, 0);
  assert_contains (r1->err, "step config: built-in shared-secret pipeline (MXPROV_REGISTRATION_SECRET is set)");
  g_assert_true (test_homeserver_user_exists (f->hs, "@chosen:" SERVER_NAME));
  g_assert_cmpint (r2->exit_code, ==, EX_USAGE);
  assert_contains (r2->err, "an admin password or token and MXPROV_REGISTRATION_SECRET were given");
  g_assert_cmpint (r3->exit_code, ==, 0);
  assert_contains (r3->err, "step config: built-in shared-secret pipeline");
}

/* The environment wins over secret-file= of a config file (the shipped
 * example names /etc/mxprov/registration-secret, which may not exist). */
static void
test_environment_wins_over_secret_file (Fixture *f, gconstpointer data)
{
  const gchar *env[] = { "MXPROV_REGISTRATION_SECRET=" SECRET, NULL };
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *text = g_strdup_printf (
    "[pipeline]\nsteps=auth;user;room;bundle\n[auth]\nplugin=shared-secret-auth\n"
    "secret-file=%s/no-such-secret\n"
    "[user]\nplugin=shared-secret-user\n[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\n",
    f->tmpdir);

  g_assert_true (g_file_set_contents (f->config, text, -1, NULL));
  r = provision (f, "envwins", env);
  g_assert_cmpint (r->exit_code, ==, 0);
  g_assert_true (test_homeserver_user_exists (f->hs, "@envwins:" SERVER_NAME));
}

static void
test_no_secret (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *text = g_strdup (
    "[pipeline]\nsteps=auth;user;room;bundle\n[auth]\nplugin=shared-secret-auth\n"
    "[user]\nplugin=shared-secret-user\n[room]\nplugin=matrix-room\n[bundle]\nplugin=lotti-bundle\n");

  g_assert_true (g_file_set_contents (f->config, text, -1, NULL));
  r = provision (f, "nosecret", NULL);
  g_assert_cmpint (r->exit_code, ==, EX_CONFIG);
  assert_contains (r->err, "no registration shared secret");
  assert_contains (r->err, "MXPROV_REGISTRATION_SECRET");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/*"), ==, 0);
}

/* Same exit code and wording as the Synapse path; nothing modified. */
static void
test_existing_user (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;
  g_autofree gchar *password = NULL;
  g_autoptr(GPtrArray) rooms = NULL;

  write_config (f, "server-name=" SERVER_NAME "\n");
  r = provision (f, "taken", NULL);
  g_assert_cmpint (r->exit_code, ==, EX_CANTCREAT);
  assert_contains (r->err, "shared-secret-user: user @taken:" SERVER_NAME " already exists; "
                           "mxprov never modifies an existing account");
  password = test_homeserver_get_user_password (f->hs, "@taken:" SERVER_NAME);
  g_assert_cmpstr (password, ==, "original-password");
  rooms = test_homeserver_list_rooms (f->hs);
  g_assert_cmpuint (rooms->len, ==, 0);
}

static void
test_wrong_secret (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;

  g_assert_true (g_file_set_contents (f->secret_file, "not-the-secret\n", -1, NULL));
  r = provision (f, "wrongsecret", NULL);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "refused the registration MAC");
  assert_not_contains (r->err, "not-the-secret");
  g_assert_false (test_homeserver_user_exists (f->hs, "@wrongsecret:" SERVER_NAME));
}

static void
test_registration_disabled (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = provision (f, "disabled", NULL);

  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "shared-secret-auth: the server does not offer shared-secret registration");
  assert_contains (r->err, "registration_shared_secret");
}

/* The room step fails: the new user deactivates itself, its room is left
 * and forgotten (no admin session to purge it with). */
static void
test_rollback (Fixture *f, gconstpointer data)
{
  const TestFault fault = { .kind = TEST_FAULT_STATUS, .status = 403,
                            .body = "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"no rooms today\"}" };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 0, 1, &fault);
  r = provision (f, "undone", NULL);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "rolled back: @undone:" SERVER_NAME " deactivated itself");
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@undone:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@undone:" SERVER_NAME), ==, 0);
}

static void
test_check_only (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--config", f->config, "--homeserver",
                          test_homeserver_get_url (f->hs), "--username", "checked", "--check", NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);

  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "check passed");
  assert_contains (r->err, "step auth (shared-secret-auth) succeeded");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/*"), ==, 0);
  g_assert_false (test_homeserver_user_exists (f->hs, "@checked:" SERVER_NAME));
}

/* The Synapse pipeline on Dendrite fails clearly, before creating anything. */
static void
test_synapse_pipeline_on_dendrite (Fixture *f, gconstpointer data)
{
  const gchar *env[] = { "MXPROV_ADMIN_PASSWORD=pw", NULL };
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--username", "wrongpipe", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_user (f->hs, "admin", "pw", TRUE);
  r = run_mxprov (args, NULL, env, FALSE);
  /* the server is named, with what to use instead, before the password goes out */
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "this is Dendrite 0.13.7, which the Synapse admin pipeline cannot serve");
  assert_contains (r->err, "examples/dendrite.conf");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_false (test_homeserver_user_exists (f->hs, "@wrongpipe:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@admin:" SERVER_NAME), ==, 0);
}

/* --homeserver NAME: the client API is found through .well-known. */
static void
test_well_known (Fixture *f, gconstpointer data)
{
  const gchar *url = test_homeserver_get_url (f->hs);
  const gchar *name = url + strlen ("http://");
  g_autofree gchar *delegation = g_strdup_printf ("{\"m.homeserver\":{\"base_url\":\"%s/\"}}", url);
  const gchar *args[] = { "provision", "--config", f->config, "--homeserver", name,
                          "--username", "discovered", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_set_well_known (f->hs, 200, delegation);
  r = run_mxprov (args, NULL, NULL, FALSE);
  g_assert_cmpint (r->exit_code, ==, 0);
  /* the bundle names the discovered base URL, without its trailing '/' */
  assert_complete_account (f, g_strstrip (r->out), "@discovered:" SERVER_NAME, url);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "GET", "/.well-known/matrix/client"), ==, 1);
}

static void
test_well_known_absent (Fixture *f, gconstpointer data)
{
  const gchar *url = test_homeserver_get_url (f->hs);
  const gchar *args[] = { "provision", "--config", f->config, "--homeserver", url + strlen ("http://"),
                          "--username", "nodelegation", NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);

  /* 404: the name itself is the server */
  g_assert_cmpint (r->exit_code, ==, 0);
  assert_complete_account (f, g_strstrip (r->out), "@nodelegation:" SERVER_NAME, url);
}

static void
test_well_known_broken (Fixture *f, gconstpointer data)
{
  const gchar *url = test_homeserver_get_url (f->hs);
  const gchar *args[] = { "provision", "--config", f->config, "--homeserver", url + strlen ("http://"),
                          "--username", "broken", NULL };
  static const struct {
    guint status;
    const gchar *body;
    gint exit_code;
    const gchar *expected;
  } cases[] = {
    { 200, "{}", EX_PROTOCOL, "has no string m.homeserver.base_url" },
    { 200, "{\"m.homeserver\":{\"base_url\":\"matrix.example.com\"}}", EX_PROTOCOL, "gives a base_url mxprov cannot use" },
    { 403, "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"no\"}", EX_NOPERM, "discovering the homeserver of" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(RunResult) r = NULL;

      test_homeserver_set_well_known (f->hs, cases[i].status, cases[i].body);
      r = run_mxprov (args, NULL, NULL, FALSE);
      g_assert_cmpint (r->exit_code, ==, cases[i].exit_code);
      assert_contains (r->err, cases[i].expected);
    }
  g_assert_false (test_homeserver_user_exists (f->hs, "@broken:" SERVER_NAME));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, setup_func, func) \
  g_test_add (path, Fixture, NULL, setup_func, func, teardown)
  ADD ("/dendrite/provision", setup_dendrite, test_provision);
  ADD ("/dendrite/secret-from-environment", setup_dendrite, test_secret_from_environment);
  ADD ("/synapse-shared-secret/builtin-chosen-by-secret", setup_synapse, test_builtin_chosen_by_secret);
  ADD ("/synapse-shared-secret/environment-wins-over-secret-file", setup_synapse,
       test_environment_wins_over_secret_file);
  ADD ("/dendrite/no-secret", setup_dendrite, test_no_secret);
  ADD ("/dendrite/existing-user", setup_dendrite, test_existing_user);
  ADD ("/dendrite/wrong-secret", setup_dendrite, test_wrong_secret);
  ADD ("/dendrite/registration-disabled", setup_dendrite_without_secret, test_registration_disabled);
  ADD ("/dendrite/rollback", setup_dendrite, test_rollback);
  ADD ("/dendrite/check-only", setup_dendrite, test_check_only);
  ADD ("/dendrite/synapse-pipeline-refused", setup_dendrite, test_synapse_pipeline_on_dendrite);
  ADD ("/synapse-shared-secret/provision", setup_synapse, test_provision);
  ADD ("/synapse-shared-secret/existing-user", setup_synapse, test_existing_user);
  ADD ("/synapse-shared-secret/wrong-secret", setup_synapse, test_wrong_secret);
  ADD ("/synapse-shared-secret/rollback", setup_synapse, test_rollback);
  ADD ("/well-known/delegated", setup_dendrite, test_well_known);
  ADD ("/well-known/absent", setup_dendrite, test_well_known_absent);
  ADD ("/well-known/broken", setup_dendrite, test_well_known_broken);
#undef ADD
  return g_test_run ();
}
