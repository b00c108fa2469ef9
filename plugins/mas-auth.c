/* mas-auth: the auth step on Synapse with its login delegated to the
 * Matrix Authentication Service (MAS).
 *
 * There, Synapse's login-as-user and registration are gone and a user made
 * with its admin API cannot log in (backends-2026.md 1.8): accounts are
 * made in MAS, through MAS's admin API, with a token MAS grants its admin
 * client (OAuth 2.0 client credentials, scope urn:mas:admin). MAS is found
 * from the homeserver's auth_metadata, which the host read before this
 * step (server.oauth_token_endpoint, server.oauth_service), or given as
 * mas-url=. The client secret comes from MXPROV_MAS_CLIENT_SECRET or
 * client-secret-file=, never the command line.
 *
 * The step asks MAS for its version and site config (server name,
 * whether passwords are on) so that a MAS that cannot serve a bundle's
 * password is refused before any account exists, and revokes its token
 * in cleanup. */
#include "config.h"

#include <string.h>

#include "mas-common.h"

#define SECRET_ENV "MXPROV_MAS_CLIENT_SECRET"

typedef struct {
  gchar *client_id;
  gchar *client_secret_file;
  gchar *mas_url;
  gchar *server_name;
  MxprovHttp *mas;
  gchar *token;         /* secret: the one this step got, revoked in cleanup */
  gchar *client_secret; /* secret */
} MasAuth;

static void
mas_auth_free (gpointer data)
{
  MasAuth *self = data;

  g_free (self->client_id);
  g_free (self->client_secret_file);
  g_free (self->mas_url);
  g_free (self->server_name);
  g_clear_pointer (&self->mas, mxprov_http_free);
  mxprov_secret_free (self->token);
  mxprov_secret_free (self->client_secret);
  g_free (self);
}

static gboolean
mas_auth_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  MasAuth *self = g_new0 (MasAuth, 1);

  mxprov_plugin_set_data (plugin, self, mas_auth_free);
  if (!mxprov_config_get_string (config, group, "client-id", NULL, &self->client_id, error)
      || !mxprov_config_get_string (config, group, "client-secret-file", NULL,
                                    &self->client_secret_file, error)
      || !mxprov_config_get_string (config, group, "mas-url", NULL, &self->mas_url, error)
      || !mxprov_config_get_string (config, group, "server-name", NULL, &self->server_name, error))
    return FALSE;
  if (self->client_id == NULL || *self->client_id == '\0')
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                   "[%s] client-id= is missing: the ID of MAS's admin client (a static client "
                   "listed in policy.data.admin_clients of MAS's config)", group);
      return FALSE;
    }
  if (self->mas_url != NULL && !g_str_has_prefix (self->mas_url, "https://")
      && !g_str_has_prefix (self->mas_url, "http://"))
    {
      g_set_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                   "[%s] mas-url=%s: give MAS's public base URL, https://…", group, self->mas_url);
      return FALSE;
    }
  return TRUE;
}

/* The environment wins over client-secret-file= of a config file. */
static gchar *
read_client_secret (MasAuth *self, GError **error)
{
  const gchar *env = g_getenv (SECRET_ENV);

  if (env != NULL && *env != '\0')
    {
      gchar *secret = g_strdup (env);
      g_unsetenv (SECRET_ENV);
      return secret;
    }
  if (self->client_secret_file != NULL)
    return mxprov_secret_read_file (self->client_secret_file, "MAS client secret", error);
  g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                       "no MAS client secret: set " SECRET_ENV ", or client-secret-file= in the "
                       "[auth] group of the config");
  return NULL;
}

/* The host's look at auth_metadata got no answer (a 5xx, a 429, nothing):
 * ask once more, and report what keeps it from answering. */
static gchar *
ask_auth_metadata (MxprovContext *context, GError **error)
{
  g_autoptr(json_object) metadata = NULL;
  const gchar *token_endpoint;

  metadata = mxprov_http_request (mxprov_context_get_http (context), "GET",
                                  "/_matrix/client/v1/auth_metadata", NULL, NULL, NULL, error);
  if (metadata == NULL)
    {
      g_prefix_error (error, "cannot tell whether login on this server is delegated to MAS "
                      "(mas-url= would say where MAS is); nothing was sent or created: ");
      return NULL;
    }
  if (!json_object_object_get_ex (metadata,
                                  "org.matrix.matrix-authentication-service.graphql_endpoint", NULL))
    {
      g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                           "login on this server is delegated to a service that does not describe "
                           "itself as the Matrix Authentication Service; if it is MAS, set mas-url= "
                           "in the [auth] group; nothing was sent or created");
      return NULL;
    }
  token_endpoint = mxprov_json_get_string (metadata, "token_endpoint", error);
  return token_endpoint != NULL ? mas_base_from_token_endpoint (token_endpoint, error) : NULL;
}

/* MAS backs Synapse only (backends-2026.md 1.1: Tuwunel answers
 * auth_metadata for its own OIDC server, and takes no MAS tokens). Decided
 * from what the host learnt without credentials, so a wrong server never
 * sees the client secret. */
static gchar *
find_mas (MasAuth *self, MxprovContext *context, GError **error)
{
  const gchar *software = mxprov_context_get (context, "server.software");
  const gchar *service = mxprov_context_get (context, "server.oauth_service");
  const gchar *issuer = mxprov_context_get (context, "server.oauth_issuer");
  const gchar *advice = mxprov_context_get (context, "server.advice");

  if (software != NULL && g_strcmp0 (software, "Synapse") != 0)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                   "this is %s, not Synapse: MAS provisions accounts only for Synapse (other "
                   "servers do not take MAS's tokens); %s; nothing was sent or created",
                   software, advice != NULL ? advice : "see mxprov probe");
      return NULL;
    }
  if (self->mas_url != NULL)
    return g_strdup (self->mas_url);
  if (g_strcmp0 (service, "MAS") == 0)
    return mas_base_from_token_endpoint (mxprov_context_get (context, "server.oauth_token_endpoint"),
                                         error);
  if (issuer == NULL && mxprov_context_has (context, "server.oauth_unknown"))
    return ask_auth_metadata (context, error);
  if (issuer != NULL)
    g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                 "login on this server is delegated to %s, which does not describe itself as the "
                 "Matrix Authentication Service; if it is MAS, set mas-url= in the [auth] group; "
                 "nothing was sent or created", issuer);
  else
    g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                 "this server does not delegate its login to MAS (no auth_metadata answers): %s; "
                 "if MAS runs there unannounced, set mas-url=; nothing was sent or created",
                 advice != NULL ? advice : "see mxprov probe");
  return NULL;
}

/* GET /version (MAS >= 1.4) and /site-config (>= 1.3): what this MAS
 * is, its server name, and whether it takes passwords at all. */
static gboolean
read_site (MasAuth *self, MxprovContext *context, GError **error)
{
  g_autoptr(json_object) version = NULL;
  g_autoptr(json_object) site = NULL;
  g_autoptr(GError) error_local = NULL;
  const gchar *server_name = self->server_name;
  json_object *member = NULL;

  version = mas_admin_request (self->mas, context, "GET", "/version", NULL,
                               MXPROV_HTTP_FLAG_NONE, NULL, &error_local);
  if (version != NULL && json_object_object_get_ex (version, "version", &member)
      && json_object_is_type (member, json_type_string))
    mxprov_context_set (context, "mas.version", json_object_get_string (member),
                        MXPROV_CONTEXT_FLAG_NONE);
  else if (version == NULL && mas_error_status (error_local) != 404)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "MAS's admin API at %s" MAS_ADMIN_PREFIX " does not answer "
                                  "(is the adminapi resource on a listener this URL reaches? "
                                  "mas-url= can name another): ",
                                  mxprov_http_get_base_url (self->mas));
      return FALSE;
    }
  g_clear_error (&error_local);

  site = mas_admin_request (self->mas, context, "GET", "/site-config", NULL,
                            MXPROV_HTTP_FLAG_NONE, NULL, &error_local);
  if (site == NULL && mas_error_status (error_local) != 404)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "reading MAS's site config: ");
      return FALSE;
    }
  if (site != NULL)
    {
      gboolean password_login = TRUE;

      if (json_object_object_get_ex (site, "server_name", &member)
          && json_object_is_type (member, json_type_string))
        server_name = json_object_get_string (member);
      if (json_object_object_get_ex (site, "password_login_enabled", NULL)
          && !mxprov_json_get_bool (site, "password_login_enabled", &password_login, error))
        return FALSE;
      if (!password_login)
        {
          g_set_error_literal (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
                               "MAS has password login disabled, so the password of a bundle "
                               "could never log in: set passwords: enabled: true in MAS's config "
                               "to provision bundles; nothing was created");
          return FALSE;
        }
    }
  if (server_name == NULL)
    {
      g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING,
                           "this MAS (before 1.3) does not say its server name: set "
                           "server-name= in the [auth] group");
      return FALSE;
    }
  mxprov_context_set (context, "server.name", server_name, MXPROV_CONTEXT_FLAG_NONE);
  return TRUE;
}

static gboolean
mas_auth_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  MasAuth *self = mxprov_plugin_get_data (plugin);
  g_autofree gchar *base = NULL;
  gint64 expires_ms = 0, lifetime_ms = 0;

  if (mxprov_context_has (context, "admin.token"))
    {
      g_set_error_literal (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID,
                           "an admin token was given (--admin-token-file, MXPROV_ADMIN_TOKEN or "
                           "admin-token-file=), but the MAS pipeline gets its own from MAS with "
                           "the client credentials of [auth]: drop the admin token");
      return FALSE;
    }
  base = find_mas (self, context, error);
  if (base == NULL)
    return FALSE;
  self->mas = mas_http_new (context, base, error);
  if (self->mas == NULL)
    return FALSE;
  self->client_secret = read_client_secret (self, error);
  if (self->client_secret == NULL)
    return FALSE;

  self->token = mas_request_admin_token (self->mas, self->client_id, self->client_secret,
                                         &expires_ms, &lifetime_ms, error);
  if (self->token == NULL)
    return FALSE;
  mxprov_context_set (context, "mas.url", base, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "mas.client_id", self->client_id, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "mas.client_secret", self->client_secret, MXPROV_CONTEXT_FLAG_SECRET);
  mas_put_admin_token (context, self->token, expires_ms, lifetime_ms);
  if (!read_site (self, context, error))
    return FALSE;
  g_info ("MAS %s at %s: admin token for client %s, valid %" G_GINT64_FORMAT " s (server name %s)",
          mxprov_context_get (context, "mas.version") != NULL ? mxprov_context_get (context, "mas.version")
                                                              : "(version not told, before 1.4)",
          base, self->client_id, lifetime_ms / 1000,
          mxprov_context_get (context, "server.name"));
  return TRUE;
}

/* Revoke the token this step got (RFC 7009): it would stay valid for
 * its lifetime otherwise. Tokens mas-user got for a long batch lapse by
 * themselves within their lifetime. */
static void
mas_auth_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  MasAuth *self = mxprov_plugin_get_data (plugin);
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error = NULL;

  if (self->token == NULL || self->mas == NULL)
    return;
  mxprov_http_follow_deadline (self->mas, mxprov_context_get_http (context));
  {
    const gchar *const fields[] = { "token", self->token, "token_type_hint", "access_token", NULL };
    /* MAS answers 200 with no body (crates/handlers/src/oauth2/revoke.rs) */
    answer = mxprov_http_post_form (self->mas, MAS_REVOKE_PATH, self->client_id,
                                    self->client_secret, fields,
                                    MXPROV_HTTP_FLAG_RETRY_SAFE | MXPROV_HTTP_FLAG_EMPTY_ANSWER_OK,
                                    NULL, &error);
  }
  if (answer == NULL)
    g_warning ("could not revoke the MAS admin token (it lapses by itself within its lifetime): %s",
               error->message);
  g_clear_pointer (&self->token, mxprov_secret_free);
  mxprov_context_remove (context, "mas.token");
}

static const gchar *const provides[] = {
  "mas.url", "mas.token", "mas.token_expires", "mas.client_id", "mas.client_secret", "server.name",
  NULL
};
static const gchar *const options[] = { "client-id", "client-secret-file", "mas-url", "server-name", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "mas-auth",
  .step = "auth",
  .backend = "mas",
  .description = "Admin token from the Matrix Authentication Service (client credentials); revokes it at the end",
  .requires = NULL,
  .provides = provides,
  .options = options,
  .init = mas_auth_init,
  .run = mas_auth_run,
  .cleanup = mas_auth_cleanup,
)
