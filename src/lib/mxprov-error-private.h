/* mxprov-error-private.h: constructors for the library's own errors. */
#pragma once

#include <mxprov/mxprov-error.h>

G_BEGIN_DECLS

/* An MXPROV_HTTP_ERROR carrying the answer's status (0: none) and whether
 * the request may have taken effect. */
GError *mxprov_http_error_new (MxprovHttpError code, guint http_status, gboolean maybe_applied,
                               const gchar *format, ...) G_GNUC_PRINTF (4, 5);

/* Attach the answer's JSON text to an MXPROV_MATRIX_ERROR. */
void mxprov_matrix_error_set_body (GError *error, const gchar *body);

G_END_DECLS
