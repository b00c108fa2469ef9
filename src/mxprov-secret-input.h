/* mxprov-secret-input.h: read a secret from a file, stdin, the environment
 * or a no-echo terminal prompt, never from the command line by default. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Read the first line of `filename` ("-" = stdin), without its line end.
 * Warns when the file is readable by other users. The result is a secret
 * (free with mxprov_secret_free). */
gchar *mxprov_secret_read_file (const gchar *filename, const gchar *what, GError **error);

/* Ask on the controlling terminal with echo off; NULL with an error when
 * there is no terminal. */
gchar *mxprov_secret_prompt (const gchar *prompt, GError **error);

G_END_DECLS
