/* test-servers.c: the servers admins run today, one test homeserver
 * flavour each (Synapse 1.67 and 1.157, Dendrite, Conduit, continuwuity,
 * Tuwunel 1.9), with the real mxprov binary: what probe says of each, the
 * registration-token backend end to end, and the default pipeline on each
 * (it works, or it says before sending anything what to use instead). */
#include "config.h"

#include <string.h>
#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define ADMIN_PASSWORD "servers admin password"
#define SERVER_NAME "servers.test"
#define TOKEN "tok-en_0123"

typedef struct {
  const gchar *flavour;   /* test homeserver flavour */
  const gchar *software;  /* what probe must name */
  const gchar *config;    /* the config probe must name */
  gboolean tokens;        /* registers with a registration token */
  gboolean limited;       /* counts a token's uses (Conduit's static token is unlimited) */
  gboolean admin_api;     /* the default Synapse admin pipeline provisions there */
} Server;

static const Server servers[] = {
  { "synapse", "Synapse", "examples/synapse.conf", TRUE, TRUE, TRUE },
  { "synapse-latest", "Synapse", "examples/synapse.conf", TRUE, TRUE, TRUE },
  { "dendrite", "Dendrite", "examples/dendrite.conf", FALSE, FALSE, FALSE },
  { "conduit", "Conduit", "examples/registration-token.conf", TRUE, FALSE, FALSE },
  { "continuwuity", "continuwuity", "examples/registration-token.conf", TRUE, TRUE, FALSE },
  { "tuwunel", "Tuwunel", "examples/synapse.conf", TRUE, TRUE, TRUE },
};

typedef struct {
  const Server *server;
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *password_file;
  gchar *token_config;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *text = NULL;

  f->server = data;
  f->hs = test_homeserver_new (SERVER_NAME);
  g_assert_true (test_homeserver_set_flavour_by_name (f->hs, f->server->flavour, &error));
  test_homeserver_add_user (f->hs, "admin", ADMIN_PASSWORD, TRUE);
  test_homeserver_add_user (f->hs, "taken", "taken's own password", FALSE);
  test_homeserver_set_rate_limit (f->hs, TEST_RATE_LIMIT_LOGIN, FALSE);
  test_homeserver_set_rate_limit (f->hs, TEST_RATE_LIMIT_REGISTRATION, FALSE);
  if (f->server->tokens)
    test_homeserver_add_registration_token (f->hs, TOKEN, 0);
  g_assert_true (test_homeserver_start (f->hs, &error));
  f->tmpdir = g_dir_make_tmp ("mxprov-servers-XXXXXX", &error);
  g_assert_no_error (error);
  f->password_file = g_build_filename (f->tmpdir, "admin-password", NULL);
  g_assert_true (g_file_set_contents (f->password_file, ADMIN_PASSWORD "\n", -1, NULL));
  g_chmod (f->password_file, 0600);
  /* the shipped example, as an admin would use it */
  f->token_config = g_test_build_filename (G_TEST_DIST, "..", "examples", "registration-token.conf", NULL);
  g_assert_true (g_file_test (f->token_config, G_FILE_TEST_IS_REGULAR));
}

static void
teardown (Fixture *f, gconstpointer data)
{
  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
  g_unlink (f->password_file);
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->password_file);
  g_free (f->token_config);
}

/* `mxprov provision` with the registration-token example config and the
 * token in the environment. */
static RunResult *
provision_with_token (Fixture *f, const gchar *username, const gchar *token)
{
  g_autofree gchar *env_token = g_strdup_printf ("MXPROV_REGISTRATION_TOKEN=%s", token);
  const gchar *env[] = { env_token, NULL };
  const gchar *args[] = { "provision", "--config", f->token_config, "--homeserver",
                          test_homeserver_get_url (f->hs), "--username", username,
                          "--bundle-version", "2", "-v", NULL };
  return run_mxprov (args, NULL, env, FALSE);
}

/* One complete account: the bundle's password, exactly one marked,
 * encrypted, unfederated room, and no session of the new user left. */
static void
assert_complete_account (Fixture *f, const gchar *bundle_text, const gchar *localpart)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (bundle_text, &error);
  g_autofree gchar *user_id = g_strdup_printf ("@%s:%s", localpart, SERVER_NAME);
  g_autofree gchar *password = NULL;
  g_autoptr(GPtrArray) joined = NULL;
  g_autoptr(json_object) marker = NULL;
  g_autoptr(json_object) encryption = NULL;
  g_autoptr(json_object) create = NULL;
  json_object *federate = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (bundle->user, ==, user_id);
  password = test_homeserver_get_user_password (f->hs, user_id);
  g_assert_cmpstr (password, ==, bundle->password);
  g_assert_false (test_homeserver_user_is_admin (f->hs, user_id));
  joined = test_homeserver_list_joined_rooms (f->hs, user_id);
  g_assert_cmpuint (joined->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (joined, 0), ==, bundle->room_id);
  marker = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.lotti.sync_room", "");
  g_assert_nonnull (marker);
  encryption = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.room.encryption", "");
  g_assert_nonnull (encryption);
  create = test_homeserver_room_get_state (f->hs, bundle->room_id, "m.room.create", "");
  g_assert_true (json_object_object_get_ex (create, "m.federate", &federate));
  g_assert_false (json_object_get_boolean (federate));
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, user_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, user_id), ==, 0);
}

/* probe names the software and the config that fits, sending nothing secret */
static void
test_probe (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "probe", "--homeserver", test_homeserver_get_url (f->hs), "--format",
                          "json", NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);
  g_autoptr(json_object) report = NULL;

  g_assert_cmpint (r->exit_code, ==, 0);
  report = json_tokener_parse (r->out);
  g_assert_nonnull (report);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "software")), ==,
                   f->server->software);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "config")), ==,
                   f->server->config);
  g_assert_cmpint (json_object_get_boolean (json_object_object_get (report, "token_registration")),
                   ==, f->server->tokens);
  g_assert_cmpuint (test_homeserver_count_users (f->hs), ==, 2);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
}

/* The registration-token backend: a complete account, the token counted
 * once where the server counts; the name checked before the token is
 * spent; a wrong token refused with exit 77 and nothing made. */
static void
test_registration_token (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) ok = provision_with_token (f, "bytoken", TOKEN);
  g_autoptr(RunResult) taken = NULL;
  g_autoptr(RunResult) wrong = NULL;
  guint completed_after_ok = 0;
  guint completed = 0;

  g_assert_cmpint (ok->exit_code, ==, 0);
  assert_complete_account (f, g_strstrip (ok->out), "bytoken");
  /* the token is a secret: not in -v's trace (its validity check carries it in a query) */
  assert_not_contains (ok->err, TOKEN);
  g_assert_true (test_homeserver_get_registration_token_uses (f->hs, TOKEN, NULL, &completed_after_ok));

  /* an existing name: exit 73, and no token use spent on it */
  taken = provision_with_token (f, "taken", TOKEN);
  g_assert_cmpint (taken->exit_code, ==, EX_CANTCREAT);
  assert_contains (taken->err, "already exists");
  g_assert_true (test_homeserver_get_registration_token_uses (f->hs, TOKEN, NULL, &completed));
  g_assert_cmpuint (completed, ==, completed_after_ok);

  /* a token the server does not know */
  wrong = provision_with_token (f, "wrongtoken", "not-the-token");
  g_assert_cmpint (wrong->exit_code, ==, EX_NOPERM);
  assert_contains (wrong->err, "ask");
  assert_contains (wrong->err, "new token");
  g_assert_false (test_homeserver_user_exists (f->hs, "@wrongtoken:" SERVER_NAME));
}

/* A token that is used up: exit 77 before any account is attempted where
 * the server has the validity endpoint, at the stage elsewhere. */
static void
test_used_up_token (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) first = NULL;
  g_autoptr(RunResult) second = NULL;

  test_homeserver_add_registration_token (f->hs, "once", 1);
  first = provision_with_token (f, "firstuse", "once");
  g_assert_cmpint (first->exit_code, ==, 0);
  second = provision_with_token (f, "seconduse", "once");
  g_assert_cmpint (second->exit_code, ==, EX_NOPERM);
  assert_contains (second->err, "new token");
  g_assert_false (test_homeserver_user_exists (f->hs, "@seconduse:" SERVER_NAME));
}

/* Registration is limited per address (Synapse rc_registration, burst 3,
 * then one per ~6 s): a batch waits as the server asks, and no account
 * counts as failed for it. */
static void
test_batch_waits_out_registration_limit (Fixture *f, gconstpointer data)
{
  g_autofree gchar *input = g_build_filename (f->tmpdir, "accounts.txt", NULL);
  g_autofree gchar *output = g_build_filename (f->tmpdir, "bundles.jsonl", NULL);
  g_autofree gchar *env_token = g_strdup_printf ("MXPROV_REGISTRATION_TOKEN=%s", TOKEN);
  const gchar *env[] = { env_token, NULL };
  const gchar *args[] = { "batch", "--config", f->token_config, "--homeserver",
                          test_homeserver_get_url (f->hs), "--input", input, "--output", output,
                          "-j", "2", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_set_rate_limit (f->hs, TEST_RATE_LIMIT_REGISTRATION, TRUE);
  g_assert_true (g_file_set_contents (input, "limited1\nlimited2\nlimited3\nlimited4\nlimited5\n", -1, NULL));
  r = run_mxprov (args, NULL, env, FALSE);
  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "batch: 5 created, 0 already existed, 0 failed");
  assert_contains (r->err, "rate limited");
  for (guint i = 1; i <= 5; i++)
    {
      g_autofree gchar *user_id = g_strdup_printf ("@limited%u:%s", i, SERVER_NAME);
      g_assert_true (test_homeserver_user_exists (f->hs, user_id));
    }
  g_unlink (input);
  g_unlink (output);
}

/* The default pipeline (admin password, no config file): a complete
 * account where the Synapse admin API is served (on Tuwunel too, whose PUT
 * answers 200 and whose login-as makes a device that must go); elsewhere a
 * refusal naming the config to use, before the password is sent. */
static void
test_default_pipeline (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--username", "bydefault", NULL };
  const gchar *existing[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                              "--admin-user", "admin", "--admin-password-file", f->password_file,
                              "--username", "taken", NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);
  g_autoptr(RunResult) r2 = NULL;
  g_autofree gchar *password = NULL;

  if (!f->server->admin_api)
    {
      g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
      assert_contains (r->err, "which the Synapse admin pipeline cannot serve");
      assert_contains (r->err, f->server->config);
      g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
      g_assert_false (test_homeserver_user_exists (f->hs, "@bydefault:" SERVER_NAME));
      return;
    }
  g_assert_cmpint (r->exit_code, ==, 0);
  assert_complete_account (f, g_strstrip (r->out), "bydefault");
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@admin:" SERVER_NAME), ==, 0);
  /* never an existing account modified, 200 or not */
  r2 = run_mxprov (existing, NULL, NULL, FALSE);
  g_assert_cmpint (r2->exit_code, ==, EX_CANTCREAT);
  password = test_homeserver_get_user_password (f->hs, "@taken:" SERVER_NAME);
  g_assert_cmpstr (password, ==, "taken's own password");
}

/* Tuwunel 1.7 and 1.8 serve only shared-secret registration: the default
 * pipeline refuses them before sending the password, naming the config. */
static void
test_old_tuwunel (Fixture *f, gconstpointer data)
{
  const TestFault old_version = { .kind = TEST_FAULT_STATUS, .status = 200,
                                  .body = "{\"server\":{\"name\":\"Tuwunel\",\"version\":\"1.8.0\"}}" };
  const TestFault unserved = { .kind = TEST_FAULT_STATUS, .status = 404,
                               .body = "{\"errcode\":\"M_UNRECOGNIZED\",\"error\":\"Not Found\"}" };
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--username", "onold", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "GET", "/_matrix/federation/v1/version", 0, 10, &old_version);
  test_homeserver_add_fault (f->hs, "GET", "/_synapse/admin/*", 0, 100, &unserved);
  r = run_mxprov (args, NULL, NULL, FALSE);
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "this is Tuwunel 1.8.0");
  assert_contains (r->err, "examples/synapse-shared-secret.conf");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_false (test_homeserver_user_exists (f->hs, "@onold:" SERVER_NAME));
}

/* Synapse 1.91+ can lock an account: a locked admin's login is 401
 * M_USER_LOCKED, said as what it is (exit 77), never retried. */
static void
test_locked_admin (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--username", "bylocked", NULL };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_set_user_locked (f->hs, "@admin:" SERVER_NAME, TRUE);
  r = run_mxprov (args, NULL, NULL, FALSE);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "the admin account 'admin' is locked");
  assert_contains (r->err, "M_USER_LOCKED");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 1);
  g_assert_false (test_homeserver_user_exists (f->hs, "@bylocked:" SERVER_NAME));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      const Server *server = &servers[i];
      g_autofree gchar *probe = g_strdup_printf ("/servers/%s/probe", server->flavour);
      g_autofree gchar *default_pipeline = g_strdup_printf ("/servers/%s/default-pipeline", server->flavour);

      g_test_add (probe, Fixture, server, setup, test_probe, teardown);
      g_test_add (default_pipeline, Fixture, server, setup, test_default_pipeline, teardown);
      if (server->tokens)
        {
          g_autofree gchar *token = g_strdup_printf ("/servers/%s/registration-token", server->flavour);
          g_autofree gchar *used_up = g_strdup_printf ("/servers/%s/used-up-token", server->flavour);
          g_test_add (token, Fixture, server, setup, test_registration_token, teardown);
          if (server->limited)
            g_test_add (used_up, Fixture, server, setup, test_used_up_token, teardown);
        }
    }
  g_test_add ("/servers/synapse-latest/locked-admin", Fixture, &servers[1], setup,
              test_locked_admin, teardown);
  g_test_add ("/servers/tuwunel/1.8-refused", Fixture, &servers[5], setup, test_old_tuwunel, teardown);
  /* Synapse's registration limit */
  g_test_add ("/servers/synapse/batch-waits-out-registration-limit", Fixture, &servers[0], setup,
              test_batch_waits_out_registration_limit, teardown);
  return g_test_run ();
}
