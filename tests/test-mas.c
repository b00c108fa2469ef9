/* test-mas.c: Synapse with its login delegated to the Matrix
 * Authentication Service (the test homeserver's mas flavour: Synapse on
 * one port, MAS on another, found only through auth_metadata), with the
 * real mxprov binary and the shipped examples/mas.conf: probe, the default
 * pipeline's refusal, the MAS pipeline end to end and every way it can
 * fail, batch with a lapsing admin token, and status, revoke and reissue. */
#include "config.h"

#include <string.h>
#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define SERVER_NAME "mas.test"
#define ADMIN_PASSWORD "mas admin password"
/* the client-id= of the shipped examples/mas.conf */
#define CLIENT_ID "01J00000000000000000000000"
#define CLIENT_SECRET "mas-client-secret-0123456789"
#define OTHER_CLIENT_ID "01J11111111111111111111111"
#define OTHER_CLIENT_SECRET "other-client-secret-98765"

typedef struct {
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *config;         /* the shipped examples/mas.conf */
  gchar *password_file;  /* the seeded admin's password */
  gchar *env_secret;     /* MXPROV_MAS_CLIENT_SECRET=… */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const gchar *version = data;

  f->hs = test_homeserver_new (SERVER_NAME);
  g_assert_true (test_homeserver_set_flavour_by_name (f->hs, "mas", &error));
  test_homeserver_mas_add_client (f->hs, CLIENT_ID, CLIENT_SECRET, TRUE);
  test_homeserver_mas_add_client (f->hs, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, FALSE);
  if (version != NULL)
    test_homeserver_mas_set_version (f->hs, version);
  test_homeserver_add_user (f->hs, "admin", ADMIN_PASSWORD, TRUE);
  test_homeserver_add_user (f->hs, "taken", "taken's own password", FALSE);
  g_assert_true (test_homeserver_start (f->hs, &error));
  g_assert_nonnull (test_homeserver_get_mas_url (f->hs));
  f->tmpdir = g_dir_make_tmp ("mxprov-mas-XXXXXX", &error);
  g_assert_no_error (error);
  f->password_file = g_build_filename (f->tmpdir, "admin-password", NULL);
  g_assert_true (g_file_set_contents (f->password_file, ADMIN_PASSWORD "\n", -1, NULL));
  g_chmod (f->password_file, 0600);
  f->config = g_test_build_filename (G_TEST_DIST, "..", "examples", "mas.conf", NULL);
  g_assert_true (g_file_test (f->config, G_FILE_TEST_IS_REGULAR));
  f->env_secret = g_strdup ("MXPROV_MAS_CLIENT_SECRET=" CLIENT_SECRET);
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
  g_free (f->config);
  g_free (f->password_file);
  g_free (f->env_secret);
}

/* `mxprov COMMAND --homeserver URL --config mas.conf EXTRA…` with the
 * client secret in the environment. */
static RunResult *
run_mas (Fixture *f, const gchar *command, const gchar *config, const gchar *const *extra)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const gchar *env[] = { f->env_secret, NULL };

  g_ptr_array_add (args, (gpointer) command);
  g_ptr_array_add (args, (gpointer) "--homeserver");
  g_ptr_array_add (args, (gpointer) test_homeserver_get_url (f->hs));
  g_ptr_array_add (args, (gpointer) "--config");
  g_ptr_array_add (args, (gpointer) (config != NULL ? config : f->config));
  for (gsize i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  return run_mxprov ((const gchar *const *) args->pdata, NULL, env, FALSE);
}

static RunResult *
provision (Fixture *f, const gchar *localpart)
{
  const gchar *extra[] = { "--username", localpart, "--bundle-version", "2", "-vv", NULL };
  return run_mas (f, "provision", NULL, extra);
}

/* A config file in the fixture's directory with `text`. */
static gchar *
write_config (Fixture *f, const gchar *name, const gchar *text)
{
  gchar *path = g_build_filename (f->tmpdir, name, NULL);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* No secret of the run in its output or logs, at any verbosity. */
static void
assert_no_secrets (RunResult *r, const gchar *password)
{
  assert_not_contains (r->err, CLIENT_SECRET);
  assert_not_contains (r->err, "mat_");
  assert_not_contains (r->err, "mpt_");
  assert_not_contains (r->err, "mct_");
  if (password != NULL)
    {
      assert_not_contains (r->err, password);
      assert_not_contains (r->out, password);
    }
}

/* Whether a request with this status went to a path under `prefix`. */
static guint
count_answers (Fixture *f, const gchar *prefix, guint status)
{
  g_autoptr(GPtrArray) log = test_homeserver_get_request_log (f->hs);
  g_autofree gchar *suffix = g_strdup_printf (" %u", status);
  guint n = 0;

  for (guint i = 0; i < log->len; i++)
    {
      const gchar *line = g_ptr_array_index (log, i);
      const gchar *path = strchr (line, ' ');
      if (path != NULL && g_str_has_prefix (path + 1, prefix) && g_str_has_suffix (line, suffix))
        n++;
    }
  return n;
}

/* One complete account, as the issue says: in MAS and Synapse, the
 * bundle's password set in MAS and logging in through its compatibility
 * layer, one marked encrypted unfederated room, and no session of the
 * new user or admin token left. */
static void
assert_complete_account (Fixture *f, const gchar *bundle_text, const gchar *localpart)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (bundle_text, &error);
  g_autofree gchar *user_id = g_strdup_printf ("@%s:%s", localpart, SERVER_NAME);
  g_autofree gchar *mas_password = NULL;
  g_autofree gchar *logged_in_as = NULL;
  g_autofree gchar *token = NULL;
  g_autoptr(GPtrArray) joined = NULL;
  g_autoptr(json_object) marker = NULL;
  g_autoptr(json_object) encryption = NULL;
  g_autoptr(json_object) create = NULL;
  g_autoptr(MxprovHttp) http = NULL;
  json_object *federate = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (bundle->version, ==, 2);
  g_assert_cmpstr (bundle->user, ==, user_id);
  g_assert_true (test_homeserver_mas_user_exists (f->hs, localpart));
  g_assert_false (test_homeserver_mas_user_is_deactivated (f->hs, localpart));
  g_assert_true (test_homeserver_user_exists (f->hs, user_id));
  mas_password = test_homeserver_mas_get_user_password (f->hs, localpart);
  g_assert_cmpstr (mas_password, ==, bundle->password);

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

  /* nothing of the run is left: its sessions ended, their devices gone */
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (f->hs, localpart, TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (f->hs, localpart, TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, user_id), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, user_id), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (f->hs, TRUE), ==, 0);

  /* the app's login: the bundle's password, through MAS's compat layer */
  http = mxprov_http_new (test_homeserver_get_url (f->hs), &error);
  g_assert_no_error (error);
  g_assert_true (mxprov_matrix_password_login (http, user_id, bundle->password, "APPDEVICE",
                                               &logged_in_as, &token, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (logged_in_as, ==, user_id);
  g_assert_true (g_str_has_prefix (token, "mct_"));
  g_assert_true (mxprov_matrix_logout (http, token, &error));
  g_assert_no_error (error);
  mxprov_secret_free (g_steal_pointer (&token));
}

/* probe names Synapse, MAS, its issuer and the config that fits */
static void
test_probe (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "probe", "--homeserver", test_homeserver_get_url (f->hs), "--format",
                          "json", NULL };
  const gchar *text_args[] = { "probe", "--homeserver", test_homeserver_get_url (f->hs), NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);
  g_autoptr(RunResult) text = run_mxprov (text_args, NULL, NULL, FALSE);
  g_autoptr(json_object) report = NULL;
  g_autofree gchar *issuer = g_strconcat (test_homeserver_get_mas_url (f->hs), "/", NULL);
  g_autofree gchar *token_endpoint = g_strconcat (test_homeserver_get_mas_url (f->hs),
                                                  "/oauth2/token", NULL);

  g_assert_cmpint (r->exit_code, ==, 0);
  report = json_tokener_parse (r->out);
  g_assert_nonnull (report);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "software")), ==, "Synapse");
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "oauth_service")), ==, "MAS");
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "oauth_issuer")), ==, issuer);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "oauth_token_endpoint")), ==,
                   token_endpoint);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (report, "config")), ==, "examples/mas.conf");
  assert_contains (json_object_get_string (json_object_object_get (report, "advice")),
                   "cannot change its password");
  g_assert_cmpint (text->exit_code, ==, 0);
  assert_contains (text->out, "(Matrix Authentication Service)");
  assert_contains (text->out, "examples/mas.conf");
  /* probe sends no credential: MAS never saw a request */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/oauth2/*"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/api/admin/*"), ==, 0);
}

/* The default (Synapse admin) pipeline stops before any credential goes
 * out, and names the config to use. */
static void
test_default_pipeline_refused (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                          "--admin-user", "admin", "--admin-password-file", f->password_file,
                          "--username", "alice", NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);
  g_autofree gchar *raw = NULL;

  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "examples/mas.conf");
  assert_contains (r->err, "nothing was sent or created");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "PUT", "/_synapse/admin/v2/users/*"), ==, 0);
  raw = test_homeserver_get_raw_requests (f->hs);
  g_assert_null (strstr (raw, ADMIN_PASSWORD));
  g_assert_false (test_homeserver_mas_user_exists (f->hs, "alice"));
}

/* The happy path, end to end with the shipped config. */
static void
test_provision (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = provision (f, "alice");
  g_autofree gchar *password = NULL;

  g_assert_cmpint (r->exit_code, ==, 0);
  g_strstrip (r->out);
  assert_complete_account (f, r->out, "alice");
  /* a personal session with its own device, opened and revoked */
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (f->hs, "alice", FALSE), ==, 1);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/api/admin/v1/personal-sessions"), ==, 1);
  /* no password login of the new user: the one login is the check's own */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/_matrix/client/v3/login"), ==, 1);
  /* one admin token, revoked at the end; Synapse never saw it */
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (f->hs, FALSE), ==, 1);
  g_assert_cmpuint (count_answers (f, "/_matrix/", 401), ==, 0);
  password = test_homeserver_mas_get_user_password (f->hs, "alice");
  assert_no_secrets (r, password);
  assert_contains (r->err, "cannot change");
}

/* A name MAS has: exit 73 before anything is sent to create it. */
static void
test_existing_name (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = provision (f, "taken");
  g_autofree gchar *password = NULL;

  g_assert_cmpint (r->exit_code, ==, EX_CANTCREAT);
  assert_contains (r->err, "@taken:" SERVER_NAME " already exists in MAS");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/api/admin/v1/users"), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/api/admin/v1/users/*"), ==, 0);
  password = test_homeserver_mas_get_user_password (f->hs, "taken");
  g_assert_cmpstr (password, ==, "taken's own password");
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (f->hs, TRUE), ==, 0);
}

/* MAS refuses the password as too weak for its policy: reported as that
 * (exit 65), and the user made a moment before is deactivated. */
static void
test_weak_password (Fixture *f, gconstpointer data)
{
  const TestFault weak = { .kind = TEST_FAULT_STATUS, .status = 400,
                           .body = "{\"errors\":[{\"title\":\"Password is too weak\"}]}" };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/api/admin/v1/users/*/set-password", 0, 1, &weak);
  r = provision (f, "weak");
  g_assert_cmpint (r->exit_code, ==, EX_DATAERR);
  assert_contains (r->err, "too weak");
  assert_contains (r->err, "password-bytes=");
  assert_contains (r->err, "rolled back: deactivated @weak:" SERVER_NAME " in MAS");
  g_assert_true (test_homeserver_mas_user_is_deactivated (f->hs, "weak"));
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@weak:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (f->hs, "weak", FALSE), ==, 0);
}

/* MAS with passwords off: refused before any account exists */
static void
test_passwords_disabled (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = NULL;

  test_homeserver_mas_set_password_login (f->hs, FALSE);
  r = provision (f, "nopass");
  g_assert_cmpint (r->exit_code, ==, EX_UNAVAILABLE);
  assert_contains (r->err, "password login disabled");
  g_assert_false (test_homeserver_mas_user_exists (f->hs, "nopass"));
}

/* A client MAS's policy does not let use the admin API, and a wrong
 * secret: exit 77, with what to change, and nothing created. */
static void
test_not_admin_client (Fixture *f, gconstpointer data)
{
  g_autofree gchar *secret_file = write_config (f, "other-secret", OTHER_CLIENT_SECRET "\n");
  g_autofree gchar *text = g_strdup_printf ("[pipeline]\nsteps=auth;user;room;bundle\n"
                                            "[auth]\nplugin=mas-auth\nclient-id=" OTHER_CLIENT_ID "\n"
                                            "client-secret-file=%s\n"
                                            "[user]\nplugin=mas-user\n[room]\nplugin=matrix-room\n"
                                            "[bundle]\nplugin=lotti-bundle\n", secret_file);
  g_autofree gchar *config = write_config (f, "other.conf", text);
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs), "--config",
                          config, "--username", "bob", "-vv", NULL };
  const gchar *wrong_env[] = { "MXPROV_MAS_CLIENT_SECRET=not-the-secret", NULL };
  const gchar *extra[] = { "--username", "bob", NULL };
  g_autoptr(RunResult) r = NULL;
  g_autoptr(RunResult) wrong = NULL;

  g_chmod (secret_file, 0600);
  r = run_mxprov (args, NULL, NULL, FALSE);
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "policy.data.admin_clients");
  assert_contains (r->err, OTHER_CLIENT_ID);
  assert_not_contains (r->err, OTHER_CLIENT_SECRET);

  /* the environment wins over the file, and a wrong secret says so */
  {
    g_autoptr(GPtrArray) a = g_ptr_array_new ();
    g_ptr_array_add (a, (gpointer) "provision");
    g_ptr_array_add (a, (gpointer) "--homeserver");
    g_ptr_array_add (a, (gpointer) test_homeserver_get_url (f->hs));
    g_ptr_array_add (a, (gpointer) "--config");
    g_ptr_array_add (a, (gpointer) f->config);
    for (gsize i = 0; extra[i] != NULL; i++)
      g_ptr_array_add (a, (gpointer) extra[i]);
    g_ptr_array_add (a, NULL);
    wrong = run_mxprov ((const gchar *const *) a->pdata, NULL, wrong_env, FALSE);
  }
  g_assert_cmpint (wrong->exit_code, ==, EX_NOPERM);
  assert_contains (wrong->err, "wrong secret");
  assert_not_contains (wrong->err, "not-the-secret");

  g_assert_false (test_homeserver_mas_user_exists (f->hs, "bob"));
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/api/admin/*"), ==, 0);
}

/* No secret at all: a usage-level error naming both ways to give it */
static void
test_no_secret (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs), "--config",
                          f->config, "--username", "carol", NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);

  g_assert_cmpint (r->exit_code, ==, EX_CONFIG);
  assert_contains (r->err, "MXPROV_MAS_CLIENT_SECRET");
  assert_contains (r->err, "client-secret-file=");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, NULL, "/oauth2/*"), ==, 0);
}

/* The room cannot be made: the account is deactivated in MAS and Synapse,
 * its personal session revoked, and the run says what it undid. */
static void
test_rollback_after_create_room (Fixture *f, gconstpointer data)
{
  const TestFault refused = { .kind = TEST_FAULT_STATUS, .status = 403,
                              .body = "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"room creation is "
                                      "restricted\"}" };
  g_autoptr(RunResult) r = NULL;

  test_homeserver_add_fault (f->hs, "POST", "/_matrix/client/v3/createRoom", 0, 10, &refused);
  r = provision (f, "dave");
  g_assert_cmpint (r->exit_code, ==, EX_NOPERM);
  assert_contains (r->err, "room creation is restricted");
  assert_contains (r->err, "rolled back: deactivated @dave:" SERVER_NAME " in MAS");
  assert_contains (r->err, "the name stays taken");
  g_assert_cmpstr (r->out, ==, "");
  g_assert_true (test_homeserver_mas_user_is_deactivated (f->hs, "dave"));
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@dave:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (f->hs, "dave", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@dave:" SERVER_NAME), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (f->hs, TRUE), ==, 0);
}

/* MAS before 1.5 has no personal sessions: the new user logs in through
 * the compatibility layer instead, and is logged out at the end. */
static void
test_old_mas_compat_login (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) r = provision (f, "erin");

  g_assert_cmpint (r->exit_code, ==, 0);
  g_strstrip (r->out);
  assert_complete_account (f, r->out, "erin");
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/api/admin/v1/personal-sessions"), ==, 0);
  /* mxprov's login and the check's own in assert_complete_account */
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (f->hs, "erin", FALSE), ==, 2);
  assert_contains (r->err, "compatibility layer");
}

/* MAS's compat login limit sends no retry_after_ms: mxprov waits by
 * itself, within --timeout, and then says what to do. */
static void
test_old_mas_login_rate_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(MxprovHttp) http = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *extra[] = { "--username", "frank", "--timeout", "8", NULL };
  g_autoptr(RunResult) r = NULL;

  /* three failed logins from this address empty MAS's bucket */
  http = mxprov_http_new (test_homeserver_get_url (f->hs), &error);
  g_assert_no_error (error);
  mxprov_http_set_rate_limit_policy (http, 0, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree gchar *user_id = NULL;
      gchar *token = NULL;
      g_assert_false (mxprov_matrix_password_login (http, "taken", "wrong", "X", &user_id, &token,
                                                    &error));
      g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN);
      g_clear_error (&error);
    }
  r = run_mas (f, "provision", NULL, extra);
  g_assert_cmpint (r->exit_code, ==, EX_TEMPFAIL);
  assert_contains (r->err, "MAS limits logins and says not for how long; trying again in 5 s");
  assert_contains (r->err, "MAS still limits logins from this address");
  assert_contains (r->err, "rolled back: deactivated @frank:" SERVER_NAME " in MAS");
  g_assert_true (test_homeserver_mas_user_is_deactivated (f->hs, "frank"));
}

/* A batch whose admin token MAS stops accepting in the middle (restarted
 * with a shorter lifetime, clocks apart): one new token and on, not a
 * failure per account. */
static void
test_batch_expired_token (Fixture *f, gconstpointer data)
{
  const TestFault expired = { .kind = TEST_FAULT_STATUS, .status = 401,
                              .body = "{\"errors\":[{\"title\":\"Access token expired\"}]}" };
  g_autofree gchar *input = write_config (f, "accounts", "u1\nu2\nu3\nu4\nu5\nu6\n");
  g_autofree gchar *output = g_build_filename (f->tmpdir, "bundles.jsonl", NULL);
  const gchar *extra[] = { "--input", input, "--output", output, "-j", "2", "--bundle-version", "2",
                           NULL };
  g_autoptr(RunResult) r = NULL;

  /* the third account creation finds the token expired */
  test_homeserver_add_fault (f->hs, "POST", "/api/admin/v1/users", 2, 1, &expired);
  r = run_mas (f, "batch", NULL, extra);
  g_assert_cmpint (r->exit_code, ==, 0);
  assert_contains (r->err, "batch: 6 created, 0 already existed, 0 failed");
  for (guint i = 1; i <= 6; i++)
    {
      g_autofree gchar *localpart = g_strdup_printf ("u%u", i);
      g_assert_true (test_homeserver_mas_user_exists (f->hs, localpart));
      g_assert_false (test_homeserver_mas_user_is_deactivated (f->hs, localpart));
    }
  /* the batch's token, and one more after the refusal */
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/oauth2/token"), ==, 2);
  g_assert_cmpuint (count_answers (f, "/api/admin/", 401), ==, 1);
}

/* A batch that outlives its token: a new one before each lapses, shared
 * by the workers and by the accounts one after the other (one request per
 * token lifetime, however many accounts), never a 401. */
static void
test_batch_token_lifetime (Fixture *f, gconstpointer data)
{
  const gchar *jobs[] = { "2", "1" };
  guint tokens_before = 0;

  test_homeserver_mas_set_token_ttl (f->hs, 1);
  test_homeserver_set_request_delay (f->hs, 40);
  for (gsize j = 0; j < G_N_ELEMENTS (jobs); j++)
    {
      g_autoptr(GString) accounts = g_string_new (NULL);
      g_autofree gchar *name = g_strdup_printf ("accounts-%s", jobs[j]);
      g_autofree gchar *input = NULL;
      g_autofree gchar *output = g_strdup_printf ("%s/bundles-%s.jsonl", f->tmpdir, jobs[j]);
      const gchar *extra[] = { "--input", NULL, "--output", output, "-j", jobs[j], NULL };
      g_autoptr(RunResult) r = NULL;
      gint64 started;
      gdouble seconds;
      guint tokens, bound;

      for (guint i = 1; i <= 12; i++)
        g_string_append_printf (accounts, "j%sv%u\n", jobs[j], i);
      input = write_config (f, name, accounts->str);
      extra[1] = input;
      started = g_get_monotonic_time ();
      r = run_mas (f, "batch", NULL, extra);
      seconds = (g_get_monotonic_time () - started) / (gdouble) G_USEC_PER_SEC;
      g_assert_cmpint (r->exit_code, ==, 0);
      assert_contains (r->err, "batch: 12 created");
      g_assert_cmpuint (count_answers (f, "/api/admin/", 401), ==, 0);
      tokens = test_homeserver_count_requests (f->hs, "POST", "/oauth2/token") - tokens_before;
      tokens_before += tokens;
      /* a token is renewed when a fifth of its second is left: at most one
       * per 0.8 s of the run, and the first */
      bound = (guint) (seconds / 0.8) + 2;
      g_test_message ("12 accounts, -j %s, token lifetime 1 s: %u token requests in %.1f s (at most %u)",
                      jobs[j], tokens, seconds, bound);
      g_assert_cmpuint (tokens, <=, bound);
      if (seconds > 1.5)
        g_assert_cmpuint (tokens, >, 1);
    }
}

/* status, revoke and reissue through the same plugins */
static void
test_accounts (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) made = provision (f, "gina");
  g_autoptr(RunResult) status = NULL, used = NULL, reissued = NULL, revoked = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(MxprovBundle) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovHttp) http = NULL;
  g_autofree gchar *app_user = NULL;
  g_autofree gchar *password = NULL;
  gchar *app_token = NULL;

  g_assert_cmpint (made->exit_code, ==, 0);
  g_strstrip (made->out);
  bundle = mxprov_bundle_decode (made->out, &error);
  g_assert_no_error (error);
  {
    const gchar *extra[] = { "@gina:" SERVER_NAME, NULL };
    status = run_mas (f, "status", NULL, extra);
  }
  g_assert_cmpint (status->exit_code, ==, 0);
  assert_contains (status->out, "@gina:" SERVER_NAME "  unused  no device; room ");
  assert_contains (status->out, bundle->room_id);
  /* status leaves nothing open */
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (f->hs, "gina", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_mas_count_admin_tokens (f->hs, TRUE), ==, 0);

  /* reissue: a new password that logs in, and the old one no more */
  {
    g_autofree gchar *bundle_out = g_build_filename (f->tmpdir, "reissued", NULL);
    const gchar *extra[] = { "--output", bundle_out, "--bundle-version", "2", "@gina:" SERVER_NAME, NULL };
    g_autofree gchar *text = NULL;
    reissued = run_mas (f, "reissue", NULL, extra);
    g_assert_cmpint (reissued->exit_code, ==, 0);
    g_assert_true (g_file_get_contents (bundle_out, &text, NULL, NULL));
    g_strstrip (text);
    again = mxprov_bundle_decode (text, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpstr (again->room_id, ==, bundle->room_id);
  g_assert_cmpstr (again->password, !=, bundle->password);
  password = test_homeserver_mas_get_user_password (f->hs, "gina");
  g_assert_cmpstr (password, ==, again->password);

  /* the app logs in: now it is in use */
  http = mxprov_http_new (test_homeserver_get_url (f->hs), &error);
  g_assert_true (mxprov_matrix_password_login (http, again->user, again->password, "LOTTIAPP",
                                               &app_user, &app_token, &error));
  g_assert_no_error (error);
  {
    const gchar *extra[] = { "@gina:" SERVER_NAME, NULL };
    used = run_mas (f, "status", NULL, extra);
  }
  assert_contains (used->out, "in-use");
  assert_contains (used->out, "LOTTIAPP");

  /* revoke: the room left, the account deactivated, the app's session ended */
  {
    const gchar *extra[] = { "--yes", "@gina:" SERVER_NAME, NULL };
    revoked = run_mas (f, "revoke", NULL, extra);
  }
  g_assert_cmpint (revoked->exit_code, ==, 0);
  assert_contains (revoked->err, "revoke: 1 revoked");
  g_assert_true (test_homeserver_mas_user_is_deactivated (f->hs, "gina"));
  g_assert_true (test_homeserver_user_is_deactivated (f->hs, "@gina:" SERVER_NAME));
  g_assert_false (test_homeserver_room_is_joined (f->hs, bundle->room_id, "@gina:" SERVER_NAME));
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (f->hs, "gina", TRUE), ==, 0);
  mxprov_secret_free (app_token);
}

/* An older MAS has no personal sessions: status reads the rooms with
 * the bundle's password instead (a compat login, logged out again) */
static void
test_old_mas_status (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) made = provision (f, "ivan");
  g_autoptr(RunResult) status = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *bundle_file = NULL;

  g_assert_cmpint (made->exit_code, ==, 0);
  g_strstrip (made->out);
  bundle = mxprov_bundle_decode (made->out, &error);
  g_assert_no_error (error);
  bundle_file = write_config (f, "ivan.bundle", made->out);
  g_chmod (bundle_file, 0600);
  {
    const gchar *extra[] = { "--bundle", bundle_file, NULL };
    status = run_mas (f, "status", NULL, extra);
  }
  g_assert_cmpint (status->exit_code, ==, 0);
  assert_contains (status->out, "@ivan:" SERVER_NAME "  unused  no device; room ");
  assert_contains (status->out, bundle->room_id);
  g_assert_cmpuint (test_homeserver_mas_count_compat_sessions (f->hs, "ivan", TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_requests (f->hs, "POST", "/api/admin/v1/personal-sessions"), ==, 0);
}

/* verify says plainly what the app cannot do under MAS */
static void
test_verify_warns (Fixture *f, gconstpointer data)
{
  g_autoptr(RunResult) made = provision (f, "hank");
  g_autoptr(RunResult) verified = NULL;
  const gchar *args[] = { "verify", "-", NULL };

  g_assert_cmpint (made->exit_code, ==, 0);
  verified = run_mxprov (args, made->out, NULL, FALSE);
  assert_contains (verified->out, "WARN");
  assert_contains (verified->out, "Matrix Authentication Service");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, version, func) g_test_add ("/mas/" path, Fixture, version, setup, func, teardown)
  ADD ("probe", NULL, test_probe);
  ADD ("default-pipeline-refused", NULL, test_default_pipeline_refused);
  ADD ("provision", NULL, test_provision);
  ADD ("existing-name", NULL, test_existing_name);
  ADD ("weak-password", NULL, test_weak_password);
  ADD ("passwords-disabled", NULL, test_passwords_disabled);
  ADD ("not-admin-client", NULL, test_not_admin_client);
  ADD ("no-secret", NULL, test_no_secret);
  ADD ("rollback-after-create-room", NULL, test_rollback_after_create_room);
  ADD ("old-mas-compat-login", "1.4.0", test_old_mas_compat_login);
  ADD ("old-mas-login-rate-limit", "1.4.0", test_old_mas_login_rate_limit);
  ADD ("old-mas-status", "1.4.0", test_old_mas_status);
  ADD ("batch-expired-token", NULL, test_batch_expired_token);
  ADD ("batch-token-lifetime", NULL, test_batch_token_lifetime);
  ADD ("accounts", NULL, test_accounts);
  ADD ("verify-warns", NULL, test_verify_warns);
#undef ADD
  return g_test_run ();
}
