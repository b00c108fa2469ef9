/* test-homeserver-faults.c: injected faults and simulated server costs.
 *
 * A fault rule replaces or spoils the answer to matching requests (a proxy's
 * 502 page, a dropped connection, a rate limit, ...); costs delay answers by
 * what a real Synapse 1.67 spends on them (matrix-api-notes.md, "Costs
 * measured"). Faults are applied on the server thread.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

/* ------------------------------------------------------------------------ */
/* Faults; applied on the server thread */

void
hs_fault_rule_free (FaultRule *rule)
{
  g_free (rule->method);
  g_free (rule->path);
  g_free ((gchar *) rule->fault.content_type);
  g_free ((gchar *) rule->fault.body);
  g_free (rule);
}

static FaultRule *
fault_rule_copy (const FaultRule *src)
{
  FaultRule *rule = g_new0 (FaultRule, 1);

  *rule = *src;
  rule->method = g_strdup (src->method);
  rule->path = g_strdup (src->path);
  rule->fault.content_type = g_strdup (src->fault.content_type);
  rule->fault.body = g_strdup (src->fault.body);
  return rule;
}

/* Takes the connection away from libsoup so we can misbehave on it */
static void
steal_and_close (SoupServerMessage *msg, const gchar *partial)
{
  g_autoptr(GIOStream) stream = soup_server_message_steal_connection (msg);
  g_autoptr(GError) error = NULL;

  if (stream == NULL)
    return;
  if (partial != NULL)
    {
      GOutputStream *out = g_io_stream_get_output_stream (stream);
      if (!g_output_stream_write_all (out, partial, strlen (partial), NULL, NULL, &error)
          || !g_output_stream_flush (out, NULL, &error))
        g_debug ("writing the truncated answer failed: %s", error->message);
    }
  g_io_stream_close (stream, NULL, NULL);
}

static const gchar html_502[] =
  "<html>\r\n"
  "<head><title>502 Bad Gateway</title></head>\r\n"
  "<body>\r\n"
  "<center><h1>502 Bad Gateway</h1></center>\r\n"
  "<hr><center>nginx/1.22.1</center>\r\n"
  "</body>\r\n"
  "</html>\r\n";

/* Returns the status the client sees, 0 when it gets no complete answer */
guint
hs_apply_fault (SoupServerMessage *msg, const TestFault *fault)
{
  switch (fault->kind)
    {
    case TEST_FAULT_STATUS:
      hs_send_reply (msg, fault->status,
                     fault->content_type != NULL ? fault->content_type : "application/json",
                     fault->body != NULL ? fault->body : "", -1);
      return fault->status;

    case TEST_FAULT_HTML_502:
      hs_send_reply (msg, 502, "text/html", html_502, -1);
      return 502;

    case TEST_FAULT_RATE_LIMIT:
      {
        Reply reply = { 0, NULL, NULL, NULL };
        hs_reply_rate_limited (&reply, fault->retry_after_ms);
        if (fault->retry_after_header)
          {
            g_autofree gchar *secs = g_strdup_printf ("%u", (fault->retry_after_ms + 999) / 1000);
            soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                          "Retry-After", secs);
          }
        hs_send_json_reply (msg, &reply);
        json_object_put (reply.json);
        return 429;
      }

    case TEST_FAULT_MALFORMED_JSON:
      hs_send_reply (msg, 200, "application/json", "{\"access_token\": \"syt_trunc", -1);
      return 200;

    case TEST_FAULT_DROP:
      steal_and_close (msg, NULL);
      return 0;

    case TEST_FAULT_TRUNCATED:
      steal_and_close (msg,
                       "HTTP/1.1 200 OK\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 256\r\n"
                       "\r\n"
                       "{\"room_id\": \"!");
      return 0;

    case TEST_FAULT_DELAY:
    default:
      g_assert_not_reached ();
    }
  return 0;
}

FaultRule *
hs_find_fault_locked (TestHomeserver *self, const gchar *method, const gchar *path)
{
  FaultRule *hit = NULL;

  /* every matching rule counts the request, so each rule's skip/count is
   * independent of the others; the first rule due wins */
  for (guint i = 0; i < self->faults->len; i++)
    {
      FaultRule *rule = g_ptr_array_index (self->faults, i);
      guint index;

      if (!hs_method_matches (rule->method, method) || !hs_path_matches (rule->path, path))
        continue;
      index = rule->seen++;
      if (hit == NULL && index >= rule->skip && index - rule->skip < rule->count)
        hit = rule;
    }
  return hit != NULL ? fault_rule_copy (hit) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Costs */

/* Server time of a real Synapse 1.67 for each request mxprov makes
 * (matrix-api-notes.md, "Costs measured"): bcrypt for a password login and
 * for setting a password, 0.2 s for createRoom, ~5 ms for the rest. A
 * password change may pay bcrypt twice: checking the old password of its
 * UIA stage, and hashing new_password (which Synapse does even while the
 * auth is still incomplete, to keep the hash in the session). */
guint
hs_synapse_cost_ms (const Request *req)
{
  gboolean has_password = req->body != NULL
                          && g_strstr_len (req->body, (gssize) req->body_len, "\"password\"") != NULL;
  gboolean has_new_password = req->body != NULL
                              && g_strstr_len (req->body, (gssize) req->body_len, "\"new_password\"") != NULL;

  if (g_strcmp0 (req->method, "POST") == 0 && g_strcmp0 (req->path, "/_matrix/client/v3/login") == 0
      && has_password)
    return 280;
  if (g_strcmp0 (req->method, "PUT") == 0 && g_str_has_prefix (req->path, "/_synapse/admin/v2/users/")
      && has_password)
    return 280;
  if (g_strcmp0 (req->method, "POST") == 0
      && g_str_has_prefix (req->path, "/_synapse/admin/v1/reset_password/") && has_new_password)
    return 280;
  if (g_strcmp0 (req->method, "POST") == 0
      && (g_strcmp0 (req->path, "/_matrix/client/v3/account/password") == 0
          || g_strcmp0 (req->path, "/_matrix/client/r0/account/password") == 0)
      && (has_password || has_new_password))
    return (has_password ? 280 : 0) + (has_new_password ? 280 : 0);
  if (g_strcmp0 (req->method, "POST") == 0
      && g_strcmp0 (req->path, "/_matrix/client/v3/createRoom") == 0)
    return 200;
  return 5;
}

/* ------------------------------------------------------------------------ */
/* Public API */

void
test_homeserver_set_synapse_costs (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->synapse_costs = enabled;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_request_delay (TestHomeserver *self, guint delay_ms)
{
  g_mutex_lock (&self->lock);
  self->request_delay_ms = delay_ms;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_add_fault (TestHomeserver *self, const gchar *method,
                           const gchar *path, guint skip, guint count,
                           const TestFault *fault)
{
  FaultRule *rule;

  g_return_if_fail (path != NULL);
  g_return_if_fail (fault != NULL);

  rule = g_new0 (FaultRule, 1);
  rule->method = g_strdup (method);
  rule->path = g_strdup (path);
  rule->skip = skip;
  rule->count = count;
  rule->fault = *fault;
  rule->fault.content_type = g_strdup (fault->content_type);
  rule->fault.body = g_strdup (fault->body);
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->faults, rule);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_clear_faults (TestHomeserver *self)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->faults, 0);
  g_mutex_unlock (&self->lock);
}
