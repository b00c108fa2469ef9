/* test-homeserver-private.h: what the test homeserver's source files share.
 *
 * The server is split by API family (see the list of files in
 * test-homeserver.c); the types of its in-memory state, the request and
 * reply, the routing table and the flavour descriptions are here, with every
 * function one family calls in another. They are all prefixed hs_ so that
 * nothing collides with the programs that link the library.
 *
 * Locking: every hs_*_locked function and every handler runs with
 * self->lock held; the handlers take it for the whole request.
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "test-homeserver.h"

G_BEGIN_DECLS

/* json-c has no autoptr support of its own */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_object, json_object_put)

#define LOGIN_BURST 3
#define LOGIN_PERIOD_MS 6000
#define MAX_PASSWORD_LENGTH 512
#define MAX_USER_ID_LENGTH 255
#define DENDRITE_MAX_USER_ID_LENGTH 254
#define DENDRITE_MIN_PASSWORD_LENGTH 8
#define DENDRITE_SHARED_SECRET_DEVICE "shared_secret_registration"
#define MAX_DEVICE_DISPLAY_NAME_LEN 100 /* synapse/handlers/device.py */

#define ALPHANUMERIC "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define LETTERS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define UPPERCASE "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define URLSAFE_BASE64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* UIA stage types */
#define UIA_PASSWORD "m.login.password"
#define UIA_EMAIL "m.login.email.identity"
#define UIA_DUMMY "m.login.dummy"
#define UIA_TOKEN "m.login.registration_token"

typedef struct _Flavour Flavour;
typedef struct _MasState MasState;

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
  gboolean locked;     /* Synapse 1.91+ admin lock */
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

/* One of Synapse's Ratelimiter configurations: a leaky bucket holding
 * `burst` actions that drains one every `period_ms` */
typedef struct {
  const gchar *name; /* keeps the buckets of different limiters apart */
  guint burst;
  guint period_ms;
  TestRateLimit limit; /* the switch that turns it off */
} RateLimit;

/* A registration token (Synapse's registration_tokens table, Tuwunel's and
 * continuwuity's database tokens, Conduit's static one) */
typedef struct {
  gchar *token;
  gint64 uses_allowed; /* -1: null, unlimited */
  guint pending;
  guint completed;     /* Tuwunel, continuwuity: the uses */
  gint64 expiry_time;  /* epoch ms; 0: null, never */
} RegToken;

/* A user-interactive-auth session */
typedef struct {
  gchar *id;
  gchar *method;    /* Synapse binds a session to the request's method and URI */
  gchar *path;
  gchar *validated; /* Synapse: the user ID the password stage proved, or NULL */
  json_object *clientdict; /* Synapse: the request's parameters, kept for later stages */
  gchar *new_password;     /* Synapse account/password: PASSWORD_HASH, kept in clear here */
  GPtrArray *completed;    /* stage types passed, in order (Synapse: its creds) */
  /* Synapse registration: the session data keys of UIAuthSessionDataConstants */
  gchar *password_hash;      /* PASSWORD_HASH, in clear here */
  gchar *registration_token; /* REGISTRATION_TOKEN: the token the stage accepted */
  gboolean token_used;       /* the stage result became True: no pending to give back */
  gchar *registered_user_id; /* REGISTERED_USER_ID */
  /* the Conduit family: the session's own UiaaInfo */
  gchar *owner;       /* the user the session is for; "" for registration */
  GPtrArray *flows;   /* GStrv each */
} UiaSession;

/* MAS (the mas flavour's Matrix Authentication Service): its static
 * OAuth 2.0 clients (MAS crates/config/src/sections/clients.rs) */
typedef struct {
  gchar *client_id;
  gchar *secret;        /* NULL: a public client (token_endpoint_auth_method none) */
  gboolean admin;       /* listed in policy.data.admin_clients */
} MasClient;

/* A MAS user (MAS crates/data-model/src/users.rs); times are epoch us, 0: null */
typedef struct {
  gchar *id;            /* ULID */
  gchar *username;      /* the Matrix localpart */
  gint64 created_at;
  gint64 locked_at;
  gint64 deactivated_at;
  gboolean admin;       /* can_request_admin */
  gchar *password;      /* the active password, in clear here; NULL: none set */
} MasUser;

/* A client-credentials OAuth 2.0 session and its one access token: what
 * POST /oauth2/token hands out */
typedef struct {
  gchar *session_id;    /* ULID */
  gchar *token;         /* mat_... */
  gchar *client_id;
  gchar *scope;         /* normalised: sorted tokens, one space apart; may be "" */
  gint64 created_at;
  gint64 expires_at;
  gboolean finished;    /* the session ended (revoked) */
} MasAdminToken;

/* A personal session and its current personal access token (MAS >= 1.5.0) */
typedef struct {
  gchar *id;            /* ULID */
  gchar *owner_client_id; /* the admin client that made it, or NULL */
  gchar *owner_user_id; /* or the MasUser whose personal session made it */
  gchar *actor_user_id; /* the MasUser it acts as */
  gchar *human_name;
  gchar *scope;         /* normalised */
  gint64 created_at;
  gint64 revoked_at;
  gchar *token;         /* mpt_... */
  gint64 expires_at;    /* 0: never */
} MasPersonalSession;

/* A compatibility session: a password login through the compat API */
typedef struct {
  gchar *id;            /* ULID */
  gchar *user_id;       /* the MasUser */
  gchar *device_id;
  gchar *token;         /* mct_... */
  gchar *refresh_token; /* mcr_..., or NULL */
  gint64 token_expires_at; /* 0: never (no refresh_token asked) */
  gchar *human_name;    /* initial_device_display_name */
  gchar *user_agent;
  gint64 created_at;
  gint64 finished_at;
} MasCompatSession;

struct _MasState {
  GPtrArray *clients;   /* MasClient */
  GPtrArray *users;     /* MasUser, in creation order */
  GPtrArray *admin_tokens;      /* MasAdminToken */
  GPtrArray *personal_sessions; /* MasPersonalSession */
  GPtrArray *compat_sessions;   /* MasCompatSession */
  gchar *version;       /* "1.22.0" */
  guint token_ttl_s;    /* experimental.access_token_ttl */
  gboolean password_login; /* passwords.enabled */
  guint minimum_complexity; /* passwords.minimum_complexity */
  gint64 ulid_ms;       /* the last ULID's time and random part, to keep them ordered */
  guint8 ulid_random[10];
  gchar *url;           /* "http://127.0.0.1:PORT" while it listens, else NULL */
};

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
  gboolean rate_limits[TEST_RATE_LIMIT_TOKEN_VALIDITY + 1]; /* the others, by TestRateLimit */
  gboolean password_login;
  guint request_delay_ms;
  gboolean synapse_costs;
  const Flavour *flavour;   /* what server to imitate */
  gboolean federation_listener; /* Synapse 1.67: the client port serves federation */
  TestRegistration registration;
  GPtrArray *reg_tokens;        /* RegToken, in creation order */
  guint next_generated_user;    /* Synapse's generate_user_id() */
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
  guint mas_port;     /* 0: MAS is not listening (not the mas flavour at start) */

  GThread *thread;
  GMainContext *context;
  guint n_connections;              /* under lock */
  GMainLoop *loop;
  gchar *url;
  GPtrArray *pending; /* Request held back by a delay; server thread only */
  GTlsCertificate *tls_certificate; /* serve https when set; set before start */
  SoupServer *server;               /* server thread only */
  SoupServer *mas_server;           /* server thread only; the mas flavour's second port */

  /* The Matrix Authentication Service of the mas flavour: its clients,
   * users, sessions and tokens (test-homeserver-mas.c), under lock. It is
   * kept for every flavour, so that users seeded before the flavour is
   * chosen exist in MAS too; only the mas flavour looks at it. */
  MasState *mas;
};

/* An answer: JSON, or (raw != NULL) a body sent as is */
typedef struct {
  guint status;
  json_object *json;
  gchar *raw;
  const gchar *content_type; /* for raw; NULL = application/json, HS_NO_CONTENT_TYPE: none */
  guint retry_after_s;       /* a Retry-After header; 0: none */
  const gchar *const *headers; /* static NULL-terminated name, value pairs to add, or NULL */
} Reply;

/* Reply.content_type of an answer without a body type (MAS's empty 200s and 204s) */
#define HS_NO_CONTENT_TYPE ""

typedef struct {
  TestHomeserver *self;
  SoupServerMessage *msg;
  gchar *method;
  gchar *path;       /* percent-decoded */
  gchar **segments;  /* percent-decoded; NULL if the path has a bad escape */
  GHashTable *query; /* decoded parameters, or NULL */
  gchar *authorization;
  gchar *content_type; /* the Content-Type header, or NULL */
  gchar *user_agent; /* "" without a User-Agent header, as Synapse records it */
  gchar *remote_ip;
  gchar *body;
  gsize body_len;
  guint log_index;
  FaultRule *fault; /* a private copy, or NULL */
  GSource *delay_source;
  gboolean paused;
  gboolean allow_locked;     /* the route lets a locked user through */
  gboolean handled;          /* handled on arrival, answer held back */
  Reply early;               /* its answer */
  gboolean mas_port;         /* it came to the MAS listener of the mas flavour */
  gboolean answered_by_mas;  /* MAS answered it (its own port, or the compat API the
                              * reverse proxy sends it): no Synapse Server header */
} Request;

typedef struct {
  gchar *user_id;
  gchar *device_id;
  gchar *token;
  gboolean scoped_admin; /* mas: the token's scope holds urn:synapse:admin:* */
} Requester;

typedef void (*HandlerFunc) (TestHomeserver *self, Request *req, Requester *who,
                             gchar **args, Reply *reply);
/* declares a HandlerFunc */
#define HS_HANDLER(name) \
  void name (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)

typedef enum {
  UIA_DONE,       /* the flow is complete */
  UIA_INCOMPLETE, /* `reply` holds the 401 challenge */
  UIA_FAILED,     /* `reply` holds an error */
} UiaResult;

typedef enum {
  AUTH_NONE,
  AUTH_USER,
  AUTH_ADMIN,
} AuthKind;

typedef struct {
  const gchar *method;
  const gchar *pattern; /* "{}" captures one segment, "{v}" is r0 or v3 */
  AuthKind auth;
  HandlerFunc func;
  guint flavours;       /* FOR_* bits of the flavours that serve it */
  gboolean allow_locked; /* a locked user may still call it (logout) */
} Route;

/* How the flavours of the Conduit family run user-interactive auth
 * (backends-2026.md 2.5; TUW/CTW src/service/uiaa/mod.rs) */
typedef struct {
  /* a session the server does not know: status, errcode, text */
  guint unknown_session_status;
  const gchar *unknown_session_errcode;
  const gchar *unknown_session_text;
  /* continuwuity: 400 M_INVALID_PARAM for a stage no flow lists */
  gboolean refuse_stage_outside_flows;
  /* continuwuity: a stage already completed is not checked again */
  gboolean skip_completed_stages;
  /* a password stage naming another user than the session's: continuwuity
   * fails the stage (M_INVALID_PARAM "User ID mismatch"), Tuwunel refuses
   * the request (403) */
  gboolean mismatch_fails_stage;
  const gchar *bad_token_text;     /* 401, M_FORBIDDEN */
  const gchar *bad_password_text;  /* 401, M_FORBIDDEN */
  /* "params" of a registration challenge and of a password one: NULL
   * leaves it out, else this JSON text */
  const gchar *register_params;
  const gchar *password_params;
  const gchar *deactivate_result; /* id_server_unbind_result of self-deactivation */
} ConduitUia;

typedef enum {
  TOKENS_SYNAPSE,      /* pending/completed, 0 uses_allowed = unlimited */
  TOKENS_STATIC,       /* Conduit: config tokens, unlimited, not counted */
  TOKENS_TUWUNEL,      /* uses counted at the stage, deleted once used up */
  TOKENS_CONTINUWUITY, /* uses counted at the stage */
} TokenStyle;

typedef enum {
  LOGIN_LIMITS_NONE,
  LOGIN_LIMITS_1_67,   /* as modelled from the start: per account, every attempt */
  LOGIN_LIMITS_1_79,   /* per address, failed attempts, then per account on success */
} LoginLimits;

/* What tells the imitated servers apart: data, and a hook where the
 * behaviour really differs. One per TestHomeserverFlavour, in
 * test-homeserver-flavours.c, where hs_routes[] also says which flavours
 * serve which route. */
struct _Flavour {
  TestHomeserverFlavour id;
  const gchar *name;            /* for test_homeserver_set_flavour_by_name() and --flavour */
  const gchar *title;           /* "Synapse 1.67": what it imitates, for --help */
  const gchar *version;         /* the server's version string */
  const gchar *federation_name; /* server.name of GET /_matrix/federation/v1/version */
  const gchar *federation_compiler; /* server.compiler there (Tuwunel), or NULL */
  gboolean federation_always;   /* FALSE: only with test_homeserver_set_federation_listener() */
  const gchar *server_header;   /* the Server header of its answers; NULL: none */
  const gchar *python_version;  /* server_version's python_version (Synapse < 1.94), or NULL */
  const gchar *const *client_versions; /* GET /_matrix/client/versions */
  /* login */
  gboolean login_home_server;   /* POST /login answers home_server */
  const gchar *login_forbidden_text; /* 403 M_FORBIDDEN: wrong password or no such user */
  LoginLimits login_limits;
  gboolean retry_after_header;  /* 429s carry Retry-After (Synapse >= 1.103) */
  /* locked users (Synapse 1.91+, Tuwunel): 401 M_USER_LOCKED */
  gboolean locks_users;
  const gchar *locked_text;
  gboolean locked_soft_logout;
  /* registration */
  gboolean localpart_plus;      /* check_username() takes '+' (Synapse >= 1.115) */
  TokenStyle token_style;
  const ConduitUia *uia;        /* the Conduit family's UIA, or NULL */
  /* new_user_displayname_suffix of the Conduit family: the default display
   * name is "localpart suffix"; NULL: the localpart (Synapse) */
  const gchar *displayname_suffix;
  /* rooms */
  const gchar *default_room_version;
  guint max_room_version;       /* the room versions 1..max are known */
  gboolean room_creation_limit; /* rc_room_creation (Synapse >= 1.136) */
  /* the admin API */
  guint put_user_created_status; /* PUT user for a new user: 201, Tuwunel 200 */
  /* shared-secret registration nonces */
  guint nonce_lifetime_s;
  const gchar *nonce_alphabet;
  guint nonce_length;
  /* GET /.well-known/matrix/client without delegation configured: a 404
   * with this content type and body, or (absent_type NULL) this JSON error */
  const gchar *well_known_absent_type;
  const gchar *well_known_absent_body;
  const gchar *well_known_absent_errcode;
  /* error texts */
  const gchar *unrecognized_text;       /* 404 M_UNRECOGNIZED: no such path */
  const gchar *method_not_allowed_text; /* 405 M_UNRECOGNIZED: the path with another method */
  const gchar *not_admin_text;          /* 403 M_FORBIDDEN on an admin route */
  /* Synapse with its login delegated to MAS (the mas flavour): MAS runs
   * on a second port, and Synapse asks it about every access token */
  gboolean delegated_auth;
  /* an admin is a token whose scope holds urn:synapse:admin:* (SYN
   * synapse/api/auth/mas.py is_server_admin()), not a user flag */
  gboolean admin_by_scope;
  /* hooks; a handler hook is NULL where hs_routes[] does not send the
   * flavour to the endpoint */
  /* the access token of a request: fills `who`, or answers 401; NULL: the
   * server's own token table (hs_authenticate_locked) */
  gboolean (*authenticate) (TestHomeserver *self, Request *req, const gchar *token, Requester *who,
                            Reply *reply);
  /* FALSE: answer a path 404 before routing, whatever hs_routes[] says;
   * NULL: routing decides alone */
  gboolean (*serves_path) (TestHomeserver *self, gchar **segments);
  HandlerFunc shared_secret_register; /* POST /_synapse/admin/v1/register */
  HandlerFunc self_deactivate;        /* POST /_matrix/client/v3/account/deactivate */
  HandlerFunc client_register;        /* POST /_matrix/client/v3/register */
  HandlerFunc put_user;               /* PUT /_synapse/admin/v2/users/<id> */
  HandlerFunc login_as;               /* POST /_synapse/admin/v1/users/<id>/login */
  /* GET /_synapse/admin/v2/users/<id>: the user's details */
  json_object *(*user_json) (TestHomeserver *self, User *user);
};

/* the route bit of a flavour */
#define FOR_SYNAPSE (1u << TEST_HOMESERVER_SYNAPSE)
#define FOR_SYNAPSE_LATEST (1u << TEST_HOMESERVER_SYNAPSE_LATEST)
#define FOR_DENDRITE (1u << TEST_HOMESERVER_DENDRITE)
#define FOR_CONDUIT (1u << TEST_HOMESERVER_CONDUIT)
#define FOR_CONTINUWUITY (1u << TEST_HOMESERVER_CONTINUWUITY)
#define FOR_TUWUNEL (1u << TEST_HOMESERVER_TUWUNEL)
#define FOR_MAS (1u << TEST_HOMESERVER_SYNAPSE_MAS)
/* the Synapses that log their users in themselves; Synapse under MAS has
 * none of their login, registration and password routes */
#define FOR_SYNAPSES (FOR_SYNAPSE | FOR_SYNAPSE_LATEST)
#define FOR_CONDUITS (FOR_CONDUIT | FOR_CONTINUWUITY | FOR_TUWUNEL)
/* the servers that keep their own accounts and passwords: every flavour
 * but mas */
#define FOR_OWN_AUTH (FOR_SYNAPSES | FOR_DENDRITE | FOR_CONDUITS)
#define FOR_ALL (FOR_OWN_AUTH | FOR_MAS)

/* test-homeserver.c */
gboolean hs_authenticate_locked (TestHomeserver *self, Request *req, Requester *who, Reply *reply);
void hs_send_reply (SoupServerMessage *msg, guint status, const gchar *content_type,
                    const gchar *body, gssize len);
void hs_send_json_reply (SoupServerMessage *msg, Reply *reply);

/* test-homeserver-model.c */
void hs_user_free (User *user);
void hs_token_free (Token *token);
void hs_device_free (Device *device);
void hs_state_event_free (StateEvent *ev);
void hs_room_free (Room *room);
void hs_uia_session_free (UiaSession *session);
void hs_reg_token_free (RegToken *token);
void hs_reply_clear (Reply *reply);
gchar *hs_random_string (const gchar *alphabet, guint len);
gint64 hs_now_ms (void);
json_object *hs_json_copy (json_object *src);
gboolean hs_json_has (json_object *obj, const gchar *key, json_object **value);
json_object *hs_json_nullable_string (const gchar *s);
glong hs_python_len (const gchar *s);
gboolean hs_python_truthy (json_object *value);
gboolean hs_path_matches (const gchar *pattern, const gchar *path);
gboolean hs_method_matches (const gchar *pattern, const gchar *method);
gboolean hs_split_user_id (const gchar *user_id, gchar **localpart, gchar **domain);
gboolean hs_is_local_user_id (TestHomeserver *self, const gchar *user_id);
void hs_reply_json (Reply *reply, guint status, json_object *json);
void hs_reply_raw (Reply *reply, guint status, const gchar *content_type, const gchar *body);
void hs_reply_go_message (Reply *reply, guint status, const gchar *message);
void hs_reply_error (Reply *reply, guint status, const gchar *errcode, const gchar *text);
void hs_reply_unknown_token (Reply *reply);
void hs_reply_user_locked (TestHomeserver *self, Reply *reply);
void hs_reply_rate_limited (Reply *reply, guint retry_after_ms);
void hs_reply_limit_exceeded (TestHomeserver *self, Reply *reply, guint retry_after_ms);
json_object *hs_parse_body (Request *req, gboolean allow_empty, Reply *reply);
User *hs_lookup_user (TestHomeserver *self, const gchar *user_id);
User *hs_lookup_user_caseless (TestHomeserver *self, const gchar *user_id);
User *hs_add_user_locked (TestHomeserver *self, const gchar *localpart, const gchar *password,
                          const gchar *displayname, gboolean admin);
gboolean hs_token_is_valid (const Token *token);
Token *hs_add_token_locked (TestHomeserver *self, const gchar *owner, const gchar *user_id,
                            const gchar *device_id, gint64 valid_until_ms);
Device *hs_lookup_device (TestHomeserver *self, const gchar *user_id, const gchar *device_id);
Device *hs_device_register_locked (TestHomeserver *self, const gchar *user_id, const gchar *device_id,
                                   const gchar *display_name);
gboolean hs_check_device_name_length (const gchar *display_name, Reply *reply);
const gchar *hs_initial_device_display_name (json_object *body);
void hs_logout_user_locked (TestHomeserver *self, const gchar *user_id, const Requester *keep);
gboolean hs_set_password_locked (TestHomeserver *self, const gchar *user_id, const gchar *password,
                                 gboolean logout_devices, const Requester *requester, Reply *reply);
Room *hs_lookup_room (TestHomeserver *self, const gchar *room_id);
gboolean hs_room_find_member (Room *room, const gchar *user_id, guint *index);
gboolean hs_room_has_member (Room *room, const gchar *user_id);
StateEvent *hs_room_lookup_state (Room *room, const gchar *type, const gchar *state_key, guint *index);
void hs_room_send_state (Room *room, const gchar *sender, const gchar *type,
                         const gchar *state_key, json_object *content);
json_object *hs_member_content (const gchar *membership, gboolean with_profile, const gchar *displayname);
void hs_deactivate_user_locked (TestHomeserver *self, User *user, gboolean erase);
gboolean hs_ratelimit_locked (TestHomeserver *self, const RateLimit *limit, const gchar *key,
                              gboolean update, guint *retry_after_ms);
gboolean hs_login_ratelimit_locked (TestHomeserver *self, const gchar *key, guint *retry_after_ms);
gboolean hs_check_username_locked (TestHomeserver *self, const gchar *localpart, Reply *reply);
gboolean hs_parse_user_id_arg (const gchar *user_id, Reply *reply);

/* test-homeserver-flavours.c */
extern const Route hs_routes[];
extern const guint hs_n_routes;
const Flavour *hs_flavour_get (TestHomeserverFlavour id);

/* test-homeserver-client.c */
HS_HANDLER (hs_handle_login_flows);
HS_HANDLER (hs_handle_login);
HS_HANDLER (hs_handle_logout);
HS_HANDLER (hs_handle_whoami);
HS_HANDLER (hs_handle_account_deactivate);
HS_HANDLER (hs_handle_account_password);
HS_HANDLER (hs_account_deactivate_synapse);
HS_HANDLER (hs_account_deactivate_dendrite);
HS_HANDLER (hs_account_deactivate_conduit);

/* test-homeserver-admin.c */
HS_HANDLER (hs_handle_user_admin);
HS_HANDLER (hs_handle_get_user);
HS_HANDLER (hs_handle_put_user);
HS_HANDLER (hs_put_user_synapse_1_67);
HS_HANDLER (hs_put_user_synapse);
HS_HANDLER (hs_handle_username_available);
HS_HANDLER (hs_handle_login_as_user);
HS_HANDLER (hs_login_as_synapse_1_67);
HS_HANDLER (hs_login_as_synapse);
HS_HANDLER (hs_handle_deactivate);
HS_HANDLER (hs_handle_admin_user_devices);
HS_HANDLER (hs_handle_admin_user_joined_rooms);
HS_HANDLER (hs_handle_reset_password);
HS_HANDLER (hs_handle_delete_room);
HS_HANDLER (hs_handle_admin_room);
HS_HANDLER (hs_handle_admin_room_state);
json_object *hs_user_json_synapse_1_67 (TestHomeserver *self, User *user);
json_object *hs_user_json_synapse (TestHomeserver *self, User *user);
json_object *hs_user_json_tuwunel (TestHomeserver *self, User *user);

/* test-homeserver-tuwunel.c */
HS_HANDLER (hs_tuwunel_user_admin);
HS_HANDLER (hs_tuwunel_get_user);
HS_HANDLER (hs_put_user_tuwunel);
HS_HANDLER (hs_tuwunel_username_available);
HS_HANDLER (hs_login_as_tuwunel);
HS_HANDLER (hs_tuwunel_deactivate);
HS_HANDLER (hs_tuwunel_reset_password);

/* test-homeserver-register.c */
HS_HANDLER (hs_handle_register_nonce);
HS_HANDLER (hs_tuwunel_register_nonce);
HS_HANDLER (hs_handle_register);
HS_HANDLER (hs_register_synapse);
HS_HANDLER (hs_register_dendrite);
HS_HANDLER (hs_register_tuwunel);
HS_HANDLER (hs_handle_client_register);
HS_HANDLER (hs_register_client_synapse);
HS_HANDLER (hs_register_client_conduit);
HS_HANDLER (hs_handle_token_validity);
HS_HANDLER (hs_handle_register_available);

/* test-homeserver-uia.c */
extern const gchar *const *const hs_uia_password_flows[];
extern const gchar *const *const hs_uia_email_flows[];
void hs_reply_uia_dendrite (Reply *reply, const gchar *session_id, const gchar *errcode, const gchar *error);
UiaSession *hs_uia_session_new_locked (TestHomeserver *self, Request *req);
const gchar *hs_auth_string (json_object *auth, const gchar *key);
UiaResult hs_uia_check_synapse_locked (TestHomeserver *self, Request *req, json_object *auth,
                                       json_object *clientdict, const gchar *const *const *flows,
                                       UiaSession **session_out, Reply *reply);
UiaResult hs_uia_validate_user_synapse_locked (TestHomeserver *self, Request *req, json_object *auth,
                                               json_object *clientdict, const Requester *who,
                                               UiaSession **session, Reply *reply);
void hs_uia_expire_sessions_locked (TestHomeserver *self);
UiaResult hs_uia_conduit_locked (TestHomeserver *self, const gchar *owner, const gchar *const *const *flows,
                                 const gchar *params, json_object *auth, Reply *reply);

/* test-homeserver-tokens.c */
RegToken *hs_reg_token_lookup (TestHomeserver *self, const gchar *token);
gboolean hs_reg_token_valid_synapse (const RegToken *token);
gboolean hs_reg_token_valid (TestHomeserver *self, const RegToken *token);
void hs_reg_token_consume_locked (TestHomeserver *self, RegToken *token);
gboolean hs_reg_tokens_any_locked (TestHomeserver *self);
HS_HANDLER (hs_handle_reg_tokens_list);
HS_HANDLER (hs_handle_reg_token_new);
HS_HANDLER (hs_handle_reg_token_get);
HS_HANDLER (hs_handle_reg_token_put);
HS_HANDLER (hs_handle_reg_token_delete);

/* test-homeserver-rooms.c */
HS_HANDLER (hs_handle_create_room);
json_object *hs_state_event_json (Room *room, StateEvent *ev);
HS_HANDLER (hs_handle_room_state_all);
HS_HANDLER (hs_handle_room_state);
HS_HANDLER (hs_handle_joined_members);
HS_HANDLER (hs_handle_joined_rooms);
HS_HANDLER (hs_handle_room_leave);
HS_HANDLER (hs_handle_room_forget);

/* test-homeserver-faults.c */
void hs_fault_rule_free (FaultRule *rule);
guint hs_apply_fault (SoupServerMessage *msg, const TestFault *fault);
FaultRule *hs_find_fault_locked (TestHomeserver *self, const gchar *method, const gchar *path);
guint hs_synapse_cost_ms (const Request *req);

/* test-homeserver-mas.c: MAS itself, on its own port */
MasState *hs_mas_state_new (void);
void hs_mas_state_free (MasState *mas);
void hs_mas_handle_request (TestHomeserver *self, Request *req, Reply *reply);
gchar *hs_mas_ulid_new_locked (TestHomeserver *self);
gchar *hs_mas_token_new (const gchar *prefix);
const gchar *hs_mas_token_type (const gchar *token, gchar **format_error);
gchar *hs_mas_base_url_locked (TestHomeserver *self, const gchar *path);
json_object *hs_mas_discovery_json (TestHomeserver *self);
MasUser *hs_mas_lookup_user_by_name (TestHomeserver *self, const gchar *username);
MasUser *hs_mas_lookup_user_by_id (TestHomeserver *self, const gchar *id);
MasUser *hs_mas_add_user_locked (TestHomeserver *self, const gchar *username);
void hs_mas_seed_user_locked (TestHomeserver *self, const gchar *localpart, const gchar *password,
                              gboolean admin);
gchar *hs_mas_user_mxid (TestHomeserver *self, const MasUser *user);
gboolean hs_mas_personal_session_active (const MasPersonalSession *session, gboolean unexpired);
MasCompatSession *hs_mas_lookup_compat_token (TestHomeserver *self, const gchar *token);
MasPersonalSession *hs_mas_lookup_personal_token (TestHomeserver *self, const gchar *token);
MasAdminToken *hs_mas_lookup_admin_token (TestHomeserver *self, const gchar *token);
MasCompatSession *hs_mas_compat_session_start_locked (TestHomeserver *self, MasUser *user, const gchar *device_id,
                                                      const gchar *human_name, const gchar *user_agent);
void hs_mas_sync_devices_locked (TestHomeserver *self, const MasUser *user);
gboolean hs_mas_scope_has (const gchar *scope, const gchar *token);
gboolean hs_mas_is_json_type (const gchar *content_type);
gboolean hs_mas_scope_device (const gchar *scope, gchar **device_id, guint *n_devices);

/* test-homeserver-mas-auth.c: Synapse's side of the delegation and MAS's
 * compat API, on the homeserver port */
gboolean hs_mas_authenticate_locked (TestHomeserver *self, Request *req, const gchar *token, Requester *who,
                                     Reply *reply);
gboolean hs_mas_introspect_locked (TestHomeserver *self, const gchar *token, gchar **scope,
                                   gchar **username, gchar **device_id);
guint hs_mas_count_cs_tokens_locked (TestHomeserver *self, const gchar *user_id);
gchar *hs_mas_issue_token_locked (TestHomeserver *self, const gchar *user_id);
void hs_mas_well_known (TestHomeserver *self, Reply *reply);
HS_HANDLER (hs_mas_handle_auth_metadata);
HS_HANDLER (hs_mas_handle_auth_issuer);
HS_HANDLER (hs_mas_handle_register);
HS_HANDLER (hs_mas_handle_login_flows);
HS_HANDLER (hs_mas_handle_login);
HS_HANDLER (hs_mas_handle_logout);
HS_HANDLER (hs_mas_handle_logout_all);

/* test-homeserver-discovery.c */
HS_HANDLER (hs_handle_versions);
HS_HANDLER (hs_handle_server_version);
HS_HANDLER (hs_handle_brand_server_version);
HS_HANDLER (hs_handle_well_known);
HS_HANDLER (hs_handle_federation_version);

G_END_DECLS
