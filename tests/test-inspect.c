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
  g_autofree gchar *padded = g_strconcat (f->bundle, "===", NULL);
  g_autofree gchar *missing = encode_json ("{\"v\":1,\"homeServer\":\"https://m.example\",\"user\":\"@a:b\",\"roomId\":\"!r\"}");
  g_autofree gchar *wrong_type = encode_json ("{\"v\":\"1\",\"homeServer\":\"https://m.example\",\"user\":\"@a:b\",\"password\":\"p\",\"roomId\":\"!r\"}");
  g_autofree gchar *bad_url = encode_json ("{\"v\":1,\"homeServer\":\"https://\",\"user\":\"@a:b\",\"password\":\"p\",\"roomId\":\"!r\"}");
  const struct {
    const gchar *input;
    const gchar *expected;
  } cases[] = {
    { truncated, "the bundle is not" },
    { padded, "wrong '=' padding" },
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
  g_assert_cmpuint (g_strv_length (lines), ==, 8);
  assert_not_contains (r->out, "FAIL");
  /* a version 1 bundle works, but today's app refuses it: a note, not a failure */
  assert_contains (r->out, "WARN the Lotti app would refuse this bundle: unsupported version 1");
  assert_contains (r->out, "--bundle-version 2");
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

/* inspect names the version and kind it read, and what the Lotti app
 * would say: v1, v2 (http and https), the app's padded handover bundle;
 * an unknown version or kind is an error naming what was found. */
static void
test_inspect_versions (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) v1 = mxprov_bundle_decode (f->bundle, &error);
  g_autoptr(MxprovBundle) v2_https = mxprov_bundle_new_full (2, MXPROV_BUNDLE_KIND_PROVISIONED,
                                                             "https://matrix.example.org", v1->user,
                                                             v1->password, v1->room_id);
  g_autoptr(MxprovBundle) v2_http = mxprov_bundle_new_full (2, MXPROV_BUNDLE_KIND_PROVISIONED,
                                                            v1->home_server, v1->user,
                                                            v1->password, v1->room_id);
  /* of two lengths one needs padding: its JSON's length is not a multiple of 3 */
  const gchar *rotated = "rotated by the app";
  g_autoptr(MxprovBundle) handover = NULL;
  g_autofree gchar *text_handover = NULL;
  g_autofree gchar *masked = NULL;
  g_autofree gchar *text_https = mxprov_bundle_encode (v2_https);
  g_autofree gchar *text_http = mxprov_bundle_encode (v2_http);
  g_autofree gchar *v7 = encode_json ("{\"v\":7,\"kind\":\"provisioned\",\"homeServer\":\"https://m.example\","
                                      "\"user\":\"@a:b\",\"password\":\"p\",\"roomId\":\"!r\"}");
  g_autofree gchar *odd_kind = encode_json ("{\"v\":2,\"kind\":\"transfer\",\"homeServer\":\"https://m.example\","
                                            "\"user\":\"@a:b\",\"password\":\"p\",\"roomId\":\"!r\"}");
  const gchar *args[] = { "inspect", "-", NULL };
  g_autoptr(RunResult) r1 = NULL;
  g_autoptr(RunResult) r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL;

  for (;;)
    {
      g_autoptr(MxprovSecret) json = NULL;

      handover = mxprov_bundle_new_full (2, MXPROV_BUNDLE_KIND_HANDOVER, "https://matrix.example.org",
                                         v1->user, rotated, v1->room_id);
      json = mxprov_bundle_to_json (handover);
      if (strlen (json) % 3 != 0)
        break;
      g_clear_pointer (&handover, mxprov_bundle_free);
      rotated = "rotated by the app!";
    }
  text_handover = mxprov_bundle_encode (handover);
  masked = g_strdup_printf ("password:   ******** (%zu characters", strlen (rotated));
  r1 = run_mxprov (args, f->bundle, NULL, FALSE);
  r2 = run_mxprov (args, text_https, NULL, FALSE);
  r3 = run_mxprov (args, text_http, NULL, FALSE);
  r4 = run_mxprov (args, text_handover, NULL, FALSE);
  r5 = run_mxprov (args, v7, NULL, FALSE);
  r6 = run_mxprov (args, odd_kind, NULL, FALSE);

  g_assert_cmpint (r1->exit_code, ==, 0);
  assert_contains (r1->out, "version:    1\n");
  assert_contains (r1->out, "lotti:      refused by current releases (unsupported version 1");
  assert_contains (r1->out, "Lotti releases before 0.9.976");

  g_assert_cmpint (r2->exit_code, ==, 0);
  assert_contains (r2->out, "version:    2, kind provisioned\n");
  assert_contains (r2->out, "lotti:      ingested by Lotti 0.9.976+3984 (April 2026) and later");

  g_assert_cmpint (r3->exit_code, ==, 0);
  assert_contains (r3->out, "version:    2, kind provisioned\n");
  assert_contains (r3->out, "lotti:      refused by every release: malformed: \"homeServer\" does not start with https://");

  g_assert_true (g_str_has_suffix (text_handover, "="));
  g_assert_cmpint (r4->exit_code, ==, 0);
  assert_contains (r4->out, "version:    2, kind handover\n");
  assert_contains (r4->out, masked);
  assert_contains (r4->out, "lotti:      ingested by");

  g_assert_cmpint (r5->exit_code, ==, EX_DATAERR);
  assert_contains (r5->err, "bundle version 7 is not supported");
  g_assert_cmpint (r6->exit_code, ==, EX_DATAERR);
  assert_contains (r6->err, "bundle kind \"transfer\" is not supported");
}

/* The app's handover bundle for the same account verifies like the
 * provisioned one; on a server whose login is delegated to OAuth
 * (auth_metadata answers) verify warns that the app cannot rotate the
 * password there, without failing. */
static void
test_verify_handover_and_delegation (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) v1 = mxprov_bundle_decode (f->bundle, &error);
  g_autoptr(MxprovBundle) handover = mxprov_bundle_new_full (2, MXPROV_BUNDLE_KIND_HANDOVER,
                                                             v1->home_server, v1->user,
                                                             v1->password, v1->room_id);
  g_autofree gchar *text = mxprov_bundle_encode (handover);
  const gchar *args[] = { "verify", "-", NULL };
  g_autoptr(RunResult) r1 = run_mxprov (args, text, NULL, FALSE);
  g_autoptr(RunResult) r2 = NULL;
  TestFault metadata = { .kind = TEST_FAULT_STATUS, .status = 200,
                         .body = "{\"issuer\":\"https://auth.example.test/\","
                                 "\"token_endpoint\":\"https://auth.example.test/oauth2/token\"}" };

  g_assert_cmpint (r1->exit_code, ==, 0);
  assert_not_contains (r1->out, "FAIL");
  assert_contains (r1->out, "PASS the room is joined");
  /* http:// on a v2 bundle: the app refuses it, and says why */
  assert_contains (r1->out, "WARN the Lotti app would refuse this bundle: malformed: \"homeServer\"");
  assert_not_contains (r1->out, "delegated");

  test_homeserver_add_fault (f->hs, "GET", "/_matrix/client/v1/auth_metadata", 0, 10, &metadata);
  r2 = run_mxprov (args, text, NULL, FALSE);
  g_assert_cmpint (r2->exit_code, ==, 0);
  assert_contains (r2->out, "WARN login on this server is delegated to https://auth.example.test/");
  assert_contains (r2->out, "account/password");
  g_assert_cmpuint (test_homeserver_count_devices (f->hs, v1->user), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/inspect/ok", Fixture, NULL, setup, test_inspect, teardown);
  g_test_add ("/inspect/rejects", Fixture, NULL, setup, test_inspect_rejects, teardown);
  g_test_add ("/verify/ok", Fixture, NULL, setup, test_verify, teardown);
  g_test_add ("/verify/failures", Fixture, NULL, setup, test_verify_failures, teardown);
  g_test_add ("/inspect/versions", Fixture, NULL, setup, test_inspect_versions, teardown);
  g_test_add ("/verify/handover-and-delegation", Fixture, NULL, setup,
              test_verify_handover_and_delegation, teardown);
  return g_test_run ();
}
