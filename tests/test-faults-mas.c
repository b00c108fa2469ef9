/* test-faults-mas.c: the fault-injection matrix of the MAS pipeline
 * (examples/mas.conf on the test homeserver's mas flavour).
 *
 * For every request that pipeline makes to MAS and to Synapse (from the
 * host's look at auth_metadata before the auth step on), and every
 * way an answer can go wrong, run the real mxprov binary against a fresh
 * server and check the end state: either one complete account (in MAS and
 * Synapse, the bundle's password set in MAS, exactly one marked room, the
 * new user's session and device gone) or nothing active (the user absent
 * or deactivated in MAS and Synapse, no active session of it, no room).
 *
 * As in test-faults.c, each fault is tried "once" (the server acts, then
 * the answer is lost, late or garbled, once: mxprov must finish) and
 * "always" (the server never acts and every attempt fails: mxprov must
 * give up, undo, and name the step). The table is printed in the log. */
#include "config.h"

#include <string.h>
#include <sysexits.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "homeserver/test-homeserver.h"
#include "mxprov-test-run.h"

#define SERVER_NAME "mas.test"
#define LOCALPART "faulty"
#define NEW_USER "@" LOCALPART ":" SERVER_NAME
#define CLIENT_ID "01J00000000000000000000000"
#define CLIENT_SECRET "mas-client-secret-0123456789"

typedef struct {
  const gchar *label;
  const gchar *method;
  const gchar *path;
  guint skip;
  const gchar *step;     /* what stderr must name when this request fails */
  gboolean cleanup_only; /* a failure here cannot fail the run */
} RequestCase;

static const RequestCase requests[] = {
  /* the host's look before the auth step: the stable and the unstable path */
  { "GET auth_metadata", "GET", "/_matrix/client/*/auth_metadata", 0, "MAS", FALSE },
  { "POST admin token", "POST", "/oauth2/token", 0, "MAS", FALSE },
  { "GET MAS version", "GET", "/api/admin/v1/version", 0, "MAS", FALSE },
  { "GET site config", "GET", "/api/admin/v1/site-config", 0, "MAS", FALSE },
  { "GET user lookup", "GET", "/api/admin/v1/users/by-username/" LOCALPART, 0, NEW_USER, FALSE },
  { "POST user", "POST", "/api/admin/v1/users", 0, NEW_USER, FALSE },
  { "POST set-password", "POST", "/api/admin/v1/users/*/set-password", 0, NEW_USER, FALSE },
  { "POST personal session", "POST", "/api/admin/v1/personal-sessions", 0, NEW_USER, FALSE },
  { "POST createRoom", "POST", "/_matrix/client/v3/createRoom", 0, "matrix-room", FALSE },
  { "POST session revoke", "POST", "/api/admin/v1/personal-sessions/*/revoke", 0, NULL, TRUE },
  { "POST token revoke", "POST", "/oauth2/revoke", 0, NULL, TRUE },
};

typedef struct {
  const gchar *label;
  TestFault fault;
  gint always_exit;
} FaultCase;

static const FaultCase faults[] = {
  { "500", { .kind = TEST_FAULT_STATUS, .status = 500,
             .body = "{\"errors\":[{\"title\":\"Internal server error\"}]}" }, EX_UNAVAILABLE },
  { "html502", { .kind = TEST_FAULT_HTML_502 }, EX_UNAVAILABLE },
  { "429", { .kind = TEST_FAULT_RATE_LIMIT, .retry_after_ms = 20 }, EX_TEMPFAIL },
  { "drop", { .kind = TEST_FAULT_DROP }, EX_UNAVAILABLE },
  { "timeout", { .kind = TEST_FAULT_DELAY, .delay_ms = 2500 }, EX_UNAVAILABLE },
  { "badjson", { .kind = TEST_FAULT_MALFORMED_JSON }, EX_PROTOCOL },
  { "truncated", { .kind = TEST_FAULT_TRUNCATED }, EX_UNAVAILABLE },
};

typedef enum { MODE_ONCE, MODE_ALWAYS } Mode;

typedef struct {
  gint exit_code;
  const gchar *outcome;
} Cell;

static Cell table[2][G_N_ELEMENTS (requests)][G_N_ELEMENTS (faults)];

typedef struct {
  guint request;
  guint fault;
  Mode mode;
} CaseData;

static gchar *config_path;

static void
assert_account_complete (TestHomeserver *hs, const gchar *bundle_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovBundle) bundle = mxprov_bundle_decode (bundle_text, &error);
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (hs);
  g_autofree gchar *password = NULL;
  g_autoptr(json_object) marker = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (bundle->user, ==, NEW_USER);
  g_assert_true (test_homeserver_mas_user_exists (hs, LOCALPART));
  g_assert_false (test_homeserver_mas_user_is_deactivated (hs, LOCALPART));
  g_assert_false (test_homeserver_user_is_deactivated (hs, NEW_USER));
  password = test_homeserver_mas_get_user_password (hs, LOCALPART);
  g_assert_cmpstr (password, ==, bundle->password);
  /* exactly one room, never a duplicate from a blind retry */
  g_assert_cmpuint (rooms->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (rooms, 0), ==, bundle->room_id);
  g_assert_true (test_homeserver_room_is_joined (hs, bundle->room_id, NEW_USER));
  marker = test_homeserver_room_get_state (hs, bundle->room_id, "m.lotti.sync_room", "");
  g_assert_nonnull (marker);
  /* no session of the new user left, nor its device */
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, LOCALPART, TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (hs, NEW_USER), ==, 0);
}

static void
assert_nothing_active (TestHomeserver *hs)
{
  g_autoptr(GPtrArray) rooms = test_homeserver_list_rooms (hs);

  /* MAS cannot delete users: a rolled-back one is deactivated */
  g_assert_true (!test_homeserver_mas_user_exists (hs, LOCALPART)
                 || test_homeserver_mas_user_is_deactivated (hs, LOCALPART));
  g_assert_true (!test_homeserver_user_exists (hs, NEW_USER)
                 || test_homeserver_user_is_deactivated (hs, NEW_USER));
  g_assert_cmpuint (test_homeserver_mas_count_personal_sessions (hs, LOCALPART, TRUE), ==, 0);
  g_assert_cmpuint (test_homeserver_count_devices (hs, NEW_USER), ==, 0);
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
  const gchar *env[] = { "MXPROV_MAS_CLIENT_SECRET=" CLIENT_SECRET, NULL };
  const gchar *args[] = { "provision", "--homeserver", NULL, "--config", config_path,
                          "--username", LOCALPART, "--request-timeout", "1", "--timeout", "8",
                          "--retries", "2", NULL };

  g_assert_true (test_homeserver_set_flavour_by_name (hs, "mas", &error));
  test_homeserver_mas_add_client (hs, CLIENT_ID, CLIENT_SECRET, TRUE);
  test_homeserver_add_user (hs, "admin", "the admin's password", TRUE);
  g_assert_true (test_homeserver_start (hs, &error));
  args[2] = test_homeserver_get_url (hs);

  fault.after_handling = data->mode == MODE_ONCE && fault.kind != TEST_FAULT_RATE_LIMIT;
  if (data->mode == MODE_ALWAYS && fault.kind == TEST_FAULT_DELAY)
    fault.delay_ms = 60 * 1000;
  test_homeserver_add_fault (hs, rq->method, rq->path, rq->skip,
                             data->mode == MODE_ONCE ? 1 : 1000, &fault);
  r = run_mxprov (args, NULL, env, TRUE);
  cell->exit_code = r->exit_code;
  assert_not_contains (r->err, CLIENT_SECRET);

  if (data->mode == MODE_ONCE || rq->cleanup_only)
    {
      if (r->exit_code != 0)
        g_error ("%s, %s once: exit %d\n%s", rq->label, fc->label, r->exit_code, r->err);
      assert_account_complete (hs, g_strstrip (r->out));
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
      assert_nothing_active (hs);
      cell->outcome = "undone";
    }
  test_homeserver_stop (hs);
}

static gboolean
cell_applies (guint request, Mode mode)
{
  return !(mode == MODE_ALWAYS && requests[request].cleanup_only);
}

static void
test_print_table (void)
{
  g_autoptr(GString) text = g_string_new ("MAS fault-injection matrix: exit code / end state\n");
  guint filled = 0;

  g_string_append_printf (text, "%-22s %-7s", "request", "mode");
  for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
    g_string_append_printf (text, " %-12s", faults[f].label);
  g_string_append_c (text, '\n');
  for (guint q = 0; q < G_N_ELEMENTS (requests); q++)
    for (guint m = MODE_ONCE; m <= MODE_ALWAYS; m++)
      {
        g_string_append_printf (text, "%-22s %-7s", requests[q].label, m == MODE_ONCE ? "once" : "always");
        for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
          {
            const Cell *cell = &table[m][q][f];
            g_autofree gchar *entry = cell->outcome != NULL
              ? g_strdup_printf ("%d %s", cell->exit_code, cell->outcome)
              : g_strdup (cell_applies (q, m) ? "-" : "n/a");
            if (cell->outcome != NULL)
              filled++;
            g_string_append_printf (text, " %-12s", entry);
          }
        g_string_append_c (text, '\n');
      }
  g_test_message ("%s%u cells run", text->str, filled);
  g_assert_cmpuint (filled, >, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);
  config_path = g_test_build_filename (G_TEST_DIST, "..", "examples", "mas.conf", NULL);
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
          path = g_strdup_printf ("/faults-mas/%s/%s/%s", m == MODE_ONCE ? "once" : "always",
                                  slug, faults[f].label);
          g_test_add_data_func (path, data, test_cell);
        }
  g_test_add_func ("/summary/fault-matrix-mas", test_print_table);
  return g_test_run ();
}
