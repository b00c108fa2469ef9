/* test-inspect.c: `mxprov inspect` and `mxprov verify` on real bundles. */
#include "config.h"

#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define SERVER_NAME "example.test"

typedef struct {
  TestHomeserver *hs;
  gchar *tmpdir;
  gchar *bundle;      /* Base64 */
  gchar *bundle_file;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *password_file = NULL;
  g_autoptr(RunResult) r = NULL;

  f->hs = test_homeserver_new (SERVER_NAME);
  test_homeserver_add_user (f->hs, "admin", "inspect admin pw", TRUE);
  g_assert_true (test_homeserver_start (f->hs, &error));
  f->tmpdir = g_dir_make_tmp ("mxprov-inspect-XXXXXX", &error);
  password_file = g_build_filename (f->tmpdir, "pw", NULL);
  g_assert_true (g_file_set_contents (password_file, "inspect admin pw\n", -1, NULL));
  g_chmod (password_file, 0600);
  {
    const gchar *args[] = { "provision", "--homeserver", test_homeserver_get_url (f->hs),
                            "--admin-user", "admin", "--admin-password-file", password_file,
                            "--username", "checked", NULL };
    r = run_mxprov (args, NULL, NULL, TRUE);
  }
  g_assert_cmpint (r->exit_code, ==, 0);
  f->bundle = g_strdup (g_strstrip (r->out));
  f->bundle_file = g_build_filename (f->tmpdir, "bundle", NULL);
  g_assert_true (g_file_set_contents (f->bundle_file, f->bundle, -1, NULL));
  g_unlink (password_file);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  test_homeserver_stop (f->hs);
  test_homeserver_free (f->hs);
  g_unlink (f->bundle_file);
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->bundle);
  g_free (f->bundle_file);
}

static gchar *
encode_json (const gchar *json)
{
  return mxprov_base64url_encode ((const guint8 *) json, strlen (json));
}

static void
test_inspect (Fixture *f, gconstpointer data)
{
  const gchar *masked[] = { "inspect", f->bundle_file, NULL };
  const gchar *shown[] = { "inspect", "--show-password", "-", NULL };
  g_autoptr(RunResult) r1 = run_mxprov (masked, NULL, NULL, FALSE);
  g_autoptr(RunResult) r2 = run_mxprov (shown, f->bundle, NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (f->bundle, &error);

  g_assert_cmpint (r1->exit_code, ==, 0);
  assert_contains (r1->out, "user:       @checked:" SERVER_NAME);
  assert_contains (r1->out, bundle->room_id);
  assert_contains (r1->out, "password:   ******** (43 characters");
  assert_not_contains (r1->out, bundle->password);
  g_assert_cmpint (r2->exit_code, ==, 0);
  assert_contains (r2->out, bundle->password);
}

static void
test_inspect_rejects (Fixture *f, gconstpointer data)
{
  g_autofree gchar *truncated = g_strndup (f->bundle, strlen (f->bundle) - 7);
  g_autofree gchar *padded = g_strconcat (f->bundle, "==", NULL);
  g_autofree gchar *missing = encode_json ("{\"v\":1,\"homeServer\":\"https://m.example\",\"user\":\"@a:b\",\"roomId\":\"!r\"}");
  g_autofree gchar *wrong_type = encode_json ("{\"v\":\"1\",\"homeServer\":\"https://m.example\",\"user\":\"@a:b\",\"password\":\"p\",\"roomId\":\"!r\"}");
  g_autofree gchar *bad_url = encode_json ("{\"v\":1,\"homeServer\":\"https://\",\"user\":\"@a:b\",\"password\":\"p\",\"roomId\":\"!r\"}");
  const struct {
    const gchar *input;
    const gchar *expected;
  } cases[] = {
    { truncated, "the bundle is not" },
    { padded, "padding '=' is not allowed" },
    { "not*base64", "not in the URL-safe Base64 alphabet" },
    { missing, "the bundle has no \"password\"" },
    { wrong_type, "\"v\" is not an integer" },
    { bad_url, "homeServer is not usable" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const gchar *args[] = { "inspect", "-", NULL };
      g_autoptr(RunResult) r = run_mxprov (args, cases[i].input, NULL, FALSE);
      g_assert_cmpint (r->exit_code, ==, EX_DATAERR);
      assert_contains (r->err, "mxprov: error: ");
      assert_contains (r->err, cases[i].expected);
      g_assert_cmpstr (r->out, ==, "");
    }
}

static void
test_verify (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "verify", f->bundle_file, NULL };
  g_autoptr(RunResult) r = run_mxprov (args, NULL, NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (f->bundle, &error);
  g_autofree gchar *password = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (r->exit_code, ==, 0);
  lines = g_strsplit (g_strstrip (r->out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 7);
  assert_not_contains (r->out, "FAIL");
  assert_contains (r->out, "PASS the room carries the m.lotti.sync_room marker");
  assert_contains (r->out, "PASS the room is not federated");
  /* nothing changed: same password, no device left */
  password = test_homeserver_get_user_password (f->hs, "@checked:" SERVER_NAME);
  g_assert_cmpstr (password, ==, bundle->password);
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@checked:" SERVER_NAME), ==, 0);
  g_assert_cmpuint (test_homeserver_count_tokens (f->hs, "@checked:" SERVER_NAME), ==, 0);
}

static void
test_verify_failures (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (f->bundle, &error);
  g_autoptr(MxprovBundle) wrong_password = mxprov_bundle_new (bundle->home_server, bundle->user,
                                                              "not the password", bundle->room_id);
  g_autoptr(MxprovBundle) wrong_room = mxprov_bundle_new (bundle->home_server, bundle->user,
                                                          bundle->password, "!nosuchroom:" SERVER_NAME);
  g_autofree gchar *text1 = mxprov_bundle_encode (wrong_password);
  g_autofree gchar *text2 = mxprov_bundle_encode (wrong_room);
  const gchar *args[] = { "verify", "-", NULL };
  g_autoptr(RunResult) r1 = run_mxprov (args, text1, NULL, FALSE);
  g_autoptr(RunResult) r2 = run_mxprov (args, text2, NULL, FALSE);

  g_assert_cmpint (r1->exit_code, ==, EX_DATAERR);
  assert_contains (r1->out, "FAIL login with the bundle's password");
  assert_not_contains (r1->err, "not the password");
  g_assert_cmpint (r2->exit_code, ==, EX_DATAERR);
  assert_contains (r2->out, "PASS login");
  assert_contains (r2->out, "FAIL the room is joined");
  assert_contains (r2->out, "PASS logged out again");
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, "@checked:" SERVER_NAME), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/inspect/ok", Fixture, NULL, setup, test_inspect, teardown);
  g_test_add ("/inspect/rejects", Fixture, NULL, setup, test_inspect_rejects, teardown);
  g_test_add ("/verify/ok", Fixture, NULL, setup, test_verify, teardown);
  g_test_add ("/verify/failures", Fixture, NULL, setup, test_verify_failures, teardown);
  return g_test_run ();
}
