/* mxprov-commands.h: the subcommands; each returns a sysexits.h code. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gint mxprov_cmd_provision (gint argc, gchar **argv);
gint mxprov_cmd_plugins (gint argc, gchar **argv);
gint mxprov_cmd_batch (gint argc, gchar **argv);
gint mxprov_cmd_inspect (gint argc, gchar **argv);
gint mxprov_cmd_verify (gint argc, gchar **argv);
gint mxprov_cmd_status (gint argc, gchar **argv);
gint mxprov_cmd_revoke (gint argc, gchar **argv);
gint mxprov_cmd_reissue (gint argc, gchar **argv);
gint mxprov_cmd_probe (gint argc, gchar **argv);

G_END_DECLS
