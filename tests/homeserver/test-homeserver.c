/* test-homeserver.c: an in-memory Matrix homeserver for mxprov's tests.
 *
 * The answers copy Synapse 1.67 (see ../shared/matrix-api-notes.md): status
 * codes, errcodes and the quirks mxprov has to cope with, such as PUT on an
 * existing user silently modifying it, or login-as-user not checking that the
 * user exists. Passwords are kept in clear because the tests assert on them.
 * test_homeserver_set_flavour() switches to Dendrite 0.13.7's answers where
 * mxprov can see them (clientapi/routing/register_secret.go, deactivate.go,
 * auth/user_interactive.go); each such place says which server it copies.
 *
 * Threading: libsoup objects are not thread safe, so the SoupServer lives
 * entirely in a private thread with its own GMainContext. Everything the
 * tests can query sits behind self->lock; request handling takes the lock for
 * the whole handler so that a request's effects appear atomically.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "test-homeserver.h"

/* json-c has no autoptr support of its own */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_object, json_object_put)

#define SERVER_VERSION "1.67.0"
#define DENDRITE_VERSION "0.13.7"
#define DEFAULT_ROOM_VERSION "9"
#define LOGIN_BURST 3
#define LOGIN_PERIOD_MS 6000
#define MAX_PASSWORD_LENGTH 512
#define MAX_USER_ID_LENGTH 255
#define SYNAPSE_NONCE_TIMEOUT_S 60   /* UserRegisterServlet.NONCE_TIMEOUT */
#define DENDRITE_NONCE_TIMEOUT_S 300 /* go-cache, 5 min */
#define DENDRITE_MAX_USER_ID_LENGTH 254
#define DENDRITE_MIN_PASSWORD_LENGTH 8
#define DENDRITE_SHARED_SECRET_DEVICE "shared_secret_registration"
#define MAX_DEVICE_DISPLAY_NAME_LEN 100 /* synapse/handlers/device.py */

#define ALPHANUMERIC "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define LETTERS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define UPPERCASE "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

typedef struct {
  gchar *user_id;
  gchar *localpart;
  gchar *password;     /* NULL after deactivation: Synapse clears the hash */
  gchar *displayname;
  gboolean admin;
  gboolean deactivated;
  gboolean erased;
  gint64 creation_ts;
  gchar *user_type;    /* NULL, "bot" or "support" */
} User;

typedef struct {
  gchar *token;
  gchar *owner;          /* who logged in; for a puppet token, the admin */
  gchar *user_id;        /* who the token acts as */
  gchar *device_id;      /* NULL for puppet tokens */
  gint64 valid_until_ms; /* 0: never expires */
} Token;

typedef struct {
  gchar *user_id;
  gchar *device_id;
  gchar *display_name; /* initial_device_display_name, or NULL */
  /* Synapse's client IPs table: what the last request authenticated by one
   * of the device's tokens came with. Nothing until the first such request,
   * because a login or a registration is not itself authenticated. */
  gint64 last_seen_ts; /* epoch ms; 0: never seen */
  gchar *last_seen_ip;
  gchar *last_seen_user_agent;
} Device;

typedef struct {
  gchar *type;
  gchar *state_key;
  gchar *sender;
  gchar *event_id;
  gint64 origin_server_ts;
  json_object *content;
  gchar *replaces_state; /* the event ID of the state it replaced, or NULL */
} StateEvent;

typedef struct {
  gchar *room_id;
  gchar *creator;
  json_object *create_request;
  GPtrArray *state;  /* StateEvent, in the order the current events were sent */
  GPtrArray *joined; /* user IDs */
  GPtrArray *forgotten; /* user IDs that left and forgot the room */
} Room;

typedef struct {
  gchar *method; /* NULL: any */
  gchar *path;
  guint skip;
  guint count;
  guint seen;
  TestFault fault; /* content_type and body are owned copies */
} FaultRule;

typedef struct {
  gchar *method;
  gchar *path;
  guint status;
} LogEntry;

typedef struct {
  gint64 busy_until_us; /* when the bucket will have drained completely */
} RateBucket;

/* A user-interactive-auth session */
typedef struct {
  gchar *id;
  gchar *method;    /* Synapse binds a session to the request's method and URI */
  gchar *path;
  gchar *validated; /* Synapse: the user ID the password stage proved, or NULL */
  json_object *clientdict; /* Synapse: the request's parameters, kept for later stages */
  gchar *new_password;     /* Synapse account/password: PASSWORD_HASH, kept in clear here */
} UiaSession;

struct _TestHomeserver {
  gchar *server_name;

  GMutex lock;
  GCond cond;
  GHashTable *users;        /* user_id -> User */
  GHashTable *tokens;       /* token -> Token */
  GPtrArray *devices;       /* Device */
  GPtrArray *rooms;         /* Room, in creation order */
  GHashTable *rate_buckets; /* lowercase user_id -> RateBucket */
  GPtrArray *faults;        /* FaultRule */
  GPtrArray *log;           /* LogEntry */
  GString *raw;
  gboolean login_rate_limit;
  gboolean password_login;
  guint request_delay_ms;
  gboolean synapse_costs;
  TestHomeserverFlavour flavour;
  gchar *registration_secret; /* NULL: shared-secret registration disabled */
  GHashTable *nonces;         /* nonce -> gint64 monotonic creation time (us) */
  GHashTable *uia_sessions;   /* session ID -> UiaSession */
  gboolean well_known_set;
  guint well_known_status;
  gchar *well_known_body;

  /* start/stop handshake, under lock */
  gboolean thread_ready;
  GError *start_error;
  guint port;

  GThread *thread;
  GMainContext *context;
  guint n_connections;              /* under lock */
  GMainLoop *loop;
  gchar *url;
  GPtrArray *pending; /* Request held back by a delay; server thread only */
  GTlsCertificate *tls_certificate; /* serve https when set; set before start */
  SoupServer *server;               /* server thread only */
};

/* An answer: JSON, or (raw != NULL) a body sent as is */
typedef struct {
  guint status;
  json_object *json;
  gchar *raw;
  const gchar *content_type; /* for raw; NULL = application/json */
} Reply;

typedef struct {
  TestHomeserver *self;
  SoupServerMessage *msg;
  gchar *method;
  gchar *path;       /* percent-decoded */
  gchar **segments;  /* percent-decoded; NULL if the path has a bad escape */
  GHashTable *query; /* decoded parameters, or NULL */
  gchar *authorization;
  gchar *user_agent; /* "" without a User-Agent header, as Synapse records it */
  gchar *remote_ip;
  gchar *body;
  gsize body_len;
  guint log_index;
  FaultRule *fault; /* a private copy, or NULL */
  GSource *delay_source;
  gboolean paused;
  gboolean handled;          /* handled on arrival, answer held back */
  Reply early;               /* its answer */
} Request;

typedef struct {
  gchar *user_id;
  gchar *device_id;
  gchar *token;
} Requester;

/* ------------------------------------------------------------------------ */
/* Memory */

static void
user_free (User *user)
{
  g_free (user->user_id);
  g_free (user->localpart);
  g_free (user->password);
  g_free (user->displayname);
  g_free (user->user_type);
  g_free (user);
}

static void
token_free (Token *token)
{
  g_free (token->token);
  g_free (token->owner);
  g_free (token->user_id);
  g_free (token->device_id);
  g_free (token);
}

static void
device_free (Device *device)
{
  g_free (device->user_id);
  g_free (device->device_id);
  g_free (device->display_name);
  g_free (device->last_seen_ip);
  g_free (device->last_seen_user_agent);
  g_free (device);
}

static void
state_event_free (StateEvent *ev)
{
  g_free (ev->type);
  g_free (ev->state_key);
  g_free (ev->sender);
  g_free (ev->event_id);
  json_object_put (ev->content);
  g_free (ev->replaces_state);
  g_free (ev);
}

static void
room_free (Room *room)
{
  g_free (room->room_id);
  g_free (room->creator);
  json_object_put (room->create_request);
  g_ptr_array_unref (room->state);
  g_ptr_array_unref (room->joined);
  g_ptr_array_unref (room->forgotten);
  g_free (room);
}

static void
uia_session_free (UiaSession *session)
{
  g_free (session->id);
  g_free (session->method);
  g_free (session->path);
  g_free (session->validated);
  json_object_put (session->clientdict);
  g_free (session->new_password);
  g_free (session);
}

static void
reply_clear (Reply *reply)
{
  g_clear_pointer (&reply->json, json_object_put);
  g_clear_pointer (&reply->raw, g_free);
  reply->content_type = NULL;
  reply->status = 0;
}

static void
fault_rule_free (FaultRule *rule)
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
  g_free (req->user_agent);
  g_free (req->remote_ip);
  g_free (req->body);
  g_clear_pointer (&req->fault, fault_rule_free);
  g_clear_pointer (&req->delay_source, g_source_unref);
  reply_clear (&req->early);
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
/* Small helpers */

static gchar *
random_string (const gchar *alphabet, guint len)
{
  gsize n = strlen (alphabet);
  gchar *s = g_new (gchar, len + 1);

  for (guint i = 0; i < len; i++)
    s[i] = alphabet[g_random_int_range (0, (gint32) n)];
  s[len] = '\0';
  return s;
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static json_object *
json_copy (json_object *src)
{
  json_object *dst = NULL;

  if (src == NULL)
    return NULL;
  if (json_object_deep_copy (src, &dst, NULL) != 0)
    g_error ("json_object_deep_copy failed");
  return dst;
}

/* TRUE when the key is present, even with a JSON null (then *value is NULL) */
static gboolean
json_has (json_object *obj, const gchar *key, json_object **value)
{
  return json_object_object_get_ex (obj, key, value);
}

/* a JSON string, or null for NULL */
static json_object *
json_nullable_string (const gchar *s)
{
  return s != NULL ? json_object_new_string (s) : NULL;
}

/* Python's len() of a str: code points (bytes if it is not even UTF-8, which
 * json-c lets through) */
static glong
python_len (const gchar *s)
{
  return g_utf8_validate (s, -1, NULL) ? g_utf8_strlen (s, -1) : (glong) strlen (s);
}

/* Python's bool() of what json.loads() makes of `value` (NULL: null) */
static gboolean
python_truthy (json_object *value)
{
  switch (json_object_get_type (value))
    {
    case json_type_null:
      return FALSE;
    case json_type_boolean:
      return json_object_get_boolean (value);
    case json_type_int:
      return json_object_get_int64 (value) != 0;
    case json_type_double:
      return json_object_get_double (value) != 0.0;
    case json_type_string:
      return json_object_get_string_len (value) > 0;
    case json_type_array:
      return json_object_array_length (value) > 0;
    case json_type_object:
      return json_object_object_length (value) > 0;
    default:
      return TRUE;
    }
}

static gboolean
path_matches (const gchar *pattern, const gchar *path)
{
  gsize len = strlen (pattern);

  if (len > 0 && pattern[len - 1] == '*')
    return strncmp (pattern, path, len - 1) == 0;
  return g_strcmp0 (pattern, path) == 0;
}

static gboolean
method_matches (const gchar *pattern, const gchar *method)
{
  return pattern == NULL || g_ascii_strcasecmp (pattern, method) == 0;
}

/* Splits "@local:domain"; FALSE if it is not a user ID at all. */
static gboolean
split_user_id (const gchar *user_id, gchar **localpart, gchar **domain)
{
  const gchar *colon;

  if (user_id == NULL || user_id[0] != '@')
    return FALSE;
  colon = strchr (user_id, ':');
  if (colon == NULL)
    return FALSE;
  if (localpart != NULL)
    *localpart = g_strndup (user_id + 1, colon - user_id - 1);
  if (domain != NULL)
    *domain = g_strdup (colon + 1);
  return TRUE;
}

static gboolean
is_local_user_id (TestHomeserver *self, const gchar *user_id)
{
  g_autofree gchar *domain = NULL;

  if (!split_user_id (user_id, NULL, &domain))
    return FALSE;
  return g_strcmp0 (domain, self->server_name) == 0;
}

/* ------------------------------------------------------------------------ */
/* Replies */

static void
reply_json (Reply *reply, guint status, json_object *json)
{
  reply_clear (reply);
  reply->status = status;
  reply->json = json;
}

/* `body` sent as is; content_type must be a static string (NULL = JSON) */
static void
reply_raw (Reply *reply, guint status, const gchar *content_type, const gchar *body)
{
  reply_clear (reply);
  reply->status = status;
  reply->raw = g_strdup (body != NULL ? body : "");
  reply->content_type = content_type;
}

/* Go's util.ErrorResponse(): 500 and a bare {"message"}, no errcode */
static void
reply_go_message (Reply *reply, guint status, const gchar *message)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "message", json_object_new_string (message));
  reply_json (reply, status, obj);
}

static void
reply_error (Reply *reply, guint status, const gchar *errcode, const gchar *text)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string (errcode));
  json_object_object_add (obj, "error", json_object_new_string (text));
  reply_json (reply, status, obj);
}

static void
reply_unknown_token (Reply *reply)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string ("M_UNKNOWN_TOKEN"));
  json_object_object_add (obj, "error", json_object_new_string ("Invalid access token passed."));
  json_object_object_add (obj, "soft_logout", json_object_new_boolean (FALSE));
  reply_json (reply, 401, obj);
}

static void
reply_rate_limited (Reply *reply, guint retry_after_ms)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "errcode", json_object_new_string ("M_LIMIT_EXCEEDED"));
  json_object_object_add (obj, "error", json_object_new_string ("Too Many Requests"));
  json_object_object_add (obj, "retry_after_ms", json_object_new_int64 (retry_after_ms));
  reply_json (reply, 429, obj);
}

/* Synapse's parse_json_object_from_request(): anything but a JSON object is
 * M_NOT_JSON; allow_empty lets a missing body stand for {}. */
static json_object *
parse_body (Request *req, gboolean allow_empty, Reply *reply)
{
  json_tokener *tok;
  json_object *obj;
  gsize end;

  if (allow_empty && req->body_len == 0)
    return json_object_new_object ();

  tok = json_tokener_new ();
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
  obj = json_tokener_parse_ex (tok, req->body, (int) req->body_len);
  end = json_tokener_get_parse_end (tok);
  if (json_tokener_get_error (tok) != json_tokener_success)
    g_clear_pointer (&obj, json_object_put);
  json_tokener_free (tok);

  /* whitespace after the object is fine, anything else is not */
  for (gsize i = end; obj != NULL && i < req->body_len; i++)
    {
      if (!g_ascii_isspace (req->body[i]))
        g_clear_pointer (&obj, json_object_put);
    }
  if (obj == NULL || !json_object_is_type (obj, json_type_object))
    {
      g_clear_pointer (&obj, json_object_put);
      reply_error (reply, 400, "M_NOT_JSON", "Content not JSON.");
      return NULL;
    }
  return obj;
}

/* ------------------------------------------------------------------------ */
/* State helpers; the caller holds self->lock */

static User *
lookup_user (TestHomeserver *self, const gchar *user_id)
{
  return user_id != NULL ? g_hash_table_lookup (self->users, user_id) : NULL;
}

/* Synapse finds users case-insensitively at login and registration */
static User *
lookup_user_caseless (TestHomeserver *self, const gchar *user_id)
{
  GHashTableIter iter;
  User *user = lookup_user (self, user_id);

  if (user != NULL)
    return user;
  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user))
    {
      if (g_ascii_strcasecmp (user->user_id, user_id) == 0)
        return user;
    }
  return NULL;
}

static User *
add_user_locked (TestHomeserver *self, const gchar *localpart, const gchar *password,
                 const gchar *displayname, gboolean admin)
{
  User *user = g_new0 (User, 1);

  user->localpart = g_strdup (localpart);
  user->user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  user->password = g_strdup (password);
  /* Synapse registers users with their localpart as display name */
  user->displayname = g_strdup (displayname != NULL ? displayname : localpart);
  user->admin = admin;
  user->creation_ts = g_get_real_time () / G_USEC_PER_SEC;
  g_hash_table_replace (self->users, user->user_id, user);
  return user;
}

static gboolean
token_is_valid (const Token *token)
{
  return token->valid_until_ms == 0 || now_ms () < token->valid_until_ms;
}

static Token *
add_token_locked (TestHomeserver *self, const gchar *owner, const gchar *user_id,
                  const gchar *device_id, gint64 valid_until_ms)
{
  Token *token = g_new0 (Token, 1);
  g_autofree gchar *suffix = random_string (ALPHANUMERIC, 20);

  token->token = g_strconcat ("syt_", suffix, NULL);
  token->owner = g_strdup (owner);
  token->user_id = g_strdup (user_id);
  token->device_id = g_strdup (device_id);
  token->valid_until_ms = valid_until_ms;
  g_hash_table_replace (self->tokens, token->token, token);
  return token;
}

static Device *
lookup_device (TestHomeserver *self, const gchar *user_id, const gchar *device_id)
{
  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, user_id) == 0
          && g_strcmp0 (device->device_id, device_id) == 0)
        return device;
    }
  return NULL;
}

/* Synapse's DeviceHandler.check_device_registered(): a device ID the user
 * already has is reused as it is, display name and all. */
static Device *
device_register_locked (TestHomeserver *self, const gchar *user_id, const gchar *device_id,
                        const gchar *display_name)
{
  Device *device = lookup_device (self, user_id, device_id);

  if (device != NULL)
    return device;
  device = g_new0 (Device, 1);
  device->user_id = g_strdup (user_id);
  device->device_id = g_strdup (device_id);
  device->display_name = g_strdup (display_name);
  g_ptr_array_add (self->devices, device);
  return device;
}

/* check_device_registered() refuses a long name before it looks whether the
 * device exists */
static gboolean
check_device_name_length (const gchar *display_name, Reply *reply)
{
  if (display_name != NULL && python_len (display_name) > MAX_DEVICE_DISPLAY_NAME_LEN)
    {
      reply_error (reply, 400, "M_TOO_LARGE", "Device display name is too long (max 100)");
      return FALSE;
    }
  return TRUE;
}

/* initial_device_display_name, when it is a string: what the login and
 * registration bodies name a new device */
static const gchar *
initial_device_display_name (json_object *body)
{
  json_object *value = NULL;

  if (json_has (body, "initial_device_display_name", &value) && json_object_is_type (value, json_type_string))
    return json_object_get_string (value);
  return NULL;
}

/* Removes devices and every token acting as user_id, except what `keep`
 * (the requester's own token) needs, as Synapse's logout_devices does. */
static void
logout_user_locked (TestHomeserver *self, const gchar *user_id, const Requester *keep)
{
  GHashTableIter iter;
  Token *token;

  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->user_id, user_id) != 0)
        continue;
      if (keep != NULL && g_strcmp0 (keep->token, token->token) == 0)
        continue;
      g_hash_table_iter_remove (&iter);
    }
  for (guint i = self->devices->len; i > 0; i--)
    {
      Device *device = g_ptr_array_index (self->devices, i - 1);
      if (g_strcmp0 (device->user_id, user_id) != 0)
        continue;
      if (keep != NULL && keep->device_id != NULL
          && g_strcmp0 (keep->user_id, user_id) == 0
          && g_strcmp0 (keep->device_id, device->device_id) == 0)
        continue;
      g_ptr_array_remove_index (self->devices, i - 1);
    }
}

/* Synapse 1.67 SetPasswordHandler.set_password() (handlers/set_password.py),
 * for reset_password and account/password: 403 M_FORBIDDEN "Password change
 * disabled" without password auth, 404 M_NOT_FOUND "Unknown user" when there
 * is no such account (users on other servers never are), and nothing about
 * deactivation: the account keeps it, with a password again. logout_devices
 * deletes every device of the user but one whose ID is the requester's
 * device ID (compared by ID alone, whoever the requester is), then every
 * access token stored for the user (Token.owner) but the requester's own.
 * Puppet tokens from login-as-user are stored for the admin who asked for
 * them, so they survive. Unlike logout_user_locked(), which PUT user and
 * deactivation use. */
static gboolean
set_password_locked (TestHomeserver *self, const gchar *user_id, const gchar *password,
                     gboolean logout_devices, const Requester *requester, Reply *reply)
{
  GHashTableIter iter;
  Token *token;
  User *user;

  if (!self->password_login)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "Password change disabled");
      return FALSE;
    }
  user = lookup_user (self, user_id);
  if (user == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "Unknown user");
      return FALSE;
    }
  g_free (user->password);
  user->password = g_strdup (password);
  if (!logout_devices)
    return TRUE;

  for (guint i = self->devices->len; i > 0; i--)
    {
      Device *device = g_ptr_array_index (self->devices, i - 1);
      if (g_strcmp0 (device->user_id, user_id) != 0)
        continue;
      if (requester->device_id != NULL && g_strcmp0 (device->device_id, requester->device_id) == 0)
        continue;
      g_ptr_array_remove_index (self->devices, i - 1);
    }
  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->owner, user_id) == 0 && g_strcmp0 (token->token, requester->token) != 0)
        g_hash_table_iter_remove (&iter);
    }
  return TRUE;
}

static Room *
lookup_room (TestHomeserver *self, const gchar *room_id)
{
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (g_strcmp0 (room->room_id, room_id) == 0)
        return room;
    }
  return NULL;
}

static gboolean
room_find_member (Room *room, const gchar *user_id, guint *index)
{
  return g_ptr_array_find_with_equal_func (room->joined, user_id, g_str_equal, index);
}

static gboolean
room_has_member (Room *room, const gchar *user_id)
{
  return user_id != NULL && room_find_member (room, user_id, NULL);
}

static StateEvent *
room_lookup_state (Room *room, const gchar *type, const gchar *state_key, guint *index)
{
  for (guint i = 0; i < room->state->len; i++)
    {
      StateEvent *ev = g_ptr_array_index (room->state, i);
      if (g_strcmp0 (ev->type, type) == 0 && g_strcmp0 (ev->state_key, state_key) == 0)
        {
          if (index != NULL)
            *index = i;
          return ev;
        }
    }
  return NULL;
}

/* Takes `content`. A newer event replaces the current one and, being the
 * latest event, moves to the end; Synapse notes which event it replaced
 * (unsigned.replaces_state). */
static void
room_send_state (Room *room, const gchar *sender, const gchar *type,
                 const gchar *state_key, json_object *content)
{
  StateEvent *ev = g_new0 (StateEvent, 1);
  g_autofree gchar *id = random_string (ALPHANUMERIC, 43);
  StateEvent *old;
  guint index;

  old = room_lookup_state (room, type, state_key, &index);
  if (old != NULL)
    {
      ev->replaces_state = g_strdup (old->event_id);
      g_ptr_array_remove_index (room->state, index);
    }
  ev->type = g_strdup (type);
  ev->state_key = g_strdup (state_key);
  ev->sender = g_strdup (sender);
  ev->event_id = g_strconcat ("$", id, NULL);
  ev->origin_server_ts = now_ms ();
  ev->content = content;
  g_ptr_array_add (room->state, ev);
}

/* Synapse copies the profile into join events, nulls included */
static json_object *
member_content (const gchar *membership, gboolean with_profile, const gchar *displayname)
{
  json_object *content = json_object_new_object ();

  json_object_object_add (content, "membership", json_object_new_string (membership));
  if (with_profile)
    {
      json_object_object_add (content, "displayname",
                              displayname != NULL ? json_object_new_string (displayname) : NULL);
      json_object_object_add (content, "avatar_url", NULL);
    }
  return content;
}

static void
deactivate_user_locked (TestHomeserver *self, User *user, gboolean erase)
{
  user->deactivated = TRUE;
  g_clear_pointer (&user->password, g_free);
  if (erase)
    {
      user->erased = TRUE;
      g_clear_pointer (&user->displayname, g_free);
    }
  logout_user_locked (self, user->user_id, NULL);
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      guint index;

      if (!room_find_member (room, user->user_id, &index))
        continue;
      g_ptr_array_remove_index (room->joined, index);
      room_send_state (room, user->user_id, "m.room.member", user->user_id,
                       member_content ("leave", FALSE, NULL));
    }
}

/* Synapse's per-account login limiter, a leaky bucket holding LOGIN_BURST
 * attempts that drains one every LOGIN_PERIOD_MS. Each attempt adds a period
 * of "busy" time; refused attempts add nothing, as on Synapse. */
static gboolean
login_ratelimit_locked (TestHomeserver *self, const gchar *key, guint *retry_after_ms)
{
  const gint64 period_us = LOGIN_PERIOD_MS * G_GINT64_CONSTANT (1000);
  gint64 now = g_get_monotonic_time ();
  RateBucket *bucket = g_hash_table_lookup (self->rate_buckets, key);
  gint64 excess;

  if (bucket == NULL)
    {
      bucket = g_new0 (RateBucket, 1);
      g_hash_table_insert (self->rate_buckets, g_strdup (key), bucket);
    }
  bucket->busy_until_us = MAX (bucket->busy_until_us, now);
  excess = bucket->busy_until_us + period_us - now - LOGIN_BURST * period_us;
  if (excess > 0)
    {
      *retry_after_ms = (guint) ((excess + 999) / 1000);
      return FALSE;
    }
  bucket->busy_until_us += period_us;
  return TRUE;
}

static gboolean
is_python_int (const gchar *s)
{
  /* int() in Python also takes a sign and '_' between digits, which is
   * what Synapse's "numeric user ID" check uses */
  gboolean digit_before = FALSE;

  if (*s == '-')
    s++;
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    {
      if (g_ascii_isdigit (*s))
        digit_before = TRUE;
      else if (*s == '_' && digit_before && g_ascii_isdigit (s[1]))
        digit_before = FALSE;
      else
        return FALSE;
    }
  return TRUE;
}

/* Synapse 1.67's RegistrationHandler.check_username(), in its order */
static gboolean
check_username_locked (TestHomeserver *self, const gchar *localpart, Reply *reply)
{
  g_autofree gchar *user_id = NULL;

  for (const gchar *p = localpart; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("._=-/", *p) != NULL))
        {
          reply_error (reply, 400, "M_INVALID_USERNAME",
                       "User ID can only contain characters a-z, 0-9, or '=_-./'");
          return FALSE;
        }
    }
  if (localpart[0] == '\0')
    {
      reply_error (reply, 400, "M_INVALID_USERNAME", "User ID cannot be empty");
      return FALSE;
    }
  if (localpart[0] == '_')
    {
      reply_error (reply, 400, "M_INVALID_USERNAME", "User ID may not begin with _");
      return FALSE;
    }
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  if (strlen (user_id) > MAX_USER_ID_LENGTH)
    {
      reply_error (reply, 400, "M_INVALID_USERNAME",
                   "User ID may not be longer than 255 characters");
      return FALSE;
    }
  if (lookup_user_caseless (self, user_id) != NULL)
    {
      reply_error (reply, 400, "M_USER_IN_USE", "User ID already taken.");
      return FALSE;
    }
  if (is_python_int (localpart))
    {
      reply_error (reply, 400, "M_INVALID_USERNAME",
                   "Numeric user IDs are reserved for guest users.");
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_user_id_arg (const gchar *user_id, Reply *reply)
{
  if (user_id == NULL || user_id[0] != '@')
    {
      reply_error (reply, 400, "M_INVALID_PARAM", "Expected UserID string to start with '@'");
      return FALSE;
    }
  if (strchr (user_id, ':') == NULL)
    {
      reply_error (reply, 400, "M_INVALID_PARAM",
                   "Expected UserID of the form '@localname:domain'");
      return FALSE;
    }
  return TRUE;
}

static json_object *
user_info_json (User *user)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "name", json_object_new_string (user->user_id));
  json_object_object_add (obj, "displayname",
                          user->displayname != NULL ? json_object_new_string (user->displayname) : NULL);
  json_object_object_add (obj, "avatar_url", NULL);
  json_object_object_add (obj, "threepids", json_object_new_array ());
  json_object_object_add (obj, "external_ids", json_object_new_array ());
  json_object_object_add (obj, "is_guest", json_object_new_int (0));
  /* integers, not booleans: that changed only in Synapse 1.93 */
  json_object_object_add (obj, "admin", json_object_new_int (user->admin ? 1 : 0));
  json_object_object_add (obj, "deactivated", json_object_new_int (user->deactivated ? 1 : 0));
  json_object_object_add (obj, "erased", json_object_new_boolean (user->erased));
  json_object_object_add (obj, "shadow_banned", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "creation_ts", json_object_new_int64 (user->creation_ts));
  json_object_object_add (obj, "appservice_id", NULL);
  json_object_object_add (obj, "consent_server_notice_sent", NULL);
  json_object_object_add (obj, "consent_version", NULL);
  json_object_object_add (obj, "user_type",
                          user->user_type != NULL ? json_object_new_string (user->user_type) : NULL);
  return obj;
}

/* ------------------------------------------------------------------------ */
/* Endpoints. All run with self->lock held. */

typedef void (*HandlerFunc) (TestHomeserver *self, Request *req, Requester *who,
                             gchar **args, Reply *reply);

static void
handle_versions (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  static const gchar *versions[] = {
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
    "v1.1", "v1.2", "v1.3", "v1.4", "v1.5",
  };
  json_object *obj = json_object_new_object ();
  json_object *arr = json_object_new_array ();

  (void) self, (void) req, (void) who, (void) args;
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    json_object_array_add (arr, json_object_new_string (versions[i]));
  json_object_object_add (obj, "versions", arr);
  json_object_object_add (obj, "unstable_features", json_object_new_object ());
  reply_json (reply, 200, obj);
}

static void
handle_login_flows (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();
  json_object *flows = json_object_new_array ();
  json_object *flow;

  (void) req, (void) who, (void) args;
  if (self->password_login)
    {
      flow = json_object_new_object ();
      json_object_object_add (flow, "type", json_object_new_string ("m.login.password"));
      json_object_array_add (flows, flow);
    }
  flow = json_object_new_object ();
  json_object_object_add (flow, "type", json_object_new_string ("m.login.token"));
  json_object_array_add (flows, flow);
  json_object_object_add (obj, "flows", flows);
  reply_json (reply, 200, obj);
}

static void
handle_login (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *rate_key = NULL;
  g_autofree gchar *device_id = NULL;
  json_object *value = NULL;
  json_object *identifier = NULL;
  const gchar *type;
  const gchar *name = NULL;
  const gchar *password;
  User *user;
  Token *token;
  guint retry_after_ms = 0;
  json_object *obj;

  (void) who, (void) args;
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;

  if (!json_has (body, "type", &value) || !json_object_is_type (value, json_type_string))
    {
      reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: type");
      return;
    }
  type = json_object_get_string (value);
  if (g_strcmp0 (type, "m.login.token") == 0)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "Invalid login token");
      return;
    }
  if (g_strcmp0 (type, "m.login.password") != 0 || !self->password_login)
    {
      reply_error (reply, 400, "M_UNRECOGNIZED", "Unknown login type");
      return;
    }

  /* the legacy top-level "user" is what convert_client_dict_legacy_fields() accepts */
  if (json_has (body, "identifier", &identifier))
    {
      if (!json_object_is_type (identifier, json_type_object)
          || !json_has (identifier, "type", &value)
          || !json_object_is_type (value, json_type_string))
        {
          reply_error (reply, 400, "M_INVALID_PARAM", "Invalid identifier");
          return;
        }
      if (g_strcmp0 (json_object_get_string (value), "m.id.user") != 0)
        {
          reply_error (reply, 400, "M_UNKNOWN", "Unknown login identifier type");
          return;
        }
      if (!json_has (identifier, "user", &value) || !json_object_is_type (value, json_type_string))
        {
          reply_error (reply, 400, "M_INVALID_PARAM", "User identifier is missing 'user' key");
          return;
        }
      name = json_object_get_string (value);
    }
  else if (json_has (body, "user", &value) && json_object_is_type (value, json_type_string))
    {
      name = json_object_get_string (value);
    }
  else
    {
      reply_error (reply, 400, "M_MISSING_PARAM", "Missing param 'identifier'");
      return;
    }
  if (!json_has (body, "password", &value) || !json_object_is_type (value, json_type_string))
    {
      reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: password");
      return;
    }
  password = json_object_get_string (value);

  if (name[0] == '@')
    {
      if (!parse_user_id_arg (name, reply))
        return;
      user_id = g_strdup (name);
    }
  else
    {
      user_id = g_strdup_printf ("@%s:%s", name, self->server_name);
    }

  rate_key = g_ascii_strdown (user_id, -1);
  if (self->login_rate_limit && !login_ratelimit_locked (self, rate_key, &retry_after_ms))
    {
      reply_rate_limited (reply, retry_after_ms);
      return;
    }

  user = lookup_user_caseless (self, user_id);
  if (user == NULL)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "Invalid username or password");
      return;
    }
  /* deactivation cleared the hash, so no password can be right any more */
  if (user->deactivated && user->password == NULL)
    {
      reply_error (reply, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
      return;
    }
  if (g_strcmp0 (user->password, password) != 0)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "Invalid username or password");
      return;
    }
  if (user->deactivated)
    {
      reply_error (reply, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
      return;
    }

  if (json_has (body, "device_id", &value) && json_object_is_type (value, json_type_string))
    device_id = g_strdup (json_object_get_string (value));
  else
    device_id = random_string (UPPERCASE, 10);
  if (!check_device_name_length (initial_device_display_name (body), reply))
    return;
  device_register_locked (self, user->user_id, device_id, initial_device_display_name (body));
  token = add_token_locked (self, user->user_id, user->user_id, device_id, 0);

  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  json_object_object_add (obj, "device_id", json_object_new_string (device_id));
  /* Dendrite's loginResponse has no home_server */
  if (self->flavour == TEST_HOMESERVER_SYNAPSE)
    json_object_object_add (obj, "home_server", json_object_new_string (self->server_name));
  reply_json (reply, 200, obj);
}

static void
handle_logout (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  (void) req, (void) args;
  if (who->device_id != NULL)
    {
      GHashTableIter iter;
      Token *token;
      Device *device = lookup_device (self, who->user_id, who->device_id);

      if (device != NULL)
        g_ptr_array_remove (self->devices, device);
      g_hash_table_iter_init (&iter, self->tokens);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
        {
          if (g_strcmp0 (token->user_id, who->user_id) == 0
              && g_strcmp0 (token->device_id, who->device_id) == 0)
            g_hash_table_iter_remove (&iter);
        }
    }
  else
    {
      g_hash_table_remove (self->tokens, who->token);
    }
  reply_json (reply, 200, json_object_new_object ());
}

static void
handle_whoami (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();

  (void) self, (void) req, (void) args;
  json_object_object_add (obj, "user_id", json_object_new_string (who->user_id));
  if (who->device_id != NULL)
    json_object_object_add (obj, "device_id", json_object_new_string (who->device_id));
  json_object_object_add (obj, "is_guest", json_object_new_boolean (FALSE));
  reply_json (reply, 200, obj);
}

static void
handle_server_version (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();

  (void) self, (void) req, (void) who, (void) args;
  json_object_object_add (obj, "server_version", json_object_new_string (SERVER_VERSION));
  json_object_object_add (obj, "python_version", json_object_new_string ("3.11.2"));
  reply_json (reply, 200, obj);
}

static void
handle_user_admin (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  User *user;
  json_object *obj;

  (void) req, (void) who;
  if (!parse_user_id_arg (args[0], reply))
    return;
  if (!is_local_user_id (self, args[0]))
    {
      reply_error (reply, 400, "M_UNKNOWN", "Only local users can be admins of this homeserver");
      return;
    }
  user = lookup_user (self, args[0]);
  obj = json_object_new_object ();
  json_object_object_add (obj, "admin", json_object_new_boolean (user != NULL && user->admin));
  reply_json (reply, 200, obj);
}

static void
handle_get_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  User *user;

  (void) req, (void) who;
  if (!parse_user_id_arg (args[0], reply))
    return;
  if (!is_local_user_id (self, args[0]))
    {
      reply_error (reply, 400, "M_UNKNOWN", "Can only look up local users");
      return;
    }
  user = lookup_user (self, args[0]);
  if (user == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  reply_json (reply, 200, user_info_json (user));
}

static void
handle_put_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *localpart = NULL;
  json_object *value = NULL;
  const gchar *password = NULL;
  gboolean has_displayname = FALSE;
  const gchar *displayname = NULL;
  gboolean has_admin = FALSE;
  gboolean admin = FALSE;
  gboolean has_deactivated = FALSE;
  gboolean deactivated = FALSE;
  gboolean logout_devices = TRUE;
  User *user;

  if (!parse_user_id_arg (args[0], reply))
    return;
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!is_local_user_id (self, args[0]))
    {
      reply_error (reply, 400, "M_UNKNOWN", "This endpoint can only be used with local users");
      return;
    }

  if (json_has (body, "deactivated", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          reply_error (reply, 400, "M_INVALID_PARAM", "'deactivated' parameter is not of type boolean");
          return;
        }
      has_deactivated = TRUE;
      deactivated = json_object_get_boolean (value);
    }
  if (json_has (body, "password", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string)
          || json_object_get_string_len (value) > MAX_PASSWORD_LENGTH)
        {
          reply_error (reply, 400, "M_INVALID_PARAM", "Invalid password");
          return;
        }
      password = json_object_get_string (value);
    }
  if (json_has (body, "logout_devices", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          reply_error (reply, 400, "M_BAD_JSON", "'logout_devices' parameter is not of type boolean");
          return;
        }
      logout_devices = json_object_get_boolean (value);
    }
  if (json_has (body, "displayname", &value))
    {
      if (value != NULL && !json_object_is_type (value, json_type_string))
        {
          reply_error (reply, 400, "M_BAD_JSON", "'displayname' parameter is not of type string");
          return;
        }
      has_displayname = TRUE;
      displayname = value != NULL ? json_object_get_string (value) : NULL;
    }
  if (json_has (body, "admin", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          reply_error (reply, 400, "M_BAD_JSON", "Param 'admin' must be a boolean, if given");
          return;
        }
      has_admin = TRUE;
      admin = json_object_get_boolean (value);
    }

  user = lookup_user (self, args[0]);
  if (user != NULL)
    {
      if (has_admin && !admin && g_strcmp0 (who->user_id, user->user_id) == 0)
        {
          reply_error (reply, 400, "M_UNKNOWN", "You may not demote yourself.");
          return;
        }
      if (has_deactivated && !deactivated && user->deactivated && password == NULL)
        {
          reply_error (reply, 400, "M_UNKNOWN", "Must provide a password to re-activate an account.");
          return;
        }
      /* The trap mxprov must avoid: an existing account is taken over. */
      if (password != NULL)
        {
          g_free (user->password);
          user->password = g_strdup (password);
          if (logout_devices)
            logout_user_locked (self, user->user_id, who);
        }
      if (has_displayname)
        {
          g_free (user->displayname);
          user->displayname = g_strdup (displayname);
        }
      if (has_admin)
        user->admin = admin;
      if (has_deactivated && deactivated && !user->deactivated)
        deactivate_user_locked (self, user, FALSE);
      else if (has_deactivated && !deactivated && user->deactivated)
        user->deactivated = FALSE;
      reply_json (reply, 200, user_info_json (user));
      return;
    }

  split_user_id (args[0], &localpart, NULL);
  if (!check_username_locked (self, localpart, reply))
    return;
  user = add_user_locked (self, localpart, password, displayname, admin);
  if (has_deactivated && deactivated)
    deactivate_user_locked (self, user, FALSE);
  reply_json (reply, 201, user_info_json (user));
}

static void
handle_username_available (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const gchar *username = req->query != NULL ? g_hash_table_lookup (req->query, "username") : NULL;
  json_object *obj;

  (void) who, (void) args;
  if (username == NULL)
    {
      reply_error (reply, 400, "M_MISSING_PARAM", "Missing string query parameter 'username'");
      return;
    }
  if (!check_username_locked (self, username, reply))
    return;
  obj = json_object_new_object ();
  json_object_object_add (obj, "available", json_object_new_boolean (TRUE));
  reply_json (reply, 200, obj);
}

static void
handle_login_as_user (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  gint64 valid_until_ms = 0;
  Token *token;
  json_object *obj;

  if (!parse_user_id_arg (args[0], reply))
    return;
  if (!is_local_user_id (self, args[0]))
    {
      reply_error (reply, 400, "M_UNKNOWN", "Only local users can be logged in as");
      return;
    }
  body = parse_body (req, TRUE, reply);
  if (body == NULL)
    return;
  if (json_has (body, "valid_until_ms", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_int))
        {
          reply_error (reply, 400, "M_UNKNOWN", "'valid_until_ms' parameter must be an int");
          return;
        }
      valid_until_ms = json_object_get_int64 (value);
    }
  if (g_strcmp0 (who->user_id, args[0]) == 0)
    {
      reply_error (reply, 400, "M_UNKNOWN", "Cannot use admin API to login as self");
      return;
    }
  /* Like Synapse < 1.149, whether the user exists is not checked, and a
   * valid_until_ms in the past simply yields a token that is already dead. */
  token = add_token_locked (self, who->user_id, args[0], NULL, valid_until_ms);
  obj = json_object_new_object ();
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  reply_json (reply, 200, obj);
}

static void
handle_deactivate (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  gboolean erase = FALSE;
  User *user;
  json_object *obj;

  (void) who;
  body = parse_body (req, TRUE, reply);
  if (body == NULL)
    return;
  if (json_has (body, "erase", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          reply_error (reply, 400, "M_BAD_JSON", "Param 'erase' must be a boolean, if given");
          return;
        }
      erase = json_object_get_boolean (value);
    }
  if (!parse_user_id_arg (args[0], reply))
    return;
  if (!is_local_user_id (self, args[0]))
    {
      reply_error (reply, 400, "M_UNKNOWN", "Can only deactivate local users");
      return;
    }
  user = lookup_user (self, args[0]);
  if (user == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "User not found");
      return;
    }
  deactivate_user_locked (self, user, erase);
  obj = json_object_new_object ();
  json_object_object_add (obj, "id_server_unbind_result", json_object_new_string ("success"));
  reply_json (reply, 200, obj);
}

/* DeviceWorkerHandler.get_devices_by_user(): the devices table's user_id,
 * device_id and display_name, then what the client IPs table knows, all
 * three null for a device no authenticated request has used yet */
static json_object *
device_json (const Device *device)
{
  json_object *obj = json_object_new_object ();
  gboolean seen = device->last_seen_ts != 0;

  json_object_object_add (obj, "user_id", json_object_new_string (device->user_id));
  json_object_object_add (obj, "device_id", json_object_new_string (device->device_id));
  json_object_object_add (obj, "display_name", json_nullable_string (device->display_name));
  json_object_object_add (obj, "last_seen_user_agent",
                          seen ? json_nullable_string (device->last_seen_user_agent) : NULL);
  json_object_object_add (obj, "last_seen_ts", seen ? json_object_new_int64 (device->last_seen_ts) : NULL);
  json_object_object_add (obj, "last_seen_ip", seen ? json_nullable_string (device->last_seen_ip) : NULL);
  return obj;
}

/* Synapse 1.67 DevicesRestServlet.on_GET (rest/admin/devices.py): 400
 * M_INVALID_PARAM for what is no user ID, 400 M_UNKNOWN "Can only lookup
 * local users", 404 M_NOT_FOUND "Unknown user" (a deactivated account is
 * known, and has no devices), else 200 {"devices": [...], "total": n}. */
static void
handle_admin_user_devices (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *devices;
  json_object *obj;

  (void) req, (void) who;
  if (!parse_user_id_arg (args[0], reply))
    return;
  if (!is_local_user_id (self, args[0]))
    {
      reply_error (reply, 400, "M_UNKNOWN", "Can only lookup local users");
      return;
    }
  if (lookup_user (self, args[0]) == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "Unknown user");
      return;
    }
  devices = json_object_new_array ();
  for (guint i = 0; i < self->devices->len; i++)
    {
      Device *device = g_ptr_array_index (self->devices, i);
      if (g_strcmp0 (device->user_id, args[0]) == 0)
        json_object_array_add (devices, device_json (device));
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "devices", devices);
  json_object_object_add (obj, "total", json_object_new_int ((gint) json_object_array_length (devices)));
  reply_json (reply, 200, obj);
}

/* Synapse 1.67 UserMembershipRestServlet.on_GET (rest/admin/users.py):
 * get_rooms_for_user() on the path segment as it is, with no check at all,
 * so an unknown user, another server's or a string that is no user ID gets
 * 200 and an empty list. {"joined_rooms": [...], "total": n}; Synapse's is a
 * set, this one is in creation order. */
static void
handle_admin_user_joined_rooms (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                                Reply *reply)
{
  json_object *rooms = json_object_new_array ();
  json_object *obj = json_object_new_object ();

  (void) req, (void) who;
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (room_has_member (room, args[0]))
        json_object_array_add (rooms, json_object_new_string (room->room_id));
    }
  json_object_object_add (obj, "joined_rooms", rooms);
  json_object_object_add (obj, "total", json_object_new_int ((gint) json_object_array_length (rooms)));
  reply_json (reply, 200, obj);
}

/* Synapse 1.67 ResetPasswordRestServlet.on_POST (rest/admin/users.py), in its
 * order: 400 M_INVALID_PARAM for what is no user ID, M_NOT_JSON, 400
 * M_MISSING_PARAM "Missing params: ['new_password']", a new_password that
 * is no string makes the bcrypt call raise (500; there is no length limit
 * here), then set_password_locked() with the admin as the requester: 404
 * "Unknown user" also for other servers' users, and a deactivated account
 * gets the password without being reactivated. logout_devices is
 * params.get("logout_devices", True) with no type check, so any JSON value
 * counts by its truthiness: "no" logs out, 0 and null do not. 200 {}. */
static void
handle_reset_password (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  const gchar *new_password;
  gboolean logout_devices = TRUE;

  if (!parse_user_id_arg (args[0], reply))
    return;
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!json_has (body, "new_password", &value))
    {
      reply_error (reply, 400, "M_MISSING_PARAM", "Missing params: ['new_password']");
      return;
    }
  if (!json_object_is_type (value, json_type_string))
    {
      reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }
  new_password = json_object_get_string (value);
  if (json_has (body, "logout_devices", &value))
    logout_devices = python_truthy (value);
  if (!set_password_locked (self, args[0], new_password, logout_devices, who, reply))
    return;
  reply_json (reply, 200, json_object_new_object ());
}

static gboolean
is_room_id (const gchar *room_id)
{
  return room_id != NULL && room_id[0] == '!' && strchr (room_id, ':') != NULL;
}

static void
handle_delete_room (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *text = NULL;
  const gchar *bool_params[] = { "purge", "block", "force_purge" };
  json_object *value = NULL;
  json_object *obj;
  json_object *kicked;
  Room *room;

  (void) who;
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (bool_params); i++)
    {
      if (json_has (body, bool_params[i], &value) && !json_object_is_type (value, json_type_boolean))
        {
          text = g_strdup_printf ("Param '%s' must be a boolean, if given", bool_params[i]);
          reply_error (reply, 400, "M_BAD_JSON", text);
          return;
        }
    }
  if (!is_room_id (args[0]))
    {
      text = g_strdup_printf ("%s is not a legal room ID", args[0]);
      reply_error (reply, 400, "M_INVALID_PARAM", text);
      return;
    }
  room = lookup_room (self, args[0]);
  if (room == NULL)
    {
      text = g_strdup_printf ("Unknown room id %s", args[0]);
      reply_error (reply, 404, "M_NOT_FOUND", text);
      return;
    }
  kicked = json_object_new_array ();
  for (guint i = 0; i < room->joined->len; i++)
    json_object_array_add (kicked, json_object_new_string (g_ptr_array_index (room->joined, i)));
  g_ptr_array_remove (self->rooms, room);

  obj = json_object_new_object ();
  json_object_object_add (obj, "kicked_users", kicked);
  json_object_object_add (obj, "failed_to_kick_users", json_object_new_array ());
  json_object_object_add (obj, "local_aliases", json_object_new_array ());
  json_object_object_add (obj, "new_room_id", NULL);
  reply_json (reply, 200, obj);
}

typedef struct {
  const gchar *name;
  const gchar *join_rule;
  gboolean guest_can_join;
  gboolean invitees_have_ops;
  gboolean invite_zero; /* power_level_content_override {"invite": 0} */
} Preset;

static const Preset presets[] = {
  { "private_chat", "invite", TRUE, FALSE, TRUE },
  { "trusted_private_chat", "invite", TRUE, TRUE, TRUE },
  { "public_chat", "public", FALSE, FALSE, FALSE },
};

static json_object *
default_power_levels (const gchar *creator, const Preset *preset, json_object *invites)
{
  static const struct {
    const gchar *type;
    gint level;
  } events[] = {
    { "m.room.name", 50 },
    { "m.room.power_levels", 100 },
    { "m.room.history_visibility", 100 },
    { "m.room.canonical_alias", 50 },
    { "m.room.avatar", 50 },
    { "m.room.tombstone", 100 },
    { "m.room.server_acl", 100 },
    { "m.room.encryption", 100 },
  };
  json_object *pl = json_object_new_object ();
  json_object *users = json_object_new_object ();
  json_object *ev = json_object_new_object ();

  json_object_object_add (users, creator, json_object_new_int (100));
  if (preset->invitees_have_ops && invites != NULL)
    {
      for (gsize i = 0; i < json_object_array_length (invites); i++)
        json_object_object_add (users, json_object_get_string (json_object_array_get_idx (invites, i)),
                                json_object_new_int (100));
    }
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    json_object_object_add (ev, events[i].type, json_object_new_int (events[i].level));
  json_object_object_add (pl, "users", users);
  json_object_object_add (pl, "users_default", json_object_new_int (0));
  json_object_object_add (pl, "events", ev);
  json_object_object_add (pl, "events_default", json_object_new_int (0));
  json_object_object_add (pl, "state_default", json_object_new_int (50));
  json_object_object_add (pl, "ban", json_object_new_int (50));
  json_object_object_add (pl, "kick", json_object_new_int (50));
  json_object_object_add (pl, "redact", json_object_new_int (50));
  json_object_object_add (pl, "invite", json_object_new_int (preset->invite_zero ? 0 : 50));
  json_object_object_add (pl, "historical", json_object_new_int (100));
  return pl;
}

typedef struct {
  gchar *type;
  gchar *state_key;
  json_object *content;
} InitialState;

static void
initial_state_free (InitialState *st)
{
  g_free (st->type);
  g_free (st->state_key);
  json_object_put (st->content);
  g_free (st);
}

static InitialState *
initial_state_take (GPtrArray *list, const gchar *type)
{
  for (guint i = 0; i < list->len; i++)
    {
      InitialState *st = g_ptr_array_index (list, i);
      if (g_strcmp0 (st->type, type) == 0 && g_strcmp0 (st->state_key, "") == 0)
        return g_ptr_array_steal_index (list, i);
    }
  return NULL;
}

static gboolean
initial_state_has (GPtrArray *list, const gchar *type)
{
  for (guint i = 0; i < list->len; i++)
    {
      InitialState *st = g_ptr_array_index (list, i);
      if (g_strcmp0 (st->type, type) == 0 && g_strcmp0 (st->state_key, "") == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
optional_string (json_object *body, const gchar *key, const gchar **out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *out = NULL;
  if (!json_has (body, key, &value) || value == NULL)
    return TRUE;
  if (!json_object_is_type (value, json_type_string))
    {
      text = g_strdup_printf ("'%s' must be a string", key);
      reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *out = json_object_get_string (value);
  return TRUE;
}

/* Synapse's RoomCreationHandler.create_room(): validate everything first,
 * then send the state events in the order Synapse does. */
static void
handle_create_room (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autoptr(GPtrArray) initial = g_ptr_array_new_with_free_func ((GDestroyNotify) initial_state_free);
  g_autofree gchar *text = NULL;
  g_autofree gchar *random_part = NULL;
  json_object *value = NULL;
  json_object *creation_content = NULL;
  json_object *invites = NULL;
  json_object *pl_override = NULL;
  json_object *create;
  json_object *content;
  json_object *obj;
  const gchar *visibility = NULL;
  const gchar *preset_name = NULL;
  const gchar *room_version = NULL;
  const gchar *name = NULL;
  const gchar *topic = NULL;
  const Preset *preset = NULL;
  InitialState *pl_initial;
  User *creator;
  Room *room;
  gboolean is_direct = FALSE;

  (void) args;
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;

  if (!optional_string (body, "visibility", &visibility, reply)
      || !optional_string (body, "preset", &preset_name, reply)
      || !optional_string (body, "room_version", &room_version, reply)
      || !optional_string (body, "name", &name, reply)
      || !optional_string (body, "topic", &topic, reply))
    return;
  if (preset_name == NULL)
    preset_name = g_strcmp0 (visibility, "public") == 0 ? "public_chat" : "private_chat";
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      if (g_strcmp0 (presets[i].name, preset_name) == 0)
        preset = &presets[i];
    }
  if (preset == NULL)
    {
      text = g_strdup_printf ("'%s' is not a valid preset", preset_name);
      reply_error (reply, 400, "M_BAD_JSON", text);
      return;
    }
  if (room_version == NULL)
    room_version = DEFAULT_ROOM_VERSION;
  if (!g_strv_contains ((const gchar *const[]) { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", NULL },
                        room_version))
    {
      reply_error (reply, 400, "M_UNSUPPORTED_ROOM_VERSION",
                   "Your homeserver does not support this room version");
      return;
    }
  if (json_has (body, "creation_content", &creation_content) && creation_content != NULL
      && !json_object_is_type (creation_content, json_type_object))
    {
      reply_error (reply, 400, "M_BAD_JSON", "'creation_content' must be an object");
      return;
    }
  if (json_has (body, "power_level_content_override", &pl_override) && pl_override != NULL
      && !json_object_is_type (pl_override, json_type_object))
    {
      reply_error (reply, 400, "M_BAD_JSON", "'power_level_content_override' must be an object");
      return;
    }
  if (json_has (body, "is_direct", &value) && json_object_is_type (value, json_type_boolean))
    is_direct = json_object_get_boolean (value);
  if (json_has (body, "invite", &invites) && invites != NULL)
    {
      if (!json_object_is_type (invites, json_type_array))
        {
          reply_error (reply, 400, "M_BAD_JSON", "'invite' must be a list");
          return;
        }
      for (gsize i = 0; i < json_object_array_length (invites); i++)
        {
          json_object *invitee = json_object_array_get_idx (invites, i);
          if (!json_object_is_type (invitee, json_type_string)
              || !split_user_id (json_object_get_string (invitee), NULL, NULL))
            {
              reply_error (reply, 400, "M_INVALID_PARAM", "Invalid user_id in 'invite'");
              return;
            }
        }
    }
  if (json_has (body, "initial_state", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_array))
        {
          reply_error (reply, 400, "M_BAD_JSON", "'initial_state' must be a list");
          return;
        }
      for (gsize i = 0; i < json_object_array_length (value); i++)
        {
          json_object *entry = json_object_array_get_idx (value, i);
          json_object *type = NULL;
          json_object *state_key = NULL;
          json_object *ev_content = NULL;
          const gchar *key_str = "";
          gboolean replaced = FALSE;

          if (!json_object_is_type (entry, json_type_object))
            {
              reply_error (reply, 400, "M_BAD_JSON", "initial_state entries must be objects");
              return;
            }
          if (!json_has (entry, "type", &type) || !json_object_is_type (type, json_type_string))
            {
              reply_error (reply, 400, "M_BAD_JSON", "'type' not a string type");
              return;
            }
          if (json_has (entry, "state_key", &state_key))
            {
              if (!json_object_is_type (state_key, json_type_string))
                {
                  reply_error (reply, 400, "M_BAD_JSON", "'state_key' not a string type");
                  return;
                }
              key_str = json_object_get_string (state_key);
            }
          /* Synapse reads val["content"] unguarded: a KeyError, so a 500 */
          if (!json_has (entry, "content", &ev_content))
            {
              reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
              return;
            }
          if (!json_object_is_type (ev_content, json_type_object))
            {
              reply_error (reply, 400, "M_BAD_JSON", "'content' not an object");
              return;
            }
          /* an OrderedDict: a repeated key keeps its first place, last value */
          for (guint j = 0; j < initial->len; j++)
            {
              InitialState *st = g_ptr_array_index (initial, j);
              if (g_strcmp0 (st->type, json_object_get_string (type)) == 0
                  && g_strcmp0 (st->state_key, key_str) == 0)
                {
                  json_object_put (st->content);
                  st->content = json_copy (ev_content);
                  replaced = TRUE;
                }
            }
          if (!replaced)
            {
              InitialState *st = g_new0 (InitialState, 1);
              st->type = g_strdup (json_object_get_string (type));
              st->state_key = g_strdup (key_str);
              st->content = json_copy (ev_content);
              g_ptr_array_add (initial, st);
            }
        }
    }

  room = g_new0 (Room, 1);
  random_part = random_string (LETTERS, 18);
  room->room_id = g_strdup_printf ("!%s:%s", random_part, self->server_name);
  room->creator = g_strdup (who->user_id);
  room->create_request = json_copy (body);
  room->state = g_ptr_array_new_with_free_func ((GDestroyNotify) state_event_free);
  room->joined = g_ptr_array_new_with_free_func (g_free);
  room->forgotten = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->rooms, room);

  create = creation_content != NULL ? json_copy (creation_content) : json_object_new_object ();
  json_object_object_add (create, "creator", json_object_new_string (who->user_id));
  json_object_object_add (create, "room_version", json_object_new_string (room_version));
  room_send_state (room, who->user_id, "m.room.create", "", create);

  creator = lookup_user (self, who->user_id);
  room_send_state (room, who->user_id, "m.room.member", who->user_id,
                   member_content ("join", TRUE, creator != NULL ? creator->displayname : NULL));
  g_ptr_array_add (room->joined, g_strdup (who->user_id));

  /* initial_state's power levels take the default's place, not a later one */
  pl_initial = initial_state_take (initial, "m.room.power_levels");
  if (pl_initial != NULL)
    {
      room_send_state (room, who->user_id, "m.room.power_levels", "", g_steal_pointer (&pl_initial->content));
      initial_state_free (pl_initial);
    }
  else
    {
      content = default_power_levels (who->user_id, preset, invites);
      if (pl_override != NULL)
        {
          json_object_object_foreach (pl_override, key, val)
            json_object_object_add (content, key, json_copy (val));
        }
      room_send_state (room, who->user_id, "m.room.power_levels", "", content);
    }
  if (!initial_state_has (initial, "m.room.join_rules"))
    {
      content = json_object_new_object ();
      json_object_object_add (content, "join_rule", json_object_new_string (preset->join_rule));
      room_send_state (room, who->user_id, "m.room.join_rules", "", content);
    }
  if (!initial_state_has (initial, "m.room.history_visibility"))
    {
      content = json_object_new_object ();
      json_object_object_add (content, "history_visibility", json_object_new_string ("shared"));
      room_send_state (room, who->user_id, "m.room.history_visibility", "", content);
    }
  if (preset->guest_can_join && !initial_state_has (initial, "m.room.guest_access"))
    {
      content = json_object_new_object ();
      json_object_object_add (content, "guest_access", json_object_new_string ("can_join"));
      room_send_state (room, who->user_id, "m.room.guest_access", "", content);
    }
  for (guint i = 0; i < initial->len; i++)
    {
      InitialState *st = g_ptr_array_index (initial, i);
      room_send_state (room, who->user_id, st->type, st->state_key, g_steal_pointer (&st->content));
    }
  if (name != NULL)
    {
      content = json_object_new_object ();
      json_object_object_add (content, "name", json_object_new_string (name));
      room_send_state (room, who->user_id, "m.room.name", "", content);
    }
  if (topic != NULL)
    {
      content = json_object_new_object ();
      json_object_object_add (content, "topic", json_object_new_string (topic));
      room_send_state (room, who->user_id, "m.room.topic", "", content);
    }
  for (gsize i = 0; invites != NULL && i < json_object_array_length (invites); i++)
    {
      const gchar *invitee = json_object_get_string (json_object_array_get_idx (invites, i));
      content = member_content ("invite", FALSE, NULL);
      if (is_direct)
        json_object_object_add (content, "is_direct", json_object_new_boolean (TRUE));
      room_send_state (room, who->user_id, "m.room.member", invitee, content);
    }

  obj = json_object_new_object ();
  json_object_object_add (obj, "room_id", json_object_new_string (room->room_id));
  reply_json (reply, 200, obj);
}

/* Room reads are for joined members only; a missing room looks the same. */
static Room *
room_for_member (TestHomeserver *self, const gchar *room_id, Requester *who, Reply *reply)
{
  Room *room = lookup_room (self, room_id);
  g_autofree gchar *text = NULL;

  if (room == NULL || !room_has_member (room, who->user_id))
    {
      text = g_strdup_printf ("User %s not in room %s", who->user_id, room_id);
      reply_error (reply, 403, "M_FORBIDDEN", text);
      return NULL;
    }
  return room;
}

static json_object *
state_event_json (Room *room, StateEvent *ev)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "type", json_object_new_string (ev->type));
  json_object_object_add (obj, "state_key", json_object_new_string (ev->state_key));
  json_object_object_add (obj, "content", json_copy (ev->content));
  json_object_object_add (obj, "sender", json_object_new_string (ev->sender));
  json_object_object_add (obj, "room_id", json_object_new_string (room->room_id));
  json_object_object_add (obj, "event_id", json_object_new_string (ev->event_id));
  json_object_object_add (obj, "origin_server_ts", json_object_new_int64 (ev->origin_server_ts));
  json_object_object_add (obj, "unsigned", json_object_new_object ());
  return obj;
}

static void
handle_room_state_all (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  Room *room;
  json_object *arr;

  (void) req;
  room = room_for_member (self, args[0], who, reply);
  if (room == NULL)
    return;
  arr = json_object_new_array ();
  for (guint i = 0; i < room->state->len; i++)
    json_object_array_add (arr, state_event_json (room, g_ptr_array_index (room->state, i)));
  reply_json (reply, 200, arr);
}

static void
handle_room_state (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const gchar *state_key = args[2] != NULL ? args[2] : "";
  Room *room;
  StateEvent *ev;

  (void) req;
  room = room_for_member (self, args[0], who, reply);
  if (room == NULL)
    return;
  ev = room_lookup_state (room, args[1], state_key, NULL);
  if (ev == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "Event not found.");
      return;
    }
  reply_json (reply, 200, json_copy (ev->content));
}

static void
handle_joined_members (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  Room *room;
  json_object *joined;
  json_object *obj;

  (void) req;
  room = room_for_member (self, args[0], who, reply);
  if (room == NULL)
    return;
  joined = json_object_new_object ();
  for (guint i = 0; i < room->joined->len; i++)
    {
      const gchar *member = g_ptr_array_index (room->joined, i);
      StateEvent *ev = room_lookup_state (room, "m.room.member", member, NULL);
      json_object *profile = json_object_new_object ();
      json_object *dn = NULL;

      if (ev != NULL && json_has (ev->content, "displayname", &dn) && dn != NULL)
        json_object_object_add (profile, "display_name", json_copy (dn));
      else
        json_object_object_add (profile, "display_name", NULL);
      json_object_object_add (profile, "avatar_url", NULL);
      json_object_object_add (joined, member, profile);
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "joined", joined);
  reply_json (reply, 200, obj);
}

static void
handle_joined_rooms (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *arr = json_object_new_array ();
  json_object *obj = json_object_new_object ();

  (void) req, (void) args;
  for (guint i = 0; i < self->rooms->len; i++)
    {
      Room *room = g_ptr_array_index (self->rooms, i);
      if (room_has_member (room, who->user_id))
        json_object_array_add (arr, json_object_new_string (room->room_id));
    }
  json_object_object_add (obj, "joined_rooms", arr);
  reply_json (reply, 200, obj);
}

/* content[key] of the room's (type, "") state event when it is a string,
 * else null: what Synapse's stats handler keeps in room_stats_state */
static json_object *
room_stat_string (Room *room, const gchar *type, const gchar *key)
{
  StateEvent *ev = room_lookup_state (room, type, "", NULL);
  json_object *value = NULL;

  if (ev == NULL || !json_has (ev->content, key, &value) || !json_object_is_type (value, json_type_string))
    return NULL;
  return json_object_new_string (json_object_get_string (value));
}

/* Synapse 1.67 RoomRestServlet.on_GET (rest/admin/rooms.py): 404 M_NOT_FOUND
 * "Room not found" for a room the server does not have (the room ID is not
 * checked; a deleted room is gone here, purged or not), else
 * get_room_with_stats()'s columns in its order, from the stats Synapse keeps
 * of the current state (federatable: m.federate is absent or true; public:
 * published in the room directory, createRoom's visibility "public"), then
 * joined_local_devices (the devices of the joined local users) and forgotten
 * (no local user's membership is left that they have not forgotten). */
static void
handle_admin_room (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj;
  json_object *value = NULL;
  StateEvent *create;
  gboolean federatable = TRUE;
  gboolean is_public;
  gboolean forgotten = TRUE;
  guint local_members = 0;
  guint local_devices = 0;
  Room *room;

  (void) req, (void) who;
  room = lookup_room (self, args[0]);
  if (room == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "Room not found");
      return;
    }
  create = room_lookup_state (room, "m.room.create", "", NULL);
  /* event_content.get("m.federate", True) is True */
  if (create != NULL && json_has (create->content, "m.federate", &value))
    federatable = json_object_is_type (value, json_type_boolean) && json_object_get_boolean (value);
  is_public = json_has (room->create_request, "visibility", &value)
              && json_object_is_type (value, json_type_string)
              && g_strcmp0 (json_object_get_string (value), "public") == 0;
  for (guint i = 0; i < room->joined->len; i++)
    {
      const gchar *member = g_ptr_array_index (room->joined, i);

      if (!is_local_user_id (self, member))
        continue;
      local_members++;
      for (guint j = 0; j < self->devices->len; j++)
        {
          Device *device = g_ptr_array_index (self->devices, j);
          if (g_strcmp0 (device->user_id, member) == 0)
            local_devices++;
        }
    }
  for (guint i = 0; i < room->state->len; i++)
    {
      StateEvent *ev = g_ptr_array_index (room->state, i);

      if (g_strcmp0 (ev->type, "m.room.member") == 0 && is_local_user_id (self, ev->state_key)
          && !g_ptr_array_find_with_equal_func (room->forgotten, ev->state_key, g_str_equal, NULL))
        forgotten = FALSE;
    }

  obj = json_object_new_object ();
  json_object_object_add (obj, "room_id", json_object_new_string (room->room_id));
  json_object_object_add (obj, "name", room_stat_string (room, "m.room.name", "name"));
  json_object_object_add (obj, "canonical_alias", room_stat_string (room, "m.room.canonical_alias", "alias"));
  json_object_object_add (obj, "joined_members", json_object_new_int ((gint) room->joined->len));
  json_object_object_add (obj, "joined_local_members", json_object_new_int ((gint) local_members));
  json_object_object_add (obj, "version", room_stat_string (room, "m.room.create", "room_version"));
  json_object_object_add (obj, "creator", json_object_new_string (room->creator));
  json_object_object_add (obj, "encryption", room_stat_string (room, "m.room.encryption", "algorithm"));
  json_object_object_add (obj, "federatable", json_object_new_boolean (federatable));
  json_object_object_add (obj, "public", json_object_new_boolean (is_public));
  json_object_object_add (obj, "join_rules", room_stat_string (room, "m.room.join_rules", "join_rule"));
  json_object_object_add (obj, "guest_access", room_stat_string (room, "m.room.guest_access", "guest_access"));
  json_object_object_add (obj, "history_visibility",
                          room_stat_string (room, "m.room.history_visibility", "history_visibility"));
  json_object_object_add (obj, "state_events", json_object_new_int ((gint) room->state->len));
  json_object_object_add (obj, "avatar", room_stat_string (room, "m.room.avatar", "url"));
  json_object_object_add (obj, "topic", room_stat_string (room, "m.room.topic", "topic"));
  json_object_object_add (obj, "room_type", room_stat_string (room, "m.room.create", "type"));
  json_object_object_add (obj, "joined_local_devices", json_object_new_int ((gint) local_devices));
  json_object_object_add (obj, "forgotten", json_object_new_boolean (forgotten));
  reply_json (reply, 200, obj);
}

/* serialize_events()' default, format_event_for_client_v1(): the client
 * event, unsigned.age, and the sender once more as user_id, with age and
 * replaces_state copied from unsigned to the top level */
static json_object *
admin_state_event_json (Room *room, StateEvent *ev, gint64 now)
{
  json_object *obj = state_event_json (room, ev);
  json_object *unsigned_obj = json_object_object_get (obj, "unsigned");
  gint64 age = now - ev->origin_server_ts;

  json_object_object_add (unsigned_obj, "age", json_object_new_int64 (age));
  if (ev->replaces_state != NULL)
    json_object_object_add (unsigned_obj, "replaces_state", json_object_new_string (ev->replaces_state));
  json_object_object_add (obj, "user_id", json_object_new_string (ev->sender));
  json_object_object_add (obj, "age", json_object_new_int64 (age));
  if (ev->replaces_state != NULL)
    json_object_object_add (obj, "replaces_state", json_object_new_string (ev->replaces_state));
  return obj;
}

/* Synapse 1.67 RoomStateRestServlet.on_GET (rest/admin/rooms.py): 404
 * M_NOT_FOUND "Room not found" when the server has no such room, else
 * {"state": [...]}, every current state event (an admin need not be in the
 * room). Synapse's order is a dict's; this one is the order they were sent. */
static void
handle_admin_room_state (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  gint64 now = now_ms ();
  json_object *state;
  json_object *obj;
  Room *room;

  (void) req, (void) who;
  room = lookup_room (self, args[0]);
  if (room == NULL)
    {
      reply_error (reply, 404, "M_NOT_FOUND", "Room not found");
      return;
    }
  state = json_object_new_array ();
  for (guint i = 0; i < room->state->len; i++)
    json_object_array_add (state, admin_state_event_json (room, g_ptr_array_index (room->state, i), now));
  obj = json_object_new_object ();
  json_object_object_add (obj, "state", state);
  reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Shared-secret registration: Synapse's UserRegisterServlet and Dendrite's
 * register_secret.go */

static gboolean
registration_enabled_locked (TestHomeserver *self)
{
  return self->registration_secret != NULL;
}

static void
nonces_expire_locked (TestHomeserver *self)
{
  gint64 timeout_us = (self->flavour == TEST_HOMESERVER_DENDRITE
                       ? DENDRITE_NONCE_TIMEOUT_S : SYNAPSE_NONCE_TIMEOUT_S) * G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer created;

  g_hash_table_iter_init (&iter, self->nonces);
  while (g_hash_table_iter_next (&iter, NULL, &created))
    {
      if (now - *(gint64 *) created > timeout_us)
        g_hash_table_iter_remove (&iter);
    }
}

static void
nonce_add_locked (TestHomeserver *self, const gchar *nonce)
{
  gint64 *created = g_new (gint64, 1);

  *created = g_get_monotonic_time ();
  g_hash_table_replace (self->nonces, g_strdup (nonce), created);
}

/* lowercase hex HMAC-SHA1 keyed by the secret over
 * nonce \0 username \0 password \0 ("admin"|"notadmin") [\0 user_type] */
static gchar *
registration_mac (const gchar *secret, const gchar *nonce, const gchar *username,
                  const gchar *password, gboolean admin, const gchar *user_type)
{
  g_autoptr(GString) msg = g_string_new (nonce);

  g_string_append_c (msg, '\0');
  g_string_append (msg, username);
  g_string_append_c (msg, '\0');
  g_string_append (msg, password);
  g_string_append_c (msg, '\0');
  g_string_append (msg, admin ? "admin" : "notadmin");
  if (user_type != NULL)
    {
      g_string_append_c (msg, '\0');
      g_string_append (msg, user_type);
    }
  return g_compute_hmac_for_data (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret),
                                  (const guchar *) msg->str, msg->len);
}

/* a string holding no NUL byte: what can go into the MAC */
static gboolean
json_is_clean_string (json_object *value)
{
  return json_object_is_type (value, json_type_string)
         && strlen (json_object_get_string (value)) == (gsize) json_object_get_string_len (value);
}

static void
handle_register_nonce (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *nonce = NULL;
  json_object *obj;

  (void) req, (void) who, (void) args;
  nonces_expire_locked (self);
  if (self->flavour == TEST_HOMESERVER_DENDRITE)
    nonce = random_string (ALPHANUMERIC, 16); /* util.RandomString(16) */
  else
    nonce = random_string ("0123456789abcdef", 128); /* secrets.token_hex(64) */
  nonce_add_locked (self, nonce);
  obj = json_object_new_object ();
  json_object_object_add (obj, "nonce", json_object_new_string (nonce));
  reply_json (reply, 200, obj);
}

/* registers the user with a fresh device, as both servers do; NULL
 * device_id = a random one */
static Token *
register_with_device_locked (TestHomeserver *self, User *user, const gchar *device_id,
                             const gchar *display_name)
{
  g_autofree gchar *random_id = random_string (UPPERCASE, 10);

  if (device_id == NULL)
    device_id = random_id;
  device_register_locked (self, user->user_id, device_id, display_name);
  return add_token_locked (self, user->user_id, user->user_id, device_id, 0);
}

/* Synapse 1.67 UserRegisterServlet.on_POST, in its order */
static void
handle_register_synapse (TestHomeserver *self, Request *req, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *want_mac = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *nonce = NULL;
  json_object *value = NULL;
  const gchar *username;
  const gchar *password;
  const gchar *user_type = NULL;
  const gchar *displayname = NULL;
  const gchar *device_id = NULL;
  const gchar *got_mac;
  gboolean admin = FALSE;
  User *user;
  json_object *obj;

  nonces_expire_locked (self);
  if (!registration_enabled_locked (self))
    {
      reply_error (reply, 400, "M_UNKNOWN", "Shared secret registration is not enabled");
      return;
    }
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;

  if (!json_has (body, "nonce", &value))
    {
      reply_error (reply, 400, "M_BAD_JSON", "nonce must be specified");
      return;
    }
  if (!json_object_is_type (value, json_type_string)
      || !g_hash_table_contains (self->nonces, json_object_get_string (value)))
    {
      reply_error (reply, 400, "M_UNKNOWN", "unrecognised nonce");
      return;
    }
  /* "Delete the nonce, so it can't be reused, even if it's invalid" */
  nonce = g_strdup (json_object_get_string (value));
  g_hash_table_remove (self->nonces, nonce);

  if (!json_has (body, "username", &value))
    {
      reply_error (reply, 400, "M_BAD_JSON", "username must be specified");
      return;
    }
  if (!json_is_clean_string (value) || json_object_get_string_len (value) > 512)
    {
      reply_error (reply, 400, "M_UNKNOWN", "Invalid username");
      return;
    }
  username = json_object_get_string (value);
  if (!json_has (body, "password", &value))
    {
      reply_error (reply, 400, "M_BAD_JSON", "password must be specified");
      return;
    }
  if (!json_is_clean_string (value) || json_object_get_string_len (value) > MAX_PASSWORD_LENGTH)
    {
      reply_error (reply, 400, "M_UNKNOWN", "Invalid password");
      return;
    }
  password = json_object_get_string (value);

  /* body.get("admin"): Python truthiness */
  if (json_has (body, "admin", &value))
    admin = json_object_get_boolean (value);
  if (json_has (body, "user_type", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string)
          || !g_strv_contains ((const gchar *const[]) { "support", "bot", NULL }, json_object_get_string (value)))
        {
          reply_error (reply, 400, "M_UNKNOWN", "Invalid user type");
          return;
        }
      user_type = json_object_get_string (value);
    }
  if (json_has (body, "displayname", &value) && value != NULL && json_object_is_type (value, json_type_string))
    displayname = json_object_get_string (value);

  if (!json_has (body, "mac", &value))
    {
      reply_error (reply, 400, "M_BAD_JSON", "mac must be specified");
      return;
    }
  /* got_mac.encode("ascii") on anything else raises: a 500 */
  if (!json_object_is_type (value, json_type_string))
    {
      reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }
  got_mac = json_object_get_string (value);
  for (const gchar *p = got_mac; *p != '\0'; p++)
    {
      if ((guchar) *p >= 0x80)
        {
          reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
          return;
        }
    }
  want_mac = registration_mac (self->registration_secret, nonce, username, password, admin, user_type);
  if (g_strcmp0 (want_mac, got_mac) != 0)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "HMAC incorrect");
      return;
    }

  localpart = g_ascii_strdown (username, -1);
  if (!check_username_locked (self, localpart, reply))
    return;
  user = add_user_locked (self, localpart, password, displayname, admin);
  user->user_type = g_strdup (user_type);

  /* RegisterRestServlet._create_registration_details() */
  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "home_server", json_object_new_string (self->server_name));
  if (!(json_has (body, "inhibit_login", &value) && json_object_get_boolean (value)))
    {
      Token *token;

      if (json_has (body, "device_id", &value) && value != NULL && json_object_is_type (value, json_type_string))
        device_id = json_object_get_string (value);
      /* register_device() runs after the user was created: a name too long
       * refuses the device but leaves the account behind */
      if (!check_device_name_length (initial_device_display_name (body), reply))
        {
          json_object_put (obj);
          return;
        }
      token = register_with_device_locked (self, user, device_id, initial_device_display_name (body));
      json_object_object_add (obj, "access_token", json_object_new_string (token->token));
      json_object_object_add (obj, "device_id", json_object_new_string (token->device_id));
    }
  reply_json (reply, 200, obj);
}

/* Go's json.Decode into a string field: absent or null is "", another type
 * is an error */
static gboolean
go_string_field (json_object *body, const gchar *key, const gchar **out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *out = "";
  if (!json_has (body, key, &value) || value == NULL)
    return TRUE;
  if (!json_object_is_type (value, json_type_string))
    {
      text = g_strdup_printf ("malformed json: json: cannot unmarshal %s into Go struct field "
                              "SharedSecretRegistrationRequest.%s of type string",
                              json_type_to_name (json_object_get_type (value)), key);
      reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *out = json_object_get_string (value);
  return TRUE;
}

static gboolean
is_dendrite_localpart (const gchar *localpart)
{
  /* validUsernameRegex ^[0-9a-z_\-=./]+$ */
  if (*localpart == '\0')
    return FALSE;
  for (const gchar *p = localpart; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("_-=./", *p) != NULL))
        return FALSE;
    }
  return TRUE;
}

/* Dendrite 0.13 handleSharedSecretRegistration(), in its order */
static void
handle_register_dendrite (TestHomeserver *self, Request *req, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *want_mac = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *text = NULL;
  json_object *value = NULL;
  const gchar *username;
  const gchar *password;
  const gchar *nonce;
  const gchar *got_mac;
  const gchar *displayname;
  gboolean admin = FALSE;
  gsize mac_len;
  User *user;
  Token *token;
  json_object *obj;

  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    {
      reply_error (reply, 400, "M_BAD_JSON", "malformed json: invalid character looking for beginning of value");
      return;
    }
  if (!go_string_field (body, "username", &username, reply)
      || !go_string_field (body, "password", &password, reply)
      || !go_string_field (body, "nonce", &nonce, reply)
      || !go_string_field (body, "mac", &got_mac, reply)
      || !go_string_field (body, "displayname", &displayname, reply))
    return;
  if (json_has (body, "admin", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          reply_error (reply, 400, "M_BAD_JSON", "malformed json: json: cannot unmarshal into Go struct "
                       "field SharedSecretRegistrationRequest.admin of type bool");
          return;
        }
      admin = json_object_get_boolean (value);
    }
  /* hex.DecodeString(): either case, even length */
  mac_len = strlen (got_mac);
  for (gsize i = 0; i < mac_len; i++)
    {
      if (!g_ascii_isxdigit (got_mac[i]))
        {
          text = g_strdup_printf ("malformed json: encoding/hex: invalid byte: U+%04X", (guchar) got_mac[i]);
          reply_error (reply, 400, "M_BAD_JSON", text);
          return;
        }
    }
  if (mac_len % 2 != 0)
    {
      reply_error (reply, 400, "M_BAD_JSON", "malformed json: encoding/hex: odd length hex string");
      return;
    }

  /* IsValidMacLogin(): its errors go out through util.ErrorResponse() */
  nonces_expire_locked (self);
  if (!g_hash_table_contains (self->nonces, nonce))
    {
      text = g_strdup_printf ("incorrect or expired nonce: %s", nonce);
      reply_go_message (reply, 500, text);
      return;
    }
  if (strlen (username) != (gsize) json_object_get_string_len (json_object_object_get (body, "username")))
    {
      reply_go_message (reply, 500, "username contains invalid character");
      return;
    }
  if (strlen (password) != (gsize) json_object_get_string_len (json_object_object_get (body, "password")))
    {
      reply_go_message (reply, 500, "password contains invalid character");
      return;
    }
  /* Dendrite never adds a user_type: a user_type in the body is ignored */
  want_mac = registration_mac (self->registration_secret, nonce, username, password, admin, NULL);
  if (g_ascii_strcasecmp (want_mac, got_mac) != 0)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "bad mac");
      return;
    }

  localpart = g_ascii_strdown (username, -1);
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  if (strlen (user_id) > DENDRITE_MAX_USER_ID_LENGTH)
    {
      /* UsernameResponse(ErrUsernameTooLong) is a BadJSON */
      reply_error (reply, 400, "M_BAD_JSON", "username exceeds the maximum length of 254 characters");
      return;
    }
  if (!is_dendrite_localpart (localpart))
    {
      reply_error (reply, 400, "M_INVALID_USERNAME", "username can only contain characters a-z, 0-9, or '_-./='");
      return;
    }
  if (localpart[0] == '_')
    {
      reply_error (reply, 400, "M_INVALID_USERNAME", "username cannot start with a '_'");
      return;
    }
  if (strlen (password) > MAX_PASSWORD_LENGTH)
    {
      reply_error (reply, 400, "M_BAD_JSON", "password too long: max 512 characters");
      return;
    }
  if (strlen (password) > 0 && strlen (password) < DENDRITE_MIN_PASSWORD_LENGTH)
    {
      reply_error (reply, 400, "M_WEAK_PASSWORD", "password too weak: min 8 characters");
      return;
    }
  /* completeRegistration() */
  if (password[0] == '\0')
    {
      reply_error (reply, 400, "M_MISSING_PARAM", "Missing password");
      return;
    }
  if (lookup_user_caseless (self, user_id) != NULL)
    {
      reply_error (reply, 400, "M_USER_IN_USE", "Desired user ID is already taken.");
      return;
    }
  user = add_user_locked (self, localpart, password, displayname[0] != '\0' ? displayname : NULL, admin);
  /* completeRegistration(..., deviceDisplayName = &ssrr.User, ...): the
   * lowercased username names the device */
  token = register_with_device_locked (self, user, DENDRITE_SHARED_SECRET_DEVICE, localpart);

  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  json_object_object_add (obj, "device_id", json_object_new_string (token->device_id));
  reply_json (reply, 200, obj);
}

static void
handle_register (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  (void) who, (void) args;
  if (self->flavour == TEST_HOMESERVER_DENDRITE)
    handle_register_dendrite (self, req, reply);
  else
    handle_register_synapse (self, req, reply);
}

/* ------------------------------------------------------------------------ */
/* User-interactive auth: self-deactivation and password change */

#define UIA_PASSWORD "m.login.password"
#define UIA_EMAIL "m.login.email.identity"

/* one flow of the single `stage` */
static json_object *
uia_flows_json (const gchar *stage)
{
  json_object *flows = json_object_new_array ();
  json_object *flow = json_object_new_object ();
  json_object *stages = json_object_new_array ();

  json_object_array_add (stages, json_object_new_string (stage));
  json_object_object_add (flow, "stages", stages);
  json_object_array_add (flows, flow);
  return flows;
}

/* Synapse's _auth_dict_for_flows(), then "completed" (the stages the session
 * has passed, here at most the password one) and the stage's error when the
 * client tried one */
static void
reply_uia_synapse (Reply *reply, const UiaSession *session, const gchar *stage, gboolean tried,
                   const gchar *errcode, const gchar *error)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "session", json_object_new_string (session->id));
  json_object_object_add (obj, "flows", uia_flows_json (stage));
  json_object_object_add (obj, "params", json_object_new_object ());
  if (tried)
    {
      json_object *completed = json_object_new_array ();

      if (session->validated != NULL)
        json_object_array_add (completed, json_object_new_string (UIA_PASSWORD));
      json_object_object_add (obj, "completed", completed);
    }
  if (errcode != NULL)
    {
      json_object_object_add (obj, "errcode", json_object_new_string (errcode));
      json_object_object_add (obj, "error", json_object_new_string (error));
    }
  reply_json (reply, 401, obj);
}

/* Dendrite's Challenge, mixed with the stage's error by
 * ResponseWithChallenge() (a Go map: keys come out sorted) */
static void
reply_uia_dendrite (Reply *reply, const gchar *session_id, const gchar *errcode, const gchar *error)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "completed", json_object_new_array ());
  if (errcode != NULL)
    {
      json_object_object_add (obj, "errcode", json_object_new_string (errcode));
      json_object_object_add (obj, "error", json_object_new_string (error));
    }
  json_object_object_add (obj, "flows", uia_flows_json (UIA_PASSWORD));
  json_object_object_add (obj, "params", json_object_new_object ());
  json_object_object_add (obj, "session", json_object_new_string (session_id));
  reply_json (reply, 401, obj);
}

static UiaSession *
uia_session_new_locked (TestHomeserver *self, Request *req)
{
  UiaSession *session = g_new0 (UiaSession, 1);

  session->id = random_string (LETTERS, 24);
  session->method = g_strdup (req->method);
  session->path = g_strdup (req->path);
  g_hash_table_replace (self->uia_sessions, session->id, session);
  return session;
}

static const gchar *
auth_string (json_object *auth, const gchar *key)
{
  json_object *value = NULL;

  if (!json_has (auth, key, &value) || !json_object_is_type (value, json_type_string))
    return NULL;
  return json_object_get_string (value);
}

/* Dendrite 0.13 Deactivate(): UserInteractive.Verify(), then whoever the
 * auth named is deactivated (it is not compared with the access token) */
static void
handle_deactivate_dendrite (TestHomeserver *self, Request *req, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *lower = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *domain = NULL;
  g_autofree gchar *user_id = NULL;
  json_object *auth = NULL;
  json_object *identifier = NULL;
  const gchar *type;
  const gchar *session_id;
  const gchar *username = NULL;
  const gchar *password;
  User *user;
  Reply ignored = { 0, NULL, NULL, NULL };

  /* gjson: a body that does not parse simply has no "auth" */
  body = parse_body (req, FALSE, &ignored);
  reply_clear (&ignored);
  if (body == NULL || !json_has (body, "auth", &auth))
    {
      UiaSession *session = uia_session_new_locked (self, req);
      reply_uia_dendrite (reply, session->id, NULL, NULL);
      return;
    }
  type = auth != NULL ? auth_string (auth, "type") : NULL;
  if (g_strcmp0 (type, "m.login.password") != 0)
    {
      g_autofree gchar *text = g_strdup_printf ("Unknown auth.type: %s", type != NULL ? type : "");
      reply_error (reply, 400, "M_BAD_JSON", text);
      return;
    }
  /* an unknown session is fine: m.login.password is a single-stage flow */
  session_id = auth_string (auth, "session");
  if (session_id == NULL)
    session_id = "";

  /* Login.Username() */
  if (json_has (auth, "identifier", &identifier) && identifier != NULL
      && json_object_is_type (identifier, json_type_object)
      && g_strcmp0 (auth_string (identifier, "type"), "m.id.user") == 0)
    username = auth_string (identifier, "user");
  else
    username = auth_string (auth, "user");
  if (username == NULL)
    username = "";
  password = auth_string (auth, "password");
  if (password == NULL)
    password = "";

  /* LoginTypePassword.Login() */
  lower = g_ascii_strdown (username, -1);
  if (lower[0] == '\0')
    {
      reply_uia_dendrite (reply, session_id, "M_BAD_JSON", "A username must be supplied.");
      return;
    }
  if (lower[0] == '@')
    {
      if (!split_user_id (lower, &localpart, &domain))
        {
          reply_uia_dendrite (reply, session_id, "M_INVALID_USERNAME", "invalid username");
          return;
        }
      if (g_strcmp0 (domain, self->server_name) != 0)
        {
          reply_uia_dendrite (reply, session_id, "M_INVALID_USERNAME", "user ID does not belong to this server");
          return;
        }
    }
  else
    localpart = g_strdup (lower);
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  user = lookup_user_caseless (self, user_id);
  if (user == NULL || user->deactivated || user->password == NULL || g_strcmp0 (user->password, password) != 0)
    {
      reply_uia_dendrite (reply, session_id, "M_FORBIDDEN",
                          "The username or password was incorrect or the account does not exist.");
      return;
    }
  g_hash_table_remove (self->uia_sessions, session_id);

  /* gomatrixserverlib.SplitID('@', login.Username()): a bare localpart is
   * not a user ID, and that is a 500 after the password was accepted */
  g_clear_pointer (&localpart, g_free);
  g_clear_pointer (&domain, g_free);
  if (!split_user_id (username, &localpart, &domain) || g_strcmp0 (domain, self->server_name) != 0)
    {
      reply_error (reply, 500, "M_UNKNOWN", "Internal Server Error");
      return;
    }
  deactivate_user_locked (self, user, FALSE);
  reply_json (reply, 200, json_object_new_object ());
}

typedef enum {
  UIA_DONE,       /* the flow is complete */
  UIA_INCOMPLETE, /* `reply` holds the 401 challenge */
  UIA_FAILED,     /* `reply` holds an error */
} UiaResult;

/* Synapse 1.67 AuthHandler.check_ui_auth() for one flow of the single
 * `stage`, in its order: find the session the client names (bound to the
 * method and URI that started it) or start one, keep the request's
 * parameters in it, challenge when there is no auth yet, else try the stage
 * the client presented, a LoginError being merged into the challenge so that
 * the client may retry. Only the password stage can be passed here; it
 * records the user it proved, and whether that is the right user is the
 * caller's business. `clientdict` (taken; NULL is {}) is the request body
 * without "auth": a later request that sends nothing but auth gets the stored
 * one, in session->clientdict. *session_out is the session, or NULL when none
 * was found. */
static UiaResult
uia_check_synapse_locked (TestHomeserver *self, Request *req, json_object *auth,
                          json_object *clientdict, const gchar *stage,
                          UiaSession **session_out, Reply *reply)
{
  g_autoptr(json_object) params = clientdict != NULL ? clientdict : json_object_new_object ();
  g_autofree gchar *qualified = NULL;
  json_object *value = NULL;
  json_object *identifier = NULL;
  UiaSession *session;
  const gchar *session_id;
  const gchar *name = NULL;
  const gchar *password;
  const gchar *errcode = NULL;
  const gchar *error = NULL;
  User *user;

  *session_out = NULL;
  session_id = auth != NULL ? auth_string (auth, "session") : NULL;
  if (session_id == NULL || session_id[0] == '\0')
    {
      session = uia_session_new_locked (self, req);
      session->clientdict = g_steal_pointer (&params);
    }
  else
    {
      session = g_hash_table_lookup (self->uia_sessions, session_id);
      if (session == NULL)
        {
          g_autofree gchar *text = g_strdup_printf ("Unknown session ID: %s", session_id);
          reply_error (reply, 400, "M_UNKNOWN", text);
          return UIA_FAILED;
        }
      if (g_strcmp0 (session->path, req->path) != 0 || g_strcmp0 (session->method, req->method) != 0)
        {
          reply_error (reply, 403, "M_FORBIDDEN",
                       "Requested operation has changed during the UI authentication session.");
          return UIA_FAILED;
        }
      /* set_ui_auth_clientdict(): what the client sends now replaces it */
      if (json_object_object_length (params) > 0)
        {
          json_object_put (session->clientdict);
          session->clientdict = g_steal_pointer (&params);
        }
    }
  *session_out = session;
  if (auth == NULL || json_object_object_length (auth) == 0)
    {
      reply_uia_synapse (reply, session, stage, FALSE, NULL, NULL);
      return UIA_INCOMPLETE;
    }

  if (json_has (auth, "type", &value))
    {
      /* AuthHandler.validate_login(is_reauth=True) */
      if (!json_object_is_type (value, json_type_string))
        {
          reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: type");
          return UIA_FAILED;
        }
      if (g_strcmp0 (json_object_get_string (value), UIA_PASSWORD) != 0)
        {
          g_autofree gchar *text = g_strdup_printf ("Unknown login type %s", json_object_get_string (value));
          reply_error (reply, 400, "M_UNKNOWN", text);
          return UIA_FAILED;
        }
      password = auth_string (auth, "password");
      if (password == NULL)
        {
          reply_error (reply, 400, "M_INVALID_PARAM", "Bad parameter: password");
          return UIA_FAILED;
        }
      if (json_has (auth, "identifier", &identifier))
        {
          if (identifier == NULL || !json_object_is_type (identifier, json_type_object)
              || g_strcmp0 (auth_string (identifier, "type"), "m.id.user") != 0)
            {
              reply_error (reply, 400, "M_UNKNOWN", "Unknown login identifier type");
              return UIA_FAILED;
            }
          name = auth_string (identifier, "user");
        }
      else
        name = auth_string (auth, "user");
      if (name == NULL || name[0] == '\0')
        {
          reply_error (reply, 400, "M_UNKNOWN", "User identifier is missing 'user' key");
          return UIA_FAILED;
        }
      qualified = name[0] == '@' ? g_strdup (name) : g_strdup_printf ("@%s:%s", name, self->server_name);
      user = lookup_user_caseless (self, qualified);
      if (user != NULL && user->password != NULL && g_strcmp0 (user->password, password) == 0)
        {
          g_free (session->validated);
          session->validated = g_strdup (user->user_id);
        }
      else
        {
          /* a LoginError: merged into the challenge, the client may retry */
          errcode = "M_FORBIDDEN";
          error = "Invalid username or password";
        }
    }
  /* a password passed where the flow wants another stage completes nothing */
  if (session->validated == NULL || g_strcmp0 (stage, UIA_PASSWORD) != 0)
    {
      reply_uia_synapse (reply, session, stage, TRUE, errcode, error);
      return UIA_INCOMPLETE;
    }
  return UIA_DONE;
}

/* Synapse 1.67 AuthHandler.validate_user_via_ui_auth() for a requester with
 * an access token: the password stage, which must prove the requester's own
 * user ID, else 403 "Invalid auth" (and so for the rest of the session) */
static UiaResult
uia_validate_user_synapse_locked (TestHomeserver *self, Request *req, json_object *auth,
                                  json_object *clientdict, const Requester *who,
                                  UiaSession **session, Reply *reply)
{
  UiaResult result = uia_check_synapse_locked (self, req, auth, clientdict, UIA_PASSWORD, session, reply);

  /* "check that the UI auth matched the access token" */
  if (result == UIA_DONE && g_strcmp0 ((*session)->validated, who->user_id) != 0)
    {
      reply_error (reply, 403, "M_FORBIDDEN", "Invalid auth");
      return UIA_FAILED;
    }
  return result;
}

/* Synapse 1.67 DeactivateAccountRestServlet: "erase" checked, then
 * validate_user_via_ui_auth() */
static void
handle_account_deactivate (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  json_object *value = NULL;
  json_object *auth = NULL;
  UiaSession *session = NULL;
  gboolean erase = FALSE;
  User *user;
  json_object *obj;

  (void) args;
  if (self->flavour == TEST_HOMESERVER_DENDRITE)
    {
      handle_deactivate_dendrite (self, req, reply);
      return;
    }

  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (json_has (body, "erase", &value))
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          reply_error (reply, 400, "M_BAD_JSON", "Param 'erase' must be a boolean, if given");
          return;
        }
      erase = json_object_get_boolean (value);
    }

  if (json_has (body, "auth", &auth) && auth != NULL && !json_object_is_type (auth, json_type_object))
    {
      reply_error (reply, 400, "M_BAD_JSON", "'auth' must be an object");
      return;
    }
  /* erase is read from the body itself, not from the session's parameters */
  if (uia_validate_user_synapse_locked (self, req, auth, NULL, who, &session, reply) != UIA_DONE)
    return;

  user = lookup_user (self, who->user_id);
  if (user != NULL)
    deactivate_user_locked (self, user, erase);
  obj = json_object_new_object ();
  json_object_object_add (obj, "id_server_unbind_result", json_object_new_string ("success"));
  reply_json (reply, 200, obj);
}

static gboolean authenticate_locked (TestHomeserver *self, Request *req, Requester *who, Reply *reply);

static void
add_validation_error (GString *errors, guint *n_errors, const gchar *loc, const gchar *msg)
{
  g_string_append_printf (errors, "\n%s\n  %s", loc, msg);
  (*n_errors)++;
}

/* pydantic 1.9's (Synapse 1.67's) validation of PasswordRestServlet.PostBody:
 * auth an object or null, and in it session and type strings or null;
 * logout_devices a boolean; new_password a string of at most 512
 * characters, or null. Every field is checked, and any failure is 400
 * M_BAD_JSON worded as str(ValidationError). Other keys are ignored. */
static gboolean
check_password_body (json_object *body, Reply *reply)
{
  static const gchar not_str[] = "str type expected (type=type_error.str)";
  g_autoptr(GString) errors = g_string_new (NULL);
  g_autofree gchar *text = NULL;
  json_object *value = NULL;
  guint n_errors = 0;

  if (json_has (body, "auth", &value) && value != NULL)
    {
      json_object *field = NULL;

      if (!json_object_is_type (value, json_type_object))
        add_validation_error (errors, &n_errors, "auth", "value is not a valid dict (type=type_error.dict)");
      else
        {
          if (json_has (value, "session", &field) && field != NULL && !json_object_is_type (field, json_type_string))
            add_validation_error (errors, &n_errors, "auth -> session", not_str);
          if (json_has (value, "type", &field) && field != NULL && !json_object_is_type (field, json_type_string))
            add_validation_error (errors, &n_errors, "auth -> type", not_str);
        }
    }
  if (json_has (body, "logout_devices", &value))
    {
      if (value == NULL)
        add_validation_error (errors, &n_errors, "logout_devices",
                              "none is not an allowed value (type=type_error.none.not_allowed)");
      else if (!json_object_is_type (value, json_type_boolean))
        add_validation_error (errors, &n_errors, "logout_devices",
                              "value is not a valid boolean (type=value_error.strictbool)");
    }
  if (json_has (body, "new_password", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string))
        add_validation_error (errors, &n_errors, "new_password", not_str);
      else if (python_len (json_object_get_string (value)) > MAX_PASSWORD_LENGTH)
        add_validation_error (errors, &n_errors, "new_password",
                              "ensure this value has at most 512 characters "
                              "(type=value_error.any_str.max_length; limit_value=512)");
    }
  if (n_errors == 0)
    return TRUE;
  text = g_strdup_printf ("%u validation error%s for PostBody%s", n_errors, n_errors > 1 ? "s" : "",
                          errors->str);
  reply_error (reply, 400, "M_BAD_JSON", text);
  return FALSE;
}

/* Synapse 1.67 PasswordRestServlet.on_POST (rest/client/account.py), as the
 * Matrix Dart SDK uses it. The body is validated first (check_password_body).
 * An access token is optional: with one (any Authorization header or
 * access_token parameter counts, and a bad one is the usual 401), the
 * requester must pass the password stage as themselves
 * (validate_user_via_ui_auth: 401 challenge with flows [m.login.password],
 * a wrong password merged into it as M_FORBIDDEN "Invalid username or
 * password" with "completed", someone else's password 403 "Invalid auth").
 * Without one it is a password reset that only m.login.email.identity can
 * authorise, which no account here can pass: a 401 challenge offering that
 * flow, even after a right password ("completed": [m.login.password]).
 * While the auth is incomplete, a non-empty new_password is kept in the
 * session, and the request that completes it may leave it out; with none
 * at all, 400 M_MISSING_PARAM "Missing params: password". Then
 * set_password_locked() with logout_devices (default true): every other
 * device and access token of the user goes, the requester's device and
 * token stay, and so do puppet tokens. 200 {}. The UIA session lives on, as
 * in Synapse until it expires. */
static void
handle_account_password (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  static const gchar *const fields[] = { "logout_devices", "new_password" };
  g_autoptr(json_object) body = NULL;
  g_autoptr(json_object) clientdict = NULL;
  json_object *value = NULL;
  json_object *auth = NULL;
  UiaSession *session = NULL;
  UiaResult result;
  const gchar *new_password = NULL;
  const gchar *password;
  gboolean logout_devices = TRUE;

  (void) args;
  body = parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!check_password_body (body, reply))
    return;
  if (json_has (body, "new_password", &value) && value != NULL)
    new_password = json_object_get_string (value);
  /* body.dict(exclude_unset=True) less "auth": the model's other fields
   * that the client set */
  clientdict = json_object_new_object ();
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      if (json_has (body, fields[i], &value))
        json_object_object_add (clientdict, fields[i], json_copy (value));
    }

  /* Auth.has_access_token(), then get_user_by_req() */
  if ((req->authorization != NULL || (req->query != NULL && g_hash_table_contains (req->query, "access_token")))
      && !authenticate_locked (self, req, who, reply))
    return;
  /* clientdict.pop("auth", {}) is None for "auth": null, and
   * "session" in None raises */
  if (json_has (body, "auth", &auth) && auth == NULL)
    {
      reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }

  if (who->user_id != NULL)
    result = uia_validate_user_synapse_locked (self, req, auth, g_steal_pointer (&clientdict), who,
                                               &session, reply);
  else
    result = uia_check_synapse_locked (self, req, auth, g_steal_pointer (&clientdict), UIA_EMAIL,
                                       &session, reply);
  /* InteractiveAuthIncompleteError: the new password waits in the session */
  if (result == UIA_INCOMPLETE && new_password != NULL && new_password[0] != '\0')
    {
      g_free (session->new_password);
      session->new_password = g_strdup (new_password);
    }
  if (result != UIA_DONE)
    return;

  /* one in this request wins over one an earlier request left */
  password = new_password != NULL && new_password[0] != '\0' ? new_password : session->new_password;
  if (password == NULL)
    {
      reply_error (reply, 400, "M_MISSING_PARAM", "Missing params: password");
      return;
    }
  /* params.get("logout_devices", True), params being the session's */
  if (json_has (session->clientdict, "logout_devices", &value))
    logout_devices = json_object_get_boolean (value);
  if (!set_password_locked (self, who->user_id, password, logout_devices, who, reply))
    return;
  reply_json (reply, 200, json_object_new_object ());
}

/* ------------------------------------------------------------------------ */
/* Leave and forget (Synapse's room member handler) */

static void
handle_room_leave (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *text = NULL;
  Room *room = lookup_room (self, args[0]);
  StateEvent *ev;
  const gchar *membership = NULL;
  guint index;

  /* any body, even an invalid one, is accepted */
  (void) req;
  ev = room != NULL ? room_lookup_state (room, "m.room.member", who->user_id, NULL) : NULL;
  if (ev != NULL)
    membership = json_object_get_string (json_object_object_get (ev->content, "membership"));
  if (room == NULL || (room->joined->len == 0 && membership == NULL))
    {
      /* the server is not in the room and the user has no membership there */
      reply_error (reply, 404, "M_UNKNOWN", "Not a known room");
      return;
    }
  if (g_strcmp0 (membership, "leave") == 0)
    {
      /* the same membership again: Synapse answers with the old event */
      reply_json (reply, 200, json_object_new_object ());
      return;
    }
  if (g_strcmp0 (membership, "join") != 0 && g_strcmp0 (membership, "invite") != 0)
    {
      text = g_strdup_printf ("%s not in room %s.", who->user_id, room->room_id);
      reply_error (reply, 403, "M_FORBIDDEN", text);
      return;
    }
  if (room_find_member (room, who->user_id, &index))
    g_ptr_array_remove_index (room->joined, index);
  room_send_state (room, who->user_id, "m.room.member", who->user_id,
                   member_content ("leave", FALSE, NULL));
  reply_json (reply, 200, json_object_new_object ());
}

static void
handle_room_forget (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *text = NULL;
  Room *room = lookup_room (self, args[0]);
  StateEvent *ev;
  const gchar *membership = NULL;

  (void) req;
  ev = room != NULL ? room_lookup_state (room, "m.room.member", who->user_id, NULL) : NULL;
  if (ev != NULL)
    membership = json_object_get_string (json_object_object_get (ev->content, "membership"));
  if (membership != NULL && g_strcmp0 (membership, "leave") != 0 && g_strcmp0 (membership, "ban") != 0)
    {
      text = g_strdup_printf ("User %s in room %s", who->user_id, args[0]);
      reply_error (reply, 400, "M_UNKNOWN", text);
      return;
    }
  /* no membership at all (or no such room): nothing to forget, still 200 */
  if (membership != NULL && !g_ptr_array_find_with_equal_func (room->forgotten, who->user_id, g_str_equal, NULL))
    g_ptr_array_add (room->forgotten, g_strdup (who->user_id));
  reply_json (reply, 200, json_object_new_object ());
}

/* ------------------------------------------------------------------------ */
/* Discovery */

static void
handle_well_known (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  (void) req, (void) who, (void) args;
  if (self->well_known_set)
    reply_raw (reply, self->well_known_status, NULL, self->well_known_body);
  else if (self->flavour == TEST_HOMESERVER_DENDRITE)
    reply_error (reply, 404, "M_UNRECOGNIZED", "Unrecognized request");
  else
    /* Synapse 1.67 ClientWellKnownResource.render_GET() without
     * serve_client_wellknown / public_baseurl */
    reply_raw (reply, 404, "text/plain", ".well-known not available");
}

static void
handle_federation_version (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  json_object *obj = json_object_new_object ();
  json_object *server = json_object_new_object ();

  (void) self, (void) req, (void) who, (void) args;
  json_object_object_add (server, "name", json_object_new_string ("Dendrite"));
  json_object_object_add (server, "version", json_object_new_string (DENDRITE_VERSION));
  json_object_object_add (obj, "server", server);
  reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Routing */

typedef enum {
  AUTH_NONE,
  AUTH_USER,
  AUTH_ADMIN,
} AuthKind;

/* which flavours serve a route */
#define FOR_SYNAPSE (1u << TEST_HOMESERVER_SYNAPSE)
#define FOR_DENDRITE (1u << TEST_HOMESERVER_DENDRITE)
#define FOR_BOTH (FOR_SYNAPSE | FOR_DENDRITE)

typedef struct {
  const gchar *method;
  const gchar *pattern; /* "{}" captures one segment, "{v}" is r0 or v3 */
  AuthKind auth;
  HandlerFunc func;
  guint flavours;
} Route;

static const Route routes[] = {
  { "GET", "_matrix/client/versions", AUTH_NONE, handle_versions, FOR_BOTH },
  { "GET", "_matrix/client/{v}/login", AUTH_NONE, handle_login_flows, FOR_BOTH },
  { "POST", "_matrix/client/{v}/login", AUTH_NONE, handle_login, FOR_BOTH },
  { "POST", "_matrix/client/{v}/logout", AUTH_USER, handle_logout, FOR_BOTH },
  { "GET", "_matrix/client/{v}/account/whoami", AUTH_USER, handle_whoami, FOR_BOTH },
  { "POST", "_matrix/client/{v}/createRoom", AUTH_USER, handle_create_room, FOR_BOTH },
  { "GET", "_matrix/client/{v}/rooms/{}/state", AUTH_USER, handle_room_state_all, FOR_BOTH },
  { "GET", "_matrix/client/{v}/rooms/{}/state/{}", AUTH_USER, handle_room_state, FOR_BOTH },
  { "GET", "_matrix/client/{v}/rooms/{}/state/{}/{}", AUTH_USER, handle_room_state, FOR_BOTH },
  { "GET", "_matrix/client/{v}/rooms/{}/joined_members", AUTH_USER, handle_joined_members, FOR_BOTH },
  { "GET", "_matrix/client/{v}/joined_rooms", AUTH_USER, handle_joined_rooms, FOR_BOTH },
  { "POST", "_matrix/client/{v}/account/deactivate", AUTH_USER, handle_account_deactivate, FOR_BOTH },
  /* the token is optional: the handler authenticates when there is one */
  { "POST", "_matrix/client/{v}/account/password", AUTH_NONE, handle_account_password, FOR_SYNAPSE },
  { "POST", "_matrix/client/{v}/rooms/{}/leave", AUTH_USER, handle_room_leave, FOR_BOTH },
  { "POST", "_matrix/client/{v}/rooms/{}/forget", AUTH_USER, handle_room_forget, FOR_BOTH },
  { "GET", ".well-known/matrix/client", AUTH_NONE, handle_well_known, FOR_BOTH },
  { "GET", "_matrix/federation/v1/version", AUTH_NONE, handle_federation_version, FOR_DENDRITE },
  { "GET", "_synapse/admin/v1/register", AUTH_NONE, handle_register_nonce, FOR_BOTH },
  { "POST", "_synapse/admin/v1/register", AUTH_NONE, handle_register, FOR_BOTH },
  { "GET", "_synapse/admin/v1/server_version", AUTH_NONE, handle_server_version, FOR_BOTH },
  { "GET", "_synapse/admin/v1/users/{}/admin", AUTH_ADMIN, handle_user_admin, FOR_BOTH },
  { "GET", "_synapse/admin/v2/users/{}", AUTH_ADMIN, handle_get_user, FOR_BOTH },
  { "PUT", "_synapse/admin/v2/users/{}", AUTH_ADMIN, handle_put_user, FOR_BOTH },
  { "GET", "_synapse/admin/v1/username_available", AUTH_ADMIN, handle_username_available, FOR_BOTH },
  { "POST", "_synapse/admin/v1/users/{}/login", AUTH_ADMIN, handle_login_as_user, FOR_BOTH },
  { "POST", "_synapse/admin/v1/deactivate/{}", AUTH_ADMIN, handle_deactivate, FOR_BOTH },
  { "DELETE", "_synapse/admin/v1/rooms/{}", AUTH_ADMIN, handle_delete_room, FOR_BOTH },
  { "GET", "_synapse/admin/v1/rooms/{}", AUTH_ADMIN, handle_admin_room, FOR_BOTH },
  { "GET", "_synapse/admin/v1/rooms/{}/state", AUTH_ADMIN, handle_admin_room_state, FOR_BOTH },
  { "GET", "_synapse/admin/v2/users/{}/devices", AUTH_ADMIN, handle_admin_user_devices, FOR_BOTH },
  { "GET", "_synapse/admin/v1/users/{}/joined_rooms", AUTH_ADMIN, handle_admin_user_joined_rooms, FOR_BOTH },
  { "POST", "_synapse/admin/v1/reset_password/{}", AUTH_ADMIN, handle_reset_password, FOR_BOTH },
};

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
static gboolean
authenticate_locked (TestHomeserver *self, Request *req, Requester *who, Reply *reply)
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
          reply_error (reply, 401, "M_MISSING_TOKEN", "Invalid Authorization header.");
          return FALSE;
        }
      header_token = g_strdup (parts[1]);
    }
  if (header_token != NULL && query_token != NULL)
    {
      reply_error (reply, 400, "M_MISSING_TOKEN",
                   "Mixing Authorization headers and access_token query parameters.");
      return FALSE;
    }
  token_str = header_token != NULL ? header_token : query_token;
  if (token_str == NULL)
    {
      reply_error (reply, 401, "M_MISSING_TOKEN", "Missing access token.");
      return FALSE;
    }
  token = g_hash_table_lookup (self->tokens, token_str);
  if (token == NULL || !token_is_valid (token))
    {
      reply_unknown_token (reply);
      return FALSE;
    }
  /* Auth.get_user_by_req() records the client IP before the handler runs,
   * whatever the handler answers. Synapse writes it at most once per 2 min
   * per token and IP (LAST_SEEN_GRANULARITY); here every request counts, so
   * that tests can see it move. Puppet tokens have no device. */
  if (token->device_id != NULL)
    {
      Device *device = lookup_device (self, token->user_id, token->device_id);

      if (device != NULL)
        {
          device->last_seen_ts = now_ms ();
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

/* Dendrite routes only /_synapse/admin/v1/register under /_synapse, and
 * only while a shared secret is configured */
static gboolean
dendrite_knows_path_locked (TestHomeserver *self, gchar **segments)
{
  if (g_strcmp0 (segments[0], "_synapse") != 0)
    return TRUE;
  return self->registration_secret != NULL
         && g_strv_equal ((const gchar *const *) segments,
                          (const gchar *const[]) { "_synapse", "admin", "v1", "register", NULL });
}

static void
handle_request (TestHomeserver *self, Request *req, Reply *reply)
{
  g_autoptr(GPtrArray) captures = g_ptr_array_new ();
  const Route *route = NULL;
  gboolean path_known = FALSE;
  Requester who = { NULL, NULL, NULL };
  guint flavour_bit;

  if (req->segments == NULL)
    {
      reply_error (reply, 404, "M_UNRECOGNIZED", "Unrecognized request");
      return;
    }

  g_mutex_lock (&self->lock);
  flavour_bit = 1u << self->flavour;
  if (self->flavour == TEST_HOMESERVER_DENDRITE && !dendrite_knows_path_locked (self, req->segments))
    {
      reply_error (reply, 404, "M_UNRECOGNIZED", "Unrecognized request");
      goto out;
    }
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      if ((routes[i].flavours & flavour_bit) == 0
          || !route_matches (&routes[i], req->segments, captures))
        continue;
      path_known = TRUE;
      if (g_strcmp0 (routes[i].method, req->method) == 0)
        {
          route = &routes[i];
          break;
        }
    }
  if (route == NULL)
    {
      if (path_known)
        reply_error (reply, 405, "M_UNRECOGNIZED", "Unrecognized request");
      else
        reply_error (reply, 404, "M_UNRECOGNIZED", "Unrecognized request");
      goto out;
    }

  if (route->auth != AUTH_NONE && !authenticate_locked (self, req, &who, reply))
    goto out;
  if (route->auth == AUTH_ADMIN)
    {
      User *user = lookup_user (self, who.user_id);
      if (user == NULL || !user->admin)
        {
          reply_error (reply, 403, "M_FORBIDDEN", "You are not a server admin");
          goto out;
        }
    }
  route->func (self, req, &who, (gchar **) captures->pdata, reply);
out:
  g_mutex_unlock (&self->lock);
  requester_clear (&who);
}

/* ------------------------------------------------------------------------ */
/* Answering, faults and delays; server thread only */

static void
send_reply (SoupServerMessage *msg, guint status, const gchar *content_type,
            const gchar *body, gssize len)
{
  if (len < 0)
    len = strlen (body);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, body, len);
}

static void
send_json_reply (SoupServerMessage *msg, Reply *reply)
{
  const gchar *text;

  if (reply->raw != NULL)
    {
      send_reply (msg, reply->status,
                  reply->content_type != NULL ? reply->content_type : "application/json",
                  reply->raw, -1);
      return;
    }
  text = json_object_to_json_string_ext (reply->json,
                                         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  send_reply (msg, reply->status, "application/json", text, -1);
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
static guint
apply_fault (SoupServerMessage *msg, const TestFault *fault)
{
  switch (fault->kind)
    {
    case TEST_FAULT_STATUS:
      send_reply (msg, fault->status,
                  fault->content_type != NULL ? fault->content_type : "application/json",
                  fault->body != NULL ? fault->body : "", -1);
      return fault->status;

    case TEST_FAULT_HTML_502:
      send_reply (msg, 502, "text/html", html_502, -1);
      return 502;

    case TEST_FAULT_RATE_LIMIT:
      {
        Reply reply = { 0, NULL, NULL, NULL };
        reply_rate_limited (&reply, fault->retry_after_ms);
        if (fault->retry_after_header)
          {
            g_autofree gchar *secs = g_strdup_printf ("%u", (fault->retry_after_ms + 999) / 1000);
            soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                          "Retry-After", secs);
          }
        send_json_reply (msg, &reply);
        json_object_put (reply.json);
        return 429;
      }

    case TEST_FAULT_MALFORMED_JSON:
      send_reply (msg, 200, "application/json", "{\"access_token\": \"syt_trunc", -1);
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

static void
request_finish (TestHomeserver *self, Request *req)
{
  Reply reply = { 0, NULL, NULL, NULL };
  const TestFault *fault = req->fault != NULL ? &req->fault->fault : NULL;
  gboolean dendrite;
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
  dendrite = self->flavour == TEST_HOMESERVER_DENDRITE;
  g_mutex_unlock (&self->lock);
  if (fault != NULL)
    status = apply_fault (req->msg, fault);
  else
    {
      /* Go's net/http sends no Server header; libsoup added one already */
      if (dendrite)
        soup_message_headers_remove (soup_server_message_get_response_headers (req->msg), "Server");
      send_json_reply (req->msg, &reply);
      status = reply.status;
    }
  reply_clear (&reply);

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
  req->user_agent = g_strdup (soup_message_headers_get_one (headers, "User-Agent"));
  if (req->user_agent == NULL)
    req->user_agent = g_strdup ("");
  req->remote_ip = g_strdup (soup_server_message_get_remote_host (msg));
  req->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  req->body_len = g_bytes_get_size (body);
  return req;
}

static FaultRule *
find_fault_locked (TestHomeserver *self, const gchar *method, const gchar *path)
{
  FaultRule *hit = NULL;

  /* every matching rule counts the request, so each rule's skip/count is
   * independent of the others; the first rule due wins */
  for (guint i = 0; i < self->faults->len; i++)
    {
      FaultRule *rule = g_ptr_array_index (self->faults, i);
      guint index;

      if (!method_matches (rule->method, method) || !path_matches (rule->path, path))
        continue;
      index = rule->seen++;
      if (hit == NULL && index >= rule->skip && index - rule->skip < rule->count)
        hit = rule;
    }
  return hit != NULL ? fault_rule_copy (hit) : NULL;
}

/* Server time of a real Synapse 1.67 for each request mxprov makes
 * (matrix-api-notes.md, "Costs measured"): bcrypt for a password login and
 * for setting a password, 0.2 s for createRoom, ~5 ms for the rest. A
 * password change may pay bcrypt twice: checking the old password of its
 * UIA stage, and hashing new_password (which Synapse does even while the
 * auth is still incomplete, to keep the hash in the session). */
static guint
synapse_cost_ms (const Request *req)
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

static void
server_callback (SoupServer *server, SoupServerMessage *msg, const char *path,
                 GHashTable *query, gpointer user_data)
{
  TestHomeserver *self = user_data;
  Request *req = request_new (self, msg, path, query);
  const gchar *raw_query = g_uri_get_query (soup_server_message_get_uri (msg));
  LogEntry *entry = g_new0 (LogEntry, 1);
  guint delay_ms;

  (void) server;
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
  req->fault = find_fault_locked (self, req->method, req->path);
  delay_ms = self->request_delay_ms;
  if (self->synapse_costs)
    delay_ms += synapse_cost_ms (req);
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
  TestHomeserver *self = user_data;
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
  if (!soup_server_accept_iostream (self->server, stream, local, remote, &error))
    g_warning ("cannot serve a connection: %s", error->message);
  return TRUE;
}

/* Listens on a loopback port that is never announced (see server_thread). */
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

static gpointer
server_thread (gpointer data)
{
  TestHomeserver *self = data;
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  GError *error = NULL;

  g_main_context_push_thread_default (self->context);
  server = soup_server_new ("server-header", "Synapse/" SERVER_VERSION, NULL);
  self->server = server;
  soup_server_add_handler (server, NULL, server_callback, self, NULL);

  /* libsoup 3.2 keeps a connection alive after an answer only when the
   * server has a listener of its own; without one every answer closed its
   * connection, unlike Synapse, and clients never reused one. A listening
   * socket that nobody connects to makes libsoup behave as a real server. */
  if (!listen_placeholder (server, &error))
    {
      g_mutex_lock (&self->lock);
      self->start_error = error;
      self->thread_ready = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      g_clear_object (&server);
      g_main_context_pop_thread_default (self->context);
      return NULL;
    }

  /* We accept connections ourselves and hand them to libsoup, because
   * soup_server_listen() in libsoup 3.2 leaks the GSocket of every
   * connection it accepts, which would drown real leaks under valgrind.
   * Only loopback IPv4: these servers hold test secrets. */
  service = g_socket_service_new ();
  address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  if (g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error))
    {
      g_signal_connect (service, "incoming", G_CALLBACK (incoming_cb), self);
      g_socket_service_start (service);
    }
  if (error != NULL)
    {
      g_mutex_lock (&self->lock);
      self->start_error = error;
      self->thread_ready = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      g_clear_object (&service);
      g_clear_object (&server);
      g_main_context_pop_thread_default (self->context);
      return NULL;
    }
  g_mutex_lock (&self->lock);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  self->thread_ready = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  g_main_loop_run (self->loop);

  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_signal_handlers_disconnect_by_func (service, incoming_cb, self);
  for (guint i = 0; i < self->pending->len; i++)
    {
      Request *req = g_ptr_array_index (self->pending, i);
      g_source_destroy (req->delay_source);
      request_free (req);
    }
  g_ptr_array_set_size (self->pending, 0);
  soup_server_disconnect (server);
  g_clear_object (&service);
  self->server = NULL;
  g_clear_object (&server);
  /* let GIO and libsoup finish closing what was just dropped */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Public API */

TestHomeserver *
test_homeserver_new (const gchar *server_name)
{
  TestHomeserver *self = g_new0 (TestHomeserver, 1);

  self->server_name = g_strdup (server_name != NULL ? server_name : "example.test");
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->users = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) user_free);
  self->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) token_free);
  self->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) device_free);
  self->rooms = g_ptr_array_new_with_free_func ((GDestroyNotify) room_free);
  self->rate_buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->faults = g_ptr_array_new_with_free_func ((GDestroyNotify) fault_rule_free);
  self->log = g_ptr_array_new_with_free_func ((GDestroyNotify) log_entry_free);
  self->raw = g_string_new (NULL);
  self->pending = g_ptr_array_new ();
  self->nonces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->uia_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) uia_session_free);
  self->login_rate_limit = TRUE;
  self->password_login = TRUE;
  self->flavour = TEST_HOMESERVER_SYNAPSE;
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
  g_free (self->registration_secret);
  g_free (self->well_known_body);
  g_free (self->url);
  g_clear_object (&self->tls_certificate);
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
  add_user_locked (self, localpart, password, NULL, admin);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_tls_certificate (TestHomeserver *self, GTlsCertificate *certificate)
{
  g_return_if_fail (self->thread == NULL);
  g_set_object (&self->tls_certificate, certificate);
}

void
test_homeserver_set_login_rate_limit (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->login_rate_limit = enabled;
  g_hash_table_remove_all (self->rate_buckets);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_password_login (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->password_login = enabled;
  g_mutex_unlock (&self->lock);
}

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

void
test_homeserver_set_flavour (TestHomeserver *self, TestHomeserverFlavour flavour)
{
  g_return_if_fail (flavour == TEST_HOMESERVER_SYNAPSE || flavour == TEST_HOMESERVER_DENDRITE);

  g_mutex_lock (&self->lock);
  self->flavour = flavour;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_set_registration_secret (TestHomeserver *self, const gchar *secret)
{
  g_mutex_lock (&self->lock);
  g_free (self->registration_secret);
  /* both servers treat an empty secret as none */
  self->registration_secret = secret != NULL && secret[0] != '\0' ? g_strdup (secret) : NULL;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_expire_nonces (TestHomeserver *self)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove_all (self->nonces);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_add_nonce (TestHomeserver *self, const gchar *nonce)
{
  g_return_if_fail (nonce != NULL);

  g_mutex_lock (&self->lock);
  nonce_add_locked (self, nonce);
  g_mutex_unlock (&self->lock);
}

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

gboolean
test_homeserver_user_exists (TestHomeserver *self, const gchar *user_id)
{
  gboolean ret;

  g_mutex_lock (&self->lock);
  ret = lookup_user (self, user_id) != NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_user_is_deactivated (TestHomeserver *self, const gchar *user_id)
{
  User *user;
  gboolean ret;

  g_mutex_lock (&self->lock);
  user = lookup_user (self, user_id);
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
  user = lookup_user (self, user_id);
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
  user = lookup_user (self, user_id);
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
  user = lookup_user (self, user_id);
  ret = user != NULL ? g_strdup (user->displayname) : NULL;
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
  device = lookup_device (self, user_id, device_id);
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
      if (g_strcmp0 (token->user_id, user_id) == 0 && token_is_valid (token))
        ret++;
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_issue_token (TestHomeserver *self, const gchar *user_id)
{
  g_autofree gchar *device_id = random_string (UPPERCASE, 10);
  gchar *ret;

  g_mutex_lock (&self->lock);
  device_register_locked (self, user_id, device_id, "admin's own session");
  ret = g_strdup (add_token_locked (self, user_id, user_id, device_id, 0)->token);
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
      if (room_has_member (room, user_id))
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
  ret = lookup_room (self, room_id) != NULL;
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
  room = lookup_room (self, room_id);
  ret = room != NULL && room_has_member (room, user_id);
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_room_get_creator (TestHomeserver *self, const gchar *room_id)
{
  Room *room;
  gchar *ret;

  g_mutex_lock (&self->lock);
  room = lookup_room (self, room_id);
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
  room = lookup_room (self, room_id);
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
  room = lookup_room (self, room_id);
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
  room = lookup_room (self, room_id);
  if (room != NULL)
    ev = room_lookup_state (room, type, state_key != NULL ? state_key : "", NULL);
  if (ev != NULL)
    ret = json_copy (ev->content);
  g_mutex_unlock (&self->lock);
  return ret;
}

json_object *
test_homeserver_room_get_create_request (TestHomeserver *self, const gchar *room_id)
{
  Room *room;
  json_object *ret = NULL;

  g_mutex_lock (&self->lock);
  room = lookup_room (self, room_id);
  if (room != NULL)
    ret = json_copy (room->create_request);
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
      if (method_matches (method, entry->method)
          && (path == NULL || path_matches (path, entry->path)))
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
