/* test-homeserver-discovery.c: what tells a client which server it talks
 * to: /_matrix/client/versions, /.well-known/matrix/client,
 * /_matrix/federation/v1/version and /_synapse/admin/v1/server_version.
 *
 * The names, versions and 404s come from the flavour description.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

void
hs_handle_versions (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const gchar *const *versions = self->flavour->client_versions;
  json_object *obj = json_object_new_object ();
  json_object *arr = json_object_new_array ();

  (void) req, (void) who, (void) args;
  for (guint i = 0; versions[i] != NULL; i++)
    json_object_array_add (arr, json_object_new_string (versions[i]));
  json_object_object_add (obj, "versions", arr);
  json_object_object_add (obj, "unstable_features", json_object_new_object ());
  hs_reply_json (reply, 200, obj);
}

/* Synapse's VersionServlet: {"server_version"} (+ "python_version" before
 * 1.94); Tuwunel 1.9 answers {"server_version"} too (SAA
 * version/get_server_version/v1.rs) */
void
hs_handle_server_version (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();

  (void) req, (void) who, (void) args;
  json_object_object_add (obj, "server_version", json_object_new_string (self->flavour->version));
  if (self->flavour->python_version != NULL)
    json_object_object_add (obj, "python_version", json_object_new_string (self->flavour->python_version));
  hs_reply_json (reply, 200, obj);
}

/* GET /_tuwunel/server_version and /_continuwuity/server_version
 * (TUW src/api/client/tuwunel.rs, CTW src/api/client/unversioned.rs):
 * {"name", "version"} as in the federation answer */
void
hs_handle_brand_server_version (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                                Reply *reply)
{
  json_object *obj = json_object_new_object ();

  (void) req, (void) who, (void) args;
  json_object_object_add (obj, "name", json_object_new_string (self->flavour->federation_name));
  json_object_object_add (obj, "version", json_object_new_string (self->flavour->version));
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_well_known (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const Flavour *flavour = self->flavour;

  (void) req, (void) who, (void) args;
  if (flavour->delegated_auth)
    hs_mas_well_known (self, reply);
  else if (self->well_known_set)
    hs_reply_raw (reply, self->well_known_status, NULL, self->well_known_body);
  else if (flavour->well_known_absent_type == NULL)
    hs_reply_error (reply, 404, flavour->well_known_absent_errcode, flavour->well_known_absent_body);
  else
    hs_reply_raw (reply, 404, flavour->well_known_absent_type, flavour->well_known_absent_body);
}

/* {"server": {"name", "version"}} (backends-2026.md 3.3); Tuwunel adds the
 * compiler. Synapse 1.67 as modelled from the start has no federation
 * resource on its client listener unless the test adds one. */
void
hs_handle_federation_version (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const Flavour *flavour = self->flavour;
  json_object *obj;
  json_object *server;

  (void) req, (void) who, (void) args;
  if (!flavour->federation_always && !self->federation_listener)
    {
      hs_reply_error (reply, 404, "M_UNRECOGNIZED", flavour->unrecognized_text);
      return;
    }
  obj = json_object_new_object ();
  server = json_object_new_object ();
  json_object_object_add (server, "name", json_object_new_string (flavour->federation_name));
  json_object_object_add (server, "version", json_object_new_string (flavour->version));
  if (flavour->federation_compiler != NULL)
    json_object_object_add (server, "compiler", json_object_new_string (flavour->federation_compiler));
  json_object_object_add (obj, "server", server);
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Public API */

void
test_homeserver_set_well_known (TestHomeserver *self, guint status, const gchar *body)
{
  g_mutex_lock (&self->lock);
  self->well_known_set = TRUE;
  self->well_known_status = status;
  g_free (self->well_known_body);
  self->well_known_body = g_strdup (body != NULL ? body : "");
  g_mutex_unlock (&self->lock);
}
