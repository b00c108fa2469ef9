/* mxprov-probe.c: identify the homeserver and say which backend fits,
 * from unauthenticated answers only (backends-2026.md 1.1, 2, 3.3). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <mxprov/mxprov.h>
#include "mxprov-probe.h"

void
mxprov_probe_free (MxprovProbe *self)
{
  if (self == NULL)
    return;
  g_free (self->software);
  g_free (self->version);
  g_free (self->software_source);
  g_strfreev (self->client_versions);
  g_free (self->oauth_issuer);
  g_free (self->oauth_token_endpoint);
  g_clear_pointer (&self->registration_flows, g_ptr_array_unref);
  g_free (self->advice);
  g_free (self);
}

/* A GET that may fail: its answer, or NULL (the reason is not kept: an
 * absent endpoint is an answer too). */
static json_object *
try_get (MxprovHttp *http, const gchar *path)
{
  g_autoptr(GError) error = NULL;
  json_object *answer = mxprov_http_request (http, "GET", path, NULL, NULL, NULL, &error);

  if (answer == NULL)
    g_debug ("probe: GET %s: %s", path, error->message);
  return answer;
}

static gchar *
member_string (json_object *obj, const gchar *name)
{
  json_object *value = NULL;

  if (obj != NULL && json_object_object_get_ex (obj, name, &value)
      && json_object_is_type (value, json_type_string))
    return g_strdup (json_object_get_string (value));
  return NULL;
}

/* The federation API names the software; the admin and brand version
 * endpoints back it up where federation is off or on another host. */
static void
identify (MxprovProbe *self, MxprovHttp *http)
{
  static const struct {
    const gchar *path;
    const gchar *software; /* NULL: the answer names it */
  } brands[] = {
    { "/_tuwunel/server_version", "Tuwunel" },
    { "/_continuwuity/server_version", "continuwuity" },
    { "/_conduwuit/server_version", "conduwuit" },
  };
  g_autoptr(json_object) federation = try_get (http, "/_matrix/federation/v1/version");
  g_autoptr(json_object) admin = NULL;
  json_object *server = NULL;

  if (federation != NULL && json_object_object_get_ex (federation, "server", &server))
    {
      self->software = member_string (server, "name");
      self->version = member_string (server, "version");
    }
  /* Synapse and Tuwunel 1.9 serve it; asked even when federation named
   * the server, since it says whether the admin API is reachable here */
  admin = try_get (http, "/_synapse/admin/v1/server_version");
  self->synapse_admin_api = admin != NULL && json_object_object_get_ex (admin, "server_version", NULL);
  if (self->software != NULL)
    {
      self->software_source = g_strdup ("/_matrix/federation/v1/version");
      return;
    }
  /* federation off or elsewhere: the brand routes tell the Conduit family
   * and Tuwunel (which also answers server_version) from Synapse */
  for (gsize i = 0; i < G_N_ELEMENTS (brands); i++)
    {
      g_autoptr(json_object) answer = NULL;

      /* with the admin API answering it is Synapse or Tuwunel (first) */
      if (self->synapse_admin_api && i > 0)
        break;
      answer = try_get (http, brands[i].path);
      if (answer == NULL)
        continue;
      self->software = g_strdup (brands[i].software);
      self->version = member_string (answer, "version");
      self->software_source = g_strdup (brands[i].path);
      return;
    }
  if (self->synapse_admin_api)
    {
      self->software = g_strdup ("Synapse");
      self->version = member_string (admin, "server_version");
      self->software_source = g_strdup ("/_synapse/admin/v1/server_version");
    }
}

static gboolean
answered_4xx (const GError *error)
{
  guint status = error->domain == MXPROV_HTTP_ERROR ? mxprov_http_error_get_status (error)
                                                    : mxprov_matrix_error_get_status (error);
  return status >= 400 && status < 500 && status != 429;
}

static void
read_oauth (MxprovProbe *self, MxprovHttp *http)
{
  static const gchar *const metadata_paths[] = {
    "/_matrix/client/v1/auth_metadata",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (metadata_paths) && self->oauth_issuer == NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(json_object) metadata = mxprov_http_request (http, "GET", metadata_paths[i], NULL,
                                                             NULL, NULL, &error);
      if (metadata == NULL)
        {
          g_debug ("probe: GET %s: %s", metadata_paths[i], error->message);
          /* a 4xx is an answer (not delegated); no answer, a 5xx or a 429
           * leaves it unknown */
          if (!answered_4xx (error))
            self->oauth_unknown = TRUE;
          continue;
        }
      self->oauth_issuer = member_string (metadata, "issuer");
      if (self->oauth_issuer == NULL)
        continue;
      self->oauth_unknown = FALSE;
      self->oauth_token_endpoint = member_string (metadata, "token_endpoint");
      /* Synapse passes MAS's own discovery document through, and only MAS
       * has this key (backends-2026.md 1.1) */
      self->mas = metadata != NULL
                  && json_object_object_get_ex (metadata,
                                                "org.matrix.matrix-authentication-service.graphql_endpoint",
                                                NULL);
    }
}

static void
read_login (MxprovProbe *self, MxprovHttp *http)
{
  g_autoptr(json_object) login = try_get (http, "/_matrix/client/v3/login");
  json_object *flows = NULL;

  if (login != NULL && json_object_object_get_ex (login, "flows", &flows)
      && json_object_is_type (flows, json_type_array))
    for (gsize i = 0; i < json_object_array_length (flows); i++)
      {
        g_autofree gchar *type = member_string (json_object_array_get_idx (flows, i), "type");
        if (g_strcmp0 (type, "m.login.password") == 0)
          self->password_login = TRUE;
      }
}

/* POST /register with no name, password or auth: its 401 lists the flows;
 * no account can come of it. */
static void
read_registration (MxprovProbe *self, MxprovHttp *http)
{
  g_autoptr(json_object) shared_secret = try_get (http, "/_synapse/admin/v1/register");
  g_autoptr(json_object) empty = json_object_new_object ();
  g_autoptr(json_object) answer = NULL;
  g_autoptr(json_object) uia = NULL;
  g_autoptr(GError) error = NULL;
  json_object *flows = NULL;

  self->shared_secret_endpoint = shared_secret != NULL
                                 && json_object_object_get_ex (shared_secret, "nonce", NULL);
  answer = mxprov_http_request (http, "POST", "/_matrix/client/v3/register", NULL, empty, NULL,
                                &error);
  if (answer != NULL || error == NULL || mxprov_matrix_error_get_status (error) != 401
      || mxprov_matrix_error_get_body (error) == NULL)
    return;
  uia = json_tokener_parse (mxprov_matrix_error_get_body (error));
  if (uia == NULL || !json_object_object_get_ex (uia, "flows", &flows)
      || !json_object_is_type (flows, json_type_array))
    return;
  self->registration_open = TRUE;
  for (gsize i = 0; i < json_object_array_length (flows); i++)
    {
      g_autoptr(GStrvBuilder) stages = g_strv_builder_new ();
      json_object *list = NULL;

      if (json_object_object_get_ex (json_object_array_get_idx (flows, i), "stages", &list)
          && json_object_is_type (list, json_type_array))
        for (gsize k = 0; k < json_object_array_length (list); k++)
          {
            const gchar *stage = json_object_get_string (json_object_array_get_idx (list, k));
            if (stage == NULL)
              continue;
            g_strv_builder_add (stages, stage);
            if (g_strcmp0 (stage, "m.login.registration_token") == 0)
              self->token_registration = TRUE;
          }
      g_ptr_array_add (self->registration_flows, g_strv_builder_end (stages));
    }
}

static void
advise (MxprovProbe *self)
{
  const gchar *software = self->software != NULL ? self->software : "";
  g_autofree gchar *server = mxprov_probe_describe_server (self);

  /* MAS is the backend only behind Synapse (backends-2026.md 1.1) */
  if (self->mas && (g_strcmp0 (software, "Synapse") == 0 || self->software == NULL))
    {
      self->config = "examples/mas.conf";
      self->advice = g_strdup_printf (
        "login on %s is delegated to the Matrix Authentication Service (%s): use "
        "examples/mas.conf with a MAS admin client (client-id= and its secret); accounts made "
        "through Synapse's admin API or registration cannot log in there. The Lotti app logs in "
        "and joins with such a bundle but cannot change its password (MAS serves no "
        "/account/password)", server, self->oauth_issuer);
      return;
    }
  if (self->oauth_issuer != NULL && g_strcmp0 (software, "Tuwunel") != 0)
    {
      self->advice = g_strdup_printf (
        "login on %s is delegated to an OAuth 2.0 service (%s, the Matrix Authentication Service "
        "on Synapse): accounts made through Synapse's admin API or registration cannot log in "
        "there, and no backend of this mxprov provisions through it; make the accounts in that "
        "service", server, self->oauth_issuer);
      return;
    }
  if (g_strcmp0 (software, "Synapse") == 0)
    {
      self->config = "examples/synapse.conf";
      self->advice = g_strdup_printf (
        "%s: the built-in pipeline (examples/synapse.conf) with an admin password or an admin "
        "token (--admin-token-file)%s", server,
        self->token_registration ? "; without an admin account, examples/registration-token.conf"
                                 : "; without an admin account, examples/synapse-shared-secret.conf "
                                   "if you hold the registration shared secret");
      return;
    }
  if (g_strcmp0 (software, "Dendrite") == 0)
    {
      self->config = "examples/dendrite.conf";
      self->advice = g_strdup_printf ("%s has no Synapse admin API: use examples/dendrite.conf "
                                      "(shared-secret registration)", server);
      return;
    }
  if (g_strcmp0 (software, "Tuwunel") == 0)
    {
      if (mxprov_matrix_version_at_least (self->version, 1, 9) && self->synapse_admin_api)
        {
          self->config = "examples/synapse.conf";
          self->advice = g_strdup_printf ("%s serves the Synapse admin API: the built-in pipeline "
                                          "(examples/synapse.conf) works; or "
                                          "examples/registration-token.conf", server);
        }
      else
        {
          self->config = "examples/synapse-shared-secret.conf";
          self->advice = g_strdup_printf ("%s serves no Synapse admin API (Tuwunel 1.9 is the first "
                                          "that does): use examples/synapse-shared-secret.conf or "
                                          "examples/registration-token.conf", server);
        }
      return;
    }
  if (g_strcmp0 (software, "Conduit") == 0 || g_strcmp0 (software, "conduwuit") == 0
      || g_strcmp0 (software, "continuwuity") == 0 || self->token_registration)
    {
      self->config = "examples/registration-token.conf";
      self->advice = g_strdup_printf ("%s has no Synapse admin API: use "
                                      "examples/registration-token.conf (a registration token from "
                                      "its admin)", server);
      return;
    }
  self->advice = g_strdup_printf ("%s: no shipped config is known to fit; mxprov probe -v shows "
                                  "what it answered", server);
}

MxprovProbe *
mxprov_probe_run (MxprovHttp *http, MxprovProbeFlags flags, GError **error)
{
  g_autoptr(MxprovProbe) self = g_new0 (MxprovProbe, 1);
  g_autoptr(json_object) versions = NULL;
  json_object *list = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  self->registration_flows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  if (!(flags & MXPROV_PROBE_KNOWN_MATRIX))
    versions = mxprov_http_request (http, "GET", "/_matrix/client/versions", NULL, NULL, NULL, error);
  if (versions == NULL && !(flags & MXPROV_PROBE_KNOWN_MATRIX))
    {
      g_prefix_error (error, "%s is not a reachable Matrix homeserver: ",
                      mxprov_http_get_base_url (http));
      return NULL;
    }
  if (json_object_object_get_ex (versions, "versions", &list) && json_object_is_type (list, json_type_array))
    for (gsize i = 0; i < json_object_array_length (list); i++)
      if (json_object_get_string (json_object_array_get_idx (list, i)) != NULL)
        g_strv_builder_add (builder, json_object_get_string (json_object_array_get_idx (list, i)));
  self->client_versions = g_strv_builder_end (builder);
  if (flags & MXPROV_PROBE_IDENTIFY)
    identify (self, http);
  if (flags & MXPROV_PROBE_LOGIN)
    read_login (self, http);
  if (flags & MXPROV_PROBE_OAUTH)
    read_oauth (self, http);
  if (flags & MXPROV_PROBE_REGISTRATION)
    read_registration (self, http);
  advise (self);
  return g_steal_pointer (&self);
}

void
mxprov_probe_fill_context (const MxprovProbe *self, MxprovContext *context)
{
  if (self->software != NULL)
    mxprov_context_set (context, "server.software", self->software, MXPROV_CONTEXT_FLAG_NONE);
  if (self->version != NULL)
    mxprov_context_set (context, "server.version", self->version, MXPROV_CONTEXT_FLAG_NONE);
  if (self->oauth_issuer != NULL)
    mxprov_context_set (context, "server.oauth_issuer", self->oauth_issuer, MXPROV_CONTEXT_FLAG_NONE);
  if (self->oauth_token_endpoint != NULL)
    mxprov_context_set (context, "server.oauth_token_endpoint", self->oauth_token_endpoint,
                        MXPROV_CONTEXT_FLAG_NONE);
  if (self->mas)
    mxprov_context_set (context, "server.oauth_service", "MAS", MXPROV_CONTEXT_FLAG_NONE);
  if (self->oauth_issuer == NULL && self->oauth_unknown)
    mxprov_context_set (context, "server.oauth_unknown", "true", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "server.advice", self->advice, MXPROV_CONTEXT_FLAG_NONE);
}

gchar *
mxprov_probe_describe_server (const MxprovProbe *self)
{
  if (self->software == NULL)
    return g_strdup ("an unidentified homeserver");
  if (self->version == NULL)
    return g_strdup (self->software);
  return g_strdup_printf ("%s %s", self->software, self->version);
}

static json_object *
strv_to_json (const gchar *const *strv)
{
  json_object *array = json_object_new_array ();

  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    json_object_array_add (array, json_object_new_string (strv[i]));
  return array;
}

static json_object *
string_or_null (const gchar *value)
{
  return value != NULL ? json_object_new_string (value) : NULL;
}

json_object *
mxprov_probe_to_json (const MxprovProbe *self)
{
  json_object *obj = json_object_new_object ();
  json_object *flows = json_object_new_array ();

  for (guint i = 0; i < self->registration_flows->len; i++)
    json_object_array_add (flows, strv_to_json (g_ptr_array_index (self->registration_flows, i)));
  json_object_object_add (obj, "software", string_or_null (self->software));
  json_object_object_add (obj, "version", string_or_null (self->version));
  json_object_object_add (obj, "identified_by", string_or_null (self->software_source));
  json_object_object_add (obj, "client_versions", strv_to_json ((const gchar *const *) self->client_versions));
  json_object_object_add (obj, "password_login", json_object_new_boolean (self->password_login));
  json_object_object_add (obj, "oauth_issuer", string_or_null (self->oauth_issuer));
  json_object_object_add (obj, "oauth_token_endpoint", string_or_null (self->oauth_token_endpoint));
  json_object_object_add (obj, "oauth_service", string_or_null (self->mas ? "MAS" : NULL));
  json_object_object_add (obj, "oauth_unknown", json_object_new_boolean (self->oauth_issuer == NULL
                                                                         && self->oauth_unknown));
  json_object_object_add (obj, "synapse_admin_api", json_object_new_boolean (self->synapse_admin_api));
  json_object_object_add (obj, "shared_secret_endpoint", json_object_new_boolean (self->shared_secret_endpoint));
  json_object_object_add (obj, "registration_open", json_object_new_boolean (self->registration_open));
  json_object_object_add (obj, "registration_flows", flows);
  json_object_object_add (obj, "token_registration", json_object_new_boolean (self->token_registration));
  json_object_object_add (obj, "config", string_or_null (self->config));
  json_object_object_add (obj, "advice", json_object_new_string (self->advice));
  return obj;
}

void
mxprov_probe_print (const MxprovProbe *self)
{
  g_autofree gchar *server = mxprov_probe_describe_server (self);
  g_autofree gchar *versions = g_strjoinv (" ", self->client_versions);
  g_autoptr(GString) flows = g_string_new (NULL);

  for (guint i = 0; i < self->registration_flows->len; i++)
    {
      g_autofree gchar *flow = g_strjoinv (" + ", g_ptr_array_index (self->registration_flows, i));
      g_string_append_printf (flows, "%s[%s]", i > 0 ? " " : "", flow);
    }
  printf ("server:             %s%s%s%s\n", server, self->software_source != NULL ? " (from " : "",
          self->software_source != NULL ? self->software_source : "",
          self->software_source != NULL ? ")" : "");
  printf ("client API:         %s\n", *versions != '\0' ? versions : "(no versions listed)");
  printf ("password login:     %s\n", self->password_login ? "yes" : "no");
  printf ("login delegated to: %s%s\n",
          self->oauth_issuer != NULL ? self->oauth_issuer
          : self->oauth_unknown ? "unknown (auth_metadata did not answer; -v says why)"
                                : "no one (the server's own)",
          self->mas ? " (Matrix Authentication Service)" : "");
  if (self->oauth_token_endpoint != NULL)
    printf ("token endpoint:     %s\n", self->oauth_token_endpoint);
  /* GET /api/admin/v1/version needs an admin token; nothing else says */
  if (self->mas)
    printf ("MAS version:        known to its admin API only (provision -v with examples/mas.conf "
            "logs it)\n");
  printf ("Synapse admin API:  %s\n", self->synapse_admin_api ? "yes (server_version answers)" : "no");
  printf ("shared secret:      %s\n", self->shared_secret_endpoint
                                        ? "the nonce endpoint answers (Synapse answers it even without a secret)"
                                        : "no nonce endpoint");
  printf ("registration:       %s\n", !self->registration_open ? "closed or not offered"
                                      : self->token_registration ? "open with a registration token"
                                                                 : "open");
  if (flows->len > 0)
    printf ("registration flows: %s\n", flows->str);
  printf ("fits:               %s\n", self->config != NULL ? self->config : "no shipped config");
  printf ("advice:             %s\n", self->advice);
}
