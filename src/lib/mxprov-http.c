/* mxprov-http.c: the JSON-over-HTTP client every step uses.
 *
 * One CURL easy handle per run keeps the connection (and TLS session) to
 * the homeserver alive across steps. Buffers that may hold passwords or
 * tokens (request bodies, Authorization headers, answers) are wiped after
 * use. */
#include "config.h"

#include <string.h>
#include <curl/curl.h>

#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-http.h>
#include <mxprov/mxprov-secret.h>
#include "mxprov-error-private.h"
#include "mxprov-http-private.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_REQUEST_TIMEOUT_MS 60000
/* Every answer we expect is a few hundred bytes; a megabyte means
 * something else is answering. */
#define DEFAULT_MAX_RESPONSE_SIZE (1024 * 1024)
#define DEFAULT_RATE_LIMIT_RETRIES 3
#define DEFAULT_RATE_LIMIT_MAX_WAIT_MS 60000
/* Wait used when a 429 carries neither retry_after_ms nor Retry-After. */
#define DEFAULT_RATE_LIMIT_WAIT_MS 1000
#define DEFAULT_MAX_RETRIES 4

/* DNS answers and TLS sessions shared by the clients of one run (one per
 * batch worker). Connections themselves are not shared: libcurl does not
 * support sharing them between concurrent threads, so each worker keeps
 * its own, reused for all its accounts. */
typedef struct {
  CURLSH *share;
  GMutex locks[CURL_LOCK_DATA_LAST];
  gint refcount;
} HttpShare;

static void
share_lock (CURL *handle, curl_lock_data data, curl_lock_access access, void *user_data)
{
  HttpShare *share = user_data;
  g_mutex_lock (&share->locks[data]);
}

static void
share_unlock (CURL *handle, curl_lock_data data, void *user_data)
{
  HttpShare *share = user_data;
  g_mutex_unlock (&share->locks[data]);
}

static HttpShare *
http_share_new (void)
{
  HttpShare *share = g_new0 (HttpShare, 1);

  share->refcount = 1;
  for (gsize i = 0; i < G_N_ELEMENTS (share->locks); i++)
    g_mutex_init (&share->locks[i]);
  share->share = curl_share_init ();
  curl_share_setopt (share->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (share->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (share->share, CURLSHOPT_USERDATA, share);
  curl_share_setopt (share->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (share->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return share;
}

static void
http_share_unref (HttpShare *share)
{
  if (share == NULL || !g_atomic_int_dec_and_test (&share->refcount))
    return;
  curl_share_cleanup (share->share);
  for (gsize i = 0; i < G_N_ELEMENTS (share->locks); i++)
    g_mutex_clear (&share->locks[i]);
  g_free (share);
}

struct _MxprovHttp {
  CURL *curl;
  HttpShare *share;
  gchar *base_url;
  gchar *ca_file;
  guint connect_timeout_ms;
  guint request_timeout_ms;
  gsize max_response_size;
  guint rate_limit_retries;
  guint rate_limit_max_wait_ms;
  guint max_retries;
  gint64 deadline_us;
  guint n_requests;
  gint64 total_us;
};

typedef struct {
  GString *body;
  gsize max_size;
  gboolean too_large;
  gint64 retry_after_header_ms;
  /* how often curl was about to send the request (see prereq_cb) */
  guint n_sends;
  gboolean resend_allowed;
  gboolean resend_refused;
} HttpExchange;

static void
http_exchange_clear (HttpExchange *exchange)
{
  g_clear_pointer (&exchange->body, mxprov_secret_gstring_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HttpExchange, http_exchange_clear)

static void
curl_slist_free_wiped (struct curl_slist *list)
{
  /* curl copies header strings; ours carry the bearer token. */
  for (struct curl_slist *l = list; l != NULL; l = l->next)
    mxprov_secret_wipe (l->data, strlen (l->data));
  curl_slist_free_all (list);
}

typedef struct curl_slist CurlSlist;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CurlSlist, curl_slist_free_wiped)

gchar *
mxprov_http_escape (const gchar *segment)
{
  /* NULL allowed set: everything but RFC 3986 unreserved characters is
   * encoded, so '@', ':', '!' and '/' cannot change the path's meaning. */
  return g_uri_escape_string (segment, NULL, FALSE);
}

static gboolean
validate_base_url (const gchar *base_url, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) error_local = NULL;
  const gchar *scheme;

  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, &error_local);
  if (uri == NULL)
    {
      g_set_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_INVALID_URL,
                   "invalid homeserver URL '%s': %s (expected e.g. https://matrix.example.com)",
                   base_url, error_local->message);
      return FALSE;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "https") != 0 && g_ascii_strcasecmp (scheme, "http") != 0)
    {
      g_set_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_INVALID_URL,
                   "invalid homeserver URL '%s': scheme must be https:// (or http://)",
                   base_url);
      return FALSE;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_INVALID_URL,
                   "invalid homeserver URL '%s': no host", base_url);
      return FALSE;
    }
  /* Credentials in the URL would be sent to the server and shown in traces. */
  if (g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL
      || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_INVALID_URL,
                   "invalid homeserver URL '%s': user info, query and fragment are not allowed",
                   base_url);
      return FALSE;
    }
  return TRUE;
}

MxprovHttp *
mxprov_http_new (const gchar *base_url, GError **error)
{
  g_autofree gchar *normalized = NULL;
  MxprovHttp *self;
  gsize len;

  g_return_val_if_fail (base_url != NULL, NULL);

  if (!validate_base_url (base_url, error))
    return NULL;
  normalized = g_strdup (base_url);
  len = strlen (normalized);
  while (len > 0 && normalized[len - 1] == '/')
    normalized[--len] = '\0';

  self = g_new0 (MxprovHttp, 1);
  self->curl = curl_easy_init ();
  if (self->curl == NULL)
    {
      g_free (self);
      g_set_error_literal (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_FAILED,
                           "cannot initialise libcurl");
      return NULL;
    }
  self->base_url = g_steal_pointer (&normalized);
  self->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  self->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
  self->max_response_size = DEFAULT_MAX_RESPONSE_SIZE;
  self->rate_limit_retries = DEFAULT_RATE_LIMIT_RETRIES;
  self->rate_limit_max_wait_ms = DEFAULT_RATE_LIMIT_MAX_WAIT_MS;
  self->max_retries = DEFAULT_MAX_RETRIES;
  return self;
}

MxprovHttp *
mxprov_http_new_like (MxprovHttp *model, const gchar *base_url, GError **error)
{
  MxprovHttp *self;

  g_return_val_if_fail (model != NULL, NULL);

  self = mxprov_http_new (base_url, error);
  if (self == NULL)
    return NULL;
  mxprov_http_set_ca_file (self, model->ca_file);
  self->connect_timeout_ms = model->connect_timeout_ms;
  self->request_timeout_ms = model->request_timeout_ms;
  self->max_response_size = model->max_response_size;
  self->rate_limit_retries = model->rate_limit_retries;
  self->rate_limit_max_wait_ms = model->rate_limit_max_wait_ms;
  self->max_retries = model->max_retries;
  self->deadline_us = model->deadline_us;
  return self;
}

void
mxprov_http_follow_deadline (MxprovHttp *self, MxprovHttp *model)
{
  self->deadline_us = model->deadline_us;
}

void
mxprov_http_free (MxprovHttp *self)
{
  if (self == NULL)
    return;
  curl_easy_cleanup (self->curl);
  http_share_unref (self->share);
  g_free (self->base_url);
  g_free (self->ca_file);
  g_free (self);
}

const gchar *
mxprov_http_get_base_url (MxprovHttp *self)
{
  return self->base_url;
}

void
mxprov_http_set_ca_file (MxprovHttp *self, const gchar *ca_file)
{
  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);
}

void
mxprov_http_set_timeouts (MxprovHttp *self, guint connect_timeout_ms,
                          guint request_timeout_ms)
{
  self->connect_timeout_ms = connect_timeout_ms;
  self->request_timeout_ms = request_timeout_ms;
}

void
mxprov_http_set_max_response_size (MxprovHttp *self, gsize max_bytes)
{
  self->max_response_size = max_bytes;
}

void
mxprov_http_set_rate_limit_policy (MxprovHttp *self, guint max_retries,
                                   guint max_wait_ms)
{
  self->rate_limit_retries = max_retries;
  self->rate_limit_max_wait_ms = max_wait_ms;
}

void
mxprov_http_set_deadline (MxprovHttp *self, gint64 deadline_us)
{
  self->deadline_us = deadline_us;
}

void
mxprov_http_share_connections (MxprovHttp *self, MxprovHttp *other)
{
  /* Workers call this concurrently with the same `other`: creating its
   * share lazily must happen once, or one share is lost and the workers
   * end up with different caches. */
  static GMutex share_lock_mutex;

  g_return_if_fail (self->share == NULL);
  g_mutex_lock (&share_lock_mutex);
  if (other->share == NULL)
    other->share = http_share_new ();
  g_atomic_int_inc (&other->share->refcount);
  self->share = other->share;
  g_mutex_unlock (&share_lock_mutex);
}

void
mxprov_http_set_max_retries (MxprovHttp *self, guint max_retries)
{
  self->max_retries = max_retries;
}

void
mxprov_http_get_stats (MxprovHttp *self, guint *out_requests, gint64 *out_total_us)
{
  if (out_requests != NULL)
    *out_requests = self->n_requests;
  if (out_total_us != NULL)
    *out_total_us = self->total_us;
}

static size_t
write_cb (char *data, size_t size, size_t nmemb, void *user_data)
{
  HttpExchange *exchange = user_data;
  gsize n = size * nmemb;

  if (exchange->body->len + n > exchange->max_size)
    {
      exchange->too_large = TRUE;
      return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
  g_string_append_len (exchange->body, data, (gssize) n);
  return n;
}

static size_t
header_cb (char *data, size_t size, size_t nitems, void *user_data)
{
  HttpExchange *exchange = user_data;
  gsize n = size * nitems;
  static const gchar name[] = "retry-after:";

  /* Only the delay-seconds form: Synapse sends that; the date form is
   * ignored and retry_after_ms (or our default) applies. */
  if (n > sizeof name - 1 && g_ascii_strncasecmp (data, name, sizeof name - 1) == 0)
    {
      g_autofree gchar *value = g_strstrip (g_strndup (data + sizeof name - 1,
                                                       n - (sizeof name - 1)));
      guint64 seconds;
      if (g_ascii_string_to_unsigned (value, 10, 0, 86400, &seconds, NULL))
        exchange->retry_after_header_ms = (gint64) seconds * 1000;
    }
  return n;
}

/* libcurl sends a request again by itself, on a new connection, when a
 * kept-alive connection it reused closes before any answer: for an idle
 * connection the server dropped, that is right; but the server may also have
 * acted on the request and died before answering, and then a second
 * createRoom makes a second room. curl calls this just before it sends the
 * request, each time: a second call within one transfer is such a resend,
 * allowed only for requests that are safe to repeat. A refused resend ends
 * the transfer (CURLE_ABORTED_BY_CALLBACK), reported as a lost answer (maybe
 * applied), which the plugins resolve by looking. */
static int
prereq_cb (void *user_data, char *conn_primary_ip, char *conn_local_ip,
           int conn_primary_port, int conn_local_port)
{
  HttpExchange *exchange = user_data;

  if (exchange->n_sends++ > 0 && !exchange->resend_allowed)
    {
      exchange->resend_refused = TRUE;
      return CURL_PREREQFUNC_ABORT;
    }
  return CURL_PREREQFUNC_OK;
}

/* The GError for a failed curl_easy_perform. `sent`: the request left this
 * machine, so the server may have acted on it. */
static GError *
error_from_curl (CURLcode code, const gchar *errbuf, const HttpExchange *exchange,
                 gboolean sent, const gchar *method, const gchar *url)
{
  const gchar *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror (code);
  MxprovHttpError kind;
  const gchar *hint;

  switch (code)
    {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      kind = MXPROV_HTTP_ERROR_RESOLVE;
      hint = "check the host name in --homeserver";
      sent = FALSE;
      break;
    case CURLE_COULDNT_CONNECT:
      kind = MXPROV_HTTP_ERROR_CONNECT;
      hint = "is the homeserver running, and are the URL and port right?";
      sent = FALSE;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      kind = MXPROV_HTTP_ERROR_TIMEOUT;
      hint = "the server did not answer in time; try again later or raise --timeout";
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
      kind = MXPROV_HTTP_ERROR_TLS;
      hint = "the server's certificate could not be verified; use --cacert FILE for a private CA";
      sent = FALSE;
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      if (!exchange->resend_refused)
        {
          kind = MXPROV_HTTP_ERROR_FAILED;
          hint = "network error";
          break;
        }
      kind = MXPROV_HTTP_ERROR_CONNECTION_LOST;
      detail = "the connection closed without an answer after the request was sent";
      hint = "the request may or may not have taken effect, and it is not one that can be sent twice";
      sent = TRUE;
      break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      kind = MXPROV_HTTP_ERROR_CONNECTION_LOST;
      hint = "the connection broke before the answer was complete; the request may or may not have taken effect";
      break;
    case CURLE_WRITE_ERROR:
      if (exchange->too_large)
        return mxprov_http_error_new (MXPROV_HTTP_ERROR_TOO_LARGE, 0, TRUE,
                                      "%s %s: the answer exceeds %" G_GSIZE_FORMAT " bytes; this is not a Matrix API answer",
                                      method, url, exchange->max_size);
      kind = MXPROV_HTTP_ERROR_FAILED;
      hint = "local write error";
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      kind = MXPROV_HTTP_ERROR_INVALID_URL;
      hint = "check --homeserver";
      sent = FALSE;
      break;
    default:
      kind = MXPROV_HTTP_ERROR_FAILED;
      hint = "network error";
      break;
    }
  return mxprov_http_error_new (kind, 0, sent, "%s %s: %s (%s)", method, url, detail, hint);
}

/* Turn a non-2xx JSON answer into a MXPROV_MATRIX_ERROR. */
static GError *
matrix_error_from_json (guint status, json_object *obj, gint64 retry_after_header_ms)
{
  json_object *member;
  const gchar *errcode = NULL;
  const gchar *message = NULL;
  g_autofree gchar *titles = NULL;
  gint64 retry_after_ms = retry_after_header_ms;

  if (json_object_object_get_ex (obj, "errcode", &member)
      && json_object_is_type (member, json_type_string))
    errcode = json_object_get_string (member);
  /* OAuth 2.0 (RFC 6749 5.2, MAS's token endpoint): "error" is the code,
   * "error_description" the text */
  if (errcode == NULL && json_object_object_get_ex (obj, "error", &member)
      && json_object_is_type (member, json_type_string)
      && (json_object_object_get_ex (obj, "error_description", NULL)
          || strspn (json_object_get_string (member), "abcdefghijklmnopqrstuvwxyz_")
               == strlen (json_object_get_string (member))))
    {
      errcode = json_object_get_string (member);
      message = errcode;
      if (json_object_object_get_ex (obj, "error_description", &member)
          && json_object_is_type (member, json_type_string))
        message = json_object_get_string (member);
    }
  else if (json_object_object_get_ex (obj, "error", &member)
      && json_object_is_type (member, json_type_string))
    message = json_object_get_string (member);
  /* MAS's admin API: {"errors":[{"title":…}, …]}, no code at all */
  else if (json_object_object_get_ex (obj, "errors", &member)
           && json_object_is_type (member, json_type_array))
    {
      g_autoptr(GString) joined = g_string_new (NULL);
      for (gsize i = 0; i < json_object_array_length (member); i++)
        {
          json_object *title = NULL;
          if (json_object_object_get_ex (json_object_array_get_idx (member, i), "title", &title)
              && json_object_is_type (title, json_type_string))
            g_string_append_printf (joined, "%s%s", joined->len > 0 ? ": " : "",
                                    json_object_get_string (title));
        }
      if (joined->len > 0)
        message = titles = g_string_free (g_steal_pointer (&joined), FALSE);
    }
  /* Dendrite answers some shared-secret errors with {"message": …} only. */
  else if (json_object_object_get_ex (obj, "message", &member)
           && json_object_is_type (member, json_type_string))
    message = json_object_get_string (member);
  if (json_object_object_get_ex (obj, "retry_after_ms", &member)
      && json_object_is_type (member, json_type_int) && json_object_get_int64 (member) >= 0)
    retry_after_ms = json_object_get_int64 (member);
  if (status == 429 && errcode == NULL)
    errcode = "M_LIMIT_EXCEEDED";
  return mxprov_matrix_error_new (status, errcode, message, retry_after_ms);
}

static void
json_tokener_free_wiped (json_tokener *tok)
{
  /* The tokener's scratch buffer holds the last string it read, which may
   * be an access token. json-c offers no accessor, so reach in. */
  if (tok->pb != NULL && tok->pb->buf != NULL)
    mxprov_secret_wipe (tok->pb->buf, (gsize) tok->pb->size);
  json_tokener_free (tok);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_tokener, json_tokener_free_wiped)

json_object *
mxprov_http_parse_answer (guint status, const gchar *content_type, const gchar *body,
                          gsize len, gint64 retry_after_header_ms, GError **error)
{
  g_autoptr(json_tokener) tok = json_tokener_new ();
  json_object *obj = NULL;
  GError *matrix_error;

  /* No Content (MAS's set-password): success with nothing to read */
  if (status == 204)
    return json_object_new_object ();
  if (len <= G_MAXINT)
    obj = json_tokener_parse_ex (tok, body, (int) len);
  if (obj == NULL || json_tokener_get_parse_end (tok) != len
      || !json_object_is_type (obj, json_type_object))
    {
      g_clear_pointer (&obj, json_object_put);
      /* 502/503/504: whatever answered, the homeserver did not; the
       * request may or may not have reached it. */
      if (status == 502 || status == 503 || status == 504)
        {
          g_propagate_error (error, mxprov_http_error_new (MXPROV_HTTP_ERROR_BAD_GATEWAY, status, TRUE,
                             "the server answered HTTP %u with %s: a reverse proxy could not reach "
                             "the homeserver, or it is overloaded; try again later",
                             status, content_type != NULL ? content_type : "no content type"));
          return NULL;
        }
      g_propagate_error (error, mxprov_http_error_new (MXPROV_HTTP_ERROR_NOT_JSON, status,
                         status >= 200 && status < 300,
                         "the server answered HTTP %u with %s%s, not a Matrix JSON object "
                         "(a reverse proxy's page? check that the homeserver behind it is running)",
                         status, content_type != NULL ? content_type : "no content type",
                         len == 0 ? " and an empty body" : ""));
      return NULL;
    }
  if (status >= 200 && status < 300)
    return obj;
  if (status >= 300 && status < 400)
    {
      json_object_put (obj);
      g_propagate_error (error, mxprov_http_error_new (MXPROV_HTTP_ERROR_FAILED, status, FALSE,
                         "the server redirected (HTTP %u), which mxprov does not follow; "
                         "give the final client API URL as --homeserver", status));
      return NULL;
    }
  matrix_error = matrix_error_from_json (status, obj, retry_after_header_ms);
  mxprov_matrix_error_set_body (matrix_error,
                                json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN));
  mxprov_json_wipe_and_put (obj);
  if (status == 502 || status == 503 || status == 504)
    {
      g_propagate_error (error, mxprov_http_error_new (MXPROV_HTTP_ERROR_BAD_GATEWAY, status, TRUE,
                         "the server answered HTTP %u: %s; try again later", status,
                         matrix_error->message));
      g_error_free (matrix_error);
      return NULL;
    }
  g_propagate_error (error, matrix_error);
  return NULL;
}

static void
wipe_serialized (const gchar *text)
{
  /* The serialized body lives in the json_object's print buffer; it held
   * the password, so zero it before the object is released. */
  if (text != NULL)
    mxprov_secret_wipe ((gpointer) text, strlen (text));
}

/* Worth another try? Only failures that a moment's wait may cure. */
static gboolean
error_is_transient (const GError *error)
{
  if (error->domain == MXPROV_HTTP_ERROR)
    {
      switch ((MxprovHttpError) error->code)
        {
        case MXPROV_HTTP_ERROR_CONNECT:
        case MXPROV_HTTP_ERROR_TIMEOUT:
        case MXPROV_HTTP_ERROR_CONNECTION_LOST:
        case MXPROV_HTTP_ERROR_BAD_GATEWAY:
          return TRUE;
        case MXPROV_HTTP_ERROR_NOT_JSON:
          /* garbage in a success answer: the exchange was corrupted */
          return mxprov_http_error_get_status (error) >= 200 && mxprov_http_error_get_status (error) < 300;
        case MXPROV_HTTP_ERROR_FAILED:
        case MXPROV_HTTP_ERROR_INVALID_URL:
        case MXPROV_HTTP_ERROR_RESOLVE:
        case MXPROV_HTTP_ERROR_TLS:
        case MXPROV_HTTP_ERROR_TOO_LARGE:
        default:
          return FALSE;
        }
    }
  /* An unhandled exception on the server (500 M_UNKNOWN) is often a
   * passing database hiccup. */
  if (error->domain == MXPROV_MATRIX_ERROR)
    return mxprov_matrix_error_get_status (error) == 500;
  return FALSE;
}

/* Exponential backoff with jitter: 250 ms, 500 ms, 1 s, … capped at 4 s,
 * each scaled by a random factor in [0.5, 1) so that several clients do
 * not retry in lockstep. */
static gint64
backoff_ms (guint attempt)
{
  gint64 base = MIN ((gint64) 250 << MIN (attempt, 4u), 4000);
  return (gint64) (base * g_random_double_range (0.5, 1.0));
}

/* Milliseconds left before the deadline, or G_MAXINT64 without one. */
static gint64
remaining_ms (MxprovHttp *self)
{
  if (self->deadline_us == 0)
    return G_MAXINT64;
  return (self->deadline_us - g_get_monotonic_time ()) / 1000;
}

gint64
mxprov_http_get_time_left_ms (MxprovHttp *self)
{
  return remaining_ms (self);
}

/* One exchange, no retries: the parsed 2xx answer, or NULL and an error. */
static json_object *
perform_once (MxprovHttp *self, const gchar *method, const gchar *path, const gchar *url,
              const gchar *authorization, const gchar *content_type_sent, const gchar *payload,
              gboolean retry_safe, gboolean empty_ok, glong timeout_ms, guint *out_status,
              GError **error)
{
  g_auto(HttpExchange) exchange = { .retry_after_header_ms = -1, .resend_allowed = retry_safe };
  g_autoptr(CurlSlist) headers = NULL;
  gchar errbuf[CURL_ERROR_SIZE] = "";
  const gchar *content_type = NULL;
  long status = 0;
  long request_size = 0;
  gint64 start_us;
  gint64 elapsed_us;
  json_object *obj;
  CURLcode rc;

  exchange.body = g_string_sized_new (512);
  exchange.max_size = self->max_response_size;

  headers = curl_slist_append (headers, "Accept: application/json");
  if (payload != NULL)
    {
      g_autofree gchar *content_type_header = g_strconcat ("Content-Type: ", content_type_sent, NULL);
      headers = curl_slist_append (headers, content_type_header);
    }
  if (authorization != NULL)
    {
      g_autoptr(MxprovSecret) auth = g_strconcat ("Authorization: ", authorization, NULL);
      headers = curl_slist_append (headers, auth);
    }
  /* Expect: 100-continue would add a round trip for bodies over 1 kB. */
  headers = curl_slist_append (headers, "Expect:");

  curl_easy_reset (self->curl);
  curl_easy_setopt (self->curl, CURLOPT_URL, url);
  curl_easy_setopt (self->curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (self->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (self->curl, CURLOPT_USERAGENT, "mxprov/" PACKAGE_VERSION);
  curl_easy_setopt (self->curl, CURLOPT_NOSIGNAL, 1L);
  if (self->share != NULL)
    curl_easy_setopt (self->curl, CURLOPT_SHARE, self->share->share);
  curl_easy_setopt (self->curl, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt (self->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt (self->curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  /* A redirect would replay the admin's credentials somewhere else. */
  curl_easy_setopt (self->curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (self->curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (self->curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (self->ca_file != NULL)
    curl_easy_setopt (self->curl, CURLOPT_CAINFO, self->ca_file);
  curl_easy_setopt (self->curl, CURLOPT_CONNECTTIMEOUT_MS,
                    (long) MIN ((glong) self->connect_timeout_ms, timeout_ms));
  curl_easy_setopt (self->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  /* Matrix answers are a few hundred bytes: curl's default 16 kB receive
   * buffer per handle is most of what a batch worker costs in memory. */
  curl_easy_setopt (self->curl, CURLOPT_BUFFERSIZE, 4096L);
  curl_easy_setopt (self->curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (self->curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt (self->curl, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (self->curl, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt (self->curl, CURLOPT_PREREQFUNCTION, prereq_cb);
  curl_easy_setopt (self->curl, CURLOPT_PREREQDATA, &exchange);
  if (payload != NULL)
    {
      /* Not copied (curl reads `payload` in place, wiped by the caller), and
       * small, so curl sends it with the headers in one write. */
      curl_easy_setopt (self->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (payload));
      curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, payload);
    }

  start_us = g_get_monotonic_time ();
  rc = curl_easy_perform (self->curl);
  elapsed_us = g_get_monotonic_time () - start_us;
  self->n_requests++;
  self->total_us += elapsed_us;

  if (rc != CURLE_OK)
    {
      g_info ("%s %s -> %s (%.1f ms)", method, path, curl_easy_strerror (rc), elapsed_us / 1000.0);
      curl_easy_getinfo (self->curl, CURLINFO_REQUEST_SIZE, &request_size);
      g_propagate_error (error, error_from_curl (rc, errbuf, &exchange, request_size > 0,
                                                 method, url));
      return NULL;
    }
  curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo (self->curl, CURLINFO_CONTENT_TYPE, &content_type);
  g_info ("%s %s -> %ld (%.1f ms)", method, path, status, elapsed_us / 1000.0);
  if (empty_ok && status >= 200 && status < 300 && exchange.body->len == 0)
    {
      if (out_status != NULL)
        *out_status = (guint) status;
      return json_object_new_object ();
    }

  obj = mxprov_http_parse_answer ((guint) status, content_type, exchange.body->str,
                                  exchange.body->len, exchange.retry_after_header_ms, error);
  if (obj == NULL)
    {
      g_prefix_error (error, "%s %s: ", method, path);
      return NULL;
    }
  if (out_status != NULL)
    *out_status = (guint) status;
  return obj;
}

/* A query can carry a secret (the registration token validity check's
 * ?token=): traces and errors show its names, never its values. */
static gchar *
mask_query (const gchar *path)
{
  const gchar *query = strchr (path, '?');
  g_autoptr(GString) shown = NULL;
  g_auto(GStrv) pairs = NULL;

  if (query == NULL)
    return g_strdup (path);
  shown = g_string_new_len (path, query - path + 1);
  pairs = g_strsplit (query + 1, "&", -1);
  for (gsize i = 0; pairs[i] != NULL; i++)
    {
      const gchar *equals = strchr (pairs[i], '=');
      if (i > 0)
        g_string_append_c (shown, '&');
      if (equals != NULL)
        g_string_append_printf (shown, "%.*s=…", (gint) (equals - pairs[i]), pairs[i]);
      else
        g_string_append (shown, pairs[i]);
    }
  return g_string_free (g_steal_pointer (&shown), FALSE);
}

/* The request with its retries (429s waited out, transient failures
 * retried where that is safe), within the deadline. `payload` (of
 * `content_type`) stays the caller's, who wipes it. */
static json_object *
send_with_retries (MxprovHttp *self, const gchar *method, const gchar *path,
                   const gchar *authorization, const gchar *content_type, const gchar *payload,
                   MxprovHttpFlags flags, guint *out_status, GError **error)
{
  g_autofree gchar *url = NULL;
  g_autofree gchar *shown_path = NULL;
  gboolean retry_safe;
  guint rate_limited = 0;
  guint retried = 0;

  retry_safe = (flags & MXPROV_HTTP_FLAG_RETRY_SAFE) || g_strcmp0 (method, "GET") == 0;
  url = g_strconcat (self->base_url, path, NULL);
  /* from here `path` is what logs and errors show: query values masked */
  shown_path = mask_query (path);
  path = shown_path;

  for (;;)
    {
      g_autoptr(GError) error_local = NULL;
      json_object *obj;
      gint64 left = remaining_ms (self);
      gint64 wait_ms;

      if (left <= 0)
        {
          g_set_error (error, MXPROV_HTTP_ERROR, MXPROV_HTTP_ERROR_TIMEOUT,
                       "%s %s: out of time (--timeout) before the request could be sent", method, path);
          return NULL;
        }
      obj = perform_once (self, method, path, url, authorization, content_type, payload, retry_safe,
                          (flags & MXPROV_HTTP_FLAG_EMPTY_ANSWER_OK) != 0,
                          (glong) MIN ((gint64) self->request_timeout_ms, left),
                          out_status, &error_local);
      if (obj != NULL)
        return obj;

      /* 429: the server did nothing and says when to come back. */
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED))
        {
          wait_ms = mxprov_matrix_error_get_retry_after_ms (error_local);
          if (wait_ms < 0)
            wait_ms = DEFAULT_RATE_LIMIT_WAIT_MS;
          if (rate_limited < self->rate_limit_retries
              && wait_ms <= (gint64) self->rate_limit_max_wait_ms
              && wait_ms < remaining_ms (self))
            {
              rate_limited++;
              g_message ("%s %s: rate limited by the server, retrying in %.1f s (%u of %u)",
                         method, path, wait_ms / 1000.0, rate_limited, self->rate_limit_retries);
              g_usleep ((gulong) wait_ms * 1000);
              continue;
            }
          if (wait_ms >= remaining_ms (self) || wait_ms > (gint64) self->rate_limit_max_wait_ms)
            {
              /* waiting could not help: say how long the server asked for */
              gboolean login = g_str_has_suffix (path, "/login") && g_str_has_prefix (path, "/_matrix/client/");
              g_prefix_error (&error_local,
                              "rate limited: the server asks to wait %.0f s, longer than %s "
                              "(%.0f s); try again later%s: ",
                              wait_ms / 1000.0,
                              wait_ms >= remaining_ms (self) ? "what is left of --timeout"
                                                             : "mxprov waits for a 429",
                              (wait_ms >= remaining_ms (self) ? remaining_ms (self)
                                                              : (gint64) self->rate_limit_max_wait_ms) / 1000.0,
                              login ? " (servers limit logins per account, Synapse 1.79+ to 5 "
                                      "and then one every ~5 minutes: an admin access token, "
                                      "--admin-token-file, needs no login)" : "");
            }
          else
            g_prefix_error (&error_local, "still rate limited after %u retries; try again later: ",
                            rate_limited);
        }
      /* Other transient failures: retry when that cannot duplicate
       * anything, i.e. the request is retry-safe or never left. */
      else if (error_is_transient (error_local)
               && (retry_safe || !mxprov_error_maybe_applied (error_local))
               && retried < self->max_retries)
        {
          wait_ms = backoff_ms (retried);
          if (wait_ms < remaining_ms (self))
            {
              retried++;
              g_message ("%s; retrying in %.1f s (%u of %u)", error_local->message,
                         wait_ms / 1000.0, retried, self->max_retries);
              g_usleep ((gulong) wait_ms * 1000);
              continue;
            }
        }
      g_propagate_error (error, g_steal_pointer (&error_local));
      return NULL;
    }
}

json_object *
mxprov_http_request_full (MxprovHttp *self, const gchar *method, const gchar *path,
                          const gchar *access_token, json_object *body, MxprovHttpFlags flags,
                          guint *out_status, GError **error)
{
  g_autoptr(MxprovSecret) authorization = NULL;
  const gchar *payload = NULL;
  json_object *answer;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (method != NULL, NULL);
  g_return_val_if_fail (path != NULL && path[0] == '/', NULL);

  if (access_token != NULL)
    authorization = g_strconcat ("Bearer ", access_token, NULL);
  if (body != NULL)
    payload = json_object_to_json_string_ext (body, JSON_C_TO_STRING_PLAIN
                                                    | JSON_C_TO_STRING_NOSLASHESCAPE);
  answer = send_with_retries (self, method, path, authorization, "application/json", payload,
                              flags, out_status, error);
  wipe_serialized (payload);
  return answer;
}

json_object *
mxprov_http_post_form (MxprovHttp *self, const gchar *path, const gchar *client_id,
                       const gchar *client_secret, const gchar *const *fields,
                       MxprovHttpFlags flags, guint *out_status, GError **error)
{
  g_autoptr(MxprovSecret) authorization = NULL;
  g_autoptr(GString) form = NULL;
  json_object *answer;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (path != NULL && path[0] == '/', NULL);
  g_return_val_if_fail ((client_id == NULL) == (client_secret == NULL), NULL);

  if (client_id != NULL)
    {
      /* RFC 6749 2.3.1 would form-encode both first; MAS (the one server
       * this is for) decodes neither, so they go as they are: client IDs
       * are ULIDs and generated secrets need no encoding either way. */
      g_autoptr(MxprovSecret) pair = g_strconcat (client_id, ":", client_secret, NULL);
      g_autoptr(MxprovSecret) encoded = g_base64_encode ((const guchar *) pair, strlen (pair));
      authorization = g_strconcat ("Basic ", encoded, NULL);
    }
  /* sized so that it never grows: a realloc would leave a copy of the
   * secrets in freed memory */
  form = g_string_sized_new (4096);
  for (gsize i = 0; fields != NULL && fields[i] != NULL && fields[i + 1] != NULL; i += 2)
    {
      g_autoptr(MxprovSecret) value = g_uri_escape_string (fields[i + 1], NULL, FALSE);
      g_string_append_printf (form, "%s%s=%s", i > 0 ? "&" : "", fields[i], value);
    }
  answer = send_with_retries (self, "POST", path, authorization,
                              "application/x-www-form-urlencoded", form->str, flags, out_status,
                              error);
  mxprov_secret_wipe (form->str, form->len);
  return answer;
}

json_object *
mxprov_http_request (MxprovHttp *self, const gchar *method, const gchar *path,
                     const gchar *access_token, json_object *body, guint *out_status,
                     GError **error)
{
  return mxprov_http_request_full (self, method, path, access_token, body,
                                   MXPROV_HTTP_FLAG_NONE, out_status, error);
}

const gchar *
mxprov_json_get_string (json_object *obj, const gchar *member, GError **error)
{
  json_object *value = NULL;

  if (obj == NULL || !json_object_object_get_ex (obj, member, &value)
      || !json_object_is_type (value, json_type_string)
      || json_object_get_string_len (value) == 0)
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
                   "the server's answer has no string \"%s\"", member);
      return NULL;
    }
  return json_object_get_string (value);
}

gboolean
mxprov_json_get_bool (json_object *obj, const gchar *member, gboolean *out_value,
                      GError **error)
{
  json_object *value = NULL;

  if (obj != NULL && json_object_object_get_ex (obj, member, &value))
    {
      if (json_object_is_type (value, json_type_boolean))
        {
          *out_value = json_object_get_boolean (value);
          return TRUE;
        }
      if (json_object_is_type (value, json_type_int))
        {
          *out_value = json_object_get_int64 (value) != 0;
          return TRUE;
        }
    }
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
               "the server's answer has no boolean \"%s\"", member);
  return FALSE;
}

static void
wipe_json_strings (json_object *obj)
{
  switch (json_object_get_type (obj))
    {
    case json_type_string:
      mxprov_secret_wipe ((gpointer) json_object_get_string (obj),
                          (gsize) json_object_get_string_len (obj));
      break;
    case json_type_object:
      {
        json_object_object_foreach (obj, key, value)
          {
            (void) key;
            if (value != NULL)
              wipe_json_strings (value);
          }
      }
      break;
    case json_type_array:
      for (gsize i = 0; i < json_object_array_length (obj); i++)
        {
          json_object *item = json_object_array_get_idx (obj, i);
          if (item != NULL)
            wipe_json_strings (item);
        }
      break;
    case json_type_null:
    case json_type_boolean:
    case json_type_double:
    case json_type_int:
    default:
      break;
    }
}

void
mxprov_json_wipe_and_put (json_object *obj)
{
  if (obj == NULL)
    return;
  wipe_json_strings (obj);
  json_object_put (obj);
}
