/* mxprov-secret-input.h: ask for a secret on the terminal, without echo.
 * (Secret files are read by mxprov_secret_read_file in libmxprov.) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Ask on the controlling terminal with echo off; NULL with an error when
 * there is no terminal. */
gchar *mxprov_secret_prompt (const gchar *prompt, GError **error);

G_END_DECLS
