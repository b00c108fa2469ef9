/* mxprov-error.h: error domains shared by the host and plugins.
 *
 * One domain per concern, so the host can map any error to an exit code
 * without parsing messages. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Transport: the homeserver could not be reached or did not speak Matrix. */
#define MXPROV_HTTP_ERROR (mxprov_http_error_quark ())
typedef enum {
  MXPROV_HTTP_ERROR_FAILED,        /* any other libcurl failure */
  MXPROV_HTTP_ERROR_INVALID_URL,   /* the base URL cannot be used */
  MXPROV_HTTP_ERROR_RESOLVE,       /* host name did not resolve */
  MXPROV_HTTP_ERROR_CONNECT,       /* connection refused or unreachable */
  MXPROV_HTTP_ERROR_TIMEOUT,       /* connect or total timeout */
  MXPROV_HTTP_ERROR_TLS,           /* TLS handshake or certificate check failed */
  MXPROV_HTTP_ERROR_CONNECTION_LOST, /* sent, but the answer never (fully) came */
  MXPROV_HTTP_ERROR_TOO_LARGE,     /* answer larger than the response cap */
  MXPROV_HTTP_ERROR_NOT_JSON,      /* answer is not a JSON object (a proxy's page, garbage) */
  MXPROV_HTTP_ERROR_BAD_GATEWAY,   /* 502, 503 or 504: a proxy or the server is overloaded or down */
} MxprovHttpError;
GQuark mxprov_http_error_quark (void);
/* The HTTP status of the answer (0 when there was none). */
guint mxprov_http_error_get_status (const GError *error);

/* TRUE when the failed request may nevertheless have taken effect on the
 * server: it was sent and the answer was lost, cut short, garbled, or a
 * 5xx. A step that made a non-idempotent request must then look at the
 * server before trying again. FALSE for errors where nothing was sent or
 * the server said clearly that it did nothing (4xx, 429). */
gboolean mxprov_error_maybe_applied (const GError *error);

/* The homeserver answered with a Matrix error ({"errcode","error"}).
 * It is an extended GError: mxprov_matrix_error_get_status() and
 * mxprov_matrix_error_get_errcode() return what the server said. */
#define MXPROV_MATRIX_ERROR (mxprov_matrix_error_quark ())
typedef enum {
  MXPROV_MATRIX_ERROR_UNKNOWN,          /* M_UNKNOWN, or an errcode we do not know */
  MXPROV_MATRIX_ERROR_FORBIDDEN,        /* M_FORBIDDEN */
  MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN,    /* M_UNKNOWN_TOKEN */
  MXPROV_MATRIX_ERROR_MISSING_TOKEN,    /* M_MISSING_TOKEN */
  MXPROV_MATRIX_ERROR_USER_DEACTIVATED, /* M_USER_DEACTIVATED */
  MXPROV_MATRIX_ERROR_NOT_FOUND,        /* M_NOT_FOUND */
  MXPROV_MATRIX_ERROR_UNRECOGNIZED,     /* M_UNRECOGNIZED: endpoint unknown or blocked */
  MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED,   /* M_LIMIT_EXCEEDED after every retry */
  MXPROV_MATRIX_ERROR_USER_IN_USE,      /* M_USER_IN_USE */
  MXPROV_MATRIX_ERROR_INVALID_USERNAME, /* M_INVALID_USERNAME */
  MXPROV_MATRIX_ERROR_WEAK_PASSWORD,    /* M_WEAK_PASSWORD */
  MXPROV_MATRIX_ERROR_BAD_JSON,         /* M_BAD_JSON, M_NOT_JSON, M_INVALID_PARAM */
  MXPROV_MATRIX_ERROR_USER_LOCKED,      /* M_USER_LOCKED (and MSC3939's name); since 0.2 */
} MxprovMatrixError;
GQuark mxprov_matrix_error_quark (void);
guint mxprov_matrix_error_get_status (const GError *error);
const gchar *mxprov_matrix_error_get_errcode (const GError *error);
gint64 mxprov_matrix_error_get_retry_after_ms (const GError *error);
/* The error answer's JSON text (e.g. the session of a 401 user-interactive
 * auth answer), or NULL. Error answers carry no secrets. */
const gchar *mxprov_matrix_error_get_body (const GError *error);
MxprovMatrixError mxprov_matrix_error_code_from_errcode (const gchar *errcode);
/* Build the GError for an answer with HTTP status >= 400 and a JSON body
 * (which may lack errcode, as Dendrite's {"message"} errors do). */
GError *mxprov_matrix_error_new (guint http_status, const gchar *errcode,
                                 const gchar *message, gint64 retry_after_ms);

/* Provisioning outcomes that plugins report and the host maps to exit codes. */
#define MXPROV_PROVISION_ERROR (mxprov_provision_error_quark ())
typedef enum {
  MXPROV_PROVISION_ERROR_FAILED,
  MXPROV_PROVISION_ERROR_INVALID_NAME,   /* a localpart or user ID we refuse locally */
  MXPROV_PROVISION_ERROR_USER_EXISTS,    /* the account exists: we never modify it */
  MXPROV_PROVISION_ERROR_NOT_ADMIN,      /* the credentials are not a server admin's */
  MXPROV_PROVISION_ERROR_UNSUPPORTED,    /* the server cannot do what this plugin needs */
  MXPROV_PROVISION_ERROR_BAD_ANSWER,     /* a 2xx answer without the fields we need */
  MXPROV_PROVISION_ERROR_REFUSED,        /* a credential (registration token, ...) was refused; since 0.2 */
} MxprovProvisionError;
GQuark mxprov_provision_error_quark (void);

/* Step configuration (config files, plugin options). */
#define MXPROV_CONFIG_ERROR (mxprov_config_error_quark ())
typedef enum {
  MXPROV_CONFIG_ERROR_INVALID,   /* a value that cannot be used */
  MXPROV_CONFIG_ERROR_MISSING,   /* a required value is absent */
  MXPROV_CONFIG_ERROR_UNKNOWN_KEY,
} MxprovConfigError;
GQuark mxprov_config_error_quark (void);

G_END_DECLS
