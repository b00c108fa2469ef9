/* mxprov-log.h: stderr logging with a verbosity level. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* 0: warnings and messages; 1 (-v): also each HTTP request; 2 (-vv): debug. */
void mxprov_log_setup (guint verbosity);
/* The -v option of every subcommand (G_OPTION_ARG_CALLBACK): each one
 * raises mxprov_option_verbosity, which commands pass to mxprov_log_setup. */
gboolean mxprov_option_verbose_cb (const gchar *option_name, const gchar *value,
                                   gpointer data, GError **error);
extern guint mxprov_option_verbosity;
/* Print "mxprov: error: MESSAGE" to stderr. */
void mxprov_log_error (const GError *error);

G_END_DECLS
