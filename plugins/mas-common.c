/* mas-common.c: the MAS admin API client shared by mas-auth and mas-user.
 * See mas-common.h. */
#include "config.h"

#include <string.h>

#include "mas-common.h"

/* Renew a token this long before it lapses (or a fifth of its lifetime,
 * if shorter), so that no request goes out with one that expires on the
 * way. */
#define RENEW_MARGIN_MS 60000

gchar *
mas_base_from_token_endpoint (const gchar *token_endpoint, GError **error)
{
  if (token_endpoint == NULL || !g_str_has_suffix (token_endpoint, MAS_TOKEN_PATH)
      || strlen (token_endpoint) == strlen (MAS_TOKEN_PATH))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                   "the homeserver's auth_metadata names token endpoint '%s', not MAS's "
                   "<base>" MAS_TOKEN_PATH ": set mas-url= in the [auth] group to MAS's public "
                   "base URL", token_endpoint != NULL ? token_endpoint : "(none)");
      return NULL;
    }
  return g_strndup (token_endpoint, strlen (token_endpoint) - strlen (MAS_TOKEN_PATH));
}

MxprovHttp *
mas_http_new (MxprovContext *context, const gchar *base_url, GError **error)
{
  MxprovHttp *homeserver = mxprov_context_get_http (context);
  MxprovHttp *mas;

  if (g_ascii_strncasecmp (base_url, "http://", 7) == 0
      && g_ascii_strncasecmp (mxprov_http_get_base_url (homeserver), "http://", 7) != 0)
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "refusing MAS at %s: plain http:// would send the client secret and admin "
                   "tokens unencrypted while the homeserver is reached over https://; give MAS's "
                   "https:// URL as mas-url=", base_url);
      return NULL;
    }
  /* Not sharing the homeserver client's DNS and TLS cache: giving a
   * client that has connected already a share makes libcurl lose that
   * connection's memory. */
  mas = mxprov_http_new_like (homeserver, base_url, error);
  return mas;
}

/* What each refusal of the token endpoint means for the admin
 * (backends-2026.md 1.2; MAS crates/handlers/src/oauth2/token.rs). */
static void
explain_token_error (GError **error, const gchar *client_id)
{
  const gchar *code = mxprov_matrix_error_get_errcode (*error);
  GError *explained;

  if (g_strcmp0 (code, "invalid_client") == 0)
    explained = g_error_new (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN,
                             "MAS refused client '%s' (unknown client, or the wrong secret): "
                             "check client-id= and the secret against the clients: section of "
                             "MAS's config (%s)", client_id, (*error)->message);
  else if (g_strcmp0 (code, "unauthorized_client") == 0)
    explained = g_error_new (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN,
                             "MAS does not allow client '%s' the client_credentials grant: "
                             "make it a static client in the clients: section of MAS's config, "
                             "client_auth_method: client_secret_basic (%s)",
                             client_id, (*error)->message);
  else if (g_strcmp0 (code, "invalid_scope") == 0)
    explained = g_error_new (MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_NOT_ADMIN,
                             "MAS's policy does not let client '%s' use its admin API: add "
                             "'%s' to policy.data.admin_clients in MAS's config and restart "
                             "MAS (%s)", client_id, client_id, (*error)->message);
  else
    {
      g_prefix_error (error, "getting an admin token from MAS with client '%s': ", client_id);
      return;
    }
  g_clear_error (error);
  *error = explained;
}

gchar *
mas_request_admin_token (MxprovHttp *mas, const gchar *client_id, const gchar *client_secret,
                         gint64 *out_expires_ms, gint64 *out_lifetime_ms, GError **error)
{
  const gchar *const fields[] = {
    "grant_type", "client_credentials",
    "scope", MAS_ADMIN_SCOPE,
    NULL,
  };
  g_autoptr(MxprovSecretJson) answer = NULL;
  g_autoptr(GError) error_local = NULL;
  json_object *expires_in = NULL;
  const gchar *token;
  gint64 lifetime_s = 300;

  /* A token whose answer was lost expires by itself: safe to ask again. */
  answer = mxprov_http_post_form (mas, MAS_TOKEN_PATH, client_id, client_secret, fields,
                                  MXPROV_HTTP_FLAG_RETRY_SAFE, NULL, &error_local);
  if (answer == NULL)
    {
      if (error_local->domain == MXPROV_MATRIX_ERROR)
        explain_token_error (&error_local, client_id);
      else
        g_prefix_error (&error_local, "getting an admin token from MAS: ");
      g_propagate_error (error, g_steal_pointer (&error_local));
      return NULL;
    }
  token = mxprov_json_get_string (answer, "access_token", error);
  if (token == NULL)
    {
      g_prefix_error (error, "getting an admin token from MAS: ");
      return NULL;
    }
  /* RFC 6749: expires_in is optional; MAS always sends it */
  if (json_object_object_get_ex (answer, "expires_in", &expires_in)
      && json_object_is_type (expires_in, json_type_int) && json_object_get_int64 (expires_in) > 0)
    lifetime_s = json_object_get_int64 (expires_in);
  *out_lifetime_ms = lifetime_s * 1000;
  *out_expires_ms = g_get_real_time () / 1000 + lifetime_s * 1000;
  return g_strdup (token);
}

/* The admin token the instances of this plugin share (see mas_admin_token). */
G_LOCK_DEFINE_STATIC (shared_token);
static gchar *shared_token;        /* secret */
static gint64 shared_expires_ms;
static gchar *shared_origin;       /* MAS base and client ID it belongs to */

/* Wiped when the module is unloaded or the process exits: not when the
 * last instance goes, since a batch makes and frees one per account and
 * the token must outlive them. (A destructor, not g_module_unload, which
 * would be a second exported symbol.) */
__attribute__((destructor)) static void
mas_admin_token_cache_clear (void)
{
  G_LOCK (shared_token);
  g_clear_pointer (&shared_token, mxprov_secret_free);
  g_clear_pointer (&shared_origin, g_free);
  shared_expires_ms = 0;
  G_UNLOCK (shared_token);
}

static gint64
context_number (MxprovContext *context, const gchar *key)
{
  const gchar *text = mxprov_context_get (context, key);
  return text != NULL ? g_ascii_strtoll (text, NULL, 10) : 0;
}

void
mas_put_admin_token (MxprovContext *context, const gchar *token, gint64 expires_ms,
                     gint64 lifetime_ms)
{
  g_autofree gchar *expires = g_strdup_printf ("%" G_GINT64_FORMAT, expires_ms);
  g_autofree gchar *lifetime = g_strdup_printf ("%" G_GINT64_FORMAT, lifetime_ms);

  mxprov_context_set (context, "mas.token", token, MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "mas.token_expires", expires, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "mas.token_lifetime", lifetime, MXPROV_CONTEXT_FLAG_NONE);
}

static gint64
renew_margin_ms (MxprovContext *context)
{
  gint64 lifetime_ms = context_number (context, "mas.token_lifetime");
  return lifetime_ms > 0 ? MIN (RENEW_MARGIN_MS, lifetime_ms / 5) : RENEW_MARGIN_MS;
}

const gchar *
mas_admin_token (MxprovHttp *mas, MxprovContext *context, gboolean renew, GError **error)
{
  const gchar *token = mxprov_context_get (context, "mas.token");
  const gchar *client_id = mxprov_context_get (context, "mas.client_id");
  const gchar *client_secret = mxprov_context_get (context, "mas.client_secret");
  g_autofree gchar *origin = NULL;
  gint64 now_ms = g_get_real_time () / 1000;
  gint64 expires_ms = context_number (context, "mas.token_expires");
  gint64 margin_ms = renew_margin_ms (context);
  gint64 new_expires_ms = 0, new_lifetime_ms = 0;
  gchar *fresh;

  if (token != NULL && !renew && expires_ms - now_ms > margin_ms)
    return token;
  if (client_id == NULL || client_secret == NULL)
    {
      if (token != NULL)
        return token;
      g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                           "no MAS admin token: the auth step must be mas-auth");
      return NULL;
    }
  origin = g_strconcat (mxprov_http_get_base_url (mas), " ", client_id, NULL);
  /* Held across the request: the other workers need that token too, and
   * one request for all of them is the point. */
  G_LOCK (shared_token);
  if (shared_token != NULL && g_strcmp0 (shared_origin, origin) == 0
      && shared_expires_ms - now_ms > margin_ms && shared_expires_ms > expires_ms
      && g_strcmp0 (shared_token, token) != 0)
    {
      mas_put_admin_token (context, shared_token, shared_expires_ms,
                           context_number (context, "mas.token_lifetime"));
      G_UNLOCK (shared_token);
      return mxprov_context_get (context, "mas.token");
    }
  g_info ("the MAS admin token %s; asking MAS for a new one",
          renew ? "was refused as expired" : "is about to lapse");
  fresh = mas_request_admin_token (mas, client_id, client_secret, &new_expires_ms,
                                   &new_lifetime_ms, error);
  if (fresh == NULL)
    {
      G_UNLOCK (shared_token);
      return NULL;
    }
  mxprov_secret_free (shared_token);
  shared_token = g_strdup (fresh);
  shared_expires_ms = new_expires_ms;
  g_free (shared_origin);
  shared_origin = g_steal_pointer (&origin);
  G_UNLOCK (shared_token);
  mas_put_admin_token (context, fresh, new_expires_ms, new_lifetime_ms);
  mxprov_secret_free (fresh);
  return mxprov_context_get (context, "mas.token");
}

json_object *
mas_admin_request (MxprovHttp *mas, MxprovContext *context, const gchar *method,
                   const gchar *path, json_object *body, MxprovHttpFlags flags,
                   guint *out_status, GError **error)
{
  g_autofree gchar *full_path = g_strconcat (MAS_ADMIN_PREFIX, path, NULL);
  g_autoptr(GError) error_local = NULL;
  const gchar *token;
  json_object *answer;

  token = mas_admin_token (mas, context, FALSE, error);
  if (token == NULL)
    return NULL;
  answer = mxprov_http_request_full (mas, method, full_path, token, body, flags, out_status,
                                     &error_local);
  if (answer != NULL)
    return answer;
  /* The clocks of MAS and this machine may disagree, or MAS's token
   * lifetime was changed: one new token, one more try. The request was
   * refused before anything happened, so repeating it is safe. */
  if (!mas_error_is (error_local, 401, "Access token expired"))
    {
      g_propagate_error (error, g_steal_pointer (&error_local));
      return NULL;
    }
  g_clear_error (&error_local);
  token = mas_admin_token (mas, context, TRUE, error);
  if (token == NULL)
    return NULL;
  return mxprov_http_request_full (mas, method, full_path, token, body, flags, out_status, error);
}

guint
mas_error_status (const GError *error)
{
  if (error != NULL && error->domain == MXPROV_HTTP_ERROR)
    return mxprov_http_error_get_status (error);
  return mxprov_matrix_error_get_status (error);
}

gboolean
mas_error_is (const GError *error, guint status, const gchar *title)
{
  g_autoptr(json_object) body = NULL;
  json_object *errors = NULL;
  json_object *first_title = NULL;

  if (error == NULL || mxprov_matrix_error_get_status (error) != status)
    return FALSE;
  if (title == NULL)
    return TRUE;
  if (mxprov_matrix_error_get_body (error) == NULL
      || (body = json_tokener_parse (mxprov_matrix_error_get_body (error))) == NULL
      || !json_object_object_get_ex (body, "errors", &errors)
      || !json_object_is_type (errors, json_type_array) || json_object_array_length (errors) == 0
      || !json_object_object_get_ex (json_object_array_get_idx (errors, 0), "title", &first_title)
      || !json_object_is_type (first_title, json_type_string))
    return FALSE;
  return g_str_has_prefix (json_object_get_string (first_title), title);
}

static json_object *
resource (json_object *answer, GError **error)
{
  json_object *data = NULL;

  if (!json_object_object_get_ex (answer, "data", &data)
      || !json_object_is_type (data, json_type_object))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                           "MAS's answer has no \"data\" object");
      return NULL;
    }
  return data;
}

const gchar *
mas_resource_id (json_object *answer, GError **error)
{
  json_object *data = resource (answer, error);

  return data != NULL ? mxprov_json_get_string (data, "id", error) : NULL;
}

json_object *
mas_resource_attributes (json_object *answer, GError **error)
{
  json_object *data = resource (answer, error);
  json_object *attributes = NULL;

  if (data == NULL)
    return NULL;
  if (!json_object_object_get_ex (data, "attributes", &attributes)
      || !json_object_is_type (attributes, json_type_object))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                           "MAS's answer has no \"data.attributes\" object");
      return NULL;
    }
  return attributes;
}
