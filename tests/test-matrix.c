/* test-matrix.c: Matrix identifier rules, the Matrix error, and the exit
 * code of every error the host can meet. */
#include "config.h"

#include <string.h>
#include <sysexits.h>
#include <gio/gio.h>

#include <mxprov/mxprov.h>
#include "mxprov-exit.h"
#include "mxprov-loader.h"
#include "mxprov-output.h"
#include "mxprov-pipeline.h"

static void
test_localpart_valid (void)
{
  static const gchar *const valid[] = {
    "alice", "a.b_c=d-e/f", "lotti_sync_user42", "a", "42alice", "alice_", "a1234",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("localpart '%s'", valid[i]);
      g_assert_true (mxprov_matrix_validate_localpart (valid[i], "example.com", &error));
      g_assert_no_error (error);
    }
}

static void
assert_localpart_invalid (const gchar *localpart, const gchar *server_name,
                          const gchar *fragment)
{
  g_autoptr(GError) error = NULL;

  g_test_message ("localpart '%s'", localpart != NULL ? localpart : "(null)");
  g_assert_false (mxprov_matrix_validate_localpart (localpart, server_name, &error));
  g_assert_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME);
  g_assert_nonnull (strstr (error->message, fragment));
  /* and without a GError */
  g_assert_false (mxprov_matrix_validate_localpart (localpart, server_name, NULL));
}

static void
test_localpart_invalid (void)
{
  assert_localpart_invalid ("", "example.com", "empty");
  assert_localpart_invalid (NULL, "example.com", "empty");
  assert_localpart_invalid ("Alice", "example.com", "upper-case 'A'");
  assert_localpart_invalid ("alicE", "example.com", "upper-case 'E'");
  assert_localpart_invalid ("al ice", "example.com", "' ' is not allowed");
  /* Synapse 1.67 refuses '+' */
  assert_localpart_invalid ("al+ice", "example.com", "'+' is not allowed");
  assert_localpart_invalid ("al:ice", "example.com", "':' is not allowed");
  assert_localpart_invalid ("@alice", "example.com", "'@' is not allowed");
  assert_localpart_invalid ("_alice", "example.com", "may not start with '_'");
  assert_localpart_invalid ("12345", "example.com", "all digits");
  assert_localpart_invalid ("0", "example.com", "all digits");
  assert_localpart_invalid ("alic\xc3\xa9", "example.com", "byte 0xc3 at offset 4");
  assert_localpart_invalid ("al\tice", "example.com", "byte 0x09 at offset 2");
}

static void
test_localpart_length (void)
{
  const gchar *server = "example.test";
  /* "@" + localpart + ":" + server */
  gsize fits = MXPROV_MATRIX_USER_ID_MAX - 2 - strlen (server);
  g_autofree gchar *longest = g_strnfill (fits, 'a');
  g_autofree gchar *too_long = g_strnfill (fits + 1, 'a');
  g_autofree gchar *id_255 = mxprov_matrix_user_id (longest, server);
  g_autofree gchar *id_256 = mxprov_matrix_user_id (too_long, server);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (strlen (id_255), ==, 255);
  g_assert_cmpuint (strlen (id_256), ==, 256);
  g_assert_true (mxprov_matrix_validate_localpart (longest, server, &error));
  g_assert_no_error (error);
  assert_localpart_invalid (too_long, server, "256 bytes");
  assert_localpart_invalid (too_long, server, "255");
}

static void
test_user_id (void)
{
  g_autofree gchar *id = mxprov_matrix_user_id ("alice", "example.com:8448");

  g_assert_cmpstr (id, ==, "@alice:example.com:8448");
}

static void
test_server_name_from_user_id (void)
{
  static const struct {
    const gchar *user_id;
    const gchar *server;
  } good[] = {
    { "@a:example.com:8448", "example.com:8448" },
    { "@alice:example.com", "example.com" },
    { "@a:[::1]:8448", "[::1]:8448" },
  };
  static const gchar *const bad[] = { "a:b", "@:b", "@a:", "@ab", "", "alice" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *server = mxprov_matrix_server_name_from_user_id (good[i].user_id, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (server, ==, good[i].server);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *server = mxprov_matrix_server_name_from_user_id (bad[i], &error);
      g_autofree gchar *quoted = g_strdup_printf ("'%s'", bad[i]);

      g_test_message ("user ID '%s'", bad[i]);
      g_assert_null (server);
      g_assert_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER);
      g_assert_nonnull (strstr (error->message, quoted));
    }
}

static void
assert_matrix_error (const GError *error, gint code, guint status, const gchar *errcode,
                     gint64 retry_after_ms, const gchar *message)
{
  g_assert_error (error, MXPROV_MATRIX_ERROR, code);
  g_assert_cmpuint (mxprov_matrix_error_get_status (error), ==, status);
  g_assert_cmpstr (mxprov_matrix_error_get_errcode (error), ==, errcode);
  g_assert_cmpint (mxprov_matrix_error_get_retry_after_ms (error), ==, retry_after_ms);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_matrix_error_new (void)
{
  g_autoptr(GError) forbidden = mxprov_matrix_error_new (403, "M_FORBIDDEN",
                                                         "You are not a server admin", -1);
  g_autoptr(GError) limited = mxprov_matrix_error_new (429, "M_LIMIT_EXCEEDED",
                                                       "Too Many Requests", 1500);
  g_autoptr(GError) no_errcode = mxprov_matrix_error_new (404, NULL, "Not found", -1);
  g_autoptr(GError) empty = mxprov_matrix_error_new (500, "M_UNKNOWN", "", -1);
  g_autoptr(GError) null_message = mxprov_matrix_error_new (502, NULL, NULL, 0);

  assert_matrix_error (forbidden, MXPROV_MATRIX_ERROR_FORBIDDEN, 403, "M_FORBIDDEN", -1,
                       "You are not a server admin (HTTP 403, M_FORBIDDEN)");
  assert_matrix_error (limited, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED, 429, "M_LIMIT_EXCEEDED",
                       1500, "Too Many Requests (HTTP 429, M_LIMIT_EXCEEDED)");
  assert_matrix_error (no_errcode, MXPROV_MATRIX_ERROR_UNKNOWN, 404, NULL, -1,
                       "Not found (HTTP 404)");
  assert_matrix_error (empty, MXPROV_MATRIX_ERROR_UNKNOWN, 500, "M_UNKNOWN", -1,
                       "no error message (HTTP 500, M_UNKNOWN)");
  assert_matrix_error (null_message, MXPROV_MATRIX_ERROR_UNKNOWN, 502, NULL, 0,
                       "no error message (HTTP 502)");
}

static void
test_matrix_error_copy_prefix (void)
{
  GError *original = mxprov_matrix_error_new (429, "M_LIMIT_EXCEEDED", "Slow down", 2500);
  g_autoptr(GError) copy = g_error_copy (original);
  g_autoptr(GError) propagated = NULL;

  /* the copy owns its own errcode */
  g_error_free (original);
  assert_matrix_error (copy, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED, 429, "M_LIMIT_EXCEEDED", 2500,
                       "Slow down (HTTP 429, M_LIMIT_EXCEEDED)");

  g_prefix_error (&copy, "POST %s: ", "/_matrix/client/v3/createRoom");
  assert_matrix_error (copy, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED, 429, "M_LIMIT_EXCEEDED", 2500,
                       "POST /_matrix/client/v3/createRoom: Slow down (HTTP 429, M_LIMIT_EXCEEDED)");

  g_propagate_prefixed_error (&propagated, g_error_copy (copy), "room step: ");
  assert_matrix_error (propagated, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED, 429, "M_LIMIT_EXCEEDED",
                       2500,
                       "room step: POST /_matrix/client/v3/createRoom: Slow down (HTTP 429, M_LIMIT_EXCEEDED)");
}

/* An error of the domain made without mxprov_matrix_error_new still has
 * the private data, with its defaults. */
static void
test_matrix_error_plain (void)
{
  g_autoptr(GError) error = g_error_new (MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_NOT_FOUND,
                                         "no such thing");

  g_assert_cmpuint (mxprov_matrix_error_get_status (error), ==, 0);
  g_assert_null (mxprov_matrix_error_get_errcode (error));
  g_assert_cmpint (mxprov_matrix_error_get_retry_after_ms (error), ==, -1);
}

static void
test_matrix_errcode_mapping (void)
{
  static const struct {
    const gchar *errcode;
    MxprovMatrixError code;
  } map[] = {
    { "M_FORBIDDEN", MXPROV_MATRIX_ERROR_FORBIDDEN },
    { "M_UNKNOWN_TOKEN", MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN },
    { "M_MISSING_TOKEN", MXPROV_MATRIX_ERROR_MISSING_TOKEN },
    { "M_USER_DEACTIVATED", MXPROV_MATRIX_ERROR_USER_DEACTIVATED },
    { "M_NOT_FOUND", MXPROV_MATRIX_ERROR_NOT_FOUND },
    { "M_UNRECOGNIZED", MXPROV_MATRIX_ERROR_UNRECOGNIZED },
    { "M_LIMIT_EXCEEDED", MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED },
    { "M_USER_IN_USE", MXPROV_MATRIX_ERROR_USER_IN_USE },
    { "M_INVALID_USERNAME", MXPROV_MATRIX_ERROR_INVALID_USERNAME },
    { "M_WEAK_PASSWORD", MXPROV_MATRIX_ERROR_WEAK_PASSWORD },
    { "M_BAD_JSON", MXPROV_MATRIX_ERROR_BAD_JSON },
    { "M_NOT_JSON", MXPROV_MATRIX_ERROR_BAD_JSON },
    { "M_INVALID_PARAM", MXPROV_MATRIX_ERROR_BAD_JSON },
    { "M_UNKNOWN", MXPROV_MATRIX_ERROR_UNKNOWN },
    { "M_SOMETHING_NEW", MXPROV_MATRIX_ERROR_UNKNOWN },
    { "m_forbidden", MXPROV_MATRIX_ERROR_UNKNOWN },
    { "M_FORBIDDEN ", MXPROV_MATRIX_ERROR_UNKNOWN },
    { "", MXPROV_MATRIX_ERROR_UNKNOWN },
    { NULL, MXPROV_MATRIX_ERROR_UNKNOWN },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (map); i++)
    {
      g_autoptr(GError) error = mxprov_matrix_error_new (400, map[i].errcode, "x", -1);

      g_test_message ("errcode %s", map[i].errcode != NULL ? map[i].errcode : "(null)");
      g_assert_cmpint (mxprov_matrix_error_code_from_errcode (map[i].errcode), ==, map[i].code);
      g_assert_error (error, MXPROV_MATRIX_ERROR, (gint) map[i].code);
      /* the server's errcode is kept verbatim, known or not */
      g_assert_cmpstr (mxprov_matrix_error_get_errcode (error), ==, map[i].errcode);
    }
}

static void
assert_exit_code (GError *error, gint expected)
{
  g_test_message ("%s %d (%s): expecting %d", g_quark_to_string (error->domain), error->code,
                  error->message, expected);
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, expected);
  g_error_free (error);
}

static void
assert_exit_code_for (GQuark domain, gint code, gint expected)
{
  assert_exit_code (g_error_new_literal (domain, code, "test error"), expected);
}

static void
test_exit_codes (void)
{
  g_assert_cmpint (mxprov_exit_code_for_error (NULL), ==, EX_OK);
  g_assert_cmpint (EX_OK, ==, 0);

  assert_exit_code_for (G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, EX_USAGE);
  assert_exit_code_for (G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, EX_USAGE);

  assert_exit_code_for (MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID, EX_CONFIG);
  assert_exit_code_for (MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING, EX_CONFIG);
  assert_exit_code_for (MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_UNKNOWN_KEY, EX_CONFIG);

  assert_exit_code_for (MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_NOT_FOUND, EX_CONFIG);
  assert_exit_code_for (MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_OPEN, EX_CONFIG);
  assert_exit_code_for (MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_NO_GETTER, EX_CONFIG);
  assert_exit_code_for (MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_ABI_MISMATCH, EX_CONFIG);
  assert_exit_code_for (MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID, EX_CONFIG);
  assert_exit_code_for (MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_WRONG_STEP, EX_CONFIG);

  assert_exit_code_for (MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT, EX_USAGE);
  assert_exit_code_for (MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_CONTRACT, EX_CONFIG);
  assert_exit_code_for (MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG, EX_SOFTWARE);

  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_FAILED, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_INVALID_URL, EX_USAGE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_RESOLVE, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_CONNECT, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TIMEOUT, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TLS, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_CONNECTION_LOST, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TOO_LARGE, EX_PROTOCOL);
  assert_exit_code_for (MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_NOT_JSON, EX_PROTOCOL);

  assert_exit_code (mxprov_matrix_error_new (403, "M_FORBIDDEN", "x", -1), EX_NOPERM);
  assert_exit_code (mxprov_matrix_error_new (401, "M_UNKNOWN_TOKEN", "x", -1), EX_NOPERM);
  assert_exit_code (mxprov_matrix_error_new (401, "M_MISSING_TOKEN", "x", -1), EX_NOPERM);
  assert_exit_code (mxprov_matrix_error_new (403, "M_USER_DEACTIVATED", "x", -1), EX_NOPERM);
  assert_exit_code (mxprov_matrix_error_new (429, "M_LIMIT_EXCEEDED", "x", 1000), EX_TEMPFAIL);
  assert_exit_code (mxprov_matrix_error_new (400, "M_USER_IN_USE", "x", -1), EX_CANTCREAT);
  assert_exit_code (mxprov_matrix_error_new (400, "M_INVALID_USERNAME", "x", -1), EX_DATAERR);
  assert_exit_code (mxprov_matrix_error_new (400, "M_WEAK_PASSWORD", "x", -1), EX_DATAERR);
  /* the rest depend on who is to blame: 5xx the server, 4xx the protocol */
  assert_exit_code (mxprov_matrix_error_new (500, "M_UNKNOWN", "x", -1), EX_UNAVAILABLE);
  assert_exit_code (mxprov_matrix_error_new (503, NULL, "x", -1), EX_UNAVAILABLE);
  assert_exit_code (mxprov_matrix_error_new (400, "M_UNKNOWN", "x", -1), EX_PROTOCOL);
  assert_exit_code (mxprov_matrix_error_new (499, "M_UNKNOWN", "x", -1), EX_PROTOCOL);
  assert_exit_code (mxprov_matrix_error_new (404, "M_NOT_FOUND", "x", -1), EX_PROTOCOL);
  assert_exit_code (mxprov_matrix_error_new (502, "M_NOT_FOUND", "x", -1), EX_UNAVAILABLE);
  assert_exit_code (mxprov_matrix_error_new (404, "M_UNRECOGNIZED", "x", -1), EX_PROTOCOL);
  assert_exit_code (mxprov_matrix_error_new (400, "M_BAD_JSON", "x", -1), EX_PROTOCOL);
  assert_exit_code (mxprov_matrix_error_new (400, "M_NOT_JSON", "x", -1), EX_PROTOCOL);
  assert_exit_code (mxprov_matrix_error_new (400, "M_INVALID_PARAM", "x", -1), EX_PROTOCOL);
  /* a prefix does not change the mapping */
  {
    GError *error = mxprov_matrix_error_new (500, "M_UNKNOWN", "x", -1);
    g_prefix_error (&error, "GET /: ");
    assert_exit_code (error, EX_UNAVAILABLE);
  }

  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED, EX_SOFTWARE);
  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME, EX_DATAERR);
  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS, EX_CANTCREAT);
  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN, EX_NOPERM);
  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED, EX_UNAVAILABLE);
  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER, EX_PROTOCOL);
  assert_exit_code_for (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_REFUSED, EX_NOPERM);
  assert_exit_code_for (MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_LOCKED, EX_NOPERM);
  g_assert_cmpint (mxprov_matrix_error_code_from_errcode ("M_USER_LOCKED"), ==, MXPROV_MATRIX_ERROR_USER_LOCKED);
  g_assert_cmpint (mxprov_matrix_error_code_from_errcode ("ORG_MATRIX_MSC3939_USER_LOCKED"), ==,
                   MXPROV_MATRIX_ERROR_USER_LOCKED);
  assert_exit_code_for (MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_UNSUPPORTED, EX_UNAVAILABLE);

  assert_exit_code_for (MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_ENCODING, EX_DATAERR);
  assert_exit_code_for (MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_JSON, EX_DATAERR);
  assert_exit_code_for (MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD, EX_DATAERR);
  assert_exit_code_for (MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_VERSION, EX_DATAERR);

  assert_exit_code_for (MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_EXISTS, EX_CANTCREAT);
  assert_exit_code_for (MXPROV_OUTPUT_ERROR, MXPROV_OUTPUT_ERROR_FAILED, EX_IOERR);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_EXIST, EX_CANTCREAT);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_NOENT, EX_NOINPUT);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_ACCES, EX_NOINPUT);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_INVAL, EX_NOINPUT);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_ISDIR, EX_NOINPUT);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_NOSPC, EX_IOERR);
  assert_exit_code_for (G_FILE_ERROR, G_FILE_ERROR_IO, EX_IOERR);
  /* GIO's domain, known by name (the host does not link GIO) */
  assert_exit_code_for (G_IO_ERROR, G_IO_ERROR_EXISTS, EX_IOERR);
  assert_exit_code_for (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, EX_IOERR);
  assert_exit_code_for (G_IO_ERROR, G_IO_ERROR_FAILED, EX_IOERR);

  /* a domain nobody expected is a bug */
  assert_exit_code_for (G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE, EX_SOFTWARE);
  assert_exit_code_for (G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, EX_SOFTWARE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/matrix/localpart/valid", test_localpart_valid);
  g_test_add_func ("/matrix/localpart/invalid", test_localpart_invalid);
  g_test_add_func ("/matrix/localpart/length", test_localpart_length);
  g_test_add_func ("/matrix/user-id", test_user_id);
  g_test_add_func ("/matrix/server-name-from-user-id", test_server_name_from_user_id);
  g_test_add_func ("/matrix/error/new", test_matrix_error_new);
  g_test_add_func ("/matrix/error/copy-prefix", test_matrix_error_copy_prefix);
  g_test_add_func ("/matrix/error/plain", test_matrix_error_plain);
  g_test_add_func ("/matrix/error/errcode-mapping", test_matrix_errcode_mapping);
  g_test_add_func ("/matrix/exit-codes", test_exit_codes);

  return g_test_run ();
}
