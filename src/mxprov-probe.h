/* mxprov-probe.h: which homeserver is this, and what will work on it.
 *
 * Only unauthenticated requests that change nothing: the server's own
 * version endpoints, its login flows, whether login is delegated to an
 * OAuth 2.0 service (MSC2965), the shared-secret nonce endpoint, and the
 * registration flows (a POST /register without a name or password, which
 * opens only a user-interactive auth session that expires by itself). */
#pragma once

#include <glib.h>
#include <mxprov/mxprov.h>

G_BEGIN_DECLS

typedef struct {
  gchar *software;        /* "Synapse", "Dendrite", "Conduit", "conduwuit", "Tuwunel", "continuwuity", or NULL */
  gchar *version;         /* NULL if unknown */
  gchar *software_source; /* the endpoint that said so */
  GStrv client_versions;  /* from /_matrix/client/versions */
  gboolean password_login;
  gchar *oauth_issuer;    /* login delegated to this OAuth 2.0 issuer, or NULL */
  gchar *oauth_token_endpoint; /* the issuer's token endpoint, or NULL */
  gboolean mas;           /* the issuer is the Matrix Authentication Service */
  gboolean oauth_unknown; /* auth_metadata did not answer (5xx, 429, no answer) */
  gboolean synapse_admin_api; /* /_synapse/admin/v1/server_version answered */
  gboolean shared_secret_endpoint; /* GET /_synapse/admin/v1/register gave a nonce */
  gboolean registration_open;      /* POST /register answered with flows */
  GPtrArray *registration_flows;   /* GStrv of stages each, or empty */
  gboolean token_registration;     /* a flow offers m.login.registration_token */
  const gchar *config;    /* the shipped example config that fits, or NULL */
  gchar *advice;          /* one sentence: what to use, and why */
} MxprovProbe;

void mxprov_probe_free (MxprovProbe *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovProbe, mxprov_probe_free)

typedef enum {
  MXPROV_PROBE_IDENTIFY = 1 << 0,     /* software and version, Synapse admin API */
  MXPROV_PROBE_LOGIN = 1 << 1,        /* login flows */
  MXPROV_PROBE_OAUTH = 1 << 2,        /* login delegated to an OAuth 2.0 service */
  MXPROV_PROBE_REGISTRATION = 1 << 3, /* shared-secret nonce, registration flows */
  MXPROV_PROBE_ALL = 0xf,
  MXPROV_PROBE_KNOWN_MATRIX = 1 << 4, /* the caller checked /_matrix/client/versions already */
} MxprovProbeFlags;

/* NULL with an error only when the URL is no Matrix homeserver or cannot
 * be reached; everything else it cannot learn stays unknown. */
MxprovProbe *mxprov_probe_run (MxprovHttp *http, MxprovProbeFlags flags, GError **error);

/* What every run learns before its auth step (MXPROV_PROBE_IDENTIFY and
 * the OAuth delegation only): the context keys server.software,
 * server.version, server.oauth_issuer and server.advice, for steps that
 * must refuse a server they cannot serve before sending any credential;
 * with login delegated, server.oauth_token_endpoint too, and
 * server.oauth_service "MAS" when the issuer is the Matrix Authentication
 * Service; server.oauth_unknown when auth_metadata did not answer at all,
 * so that nobody can tell. */
void mxprov_probe_fill_context (const MxprovProbe *self, MxprovContext *context);

/* "Conduit 0.10.12", "Synapse", or "an unidentified homeserver" */
gchar *mxprov_probe_describe_server (const MxprovProbe *self);

json_object *mxprov_probe_to_json (const MxprovProbe *self);
/* The report for people, one "name: value" line each, on standard output. */
void mxprov_probe_print (const MxprovProbe *self);

G_END_DECLS
