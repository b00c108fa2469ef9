/* mxprov-exit.c: map error domains to sysexits.h codes.
 *
 * Scripts branch on these, so they are part of the interface: the table in
 * README.md and mxprov(1) must match this file. */
#include "config.h"

#include <mxprov/mxprov-bundle.h>
#include <mxprov/mxprov-error.h>
#include "mxprov-exit.h"
#include "mxprov-loader.h"
#include "mxprov-log.h"
#include "mxprov-output.h"
#include "mxprov-pipeline.h"

static gint
exit_code_for_matrix_error (const GError *error)
{
  switch ((MxprovMatrixError) error->code)
    {
    case MXPROV_MATRIX_ERROR_FORBIDDEN:
    case MXPROV_MATRIX_ERROR_UNKNOWN_TOKEN:
    case MXPROV_MATRIX_ERROR_MISSING_TOKEN:
    case MXPROV_MATRIX_ERROR_USER_DEACTIVATED:
    case MXPROV_MATRIX_ERROR_USER_LOCKED:
      return EX_NOPERM;
    case MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED:
      return EX_TEMPFAIL;
    case MXPROV_MATRIX_ERROR_USER_IN_USE:
      return EX_CANTCREAT;
    case MXPROV_MATRIX_ERROR_INVALID_USERNAME:
    case MXPROV_MATRIX_ERROR_WEAK_PASSWORD:
      return EX_DATAERR;
    case MXPROV_MATRIX_ERROR_UNKNOWN:
    case MXPROV_MATRIX_ERROR_NOT_FOUND:
    case MXPROV_MATRIX_ERROR_UNRECOGNIZED:
    case MXPROV_MATRIX_ERROR_BAD_JSON:
    default:
      /* A 5xx is the server's trouble, a 4xx one we did not expect is a
       * disagreement about the protocol. */
      return mxprov_matrix_error_get_status (error) >= 500 ? EX_UNAVAILABLE : EX_PROTOCOL;
    }
}

gint
mxprov_exit_code_for_error (const GError *error)
{
  if (error == NULL)
    return EX_OK;
  if (error->domain == G_OPTION_ERROR)
    return EX_USAGE;
  if (error->domain == MXPROV_CONFIG_ERROR || error->domain == MXPROV_LOADER_ERROR)
    return EX_CONFIG;
  if (error->domain == MXPROV_PIPELINE_ERROR)
    {
      switch ((MxprovPipelineError) error->code)
        {
        case MXPROV_PIPELINE_ERROR_MISSING_INPUT:
          return EX_USAGE;
        case MXPROV_PIPELINE_ERROR_CONTRACT:
          return EX_CONFIG;
        case MXPROV_PIPELINE_ERROR_UNSUPPORTED:
          return EX_UNAVAILABLE;
        case MXPROV_PIPELINE_ERROR_PLUGIN_BUG:
        default:
          return EX_SOFTWARE;
        }
    }
  if (error->domain == MXPROV_HTTP_ERROR)
    {
      switch ((MxprovHttpError) error->code)
        {
        case MXPROV_HTTP_ERROR_INVALID_URL:
          return EX_USAGE;
        case MXPROV_HTTP_ERROR_NOT_JSON:
        case MXPROV_HTTP_ERROR_TOO_LARGE:
          return EX_PROTOCOL;
        case MXPROV_HTTP_ERROR_RESOLVE:
        case MXPROV_HTTP_ERROR_CONNECT:
        case MXPROV_HTTP_ERROR_TIMEOUT:
        case MXPROV_HTTP_ERROR_TLS:
        case MXPROV_HTTP_ERROR_CONNECTION_LOST:
        case MXPROV_HTTP_ERROR_FAILED:
        default:
          return EX_UNAVAILABLE;
        }
    }
  if (error->domain == MXPROV_MATRIX_ERROR)
    return exit_code_for_matrix_error (error);
  if (error->domain == MXPROV_PROVISION_ERROR)
    {
      switch ((MxprovProvisionError) error->code)
        {
        case MXPROV_PROVISION_ERROR_INVALID_NAME:
          return EX_DATAERR;
        case MXPROV_PROVISION_ERROR_USER_EXISTS:
          return EX_CANTCREAT;
        case MXPROV_PROVISION_ERROR_NOT_ADMIN:
        case MXPROV_PROVISION_ERROR_REFUSED:
          return EX_NOPERM;
        case MXPROV_PROVISION_ERROR_UNSUPPORTED:
          return EX_UNAVAILABLE;
        case MXPROV_PROVISION_ERROR_BAD_ANSWER:
          return EX_PROTOCOL;
        case MXPROV_PROVISION_ERROR_FAILED:
        default:
          return EX_SOFTWARE;
        }
    }
  if (error->domain == MXPROV_BUNDLE_ERROR)
    return EX_DATAERR;
  if (error->domain == MXPROV_OUTPUT_ERROR)
    return error->code == MXPROV_OUTPUT_ERROR_EXISTS ? EX_CANTCREAT : EX_IOERR;
  if (error->domain == G_FILE_ERROR)
    {
      switch ((GFileError) error->code)
        {
        case G_FILE_ERROR_EXIST:
          return EX_CANTCREAT;
        case G_FILE_ERROR_NOENT:
        case G_FILE_ERROR_ACCES:
        case G_FILE_ERROR_INVAL:
        case G_FILE_ERROR_ISDIR:
          return EX_NOINPUT;
        default:
          return EX_IOERR;
        }
    }
  /* A plugin may report I/O trouble in GIO's domain; the host does not link
   * GIO, so it knows the domain by name. */
  if (error->domain == g_quark_try_string ("g-io-error-quark"))
    return EX_IOERR;
  return EX_SOFTWARE;
}

gint
mxprov_exit_with_error (const GError *error)
{
  mxprov_log_error (error);
  return mxprov_exit_code_for_error (error);
}
