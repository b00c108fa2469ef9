/* mxprov-main.c: subcommand dispatch. */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sysexits.h>
#include <curl/curl.h>

#include <mxprov/mxprov-abi.h>
#include "mxprov-commands.h"
#include "mxprov-log.h"

guint mxprov_option_verbosity = 0;

gboolean
mxprov_option_verbose_cb (const gchar *option_name, const gchar *value, gpointer data,
                          GError **error)
{
  mxprov_option_verbosity++;
  return TRUE;
}

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: mxprov COMMAND [OPTION…]\n"
           "\n"
           "Provision Matrix accounts and sync rooms for device sync.\n"
           "\n"
           "Commands:\n"
           "  provision   create an account and its sync room, print the bundle\n"
           "  plugins     list the step plugins found and what they need and provide\n"
           "\n"
           "Options:\n"
           "  -h, --help  show this help (COMMAND --help for a command's options)\n"
           "  --version   show the version and the plugin ABI version\n");
}

int
main (int argc, char **argv)
{
  gint rc;

  setlocale (LC_ALL, "");
  /* A closed stdout must be an error we report (the account exists by
   * then), not a silent death by SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);
  mxprov_log_setup (0);

  if (argc < 2)
    {
      print_usage (stderr);
      return EX_USAGE;
    }
  if (g_strcmp0 (argv[1], "--help") == 0 || g_strcmp0 (argv[1], "-h") == 0
      || g_strcmp0 (argv[1], "help") == 0)
    {
      print_usage (stdout);
      return EX_OK;
    }
  if (g_strcmp0 (argv[1], "--version") == 0)
    {
      printf ("mxprov %s (plugin ABI %d)\n", MXPROV_VERSION, MXPROV_PLUGIN_ABI_VERSION);
      return EX_OK;
    }

  /* curl_global_init once, in the host and never in a plugin: it is not
   * thread safe and plugins cannot know whether it already ran. */
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    {
      fprintf (stderr, "mxprov: error: cannot initialise libcurl\n");
      return EX_SOFTWARE;
    }
  if (g_strcmp0 (argv[1], "provision") == 0)
    rc = mxprov_cmd_provision (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "plugins") == 0)
    rc = mxprov_cmd_plugins (argc - 1, argv + 1);
  else
    {
      fprintf (stderr, "mxprov: error: unknown command '%s'\n\n", argv[1]);
      print_usage (stderr);
      rc = EX_USAGE;
    }
  curl_global_cleanup ();
  return rc;
}
