/* mxprov-http-private.h: the answer parser, exposed for tests and fuzzing. */
#pragma once

#include <json-c/json.h>
#include <glib.h>

G_BEGIN_DECLS

/* Interpret one HTTP answer: the JSON object of a 2xx, or NULL and the
 * MXPROV_MATRIX_ERROR / MXPROV_HTTP_ERROR it amounts to. `body` need not be
 * NUL-terminated. */
json_object *mxprov_http_parse_answer (guint status, const gchar *content_type,
                                       const gchar *body, gsize len,
                                       gint64 retry_after_header_ms, GError **error);

G_END_DECLS
