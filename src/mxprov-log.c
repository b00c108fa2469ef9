/* mxprov-log.c: one log handler for the host, the library and plugins.
 *
 * stdout carries only the bundle; everything here goes to stderr. Nothing
 * logged anywhere in mxprov contains a secret: HTTP traces show method,
 * path, status and time, never headers or bodies. */
#include "config.h"

#include <stdio.h>

#include "mxprov-log.h"

static guint log_verbosity = 0;
guint mxprov_option_verbosity = 0;

gboolean
mxprov_option_verbose_cb (const gchar *option_name, const gchar *value, gpointer data,
                          GError **error)
{
  mxprov_option_verbosity++;
  return TRUE;
}

static void
log_handler (const gchar *log_domain, GLogLevelFlags level, const gchar *message,
             gpointer user_data)
{
  const gchar *prefix;

  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR:
    case G_LOG_LEVEL_CRITICAL:
      prefix = "internal error: ";
      break;
    case G_LOG_LEVEL_WARNING:
      prefix = "warning: ";
      break;
    case G_LOG_LEVEL_MESSAGE:
      prefix = "";
      break;
    case G_LOG_LEVEL_INFO:
      if (log_verbosity < 1)
        return;
      prefix = "";
      break;
    case G_LOG_LEVEL_DEBUG:
    default:
      if (log_verbosity < 2)
        return;
      prefix = "debug: ";
      break;
    }
  fprintf (stderr, "mxprov: %s%s\n", prefix, message);
  fflush (stderr);
}

void
mxprov_log_setup (guint verbosity)
{
  log_verbosity = verbosity;
  g_log_set_default_handler (log_handler, NULL);
}

void
mxprov_log_error (const GError *error)
{
  fprintf (stderr, "mxprov: error: %s\n", error->message);
  fflush (stderr);
}
