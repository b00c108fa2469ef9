/* mxprov-log.h: stderr logging with a verbosity level. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* 0: warnings and messages; 1 (-v): also each HTTP request; 2 (-vv): debug. */
void mxprov_log_setup (guint verbosity);
/* Print "mxprov: error: MESSAGE" to stderr. */
void mxprov_log_error (const GError *error);

G_END_DECLS
