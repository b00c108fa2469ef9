/* mxprov-discovery.c: client-server API discovery through .well-known. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>
#include "mxprov-address.h"
#include "mxprov-discovery.h"

gboolean
mxprov_discovery_is_server_name (const gchar *homeserver)
{
  return homeserver != NULL && strstr (homeserver, "://") == NULL;
}

/* host[:port], where host is a DNS name, an IPv4 address or [IPv6]. */
static gboolean
server_name_is_valid (const gchar *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 255)
    return FALSE;
  for (const gchar *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-.:[]", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
is_loopback (const gchar *server_name)
{
  g_autofree gchar *host = g_strdup (server_name);
  gchar *colon;

  if (host[0] == '[')
    {
      gchar *end = strchr (host, ']');
      if (end == NULL)
        return FALSE;
      *end = '\0';
      return mxprov_address_is_loopback (host + 1);
    }
  if ((colon = strrchr (host, ':')) != NULL)
    *colon = '\0';
  return mxprov_address_is_loopback (host);
}

gchar *
mxprov_discovery_resolve (const gchar *server_name, const gchar *ca_file,
                          guint request_timeout_ms, gint64 deadline_us, GError **error)
{
  g_autoptr(MxprovHttp) http = NULL;
  g_autoptr(MxprovHttp) check = NULL;
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;
  g_autofree gchar *origin = NULL;
  json_object *homeserver = NULL;
  json_object *base_url = NULL;

  if (!server_name_is_valid (server_name))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--homeserver '%s' is neither a URL (https://matrix.example.com) nor a "
                   "server name (example.com)", server_name);
      return NULL;
    }
  origin = g_strdup_printf ("%s://%s", is_loopback (server_name) ? "http" : "https", server_name);
  http = mxprov_http_new (origin, error);
  if (http == NULL)
    return NULL;
  if (ca_file != NULL)
    mxprov_http_set_ca_file (http, ca_file);
  mxprov_http_set_timeouts (http, MIN (request_timeout_ms, 10000u), request_timeout_ms);
  mxprov_http_set_deadline (http, deadline_us);

  answer = mxprov_http_request (http, "GET", "/.well-known/matrix/client", NULL, NULL, NULL,
                                &error_local);
  if (answer == NULL)
    {
      /* 404 (JSON or a plain web server's page): no delegation. */
      if (mxprov_matrix_error_get_status (error_local) == 404
          || mxprov_http_error_get_status (error_local) == 404)
        {
          g_info ("%s has no /.well-known/matrix/client; using %s", server_name, origin);
          return g_steal_pointer (&origin);
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "discovering the homeserver of %s failed (give its client API URL "
                                  "with --homeserver https://…): ", server_name);
      return NULL;
    }
  if (!json_object_object_get_ex (answer, "m.homeserver", &homeserver)
      || !json_object_is_type (homeserver, json_type_object)
      || !json_object_object_get_ex (homeserver, "base_url", &base_url)
      || !json_object_is_type (base_url, json_type_string))
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "discovering the homeserver of %s failed: %s/.well-known/matrix/client has no "
                   "string m.homeserver.base_url; give the client API URL with --homeserver https://…",
                   server_name, origin);
      return NULL;
    }
  /* mxprov_http_new validates it and drops a trailing '/'. */
  check = mxprov_http_new (json_object_get_string (base_url), &error_local);
  if (check == NULL)
    {
      /* the server's mistake, not the admin's: not a usage error */
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "discovering the homeserver of %s failed: its .well-known gives a base_url mxprov cannot use: %s",
                   server_name, error_local->message);
      return NULL;
    }
  g_info ("%s delegates to %s", server_name, mxprov_http_get_base_url (check));
  return g_strdup (mxprov_http_get_base_url (check));
}
