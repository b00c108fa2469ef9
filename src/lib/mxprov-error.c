/* mxprov-error.c: error domains, and the Matrix error that carries the
 * server's status and errcode alongside the message. */
#include "config.h"

#include <mxprov/mxprov-error.h>
#include "mxprov-error-private.h"

typedef struct {
  guint http_status;
  gboolean maybe_applied;
} MxprovHttpErrorPrivate;

static void
mxprov_http_error_private_init (MxprovHttpErrorPrivate *priv)
{
}

static void
mxprov_http_error_private_copy (const MxprovHttpErrorPrivate *src, MxprovHttpErrorPrivate *dest)
{
  *dest = *src;
}

static void
mxprov_http_error_private_clear (MxprovHttpErrorPrivate *priv)
{
}

G_DEFINE_EXTENDED_ERROR (MxprovHttpError, mxprov_http_error)

GError *
mxprov_http_error_new (MxprovHttpError code, guint http_status, gboolean maybe_applied,
                       const gchar *format, ...)
{
  g_autofree gchar *message = NULL;
  MxprovHttpErrorPrivate *priv;
  GError *error;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  error = g_error_new_literal (MXPROV_HTTP_ERROR, code, message);
  priv = mxprov_http_error_get_private (error);
  priv->http_status = http_status;
  priv->maybe_applied = maybe_applied;
  return error;
}

guint
mxprov_http_error_get_status (const GError *error)
{
  MxprovHttpErrorPrivate *priv;

  if (error == NULL || error->domain != MXPROV_HTTP_ERROR)
    return 0;
  priv = mxprov_http_error_get_private (error);
  return priv != NULL ? priv->http_status : 0;
}

G_DEFINE_QUARK (mxprov-provision-error-quark, mxprov_provision_error)
G_DEFINE_QUARK (mxprov-config-error-quark, mxprov_config_error)

typedef struct {
  guint http_status;
  gchar *errcode;
  gint64 retry_after_ms;
  gchar *body; /* the answer's JSON text, for callers that need more fields */
} MxprovMatrixErrorPrivate;

static void
mxprov_matrix_error_private_init (MxprovMatrixErrorPrivate *priv)
{
  priv->retry_after_ms = -1;
}

static void
mxprov_matrix_error_private_copy (const MxprovMatrixErrorPrivate *src,
                                  MxprovMatrixErrorPrivate *dest)
{
  dest->http_status = src->http_status;
  dest->errcode = g_strdup (src->errcode);
  dest->retry_after_ms = src->retry_after_ms;
  dest->body = g_strdup (src->body);
}

static void
mxprov_matrix_error_private_clear (MxprovMatrixErrorPrivate *priv)
{
  g_clear_pointer (&priv->errcode, g_free);
  g_clear_pointer (&priv->body, g_free);
}

/* G_DEFINE_EXTENDED_ERROR declares the quark function static-less but
 * without a prototype; the header's prototype covers it. */
G_DEFINE_EXTENDED_ERROR (MxprovMatrixError, mxprov_matrix_error)

static const struct {
  const gchar *errcode;
  MxprovMatrixError code;
} errcode_map[] = {
  { "M_FORBIDDEN", MXPROV_MATRIX_ERROR_FORBIDDEN },
  { "M_UNKNOWN_TOKEN", MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN },
  { "M_MISSING_TOKEN", MXPROV_MATRIX_ERROR_MISSING_TOKEN },
  { "M_USER_DEACTIVATED", MXPROV_MATRIX_ERROR_USER_DEACTIVATED },
  /* Synapse 1.121 stable, 1.91 unstable (MSC3939) */
  { "M_USER_LOCKED", MXPROV_MATRIX_ERROR_USER_LOCKED },
  { "ORG_MATRIX_MSC3939_USER_LOCKED", MXPROV_MATRIX_ERROR_USER_LOCKED },
  { "M_NOT_FOUND", MXPROV_MATRIX_ERROR_NOT_FOUND },
  { "M_UNRECOGNIZED", MXPROV_MATRIX_ERROR_UNRECOGNIZED },
  { "M_LIMIT_EXCEEDED", MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED },
  { "M_USER_IN_USE", MXPROV_MATRIX_ERROR_USER_IN_USE },
  { "M_INVALID_USERNAME", MXPROV_MATRIX_ERROR_INVALID_USERNAME },
  { "M_WEAK_PASSWORD", MXPROV_MATRIX_ERROR_WEAK_PASSWORD },
  { "M_BAD_JSON", MXPROV_MATRIX_ERROR_BAD_JSON },
  { "M_NOT_JSON", MXPROV_MATRIX_ERROR_BAD_JSON },
  { "M_INVALID_PARAM", MXPROV_MATRIX_ERROR_BAD_JSON },
};

MxprovMatrixError
mxprov_matrix_error_code_from_errcode (const gchar *errcode)
{
  if (errcode == NULL)
    return MXPROV_MATRIX_ERROR_UNKNOWN;
  for (gsize i = 0; i < G_N_ELEMENTS (errcode_map); i++)
    {
      if (g_strcmp0 (errcode_map[i].errcode, errcode) == 0)
        return errcode_map[i].code;
    }
  return MXPROV_MATRIX_ERROR_UNKNOWN;
}

GError *
mxprov_matrix_error_new (guint http_status, const gchar *errcode,
                         const gchar *message, gint64 retry_after_ms)
{
  GError *error;
  MxprovMatrixErrorPrivate *priv;
  g_autofree gchar *text = NULL;

  if (message == NULL || *message == '\0')
    message = "no error message";
  /* The message names status and errcode because admins quote it in bug
   * reports; the private data is for code that decides what to do. */
  if (errcode != NULL)
    text = g_strdup_printf ("%s (HTTP %u, %s)", message, http_status, errcode);
  else
    text = g_strdup_printf ("%s (HTTP %u)", message, http_status);

  error = g_error_new_literal (MXPROV_MATRIX_ERROR,
                               mxprov_matrix_error_code_from_errcode (errcode),
                               text);
  priv = mxprov_matrix_error_get_private (error);
  priv->http_status = http_status;
  priv->errcode = g_strdup (errcode);
  priv->retry_after_ms = retry_after_ms;
  return error;
}

guint
mxprov_matrix_error_get_status (const GError *error)
{
  MxprovMatrixErrorPrivate *priv;

  /* Any error may be asked; only ours carry the private data. */
  if (error == NULL || error->domain != MXPROV_MATRIX_ERROR)
    return 0;
  priv = mxprov_matrix_error_get_private (error);
  return priv != NULL ? priv->http_status : 0;
}

const gchar *
mxprov_matrix_error_get_errcode (const GError *error)
{
  MxprovMatrixErrorPrivate *priv;

  /* Any error may be asked; only ours carry the private data. */
  if (error == NULL || error->domain != MXPROV_MATRIX_ERROR)
    return NULL;
  priv = mxprov_matrix_error_get_private (error);
  return priv != NULL ? priv->errcode : NULL;
}

gint64
mxprov_matrix_error_get_retry_after_ms (const GError *error)
{
  MxprovMatrixErrorPrivate *priv;

  /* Any error may be asked; only ours carry the private data. */
  if (error == NULL || error->domain != MXPROV_MATRIX_ERROR)
    return -1;
  priv = mxprov_matrix_error_get_private (error);
  return priv != NULL ? priv->retry_after_ms : -1;
}

gboolean
mxprov_error_maybe_applied (const GError *error)
{
  if (error == NULL)
    return FALSE;
  if (error->domain == MXPROV_HTTP_ERROR)
    {
      MxprovHttpErrorPrivate *priv = mxprov_http_error_get_private (error);
      return priv != NULL && priv->maybe_applied;
    }
  /* A 5xx from the homeserver itself is an exception part-way through
   * handling (Synapse builds a room event by event): assume the worst. */
  if (error->domain == MXPROV_MATRIX_ERROR)
    return mxprov_matrix_error_get_status (error) >= 500;
  return FALSE;
}

void
mxprov_matrix_error_set_body (GError *error, const gchar *body)
{
  MxprovMatrixErrorPrivate *priv;

  if (error == NULL || error->domain != MXPROV_MATRIX_ERROR)
    return;
  priv = mxprov_matrix_error_get_private (error);
  g_free (priv->body);
  priv->body = g_strdup (body);
}

const gchar *
mxprov_matrix_error_get_body (const GError *error)
{
  MxprovMatrixErrorPrivate *priv;

  if (error == NULL || error->domain != MXPROV_MATRIX_ERROR)
    return NULL;
  priv = mxprov_matrix_error_get_private (error);
  return priv != NULL ? priv->body : NULL;
}
