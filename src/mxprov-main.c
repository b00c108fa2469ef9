/* mxprov-main.c: subcommand dispatch. */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <sys/resource.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#include <stdio.h>
#include <sysexits.h>
#include <curl/curl.h>

#include <mxprov/mxprov-abi.h>
#include "lib/mxprov-secure-alloc-private.h"
#include "mxprov-commands.h"
#include "mxprov-log.h"

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
           "  batch       create many accounts with one admin login, N at a time\n"
           "  inspect     decode and check a bundle, password masked\n"
           "  verify      log in with a bundle and check its account and room\n"
           "  status      was the bundle used? each account's state, changing nothing\n"
           "  revoke      take accounts back: deactivate them and remove their rooms\n"
           "  reissue     a new password and bundle for an account not used yet\n"
           "  probe       which homeserver is this, and which config fits it\n"
           "  plugins     list the step plugins found and what they need and provide\n"
           "\n"
           "Options:\n"
           "  -h, --help  show this help (COMMAND --help for a command's options)\n"
           "  --version   show the version and the plugin ABI version\n");
}

/* A core dump or a debugger attached by another process of the same user
 * would show the admin password and tokens: forbid both. */
static void
forbid_core_dumps (void)
{
  struct rlimit none = { 0, 0 };

  setrlimit (RLIMIT_CORE, &none);
#ifdef HAVE_SYS_PRCTL_H
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

int
main (int argc, char **argv)
{
  gboolean wiping_allocators = FALSE;
  gint rc;

  forbid_core_dumps ();
  /* Before anything touches OpenSSL or libcurl, so that every buffer they
   * free is wiped; this also does curl_global_init, once, in the host and
   * never in a plugin (it is not thread safe). */
  if (!mxprov_secure_alloc_install (&wiping_allocators))
    {
      fprintf (stderr, "mxprov: error: cannot initialise libcurl\n");
      return EX_SOFTWARE;
    }

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

  if (!wiping_allocators)
    g_debug ("libcurl or OpenSSL kept its own allocator: their buffers are not wiped on free");
  if (g_strcmp0 (argv[1], "provision") == 0)
    rc = mxprov_cmd_provision (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "inspect") == 0)
    rc = mxprov_cmd_inspect (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "verify") == 0)
    rc = mxprov_cmd_verify (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "batch") == 0)
    rc = mxprov_cmd_batch (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "status") == 0)
    rc = mxprov_cmd_status (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "revoke") == 0)
    rc = mxprov_cmd_revoke (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "reissue") == 0)
    rc = mxprov_cmd_reissue (argc - 1, argv + 1);
  else if (g_strcmp0 (argv[1], "probe") == 0)
    rc = mxprov_cmd_probe (argc - 1, argv + 1);
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
