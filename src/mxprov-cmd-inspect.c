/* mxprov-cmd-inspect.c: `mxprov inspect` and `mxprov verify`, checking a
 * bundle before it is handed over. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <mxprov/mxprov.h>
#include "mxprov-commands.h"
#include "mxprov-exit.h"
#include "mxprov-log.h"
#include "mxprov-probe.h"
#include "mxprov-session.h"

/* The bundle's text from "-" (standard input), a file, or the argument
 * itself (which other local users can read in ps: say so). A secret. */
static gchar *
read_bundle_text (const gchar *arg, GError **error)
{
  gchar *text;

  if (g_strcmp0 (arg, "-") == 0 || g_file_test (arg, G_FILE_TEST_IS_REGULAR))
    {
      return mxprov_secret_read_file (arg, "bundle", error);
    }
  g_warning ("a bundle on the command line is visible to other local users; "
             "pass a file or - (standard input) instead");
  text = g_strdup (arg);
  mxprov_secret_wipe ((gpointer) arg, strlen (arg));
  return text;
}

static gboolean validate_bundle (const MxprovBundle *bundle, GError **error);

/* The one BUNDLE|FILE|- argument of inspect and verify, decoded and
 * checked; with `out_text`, its text too (a secret). */
static MxprovBundle *
read_bundle_argument (gint argc, gchar **argv, gchar **out_text, GError **error)
{
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(MxprovSecret) text = NULL;

  if (argc != 2)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "give one bundle: a file, - for standard input, or the text");
      return NULL;
    }
  text = read_bundle_text (argv[1], error);
  if (text == NULL)
    return NULL;
  bundle = mxprov_bundle_decode (text, error);
  if (bundle == NULL || !validate_bundle (bundle, error))
    return NULL;
  if (out_text != NULL)
    *out_text = g_steal_pointer (&text);
  return g_steal_pointer (&bundle);
}

/* What inspect adds to the decoder's checks: a usable URL, a user ID with
 * a server name, a room ID. */
static gboolean
validate_bundle (const MxprovBundle *bundle, GError **error)
{
  g_autoptr(MxprovHttp) http = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *server_name = NULL;

  http = mxprov_http_new (bundle->home_server, &error_local);
  if (http == NULL)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's homeServer is not usable: %s", error_local->message);
      return FALSE;
    }
  if (g_str_has_suffix (bundle->home_server, "/"))
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's homeServer '%s' ends in '/'", bundle->home_server);
      return FALSE;
    }
  server_name = mxprov_matrix_server_name_from_user_id (bundle->user, &error_local);
  if (server_name == NULL)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's user: %s", error_local->message);
      return FALSE;
    }
  if (strlen (bundle->room_id) < 2)
    {
      g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                   "the bundle's roomId '%s' is too short", bundle->room_id);
      return FALSE;
    }
  return TRUE;
}

/* Would the Lotti app ingest it, and which releases: one line. */
static gchar *
describe_lotti_verdict (const MxprovBundle *bundle, const gchar *text)
{
  g_autoptr(GError) error = NULL;

  if (mxprov_bundle_lotti_accepts (text, &error))
    return g_strdup_printf ("ingested by %s", mxprov_bundle_lotti_releases (bundle->version));
  if (bundle->version == 1)
    return g_strdup_printf ("refused by current releases (%s); read only by %s; "
                            "make version 2 bundles (--bundle-version 2)", error->message,
                            mxprov_bundle_lotti_releases (1));
  return g_strdup_printf ("refused by every release: %s", error->message);
}

gint
mxprov_cmd_inspect (gint argc, gchar **argv)
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(MxprovSecret) text = NULL;
  g_autofree gchar *lotti_verdict = NULL;
  gboolean show_password = FALSE;
  const GOptionEntry entries[] = {
    { "show-password", 0, 0, G_OPTION_ARG_NONE, &show_password,
      "Print the password instead of masking it", NULL },
    { NULL }
  };

  options = g_option_context_new ("BUNDLE|FILE|- - decode and check a provisioning bundle");
  g_option_context_set_summary (options,
    "Decodes the bundle (from FILE, standard input, or the argument): version 1,\n"
    "version 2 (kind provisioned), or the Lotti app's own handover bundle;\n"
    "checks every field, prints it with the password masked, and whether the\n"
    "Lotti app would ingest it. Exit status 65 if it is not a valid bundle.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_log_error (error);
      return EX_USAGE;
    }
  mxprov_log_setup (mxprov_option_verbosity);
  bundle = read_bundle_argument (argc, argv, &text, &error);
  if (bundle == NULL)
    return mxprov_exit_with_error (error);

  if (bundle->kind != MXPROV_BUNDLE_KIND_NONE)
    printf ("version:    %d, kind %s\n", bundle->version, mxprov_bundle_kind_to_string (bundle->kind));
  else
    printf ("version:    %d\n", bundle->version);
  printf ("homeServer: %s\n", bundle->home_server);
  printf ("user:       %s\n", bundle->user);
  if (show_password)
    printf ("password:   %s\n", bundle->password);
  else
    printf ("password:   ******** (%zu characters; --show-password to reveal)\n",
            strlen (bundle->password));
  printf ("roomId:     %s\n", bundle->room_id);
  lotti_verdict = describe_lotti_verdict (bundle, text);
  printf ("lotti:      %s\n", lotti_verdict);
  return EX_OK;
}

typedef struct {
  guint passed;
  guint failed;
} Checks;

static void
report (Checks *checks, gboolean ok, const gchar *what, const gchar *detail)
{
  printf ("%s %s%s%s\n", ok ? "PASS" : "FAIL", what, detail != NULL ? ": " : "",
          detail != NULL ? detail : "");
  if (ok)
    checks->passed++;
  else
    checks->failed++;
}

static json_object *
room_state (MxprovHttp *http, const gchar *token, const gchar *room_id, const gchar *type,
            GError **error)
{
  g_autofree gchar *room = mxprov_http_escape (room_id);
  g_autofree gchar *event = mxprov_http_escape (type);
  g_autofree gchar *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/%s/", room, event);
  return mxprov_http_request (http, "GET", path, token, NULL, NULL, error);
}

/* Every check after login; the caller logs out whatever happens. */
static void
run_checks (Checks *checks, MxprovHttp *http, const gchar *token, const MxprovBundle *bundle)
{
  g_autoptr(json_object) whoami = NULL;
  g_autoptr(json_object) joined = NULL;
  g_autoptr(json_object) marker = NULL;
  g_autoptr(json_object) encryption = NULL;
  g_autoptr(json_object) create = NULL;
  g_autoptr(GError) error = NULL;
  json_object *member = NULL;
  gboolean in_room = FALSE;

  whoami = mxprov_http_request (http, "GET", "/_matrix/client/v3/account/whoami", token, NULL,
                                NULL, &error);
  if (whoami == NULL)
    report (checks, FALSE, "whoami", error->message);
  else
    {
      const gchar *user_id = mxprov_json_get_string (whoami, "user_id", NULL);
      report (checks, g_strcmp0 (user_id, bundle->user) == 0, "whoami is the bundle's user",
              user_id);
    }
  g_clear_error (&error);

  joined = mxprov_http_request (http, "GET", "/_matrix/client/v3/joined_rooms", token, NULL, NULL,
                                &error);
  if (joined != NULL && json_object_object_get_ex (joined, "joined_rooms", &member)
      && json_object_is_type (member, json_type_array))
    for (gsize i = 0; i < json_object_array_length (member); i++)
      if (g_strcmp0 (json_object_get_string (json_object_array_get_idx (member, i)),
                     bundle->room_id) == 0)
        in_room = TRUE;
  report (checks, in_room, "the room is joined", error != NULL ? error->message : bundle->room_id);
  g_clear_error (&error);

  marker = room_state (http, token, bundle->room_id, "m.lotti.sync_room", &error);
  report (checks, marker != NULL, "the room carries the m.lotti.sync_room marker",
          error != NULL ? error->message : NULL);
  g_clear_error (&error);

  encryption = room_state (http, token, bundle->room_id, "m.room.encryption", &error);
  report (checks,
          encryption != NULL
          && g_strcmp0 (mxprov_json_get_string (encryption, "algorithm", NULL), "m.megolm.v1.aes-sha2") == 0,
          "the room is encrypted (m.megolm.v1.aes-sha2)", error != NULL ? error->message : NULL);
  g_clear_error (&error);

  create = room_state (http, token, bundle->room_id, "m.room.create", &error);
  report (checks,
          create != NULL && json_object_object_get_ex (create, "m.federate", &member)
          && json_object_is_type (member, json_type_boolean) && !json_object_get_boolean (member),
          "the room is not federated (m.federate false)", error != NULL ? error->message : NULL);
}

/* What the Lotti app would make of this bundle on this server: notes that
 * do not fail the verification (the account works), but that the admin
 * must hear before handing it over. On a server whose login is delegated
 * to an OAuth 2.0 service (MSC2965, MAS; the probe's check) the app logs
 * in through the compatibility layer and joins, but its password change,
 * POST /account/password, has no endpoint. */
static void
report_lotti_notes (MxprovHttp *http, const MxprovBundle *bundle, const gchar *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovProbe) probe = mxprov_probe_run (http, MXPROV_PROBE_OAUTH | MXPROV_PROBE_KNOWN_MATRIX,
                                                   NULL);

  if (!mxprov_bundle_lotti_accepts (text, &error))
    printf ("WARN the Lotti app would refuse this bundle: %s%s\n", error->message,
            bundle->version == 1 ? "; make version 2 bundles (--bundle-version 2)" : "");
  if (probe->oauth_issuer != NULL)
    printf ("WARN login on this server is delegated to %s (%s): the Lotti app can log in "
            "and join, but its password change (POST /_matrix/client/v3/account/password) has "
            "no endpoint there\n", probe->oauth_issuer,
            probe->mas ? "the Matrix Authentication Service" : "OAuth 2.0");
}

gint
mxprov_cmd_verify (gint argc, gchar **argv)
{
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(MxprovHttp) http = NULL;
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();
  g_autofree gchar *user_id = NULL;
  g_autoptr(MxprovSecret) token = NULL;
  g_autoptr(MxprovSecret) text = NULL;
  gboolean allow_insecure_http = FALSE;
  gchar *cacert = NULL;
  gint timeout = 60;
  Checks checks = { 0 };
  const GOptionEntry entries[] = {
    { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &cacert,
      "Trust the CA certificates in FILE (PEM) instead of the system's", "FILE" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, "Give up after SECONDS (default 60)", "SECONDS" },
    { "allow-insecure-http", 0, 0, G_OPTION_ARG_NONE, &allow_insecure_http,
      "Allow a plain http:// homeserver that is not on this machine", NULL },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, mxprov_option_verbose_cb,
      "Trace each HTTP request (secrets are never shown)", NULL },
    { NULL }
  };

  options = g_option_context_new ("BUNDLE|FILE|- - check that a bundle's account works");
  g_option_context_set_summary (options,
    "Logs in with the bundle's credentials, checks the user, that the room is\n"
    "joined, marked, encrypted and not federated, then logs out again (the\n"
    "login's device is removed; nothing else changes). Prints PASS or FAIL per\n"
    "check, and WARN for what the Lotti app would refuse (a version 1 bundle,\n"
    "a plain http:// homeServer, a server whose login is delegated to OAuth);\n"
    "exit status 65 if any check fails, 69 if the server is unreachable.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_log_error (error);
      g_free (cacert);
      return EX_USAGE;
    }
  mxprov_log_setup (mxprov_option_verbosity);
  session->cacert = cacert;
  bundle = read_bundle_argument (argc, argv, &text, &error);
  if (bundle == NULL)
    return mxprov_exit_with_error (error);
  if (!allow_insecure_http && !mxprov_session_check_transport_security (bundle->home_server, &error))
    return mxprov_exit_with_error (error);

  session->homeserver = g_strdup (bundle->home_server);
  session->timeout = timeout;
  session->request_timeout = MIN (timeout, 30);
  session->retries = 2;
  session->deadline_us = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  http = mxprov_session_new_http (session, &error);
  if (http == NULL)
    return mxprov_exit_with_error (error);

  if (!mxprov_matrix_password_login (http, bundle->user, bundle->password, device_id, &user_id,
                                     &token, &error))
    {
      report (&checks, FALSE, "login with the bundle's password", error->message);
      if (error->domain == MXPROV_HTTP_ERROR)
        return mxprov_exit_code_for_error (error);
      return EX_DATAERR;
    }
  report (&checks, TRUE, "login with the bundle's password", NULL);
  run_checks (&checks, http, token, bundle);
  report_lotti_notes (http, bundle, text);

  /* the login made a device: remove it, so verifying leaves no trace */
  mxprov_http_set_deadline (http, g_get_monotonic_time () + 30 * G_USEC_PER_SEC);
  g_clear_error (&error);
  report (&checks, mxprov_matrix_logout (http, token, &error), "logged out again (device removed)",
          error != NULL ? error->message : NULL);
  fprintf (stderr, "mxprov: verify: %u passed, %u failed\n", checks.passed, checks.failed);
  return checks.failed > 0 ? EX_DATAERR : EX_OK;
}
