/* test-faults.c: the fault-injection matrix.
 *
 * For every request the default pipeline makes and every way an answer
 * can go wrong, run the real mxprov binary against a fresh test homeserver
 * and check the end state on the server: either one complete account
 * (user, the bundle's password, exactly one marked room) or no active new
 * user and no room; the admin's device count unchanged; the documented
 * exit code; stderr naming the failing step.
 *
 * Each fault is tried twice:
 *   once    the server carries the request out, then the answer is lost,
 *           late or garbled, once: mxprov must recover and finish;
 *   always  the server never carries it out and every attempt fails the
 *           same way: mxprov must give up, undo, and say why.
 * The table of outcomes is printed in the test log. */
#include "config.h"

#include <string.h>
#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define ADMIN_PASSWORD "matrix admin password"
#define SERVER_NAME "example.test"
#define NEW_USER "@faulty:" SERVER_NAME

typedef struct {
  const gchar *label;
  const gchar *method;
  const gchar *path;
  guint skip;            /* which matching request: 1 = the second one */
  const gchar *step;     /* what stderr must name when this request fails */
  gboolean cleanup_only; /* a failure here cannot fail the run */
} RequestCase;

static const RequestCase requests[] = {
  { "GET versions", "GET", "/_matrix/client/versions", 0, "homeserver", FALSE },
  { "GET login flows", "GET", "/_matrix/client/v3/login", 0, "synapse-auth", FALSE },
  { "POST admin login", "POST", "/_matrix/client/v3/login", 0, "synapse-auth", FALSE },
  { "GET admin check", "GET", "/_synapse/admin/v1/users/@admin:" SERVER_NAME "/admin", 0, "synapse-auth", FALSE },
  { "GET user lookup", "GET", "/_synapse/admin/v2/users/" NEW_USER, 0, "synapse-user", FALSE },
  { "PUT user", "PUT", "/_synapse/admin/v2/users/" NEW_USER, 0, "synapse-user", FALSE },
  { "POST login-as-user", "POST", "/_synapse/admin/v1/users/" NEW_USER "/login", 0, "synapse-user", FALSE },
  { "POST createRoom", "POST", "/_matrix/client/v3/createRoom", 0, "matrix-room", FALSE },
  { "POST user logout", "POST", "/_matrix/client/v3/logout", 0, NULL, TRUE },
  { "POST admin logout", "POST", "/_matrix/client/v3/logout", 1, NULL, TRUE },
};

typedef struct {
  const gchar *label;
  TestFault fault;
  gint always_exit; /* exit code when every attempt fails this way */
} FaultCase;

static const FaultCase faults[] = {
  { "500", { .kind = TEST_FAULT_STATUS, .status = 500,
             .body = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Internal server error\"}" }, EX_UNAVAILABLE },
  { "html502", { .kind = TEST_FAULT_HTML_502 }, EX_UNAVAILABLE },
  { "429", { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 20 }, EX_TEMPFAIL },
  { "drop", { .kind = TEST_FAULT_DROP }, EX_UNAVAILABLE },
  { "timeout", { .kind = TEST_FAULT_DELAY, .delay_ms = 2500 }, EX_UNAVAILABLE },
  { "badjson", { .kind = TEST_FAULT_MALFORMED_JSON }, EX_PROTOCOL },
  { "truncated", { .kind = TEST_FAULT_TRUNCATED }, EX_UNAVAILABLE },
};

typedef enum { MODE_ONCE, MODE_ALWAYS } Mode;

/* One cell of the matrix. */
typedef struct {
  gint exit_code;
  const gchar *outcome; /* "created", "undone", "n/a" */
} Cell;

static Cell table[2][G_N_ELEMENTS (requests)][G_N_ELEMENTS (faults)];

typedef struct {
  guint request;
  guint fault;
  Mode mode;
} CaseData;

static gchar *password_file;

static gboolean
account_is_complete (TestHomeserver *hs, const gchar *bundle_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (bundle_text, &error);
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (hs);
  g_autofree gchar *password = NULL;
  g_autoptr(json_object) marker = NULL;
  g_autoptr(json_object) encryption = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (bundle->user, ==, NEW_USER);
  g_assert_true (test_homeserver_user_exists (hs, NEW_USER));
  g_assert_false (test_homeserver_user_is_deactivated (hs, NEW_USER));
  password = test_homeserver_get_user_password (hs, NEW_USER);
  g_assert_cmpstr (password, ==, bundle->password);
  /* exactly one room, never a duplicate from a blind retry */
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rooms, 0), ==, bundle->room_id);
  g_assert_true (test_homeserver_room_is_joined (hs, bundle->room_id, NEW_USER));
  marker = test_homeserver_room_get_state (hs, bundle->room_id, "m.lotti.sync_room", "");
  g_assert_nonnull (marker);
  encryption = test_homeserver_room_get_state (hs, bundle->room_id, "m.room.encryption", "");
  g_assert_nonnull (encryption);
  /* no session of the new user left behind but, at most, a short-lived
   * token whose answer was lost (it expires by itself) */
  g_assert_cmpuint (test_homeserver_count_devices (hs, NEW_USER), ==, 0);
  return TRUE;
}

static void
assert_nothing_left (TestHomeserver *hs)
{
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (hs);

  /* Synapse cannot delete users: a rolled-back one is deactivated */
  g_assert_true (!test_homeserver_user_exists (hs, NEW_USER)
                 || test_homeserver_user_is_deactivated (hs, NEW_USER));
  g_assert_cmpuint (rooms->len, ==, 0);
}

static void
test_cell (gconstpointer user_data)
{
  const CaseData *data = user_data;
  const RequestCase *rq = &requests[data->request];
  const FaultCase *fc = &faults[data->fault];
  Cell *cell = &table[data->mode][data->request][data->fault];
  g_autoptr(TestHomeserver) hs = test_homeserver_new (SERVER_NAME);
  g_autoptr(GError) error = NULL;
  g_autoptr(RunResult) r = NULL;
  TestFault fault = fc->fault;
  const gchar *args[] = { "provision", "--homeserver", NULL, "--admin-user", "admin",
                          "--admin-password-file", password_file, "--username", "faulty",
                          "--request-timeout", "1", "--timeout", "8", "--retries", "2", NULL };

  test_homeserver_add_user (hs, "admin", ADMIN_PASSWORD, TRUE);
  g_assert_true (test_homeserver_start (hs, &error));
  args[2] = test_homeserver_get_url (hs);

  /* A rate-limited request is never carried out; every other "once"
   * fault strikes after the server acted. */
  fault.after_handling = data->mode == MODE_ONCE && fault.kind != TEST_FAULT_RATE_LIMIT;
  /* "always" means never carried out: a server that answers after the
   * run has given up would otherwise still act on the request */
  if (data->mode == MODE_ALWAYS && fault.kind == TEST_FAULT_DELAY)
    fault.delay_ms = 60 * 1000;
  test_homeserver_add_fault (hs, rq->method, rq->path, rq->skip,
                             data->mode == MODE_ONCE ? 1 : 1000, &fault);
  r = run_mxprov (args, NULL, NULL, TRUE);
  cell->exit_code = r->exit_code;

  /* the admin's login never outlives the run */
  g_assert_cmpuint (test_homeserver_count_devices (hs, "@admin:" SERVER_NAME), ==, 0);

  if (data->mode == MODE_ONCE || rq->cleanup_only)
    {
      if (r->exit_code != 0)
        g_error ("%s, %s once: exit %d\n%s", rq->label, fc->label, r->exit_code, r->err);
      g_assert_true (account_is_complete (hs, g_strstrip (r->out)));
      cell->outcome = "created";
    }
  else
    {
      if (r->exit_code != fc->always_exit)
        g_error ("%s, %s always: exit %d, expected %d\n%s", rq->label, fc->label,
                 r->exit_code, fc->always_exit, r->err);
      assert_contains (r->err, rq->step);
      assert_contains (r->err, "mxprov: error: ");
      g_assert_cmpstr (r->out, ==, "");
      assert_nothing_left (hs);
      cell->outcome = "undone";
    }
  test_homeserver_stop (hs);
}

/* A server that never accepts a logout keeps that session: no client can
 * end it without a working endpoint (and a fault on every logout would hit
 * both sessions). Those cells are not run; "once" covers each logout. */
static gboolean
cell_applies (guint request, Mode mode)
{
  return !(mode == MODE_ALWAYS && requests[request].cleanup_only);
}

static void
print_table (void)
{
  g_autoptr(GString) text = g_string_new ("fault-injection matrix: exit code / end state\n");

  g_string_append_printf (text, "%-20s %-7s", "request", "mode");
  for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
    g_string_append_printf (text, " %-12s", faults[f].label);
  g_string_append_c (text, '\n');
  for (guint q = 0; q < G_N_ELEMENTS (requests); q++)
    for (guint m = MODE_ONCE; m <= MODE_ALWAYS; m++)
      {
        g_string_append_printf (text, "%-20s %-7s", requests[q].label, m == MODE_ONCE ? "once" : "always");
        for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
          {
            const Cell *cell = &table[m][q][f];
            g_autofree gchar *entry = cell->outcome != NULL
              ? g_strdup_printf ("%d %s", cell->exit_code, cell->outcome)
              : g_strdup (cell_applies (q, m) ? "-" : "n/a");
            g_string_append_printf (text, " %-12s", entry);
          }
        g_string_append_c (text, '\n');
      }
  g_test_message ("%s", text->str);
}

static void
test_print_table (void)
{
  guint filled = 0;

  for (guint m = MODE_ONCE; m <= MODE_ALWAYS; m++)
    for (guint q = 0; q < G_N_ELEMENTS (requests); q++)
      for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
        if (table[m][q][f].outcome != NULL)
          filled++;
  print_table ();
  g_test_message ("%u cells run", filled);
  g_assert_cmpuint (filled, >, 0);
}

/* Every secret the server saw: bearer tokens and "password" values. */
static GPtrArray *
secrets_seen_by (TestHomeserver *hs)
{
  g_autofree gchar *raw = test_homeserver_get_raw_requests (hs);
  GPtrArray *secrets = g_ptr_array_new_with_free_func (g_free);
  const gchar *p;

  for (p = strstr (raw, "Bearer "); p != NULL; p = strstr (p + 1, "Bearer "))
    {
      const gchar *start = p + strlen ("Bearer ");
      g_ptr_array_add (secrets, g_strndup (start, strcspn (start, " \r\n")));
    }
  for (p = strstr (raw, "\"password\":\""); p != NULL; p = strstr (p + 1, "\"password\":\""))
    {
      const gchar *start = p + strlen ("\"password\":\"");
      g_ptr_array_add (secrets, g_strndup (start, strcspn (start, "\"")));
    }
  return secrets;
}

typedef struct {
  const gchar *label;
  const gchar *method;
  const gchar *path;
  TestFault fault;
  guint count;
} SecretCase;

static const SecretCase secret_cases[] = {
  { "happy-path", NULL, NULL, { 0 }, 0 },
  { "put-answer-lost", "PUT", "/_synapse/admin/v2/users/" NEW_USER,
    { .kind = TEST_FAULT_DROP, .after_handling = TRUE }, 1 },
  { "create-room-timeout", "POST", "/_matrix/client/v3/createRoom",
    { .kind = TEST_FAULT_DELAY, .delay_ms = 2500, .after_handling = TRUE }, 1 },
  { "login-as-user-502", "POST", "/_synapse/admin/v1/users/" NEW_USER "/login",
    { .kind = TEST_FAULT_HTML_502, .after_handling = TRUE }, 1 },
  { "admin-login-garbled", "POST", "/_matrix/client/v3/login",
    { .kind = TEST_FAULT_MALFORMED_JSON, .after_handling = TRUE }, 1 },
  { "create-room-fails-rollback", "POST", "/_matrix/client/v3/createRoom",
    { .kind = TEST_FAULT_STATUS, .status = 500,
      .body = "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Internal server error\"}" }, 1000 },
};

/* -vv traces every request and retry, and still shows no secret. */
static void
test_no_secret_in_output (gconstpointer user_data)
{
  const SecretCase *sc = user_data;
  g_autoptr(TestHomeserver) hs = test_homeserver_new (SERVER_NAME);
  g_autoptr(GError) error = NULL;
  g_autoptr(RunResult) r = NULL;
  g_autoptr(GPtrArray) secrets = NULL;
  const gchar *args[] = { "provision", "--homeserver", NULL, "--admin-user", "admin",
                          "--admin-password-file", password_file, "--username", "faulty",
                          "--request-timeout", "1", "--timeout", "8", "--retries", "2",
                          "-v", "-v", NULL };

  test_homeserver_add_user (hs, "admin", ADMIN_PASSWORD, TRUE);
  g_assert_true (test_homeserver_start (hs, &error));
  args[2] = test_homeserver_get_url (hs);
  if (sc->method != NULL)
    test_homeserver_add_fault (hs, sc->method, sc->path, 0, sc->count, &sc->fault);
  r = run_mxprov (args, NULL, NULL, FALSE);
  assert_contains (r->err, "POST /_matrix/client/v3/login -> ");
  if (sc->count <= 1)
    g_assert_cmpint (r->exit_code, ==, 0);
  else
    g_assert_cmpint (r->exit_code, !=, 0);

  secrets = secrets_seen_by (hs);
  /* the admin's password, the new password (PUT and any check login),
   * and at least the admin's and the user's tokens */
  g_assert_cmpuint (secrets->len, >=, 4);
  for (guint i = 0; i < secrets->len; i++)
    {
      const gchar *secret = g_ptr_array_index (secrets, i);
      g_assert_cmpuint (strlen (secret), >=, 8);
      assert_not_contains (r->err, secret);
      assert_not_contains (r->out, secret);
    }
  assert_not_contains (r->err, ADMIN_PASSWORD);
  test_homeserver_stop (hs);
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *dir = NULL;
  gint rc;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("mxprov-faults-XXXXXX", NULL);
  password_file = g_build_filename (dir, "admin-password", NULL);
  g_assert_true (g_file_set_contents (password_file, ADMIN_PASSWORD "\n", -1, NULL));
  g_chmod (password_file, 0600);

  for (guint m = MODE_ONCE; m <= MODE_ALWAYS; m++)
    for (guint q = 0; q < G_N_ELEMENTS (requests); q++)
      for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
        {
          CaseData *data;
          g_autofree gchar *path = NULL;
          g_autofree gchar *slug = g_strdelimit (g_ascii_strdown (requests[q].label, -1), " ", '-');

          if (!cell_applies (q, m))
            continue;
          data = g_new0 (CaseData, 1);
          data->request = q;
          data->fault = f;
          data->mode = m;
          g_ptr_array_add (cases, data);
          path = g_strdup_printf ("/faults/%s/%s/%s", m == MODE_ONCE ? "once" : "always",
                                  slug, faults[f].label);
          g_test_add_data_func (path, data, test_cell);
        }
  for (gsize i = 0; i < G_N_ELEMENTS (secret_cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/secrets/%s", secret_cases[i].label);
      g_test_add_data_func (path, &secret_cases[i], test_no_secret_in_output);
    }
  /* a suite of its own, created last, so it runs after every cell */
  g_test_add_func ("/summary/fault-matrix", test_print_table);
  rc = g_test_run ();
  g_unlink (password_file);
  g_rmdir (dir);
  g_free (password_file);
  return rc;
}
