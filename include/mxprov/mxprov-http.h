/* mxprov-http.h: the host's HTTP client for the homeserver's JSON APIs.
 *
 * One libcurl handle per run, so every step reuses the same connection.
 * TLS is verified; errors come back as MXPROV_HTTP_ERROR (transport, non-JSON
 * answers, 502-504) or MXPROV_MATRIX_ERROR (the server's own errors). A 429
 * answer is retried after the time the server asks for: the server did not
 * act on it, so the retry cannot duplicate anything. Other transient
 * failures are retried with backoff only where that is safe too (see
 * MXPROV_HTTP_FLAG_RETRY_SAFE). */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* json-c has no GLib cleanup function of its own; mxprov provides it. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_object, json_object_put)

typedef struct _MxprovHttp MxprovHttp;

/* `base_url` is http:// or https:// with an optional path prefix; a trailing
 * '/' is dropped. */
MxprovHttp *mxprov_http_new (const gchar *base_url, GError **error);
void mxprov_http_free (MxprovHttp *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovHttp, mxprov_http_free)

/* A client for another origin of the same run (MAS's, beside the
 * homeserver's): `model`'s CA file, timeouts, size cap, retry policies and
 * current deadline, its own connection. Since mxprov 0.3. */
MxprovHttp *mxprov_http_new_like (MxprovHttp *model, const gchar *base_url, GError **error);
/* Take `model`'s deadline again: the host gives rollback and cleanup a
 * fresh one on the run's client, so a step holding a client made with
 * mxprov_http_new_like calls this at the start of each entry. Since 0.3. */
void mxprov_http_follow_deadline (MxprovHttp *self, MxprovHttp *model);

const gchar *mxprov_http_get_base_url (MxprovHttp *self);
/* PEM file of CA certificates to trust instead of the system's. */
void mxprov_http_set_ca_file (MxprovHttp *self, const gchar *ca_file);
void mxprov_http_set_timeouts (MxprovHttp *self, guint connect_timeout_ms,
                               guint request_timeout_ms);
void mxprov_http_set_max_response_size (MxprovHttp *self, gsize max_bytes);
/* How often a 429 is waited out and retried (default 3), and the longest
 * single wait accepted (default 60 s): a server asking for more is reported. */
void mxprov_http_set_rate_limit_policy (MxprovHttp *self, guint max_retries,
                                        guint max_wait_ms);

/* The run's deadline (g_get_monotonic_time() scale, 0 = none): no attempt
 * or retry wait goes past it. The host sets it from --timeout, and gives
 * rollback and cleanup a fresh one so they still run after a timeout. */
void mxprov_http_set_deadline (MxprovHttp *self, gint64 deadline_us);
/* Milliseconds left until that deadline (G_MAXINT64 without one): for a
 * step that must decide whether waiting as a server asks still fits.
 * Since mxprov 0.2. */
gint64 mxprov_http_get_time_left_ms (MxprovHttp *self);
/* How often transient failures (connection refused or lost, timeouts,
 * 502/503/504, 500) are retried at most, with exponential backoff and
 * jitter (default 4). */
void mxprov_http_set_max_retries (MxprovHttp *self, guint max_retries);

/* Let `self` share `other`'s DNS cache and TLS sessions (for clients used
 * by different threads of one run; each keeps its own connection). Safe to
 * call from several threads at once with the same `other`. Call it before
 * either has sent a request: libcurl loses the memory of a connection
 * made before its handle got a share. */
void mxprov_http_share_connections (MxprovHttp *self, MxprovHttp *other);

typedef enum {
  MXPROV_HTTP_FLAG_NONE = 0,
  /* Sending the request twice cannot duplicate anything (GET always is):
   * retry it after any transient failure. Without the flag a request is
   * retried only when it certainly never reached the server (connection
   * refused) or was refused with 429. */
  MXPROV_HTTP_FLAG_RETRY_SAFE = 1 << 0,
  /* A 2xx answer with an empty body is a success (an empty object), as
   * for OAuth 2.0 token revocation (RFC 7009). Since mxprov 0.3. */
  MXPROV_HTTP_FLAG_EMPTY_ANSWER_OK = 1 << 1,
} MxprovHttpFlags;

/* Send `method` to base_url + `path` (already percent-encoded, see
 * mxprov_http_escape) with an optional bearer token and JSON body.
 * On a 2xx answer returns the parsed JSON object and its status (an empty
 * object for 204 No Content, since 0.3); otherwise NULL and an error (MAS's
 * {"errors":[{"title"}]} answers give their titles as the message). The
 * body is serialized into a buffer that is wiped after sending, since it
 * may hold a password. */
json_object *mxprov_http_request_full (MxprovHttp *self, const gchar *method,
                                       const gchar *path, const gchar *access_token,
                                       json_object *body, MxprovHttpFlags flags,
                                       guint *out_status, GError **error);
/* mxprov_http_request_full with MXPROV_HTTP_FLAG_NONE. */
json_object *mxprov_http_request (MxprovHttp *self, const gchar *method,
                                  const gchar *path, const gchar *access_token,
                                  json_object *body, guint *out_status,
                                  GError **error);

/* POST an application/x-www-form-urlencoded body (OAuth 2.0 token and
 * revocation endpoints): `fields` is name, value, name, value, …, NULL;
 * values are percent-encoded here and wiped after sending. With client_id
 * and client_secret (both or neither) the client authenticates with HTTP
 * Basic (client_secret_basic). Answers and errors as for
 * mxprov_http_request_full; an OAuth error {"error","error_description"}
 * becomes an MXPROV_MATRIX_ERROR whose errcode is the OAuth code
 * ("invalid_client"). Since mxprov 0.3. */
json_object *mxprov_http_post_form (MxprovHttp *self, const gchar *path,
                                    const gchar *client_id, const gchar *client_secret,
                                    const gchar *const *fields, MxprovHttpFlags flags,
                                    guint *out_status, GError **error);

/* Percent-encode one path segment (user IDs, room IDs, event types). */
gchar *mxprov_http_escape (const gchar *segment);

/* Requests made and the sum of their round-trip times, for --verbose and
 * the benchmark's overhead figure. */
void mxprov_http_get_stats (MxprovHttp *self, guint *out_requests,
                            gint64 *out_total_us);

/* Required members of a server's answer; a missing or mistyped one is an
 * MXPROV_PROVISION_ERROR_BAD_ANSWER naming the member. */
const gchar *mxprov_json_get_string (json_object *obj, const gchar *member,
                                     GError **error);
/* Wipe every string in `obj` (recursively) and release it: for request
 * bodies and answers that held a password or token. Only for objects the
 * caller holds the last reference to. */
void mxprov_json_wipe_and_put (json_object *obj);
typedef json_object MxprovSecretJson;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovSecretJson, mxprov_json_wipe_and_put)

/* Synapse 1.67 sends 0/1 integers where newer ones send booleans. */
gboolean mxprov_json_get_bool (json_object *obj, const gchar *member,
                               gboolean *out_value, GError **error);

G_END_DECLS
