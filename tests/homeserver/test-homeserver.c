/* test-homeserver.c: an in-memory Matrix homeserver for mxprov's tests.
 *
 * The answers copy Synapse 1.67 (see ../shared/matrix-api-notes.md): status
 * codes, errcodes and the quirks mxprov has to cope with, such as PUT on an
 * existing user silently modifying it, or login-as-user not checking that the
 * user exists. Passwords are kept in clear because the tests assert on them.
 * test_homeserver_set_flavour() switches to another server's answers where
 * mxprov can see them; each such place says which server it copies.
 *
 * This file is the core: lifecycle, the server thread, request parsing,
 * routing, authentication of requests and the state queries. The API
 * families live beside it, sharing test-homeserver-private.h:
 *   test-homeserver-model.c     users, tokens, devices, rooms, rate limits; replies
 *   test-homeserver-client.c    login, logout, whoami, account/password, account/deactivate
 *   test-homeserver-admin.c     Synapse's admin API
 *   test-homeserver-tuwunel.c   Tuwunel 1.9's own take on part of it
 *   test-homeserver-register.c  shared-secret registration, POST /register, its validity
 *                               and availability checks
 *   test-homeserver-uia.c       user-interactive auth: Synapse's, Dendrite's, the Conduit family's
 *   test-homeserver-tokens.c    registration tokens and their admin API
 *   test-homeserver-rooms.c     createRoom, room state, members, leave, forget
 *   test-homeserver-faults.c    injected faults and simulated costs
 *   test-homeserver-discovery.c versions, .well-known, federation and server versions
 *   test-homeserver-flavours.c  the flavour descriptions and the routing table
 *   test-homeserver-mas.c       the mas flavour's Matrix Authentication Service on its own
 *                               port: OAuth 2.0 token and revocation, discovery, admin API
 *   test-homeserver-mas-auth.c  Synapse under MAS on the homeserver port: token
 *                               introspection, auth_metadata, MAS's compat login/logout
 *
 * Threading: libsoup objects are not thread safe, so the SoupServer lives
 * entirely in a private thread with its own GMainContext; so does the
 * mas flavour's second one, for MAS. Everything the
 * tests can query sits behind self->lock; request handling takes the lock for
 * the whole handler so that a request's effects appear atomically.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* Memory */

static void
log_entry_free (LogEntry *entry)
{
  g_free (entry->method);
  g_free (entry->path);
  g_free (entry);
}

static void
request_free (Request *req)
{
  g_clear_object (&req->msg);
  g_free (req->method);
  g_free (req->path);
  g_strfreev (req->segments);
  g_clear_pointer (&req->query, g_hash_table_unref);
  g_free (req->authorization);
  g_free (req->content_type);
  g_free (req->user_agent);
  g_free (req->remote_ip);
  g_free (req->body);
  g_clear_pointer (&req->fault, hs_fault_rule_free);
  g_clear_pointer (&req->delay_source, g_source_unref);
  hs_reply_clear (&req->early);
  g_free (req);
}

static void
requester_clear (Requester *who)
{
  g_clear_pointer (&who->user_id, g_free);
  g_clear_pointer (&who->device_id, g_free);
  g_clear_pointer (&who->token, g_free);
}

/* ------------------------------------------------------------------------ */
/* Routing */

/* On a match, `captures` holds the "{}" segments (borrowed) and NULLs */
static gboolean
route_matches (const Route *route, gchar **segments, GPtrArray *captures)
{
  g_auto(GStrv) parts = g_strsplit (route->pattern, "/", -1);

  g_ptr_array_set_size (captures, 0);
  if (g_strv_length (parts) != g_strv_length (segments))
    return FALSE;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (g_strcmp0 (parts[i], "{}") == 0)
        g_ptr_array_add (captures, segments[i]);
      else if (g_strcmp0 (parts[i], "{v}") == 0)
        {
          if (g_strcmp0 (segments[i], "v3") != 0 && g_strcmp0 (segments[i], "r0") != 0)
            return FALSE;
        }
      else if (g_strcmp0 (parts[i], segments[i]) != 0)
        return FALSE;
    }
  g_ptr_array_add (captures, NULL);
  /* room state with an empty state_key may omit the last segment */
  g_ptr_array_add (captures, NULL);
  return TRUE;
}

/* Fills `who` from the access token, or answers 401 */
gboolean
hs_authenticate_locked (TestHomeserver *self, Request *req, Requester *who, Reply *reply)
{
  const gchar *query_token = req->query != NULL ? g_hash_table_lookup (req->query, "access_token") : NULL;
  g_autofree gchar *header_token = NULL;
  const gchar *token_str;
  Token *token;

  if (req->authorization != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (req->authorization, " ", -1);
      if (g_strv_length (parts) != 2 || g_strcmp0 (parts[0], "Bearer") != 0)
        {
          hs_reply_error (reply, 401, "M_MISSING_TOKEN", "Invalid Authorization header.");
          return FALSE;
        }
      header_token = g_strdup (parts[1]);
    }
  if (header_token != NULL && query_token != NULL)
    {
      hs_reply_error (reply, 400, "M_MISSING_TOKEN",
                      "Mixing Authorization headers and access_token query parameters.");
      return FALSE;
    }
  token_str = header_token != NULL ? header_token : query_token;
  if (token_str == NULL)
    {
      hs_reply_error (reply, 401, "M_MISSING_TOKEN", "Missing access token.");
      return FALSE;
    }
  /* Synapse under MAS asks MAS about every token */
  if (self->flavour->authenticate != NULL)
    return self->flavour->authenticate (self, req, token_str, who, reply);
  token = g_hash_table_lookup (self->tokens, token_str);
  if (token == NULL || !hs_token_is_valid (token))
    {
      hs_reply_unknown_token (reply);
      return FALSE;
    }
  /* Synapse 1.91+ (Auth._wrapped_get_user_by_req(), before the client IP
   * is recorded) and Tuwunel (locked_account_check()): a locked account may
   * only log out. A puppet token is the puppeted user's. */
  if (self->flavour->locks_users && !req->allow_locked)
    {
      User *user = hs_lookup_user (self, token->user_id);

      if (user != NULL && user->locked)
        {
          hs_reply_user_locked (self, reply);
          return FALSE;
        }
    }
  /* Auth.get_user_by_req() records the client IP before the handler runs,
   * whatever the handler answers. Synapse writes it at most once per 2 min
   * per token and IP (LAST_SEEN_GRANULARITY); here every request counts, so
   * that tests can see it move. Puppet tokens have no device. */
  if (token->device_id != NULL)
    {
      Device *device = hs_lookup_device (self, token->user_id, token->device_id);

      if (device != NULL)
        {
          device->last_seen_ts = hs_now_ms ();
          g_free (device->last_seen_ip);
          device->last_seen_ip = g_strdup (req->remote_ip);
          g_free (device->last_seen_user_agent);
          device->last_seen_user_agent = g_strdup (req->user_agent);
        }
    }
  who->user_id = g_strdup (token->user_id);
  who->device_id = g_strdup (token->device_id);
  who->token = g_strdup (token->token);
  return TRUE;
}

static void
handle_request (TestHomeserver *self, Request *req, Reply *reply)
{
  g_autoptr(GPtrArray) captures = g_ptr_array_new ();
  const Route *route = NULL;
  gboolean path_known = FALSE;
  Requester who = { NULL, NULL, NULL, FALSE };
  const Flavour *flavour;
  guint flavour_bit;

  g_mutex_lock (&self->lock);
  /* MAS's port has MAS's own router */
  if (req->mas_port)
    {
      hs_mas_handle_request (self, req, reply);
      goto out;
    }
  flavour = self->flavour;
  flavour_bit = 1u << flavour->id;
  if (req->segments == NULL
      || (flavour->serves_path != NULL && !flavour->serves_path (self, req->segments)))
    {
      hs_reply_error (reply, 404, "M_UNRECOGNIZED", flavour->unrecognized_text);
      goto out;
    }
  for (guint i = 0; i < hs_n_routes; i++)
    {
      if ((hs_routes[i].flavours & flavour_bit) == 0
          || !route_matches (&hs_routes[i], req->segments, captures))
        continue;
      path_known = TRUE;
      if (g_strcmp0 (hs_routes[i].method, req->method) == 0)
        {
          route = &hs_routes[i];
          break;
        }
    }
  if (route == NULL)
    {
      if (path_known)
        hs_reply_error (reply, 405, "M_UNRECOGNIZED", flavour->method_not_allowed_text);
      else
        hs_reply_error (reply, 404, "M_UNRECOGNIZED", flavour->unrecognized_text);
      goto out;
    }

  req->allow_locked = route->allow_locked;
  if (route->auth != AUTH_NONE && !hs_authenticate_locked (self, req, &who, reply))
    goto out;
  if (route->auth == AUTH_ADMIN && flavour->admin_by_scope)
    {
      if (!who.scoped_admin)
        {
          hs_reply_error (reply, 403, "M_FORBIDDEN", flavour->not_admin_text);
          goto out;
        }
    }
  else if (route->auth == AUTH_ADMIN)
    {
      User *user = hs_lookup_user (self, who.user_id);
      if (user == NULL || !user->admin)
        {
          hs_reply_error (reply, 403, "M_FORBIDDEN", flavour->not_admin_text);
          goto out;
        }
    }
  route->func (self, req, &who, (gchar **) captures->pdata, reply);
out:
  g_mutex_unlock (&self->lock);
  requester_clear (&who);
}

/* ------------------------------------------------------------------------ */
/* Answering and delays; server thread only */

void
hs_send_reply (SoupServerMessage *msg, guint status, const gchar *content_type,
               const gchar *body, gssize len)
{
  if (len < 0)
    len = strlen (body);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, body, len);
}

void
hs_send_json_reply (SoupServerMessage *msg, Reply *reply)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const gchar *text;

  if (reply->retry_after_s > 0)
    {
      g_autofree gchar *secs = g_strdup_printf ("%u", reply->retry_after_s);
      soup_message_headers_replace (headers, "Retry-After", secs);
    }
  for (guint i = 0; reply->headers != NULL && reply->headers[i] != NULL; i += 2)
    soup_message_headers_replace (headers, reply->headers[i], reply->headers[i + 1]);
  if (reply->raw != NULL && g_strcmp0 (reply->content_type, HS_NO_CONTENT_TYPE) == 0)
    {
      /* axum's empty answers carry no Content-Type */
      soup_server_message_set_status (msg, reply->status, NULL);
      soup_server_message_set_response (msg, NULL, SOUP_MEMORY_COPY, NULL, 0);
      /* say the body is empty: it would otherwise be delimited by closing
       * the connection. libsoup drops that length from a 204 and then
       * closes after it anyway, so say so up front: a client that reused
       * the connection at that moment would see its next request lost,
       * which MAS (hyper keeps it alive) never does */
      soup_message_headers_set_content_length (headers, 0);
      if (reply->status == 204)
        soup_message_headers_replace (headers, "Connection", "close");
      return;
    }
  if (reply->raw != NULL)
    {
      hs_send_reply (msg, reply->status,
                     reply->content_type != NULL ? reply->content_type : "application/json",
                     reply->raw, -1);
      return;
    }
  text = json_object_to_json_string_ext (reply->json,
                                         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  hs_send_reply (msg, reply->status, "application/json", text, -1);
}

static void
request_finish (TestHomeserver *self, Request *req)
{
  Reply reply = { 0, NULL, NULL, NULL };
  const TestFault *fault = req->fault != NULL ? &req->fault->fault : NULL;
  const gchar *server_header;
  guint status;

  if (fault != NULL && fault->kind == TEST_FAULT_DELAY)
    fault = NULL;
  if (req->handled)
    {
      reply = req->early;
      memset (&req->early, 0, sizeof req->early);
    }
  else if (fault == NULL || fault->after_handling)
    handle_request (self, req, &reply);

  g_mutex_lock (&self->lock);
  server_header = self->flavour->server_header;
  g_mutex_unlock (&self->lock);
  if (fault != NULL)
    status = hs_apply_fault (req->msg, fault);
  else
    {
      /* libsoup added its own Server header already */
      SoupMessageHeaders *headers = soup_server_message_get_response_headers (req->msg);

      if (server_header != NULL && !req->answered_by_mas && !req->mas_port)
        soup_message_headers_replace (headers, "Server", server_header);
      else
        soup_message_headers_remove (headers, "Server");
      hs_send_json_reply (req->msg, &reply);
      status = reply.status;
    }
  hs_reply_clear (&reply);

  g_mutex_lock (&self->lock);
  ((LogEntry *) g_ptr_array_index (self->log, req->log_index))->status = status;
  g_mutex_unlock (&self->lock);

  /* a stolen connection has no I/O left to resume */
  if (req->paused && status != 0)
    soup_server_message_unpause (req->msg);
  request_free (req);
}

static gboolean
request_delay_done (gpointer data)
{
  Request *req = data;

  g_ptr_array_remove_fast (req->self->pending, req);
  request_finish (req->self, req);
  return G_SOURCE_REMOVE;
}

static gchar *
decode_segment (const gchar *segment)
{
  return g_uri_unescape_string (segment, NULL);
}

static Request *
request_new (TestHomeserver *self, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  Request *req = g_new0 (Request, 1);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_auto(GStrv) raw_segments = NULL;
  gsize n;

  req->self = self;
  req->msg = g_object_ref (msg);
  req->method = g_strdup (soup_server_message_get_method (msg));
  req->path = g_uri_unescape_string (path, NULL);
  if (req->path == NULL)
    req->path = g_strdup (path);

  /* decode segment by segment so an encoded '/' cannot split a user ID */
  raw_segments = g_strsplit (path[0] == '/' ? path + 1 : path, "/", -1);
  n = g_strv_length (raw_segments);
  req->segments = g_new0 (gchar *, n + 1);
  for (gsize i = 0; i < n; i++)
    {
      req->segments[i] = decode_segment (raw_segments[i]);
      if (req->segments[i] == NULL)
        {
          g_clear_pointer (&req->segments, g_strfreev);
          break;
        }
    }

  if (query != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      req->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_iter_init (&iter, query);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (req->query, g_strdup (key), g_strdup (value));
    }
  req->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  req->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  req->user_agent = g_strdup (soup_message_headers_get_one (headers, "User-Agent"));
  if (req->user_agent == NULL)
    req->user_agent = g_strdup ("");
  req->remote_ip = g_strdup (soup_server_message_get_remote_host (msg));
  req->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  req->body_len = g_bytes_get_size (body);
  return req;
}

/* One listening port and the SoupServer behind it: the homeserver's, and
 * for the mas flavour MAS's. Both live in the server thread. */
typedef struct {
  TestHomeserver *self;
  SoupServer *server;
  GSocketService *service;
  gboolean mas;
} Listener;

static void
server_callback (SoupServer *server, SoupServerMessage *msg, const char *path,
                 GHashTable *query, gpointer user_data)
{
  Listener *listener = user_data;
  TestHomeserver *self = listener->self;
  Request *req = request_new (self, msg, path, query);
  const gchar *raw_query = g_uri_get_query (soup_server_message_get_uri (msg));
  LogEntry *entry = g_new0 (LogEntry, 1);
  guint delay_ms;

  (void) server;
  /* one request log, one fault table and one raw capture for both ports:
   * MAS's paths (/oauth2/token, /api/admin/v1/...) never clash with the
   * homeserver's */
  req->mas_port = listener->mas;
  entry->method = g_strdup (req->method);
  entry->path = g_strdup (req->path);

  g_mutex_lock (&self->lock);
  req->log_index = self->log->len;
  g_ptr_array_add (self->log, entry);
  if (req->authorization != NULL)
    g_string_append_printf (self->raw, "Authorization: %s\n", req->authorization);
  /* an access_token may travel in the query too */
  if (raw_query != NULL)
    g_string_append_printf (self->raw, "?%s\n", raw_query);
  g_string_append_len (self->raw, req->body, req->body_len);
  g_string_append_c (self->raw, '\n');
  req->fault = hs_find_fault_locked (self, req->method, req->path);
  delay_ms = self->request_delay_ms;
  if (self->synapse_costs)
    delay_ms += hs_synapse_cost_ms (req);
  g_mutex_unlock (&self->lock);

  if (req->fault != NULL && req->fault->fault.kind == TEST_FAULT_DELAY)
    delay_ms += req->fault->fault.delay_ms;
  if (delay_ms == 0)
    {
      request_finish (self, req);
      return;
    }

  /* A slow answer to a request the server has already carried out: the
   * client may give up waiting, but the effect is there. */
  if (req->fault != NULL && req->fault->fault.kind == TEST_FAULT_DELAY
      && req->fault->fault.after_handling)
    {
      handle_request (self, req, &req->early);
      req->handled = TRUE;
    }

  /* pausing frees the thread for other clients while this one waits */
  soup_server_message_pause (msg);
  req->paused = TRUE;
  req->delay_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (req->delay_source, request_delay_done, req, NULL);
  g_source_attach (req->delay_source, self->context);
  g_ptr_array_add (self->pending, req);
}

/* ------------------------------------------------------------------------ */
/* Thread */

static gboolean
quit_loop_cb (gpointer data)
{
  TestHomeserver *self = data;

  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection,
             GObject *source, gpointer user_data)
{
  Listener *listener = user_data;
  TestHomeserver *self = listener->self;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  GIOStream *stream = G_IO_STREAM (connection);

  (void) service, (void) source;
  g_mutex_lock (&self->lock);
  self->n_connections++;
  g_mutex_unlock (&self->lock);
  /* As libsoup does on the connections it accepts itself: without it, an
   * answer written in two parts waits for the client's delayed ACK (Nagle),
   * ~40 ms per request on a kept-alive connection. */
  if (!g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY,
                            TRUE, &error))
    g_debug ("cannot set TCP_NODELAY: %s", error->message);
  g_clear_error (&error);
  if (self->tls_certificate != NULL)
    {
      tls = g_tls_server_connection_new (stream, self->tls_certificate, &error);
      if (tls == NULL)
        {
          g_warning ("cannot start TLS: %s", error->message);
          return TRUE;
        }
      stream = tls;
    }
  if (!soup_server_accept_iostream (listener->server, stream, local, remote, &error))
    g_warning ("cannot serve a connection: %s", error->message);
  return TRUE;
}

/* Listens on a loopback port that is never announced (see listener_start). */
static gboolean
listen_placeholder (SoupServer *server, GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  if (!g_socket_bind (socket, address, FALSE, error) || !g_socket_listen (socket, error))
    return FALSE;
  return soup_server_listen_socket (server, socket, 0, error);
}

/* A SoupServer answering on 127.0.0.1 on a port of the kernel's choosing;
 * server_header is what fault answers carry (request_finish() puts the
 * flavour's own on the others). */
static gboolean
listener_start (Listener *listener, const gchar *server_header, guint *port, GError **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;

  listener->server = soup_server_new ("server-header", server_header, NULL);
  soup_server_add_handler (listener->server, NULL, server_callback, listener, NULL);

  /* libsoup 3.2 keeps a connection alive after an answer only when the
   * server has a listener of its own; without one every answer closed its
   * connection, unlike Synapse, and clients never reused one. A listening
   * socket that nobody connects to makes libsoup behave as a real server. */
  if (!listen_placeholder (listener->server, error))
    return FALSE;

  /* We accept connections ourselves and hand them to libsoup, because
   * soup_server_listen() in libsoup 3.2 leaks the GSocket of every
   * connection it accepts, which would drown real leaks under valgrind.
   * Only loopback IPv4: these servers hold test secrets. */
  listener->service = g_socket_service_new ();
  address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (listener->service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, error))
    return FALSE;
  g_signal_connect (listener->service, "incoming", G_CALLBACK (incoming_cb), listener);
  g_socket_service_start (listener->service);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  return TRUE;
}

static void
listener_stop_accepting (Listener *listener)
{
  if (listener->service == NULL)
    return;
  g_socket_service_stop (listener->service);
  g_socket_listener_close (G_SOCKET_LISTENER (listener->service));
  g_signal_handlers_disconnect_by_func (listener->service, incoming_cb, listener);
}

static void
listener_clear (Listener *listener)
{
  if (listener->server != NULL)
    soup_server_disconnect (listener->server);
  g_clear_object (&listener->service);
  g_clear_object (&listener->server);
}

static gpointer
server_thread (gpointer data)
{
  TestHomeserver *self = data;
  Listener hs = { self, NULL, NULL, FALSE };
  Listener mas = { self, NULL, NULL, TRUE };
  gboolean with_mas;
  guint port = 0;
  guint mas_port = 0;
  GError *error = NULL;

  g_main_context_push_thread_default (self->context);
  g_mutex_lock (&self->lock);
  with_mas = self->flavour->delegated_auth;
  g_mutex_unlock (&self->lock);

  /* MAS has no Server header of its own (hyper sends none) */
  if (listener_start (&hs, hs_flavour_get (TEST_HOMESERVER_SYNAPSE)->server_header, &port, &error)
      && with_mas)
    listener_start (&mas, NULL, &mas_port, &error);
  self->server = hs.server;
  self->mas_server = mas.server;

  g_mutex_lock (&self->lock);
  self->start_error = error;
  self->port = port;
  self->mas_port = mas_port;
  self->thread_ready = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (error == NULL)
    g_main_loop_run (self->loop);

  listener_stop_accepting (&hs);
  listener_stop_accepting (&mas);
  for (guint i = 0; i < self->pending->len; i++)
    {
      Request *req = g_ptr_array_index (self->pending, i);
      g_source_destroy (req->delay_source);
      request_free (req);
    }
  g_ptr_array_set_size (self->pending, 0);
  self->server = NULL;
  self->mas_server = NULL;
  listener_clear (&hs);
  listener_clear (&mas);
  /* let GIO and libsoup finish closing what was just dropped */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Public API: lifecycle and configuration */

TestHomeserver *
test_homeserver_new (const gchar *server_name)
{
  TestHomeserver *self = g_new0 (TestHomeserver, 1);

  self->server_name = g_strdup (server_name != NULL ? server_name : "example.test");
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->users = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) hs_user_free);
  self->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) hs_token_free);
  self->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) hs_device_free);
  self->rooms = g_ptr_array_new_with_free_func ((GDestroyNotify) hs_room_free);
  self->rate_buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->faults = g_ptr_array_new_with_free_func ((GDestroyNotify) hs_fault_rule_free);
  self->log = g_ptr_array_new_with_free_func ((GDestroyNotify) log_entry_free);
  self->raw = g_string_new (NULL);
  self->pending = g_ptr_array_new ();
  self->nonces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->uia_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) hs_uia_session_free);
  self->login_rate_limit = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (self->rate_limits); i++)
    self->rate_limits[i] = TRUE;
  self->reg_tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) hs_reg_token_free);
  self->password_login = TRUE;
  self->flavour = hs_flavour_get (TEST_HOMESERVER_SYNAPSE);
  self->mas = hs_mas_state_new ();
  return self;
}

void
test_homeserver_free (TestHomeserver *self)
{
  if (self == NULL)
    return;
  test_homeserver_stop (self);
  g_free (self->server_name);
  g_hash_table_unref (self->users);
  g_hash_table_unref (self->tokens);
  g_ptr_array_unref (self->devices);
  g_ptr_array_unref (self->rooms);
  g_hash_table_unref (self->rate_buckets);
  g_ptr_array_unref (self->faults);
  g_ptr_array_unref (self->log);
  g_string_free (self->raw, TRUE);
  g_ptr_array_unref (self->pending);
  g_hash_table_unref (self->nonces);
  g_hash_table_unref (self->uia_sessions);
  g_ptr_array_unref (self->reg_tokens);
  g_free (self->registration_secret);
  g_free (self->well_known_body);
  g_free (self->url);
  g_clear_object (&self->tls_certificate);
  hs_mas_state_free (self->mas);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self);
}

gboolean
test_homeserver_start (TestHomeserver *self, GError **error)
{
  GError *start_error;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (self->thread == NULL, FALSE);

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->thread_ready = FALSE;
  self->thread = g_thread_try_new ("test-homeserver", server_thread, self, error);
  if (self->thread == NULL)
    {
      g_clear_pointer (&self->loop, g_main_loop_unref);
      g_clear_pointer (&self->context, g_main_context_unref);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  while (!self->thread_ready)
    g_cond_wait (&self->cond, &self->lock);
  start_error = g_steal_pointer (&self->start_error);
  g_mutex_unlock (&self->lock);

  if (start_error != NULL)
    {
      g_thread_join (g_steal_pointer (&self->thread));
      g_clear_pointer (&self->loop, g_main_loop_unref);
      g_clear_pointer (&self->context, g_main_context_unref);
      g_propagate_error (error, start_error);
      return FALSE;
    }
  g_free (self->url);
  self->url = g_strdup_printf ("%s://127.0.0.1:%u",
                               self->tls_certificate != NULL ? "https" : "http", self->port);
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->mas->url, g_free);
  if (self->mas_port != 0)
    self->mas->url = g_strdup_printf ("%s://127.0.0.1:%u",
                                      self->tls_certificate != NULL ? "https" : "http", self->mas_port);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

void
test_homeserver_stop (TestHomeserver *self)
{
  g_return_if_fail (self != NULL);

  if (self->thread == NULL)
    return;
  /* through the context, since g_main_loop_quit() before run() is lost */
  g_main_context_invoke (self->context, quit_loop_cb, self);
  g_thread_join (g_steal_pointer (&self->thread));
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
}

const gchar *
test_homeserver_get_url (TestHomeserver *self)
{
  return self->url;
}

const gchar *
test_homeserver_get_server_name (TestHomeserver *self)
{
  return self->server_name;
}

void
test_homeserver_add_user (TestHomeserver *self, const gchar *localpart,
                          const gchar *password, gboolean admin)
{
  g_return_if_fail (localpart != NULL);

  g_mutex_lock (&self->lock);
  hs_add_user_locked (self, localpart, password, NULL, admin);
  /* the mas flavour's accounts live in MAS, with their passwords; seeded
   * whatever the flavour, since a test may choose it later */
  hs_mas_seed_user_locked (self, localpart, password, admin);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_tls_certificate (TestHomeserver *self, GTlsCertificate *certificate)
{
  g_return_if_fail (self->thread == NULL);
  g_set_object (&self->tls_certificate, certificate);
}

/* ------------------------------------------------------------------------ */
/* Public API: state queries */

gboolean
test_homeserver_user_exists (TestHomeserver *self, const gchar *user_id)
{
  gboolean ret;

  g_mutex_lock (&self->lock);
  ret = hs_lookup_user (self, user_id) != NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_user_is_deactivated (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gboolean ret;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  ret = user != NULL && user->deactivated;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_user_is_admin (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gboolean ret;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  ret = user != NULL && user->admin;
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_get_user_password (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gchar *ret;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  ret = user != NULL ? g_strdup (user->password) : NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_get_user_displayname (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gchar *ret;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  ret = user != NULL ? g_strdup (user->displayname) : NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_user_is_locked (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gboolean ret;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  ret = user != NULL && user->locked;
  g_mutex_unlock (&self->lock);
  return ret;
}

void
test_homeserver_set_user_locked (TestHomeserver *self, const gchar *user_id, gboolean locked)
{
  User *user;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  if (user != NULL)
    user->locked = locked;
  g_mutex_unlock (&self->lock);
}

gboolean
test_homeserver_user_is_erased (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gboolean ret;

  g_mutex_lock (&self->lock);
  user = hs_lookup_user (self, user_id);
  ret = user != NULL && user->erased;
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_count_users (TestHomeserver *self)
{
  guint ret;

  g_mutex_lock (&self->lock);
  ret = g_hash_table_size (self->users);
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_count_devices (TestHomeserver *self, const gchar *user_id)
{
  guint ret = 0;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, user_id) == 0)
        ret++;
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

GPtrArray *
test_homeserver_list_devices (TestHomeserver *self, const gchar *user_id)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, user_id) == 0)
        g_ptr_array_add (ret, g_strdup (device->device_id));
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_get_device_display_name (TestHomeserver *self, const gchar *user_id,
                                         const gchar *device_id)
{
  Device *device;
  gchar *ret;

  g_mutex_lock (&self->lock);
  device = hs_lookup_device (self, user_id, device_id);
  ret = device != NULL ? g_strdup (device->display_name) : NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_count_tokens (TestHomeserver *self, const gchar *user_id)
{
  GHashTableIter iter;
  Token *token;
  guint ret = 0;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->user_id, user_id) == 0 && hs_token_is_valid (token))
        ret++;
    }
  /* Synapse under MAS stores no tokens: what MAS issued for the user and
   * Synapse would accept */
  if (self->flavour->delegated_auth)
    ret += hs_mas_count_cs_tokens_locked (self, user_id);
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_issue_token (TestHomeserver *self, const gchar *user_id)
{
  g_autofree gchar *device_id = hs_random_string (UPPERCASE, 10);
  gchar *ret;

  g_mutex_lock (&self->lock);
  /* under MAS, such a session is a compat session of MAS */
  if (self->flavour->delegated_auth && (ret = hs_mas_issue_token_locked (self, user_id)) != NULL)
    {
      g_mutex_unlock (&self->lock);
      return ret;
    }
  hs_device_register_locked (self, user_id, device_id, "admin's own session");
  ret = g_strdup (hs_add_token_locked (self, user_id, user_id, device_id, 0)->token);
  g_mutex_unlock (&self->lock);
  return ret;
}

GPtrArray *
test_homeserver_list_rooms (TestHomeserver *self)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->rooms->len; i++)
    g_ptr_array_add (ret, g_strdup (((Room *) g_ptr_array_index (self->rooms, i))->room_id));
  g_mutex_unlock (&self->lock);
  return ret;
}

GPtrArray *
test_homeserver_list_joined_rooms (TestHomeserver *self, const gchar *user_id)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (hs_room_has_member (room, user_id))
        g_ptr_array_add (ret, g_strdup (room->room_id));
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_room_exists (TestHomeserver *self, const gchar *room_id)
{
  gboolean ret;

  g_mutex_lock (&self->lock);
  ret = hs_lookup_room (self, room_id) != NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_room_is_joined (TestHomeserver *self, const gchar *room_id,
                                const gchar *user_id)
{
  Room *room;
  gboolean ret;

  g_mutex_lock (&self->lock);
  room = hs_lookup_room (self, room_id);
  ret = room != NULL && hs_room_has_member (room, user_id);
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_room_get_creator (TestHomeserver *self, const gchar *room_id)
{
  Room *room;
  gchar *ret;

  g_mutex_lock (&self->lock);
  room = hs_lookup_room (self, room_id);
  ret = room != NULL ? g_strdup (room->creator) : NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_room_has_members (TestHomeserver *self, const gchar *room_id)
{
  Room *room;
  gboolean ret;

  g_mutex_lock (&self->lock);
  room = hs_lookup_room (self, room_id);
  ret = room != NULL && room->joined->len > 0;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_room_is_forgotten (TestHomeserver *self, const gchar *room_id,
                                   const gchar *user_id)
{
  Room *room;
  gboolean ret;

  g_mutex_lock (&self->lock);
  room = hs_lookup_room (self, room_id);
  ret = room != NULL && user_id != NULL
        && g_ptr_array_find_with_equal_func (room->forgotten, user_id, g_str_equal, NULL);
  g_mutex_unlock (&self->lock);
  return ret;
}

/* Deep copies, because json-c's reference counts are not atomic and the
 * server thread keeps using its own objects. */
json_object *
test_homeserver_room_get_state (TestHomeserver *self, const gchar *room_id,
                                const gchar *type, const gchar *state_key)
{
  Room *room;
  StateEvent *ev = NULL;
  json_object *ret = NULL;

  g_mutex_lock (&self->lock);
  room = hs_lookup_room (self, room_id);
  if (room != NULL)
    ev = hs_room_lookup_state (room, type, state_key != NULL ? state_key : "", NULL);
  if (ev != NULL)
    ret = hs_json_copy (ev->content);
  g_mutex_unlock (&self->lock);
  return ret;
}

json_object *
test_homeserver_room_get_create_request (TestHomeserver *self, const gchar *room_id)
{
  Room *room;
  json_object *ret = NULL;

  g_mutex_lock (&self->lock);
  room = hs_lookup_room (self, room_id);
  if (room != NULL)
    ret = hs_json_copy (room->create_request);
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_count_requests (TestHomeserver *self, const gchar *method, const gchar *path)
{
  guint ret = 0;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->log->len; i++)
    {
      LogEntry *entry = g_ptr_array_index (self->log, i);
      if (hs_method_matches (method, entry->method)
          && (path == NULL || hs_path_matches (path, entry->path)))
        ret++;
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_count_connections (TestHomeserver *self)
{
  guint ret;

  g_mutex_lock (&self->lock);
  ret = self->n_connections;
  g_mutex_unlock (&self->lock);
  return ret;
}

GPtrArray *
test_homeserver_get_request_log (TestHomeserver *self)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->log->len; i++)
    {
      LogEntry *entry = g_ptr_array_index (self->log, i);
      g_ptr_array_add (ret, g_strdup_printf ("%s %s %u", entry->method, entry->path, entry->status));
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_get_raw_requests (TestHomeserver *self)
{
  gchar *ret;

  g_mutex_lock (&self->lock);
  ret = g_strndup (self->raw->str, self->raw->len);
  g_mutex_unlock (&self->lock);
  return ret;
}
