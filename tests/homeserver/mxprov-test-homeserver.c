/* mxprov-test-homeserver: the in-memory test homeserver as a process, for
 * `make demo` and the benchmark. It listens on 127.0.0.1 only, prints its
 * base URL (with --flavour mas, MAS's URL on a second line) and exits on
 * its own after --lifetime seconds, so a forgotten instance cannot outlive
 * the run that started it.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mxprov-test-homeserver"

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test-homeserver.h"

#define PASSWORD_ALPHABET "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gboolean
lifetime_cb (gpointer data)
{
  g_printerr ("mxprov-test-homeserver: lifetime over, exiting\n");
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gboolean
stdin_cb (gint fd, GIOCondition condition, gpointer data)
{
  gchar buf[4096];
  gssize n;

  (void) condition;
  n = read (fd, buf, sizeof buf);
  if (n > 0)
    return G_SOURCE_CONTINUE;
  /* EOF, or an error that leaves stdin unusable: the parent is gone */
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gchar *
random_password (void)
{
  gchar *s = g_new (gchar, 33);

  for (guint i = 0; i < 32; i++)
    s[i] = PASSWORD_ALPHABET[g_random_int_range (0, sizeof PASSWORD_ALPHABET - 1)];
  s[32] = '\0';
  return s;
}

/* Passwords and secrets come from files so they never show up in `ps`.
 * `what` names the content in the error message. */
static gchar *
read_secret_file (const gchar *filename, const gchar *what, GError **error)
{
  g_autofree gchar *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (filename, &contents, &len, error))
    return NULL;
  if (len > 0 && contents[len - 1] == '\n')
    contents[--len] = '\0';
  if (len > 0 && contents[len - 1] == '\r')
    contents[--len] = '\0';
  if (len == 0 || strlen (contents) != len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: the %s is empty or contains a NUL byte", filename, what);
      return NULL;
    }
  return g_steal_pointer (&contents);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *server_name = NULL;
  g_autofree gchar *admin_user = NULL;
  g_autofree gchar *admin_password_file = NULL;
  g_autofree gchar *admin_password = NULL;
  g_autofree gchar *url_file = NULL;
  g_autofree gchar *admin_token_file = NULL;
  g_autofree gchar *url_line = NULL;
  g_autofree gchar *registration_secret_file = NULL;
  g_autofree gchar *registration_secret = NULL;
  g_autofree gchar *mas_client_id = NULL;
  g_autofree gchar *mas_client_secret_file = NULL;
  g_autofree gchar *mas_client_secret = NULL;
  g_autofree gchar *mas_version = NULL;
  gboolean dendrite = FALSE;
  g_autofree gchar *flavour = NULL;
  g_autofree gchar *flavour_help = NULL;
  g_auto(GStrv) registration_tokens = NULL;
  g_auto(GStrv) users = NULL;
  gint lifetime = 120;
  gint request_delay_ms = 0;
  gboolean synapse_costs = FALSE;
  gboolean exit_on_stdin_eof = FALSE;
  gboolean no_login_rate_limit = FALSE;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TestHomeserver) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  GOptionEntry entries[] = {
    { "server-name", 0, 0, G_OPTION_ARG_STRING, &server_name,
      "Matrix server name (default: example.test)", "NAME" },
    { "admin-user", 0, 0, G_OPTION_ARG_STRING, &admin_user,
      "Seed a server admin with this localpart", "LOCALPART" },
    { "admin-password-file", 0, 0, G_OPTION_ARG_FILENAME, &admin_password_file,
      "Read the admin's password from FILE (trailing newline removed)", "FILE" },
    { "user", 0, 0, G_OPTION_ARG_STRING_ARRAY, &users,
      "Seed an existing ordinary user with a random password (repeatable)", "LOCALPART" },
    { "admin-token-file", 0, 0, G_OPTION_ARG_FILENAME, &admin_token_file,
      "Write an access token of the admin (a session of its own) to FILE, mode 0600", "FILE" },
    { "url-file", 0, 0, G_OPTION_ARG_FILENAME, &url_file,
      "Write the base URL to FILE once listening (with --flavour mas, MAS's URL as a second line)", "FILE" },
    { "lifetime", 0, 0, G_OPTION_ARG_INT, &lifetime,
      "Exit after SECONDS (default: 120; 0: no limit)", "SECONDS" },
    { "exit-on-stdin-eof", 0, 0, G_OPTION_ARG_NONE, &exit_on_stdin_eof,
      "Exit when standard input reaches end of file", NULL },
    { "request-delay-ms", 0, 0, G_OPTION_ARG_INT, &request_delay_ms,
      "Delay every answer by N ms, without blocking other requests", "N" },
    { "synapse-costs", 0, 0, G_OPTION_ARG_NONE, &synapse_costs,
      "Take as long as Synapse 1.67 does per request (bcrypt 280 ms, createRoom 200 ms, others 5 ms)", NULL },
    { "no-login-rate-limit", 0, 0, G_OPTION_ARG_NONE, &no_login_rate_limit,
      "Disable the login rate limits (Synapse's per-account one; with --flavour mas, MAS's)", NULL },
    { "flavour", 0, 0, G_OPTION_ARG_STRING, &flavour,
      NULL /* flavour_help */, "NAME" },
    { "dendrite", 0, 0, G_OPTION_ARG_NONE, &dendrite,
      "Answer like Dendrite 0.13.7 instead of Synapse 1.67 (--flavour dendrite)", NULL },
    { "registration-token", 0, 0, G_OPTION_ARG_STRING_ARRAY, &registration_tokens,
      "Add a registration token of unlimited uses for POST /register; registration then requires "
      "one (repeatable)", "TOKEN" },
    { "registration-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &registration_secret_file,
      "Enable shared-secret registration with the secret read from FILE "
      "(trailing newline removed)", "FILE" },
    { "mas-client-id", 0, 0, G_OPTION_ARG_STRING, &mas_client_id,
      "With --flavour mas: an admin client of MAS (in policy.data.admin_clients) with this ID", "ID" },
    { "mas-client-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &mas_client_secret_file,
      "Read that client's secret from FILE (trailing newline removed)", "FILE" },
    { "mas-version", 0, 0, G_OPTION_ARG_STRING, &mas_version,
      "With --flavour mas: the MAS version to be (default: 1.22.0; below 1.5.0 there are no "
      "personal sessions)", "VERSION" },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };

  /* the flavours, from the library's own table */
  {
    g_autoptr(GString) help = g_string_new ("Answer like this server (default: synapse):");
    const gchar *const *names = test_homeserver_list_flavours ();

    for (guint i = 0; names[i] != NULL; i++)
      g_string_append_printf (help, "%s %s (%s)", i > 0 ? "," : "", names[i],
                              test_homeserver_describe_flavour (names[i]));
    flavour_help = g_string_free (g_steal_pointer (&help), FALSE);
    for (guint i = 0; entries[i].long_name != NULL; i++)
      {
        if (g_strcmp0 (entries[i].long_name, "flavour") == 0)
          entries[i].description = flavour_help;
      }
  }
  context = g_option_context_new ("- in-memory Matrix homeserver for mxprov's tests");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("mxprov-test-homeserver: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("mxprov-test-homeserver: unexpected argument '%s'\n", argv[1]);
      return 2;
    }
  if (lifetime < 0 || request_delay_ms < 0)
    {
      g_printerr ("mxprov-test-homeserver: --lifetime and --request-delay-ms must not be negative\n");
      return 2;
    }
  if ((admin_user == NULL) != (admin_password_file == NULL))
    {
      g_printerr ("mxprov-test-homeserver: --admin-user and --admin-password-file go together\n");
      return 2;
    }
  if ((mas_client_id == NULL) != (mas_client_secret_file == NULL))
    {
      g_printerr ("mxprov-test-homeserver: --mas-client-id and --mas-client-secret-file go together\n");
      return 2;
    }
  if ((mas_client_id != NULL || mas_version != NULL) && g_strcmp0 (flavour, "mas") != 0)
    {
      g_printerr ("mxprov-test-homeserver: --mas-client-id and --mas-version need --flavour mas\n");
      return 2;
    }

  server = test_homeserver_new (server_name != NULL ? server_name : "example.test");
  if (admin_user != NULL)
    {
      admin_password = read_secret_file (admin_password_file, "password", &error);
      if (admin_password == NULL)
        {
          g_printerr ("mxprov-test-homeserver: %s\n", error->message);
          return 1;
        }
      test_homeserver_add_user (server, admin_user, admin_password, TRUE);
    }
  if (registration_secret_file != NULL)
    {
      registration_secret = read_secret_file (registration_secret_file, "registration secret", &error);
      if (registration_secret == NULL)
        {
          g_printerr ("mxprov-test-homeserver: %s\n", error->message);
          return 1;
        }
      test_homeserver_set_registration_secret (server, registration_secret);
    }
  if (dendrite && flavour != NULL && g_strcmp0 (flavour, "dendrite") != 0)
    {
      g_printerr ("mxprov-test-homeserver: --dendrite and --flavour %s contradict each other\n", flavour);
      return 2;
    }
  if (dendrite)
    test_homeserver_set_flavour (server, TEST_HOMESERVER_DENDRITE);
  if (flavour != NULL && !test_homeserver_set_flavour_by_name (server, flavour, &error))
    {
      g_printerr ("mxprov-test-homeserver: --flavour: %s\n", error->message);
      return 2;
    }
  if (mas_client_id != NULL)
    {
      mas_client_secret = read_secret_file (mas_client_secret_file, "client secret", &error);
      if (mas_client_secret == NULL)
        {
          g_printerr ("mxprov-test-homeserver: %s\n", error->message);
          return 1;
        }
      test_homeserver_mas_add_client (server, mas_client_id, mas_client_secret, TRUE);
    }
  if (mas_version != NULL)
    test_homeserver_mas_set_version (server, mas_version);
  for (guint i = 0; registration_tokens != NULL && registration_tokens[i] != NULL; i++)
    test_homeserver_add_registration_token (server, registration_tokens[i], 0);
  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    {
      g_autofree gchar *password = random_password ();
      test_homeserver_add_user (server, users[i], password, FALSE);
    }
  test_homeserver_set_login_rate_limit (server, !no_login_rate_limit);
  test_homeserver_set_request_delay (server, (guint) request_delay_ms);
  test_homeserver_set_synapse_costs (server, synapse_costs);

  if (!test_homeserver_start (server, &error))
    {
      g_printerr ("mxprov-test-homeserver: cannot listen: %s\n", error->message);
      return 1;
    }

  if (admin_token_file != NULL)
    {
      g_autofree gchar *admin_id = NULL;
      g_autofree gchar *token = NULL;
      gint fd;

      if (admin_user == NULL)
        {
          g_printerr ("mxprov-test-homeserver: --admin-token-file needs --admin-user\n");
          return 2;
        }
      admin_id = g_strdup_printf ("@%s:%s", admin_user, test_homeserver_get_server_name (server));
      token = test_homeserver_issue_token (server, admin_id);
      fd = g_open (admin_token_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0 || write (fd, token, strlen (token)) != (gssize) strlen (token) || close (fd) != 0)
        {
          g_printerr ("mxprov-test-homeserver: cannot write %s: %s\n", admin_token_file,
                      g_strerror (errno));
          return 1;
        }
    }

  /* the mas flavour's second port: MAS, on the line after */
  if (test_homeserver_get_mas_url (server) != NULL)
    url_line = g_strdup_printf ("%s\n%s\n", test_homeserver_get_url (server), test_homeserver_get_mas_url (server));
  else
    url_line = g_strdup_printf ("%s\n", test_homeserver_get_url (server));
  /* g_file_set_contents() renames into place, so a poller never reads half a URL */
  if (url_file != NULL && !g_file_set_contents (url_file, url_line, -1, &error))
    {
      g_printerr ("mxprov-test-homeserver: %s\n", error->message);
      return 1;
    }
  fputs (url_line, stdout);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  if (lifetime > 0)
    g_timeout_add_seconds ((guint) lifetime, lifetime_cb, loop);
  if (exit_on_stdin_eof)
    g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_cb, loop);

  g_main_loop_run (loop);
  test_homeserver_stop (server);
  return 0;
}
