/* mxprov-commands.h: the subcommands; each returns a sysexits.h code. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gint mxprov_cmd_provision (gint argc, gchar **argv);
gint mxprov_cmd_plugins (gint argc, gchar **argv);
gint mxprov_cmd_batch (gint argc, gchar **argv);
gint mxprov_cmd_inspect (gint argc, gchar **argv);
gint mxprov_cmd_verify (gint argc, gchar **argv);

/* Shared by subcommands: the -v count callback. */
gboolean mxprov_option_verbose_cb (const gchar *option_name, const gchar *value,
                                   gpointer data, GError **error);
extern guint mxprov_option_verbosity;

G_END_DECLS
