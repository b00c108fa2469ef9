/* mxprov-cmd-probe.c: `mxprov probe`, which server is this and what will
 * work on it. Sends no credential and changes nothing. */
#include "config.h"

#include <stdio.h>
#include <sysexits.h>

#include <mxprov/mxprov.h>
#include "mxprov-commands.h"
#include "mxprov-discovery.h"
#include "mxprov-exit.h"
#include "mxprov-log.h"
#include "mxprov-probe.h"
#include "mxprov-session.h"

gint
mxprov_cmd_probe (gint argc, gchar **argv)
{
  g_autoptr(MxprovSession) session = mxprov_session_new ();
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovHttp) http = NULL;
  g_autoptr(MxprovProbe) probe = NULL;
  g_autofree gchar *format = NULL;
  gboolean json = FALSE;
  gint timeout = 60;
  const GOptionEntry entries[] = {
    { "homeserver", 's', 0, G_OPTION_ARG_STRING, &session->homeserver,
      "Client API base URL of the homeserver, or its server name", "URL" },
    { "cacert", 0, 0, G_OPTION_ARG_FILENAME, &session->cacert,
      "Trust the CA certificates in FILE (PEM) instead of the system's", "FILE" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, "Give up after SECONDS (default 60)", "SECONDS" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "text (the default) or json (one object)", "FORMAT" },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, mxprov_option_verbose_cb,
      "Trace each HTTP request", NULL },
    { NULL }
  };

  options = g_option_context_new ("- which homeserver is this, and which config fits");
  g_option_context_set_summary (options,
    "Names the server software and version, whether login is delegated to an\n"
    "OAuth 2.0 service, the login and registration mechanisms it offers, and\n"
    "which shipped example config fits. Sends no credential, changes nothing.");
  g_option_context_set_description (options,
    "Exit status: 0 a config fits, 1 none is known to, 69 the server cannot be\n"
    "reached or is no Matrix homeserver. See mxprov(1).\n");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      mxprov_log_error (error);
      fprintf (stderr, "Run 'mxprov probe --help' for the options.\n");
      return EX_USAGE;
    }
  mxprov_log_setup (mxprov_option_verbosity);
  if (argc > 1)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'", argv[1]);
  else if (session->homeserver == NULL)
    g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "give --homeserver URL");
  else if (format != NULL && g_strcmp0 (format, "text") != 0 && g_strcmp0 (format, "json") != 0)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--format must be text or json, not '%s'", format);
  else if (timeout <= 0)
    g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "--timeout must be a positive number of seconds");
  if (error != NULL)
    return mxprov_exit_with_error (error);
  json = g_strcmp0 (format, "json") == 0;

  session->timeout = timeout;
  session->request_timeout = MIN (timeout, 30);
  session->retries = 2;
  session->deadline_us = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  if (mxprov_discovery_is_server_name (session->homeserver))
    {
      g_autofree gchar *base_url = mxprov_discovery_resolve (session->homeserver, session->cacert,
                                                             (guint) session->request_timeout * 1000,
                                                             session->deadline_us, &error);
      if (base_url == NULL)
        return mxprov_exit_with_error (error);
      g_free (session->homeserver);
      session->homeserver = g_steal_pointer (&base_url);
    }
  /* plain http:// to anywhere is allowed: nothing secret is sent */
  http = mxprov_session_new_http (session, &error);
  if (http == NULL)
    return mxprov_exit_with_error (error);
  probe = mxprov_probe_run (http, MXPROV_PROBE_ALL, &error);
  if (probe == NULL)
    return mxprov_exit_with_error (error);

  if (json)
    {
      g_autoptr(json_object) obj = mxprov_probe_to_json (probe);
      json_object_object_add (obj, "homeserver", json_object_new_string (session->homeserver));
      printf ("%s\n", json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN
                                                           | JSON_C_TO_STRING_NOSLASHESCAPE));
    }
  else
    {
      printf ("homeserver:         %s\n", session->homeserver);
      mxprov_probe_print (probe);
    }
  return probe->config != NULL ? EX_OK : 1;
}
