/* mxprov-exit.h: exit codes (sysexits.h) for every error the host can meet. */
#pragma once

#include <glib.h>
#include <sysexits.h>

G_BEGIN_DECLS

/* The documented exit code for `error` (see README "Exit codes"). */
gint mxprov_exit_code_for_error (const GError *error);

/* Print "mxprov: error: MESSAGE" and return the exit code for it: how
 * every command ends on an error. */
gint mxprov_exit_with_error (const GError *error);

G_END_DECLS
