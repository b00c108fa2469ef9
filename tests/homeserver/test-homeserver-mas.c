/* test-homeserver-mas.c: the mas flavour's Matrix Authentication Service,
 * on its own port.
 *
 * MAS 1.22.0 as backends-2026.md section 1 describes it, and where that is
 * silent as MAS's own source does (element-hq/matrix-authentication-service
 * at 682b8d26; each place below names its file under crates/): OAuth 2.0
 * discovery, the client_credentials grant that gives an admin client its
 * urn:mas:admin token, revocation, and the admin API part mxprov uses
 * (users, passwords, deactivation, personal and compat sessions). What
 * MAS does on the homeserver's behalf (provisioning users, devices, the
 * device sync after a session ends, deactivation) is done to the
 * homeserver's state directly, in the same request, where MAS would call
 * Synapse's /_synapse/mas API or queue a job. Its compat login and
 * Synapse's token introspection are in test-homeserver-mas-auth.c.
 *
 * Everything runs with self->lock held, as the homeserver's handlers do.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include <time.h>

#include "test-homeserver-private.h"

#define MAS_DEFAULT_VERSION "1.22.0"
#define MAS_DEFAULT_TOKEN_TTL_S 300 /* crates/config/src/sections/experimental.rs */
#define MAS_DEFAULT_COMPLEXITY 3    /* crates/config/src/sections/passwords.rs */
#define ADMIN_SCOPE "urn:mas:admin"
#define CROCKFORD "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
/* crates/data-model/src/compat/device.rs */
#define STABLE_DEVICE_PREFIX "urn:matrix:client:device:"
#define UNSTABLE_DEVICE_PREFIX "urn:matrix:org.matrix.msc2967.client:device:"

/* ------------------------------------------------------------------------ */
/* Memory */

static void
mas_client_free (MasClient *client)
{
  g_free (client->client_id);
  g_free (client->secret);
  g_free (client);
}

static void
mas_user_free (MasUser *user)
{
  g_free (user->id);
  g_free (user->username);
  g_free (user->password);
  g_free (user);
}

static void
mas_admin_token_free (MasAdminToken *token)
{
  g_free (token->session_id);
  g_free (token->token);
  g_free (token->client_id);
  g_free (token->scope);
  g_free (token);
}

static void
mas_personal_session_free (MasPersonalSession *session)
{
  g_free (session->id);
  g_free (session->owner_client_id);
  g_free (session->owner_user_id);
  g_free (session->actor_user_id);
  g_free (session->human_name);
  g_free (session->scope);
  g_free (session->token);
  g_free (session);
}

static void
mas_compat_session_free (MasCompatSession *session)
{
  g_free (session->id);
  g_free (session->user_id);
  g_free (session->device_id);
  g_free (session->token);
  g_free (session->refresh_token);
  g_free (session->human_name);
  g_free (session->user_agent);
  g_free (session);
}

MasState *
hs_mas_state_new (void)
{
  MasState *mas = g_new0 (MasState, 1);

  mas->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) mas_client_free);
  mas->users = g_ptr_array_new_with_free_func ((GDestroyNotify) mas_user_free);
  mas->admin_tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) mas_admin_token_free);
  mas->personal_sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) mas_personal_session_free);
  mas->compat_sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) mas_compat_session_free);
  mas->version = g_strdup (MAS_DEFAULT_VERSION);
  mas->token_ttl_s = MAS_DEFAULT_TOKEN_TTL_S;
  mas->password_login = TRUE;
  mas->minimum_complexity = MAS_DEFAULT_COMPLEXITY;
  return mas;
}

void
hs_mas_state_free (MasState *mas)
{
  if (mas == NULL)
    return;
  g_ptr_array_unref (mas->clients);
  g_ptr_array_unref (mas->users);
  g_ptr_array_unref (mas->admin_tokens);
  g_ptr_array_unref (mas->personal_sessions);
  g_ptr_array_unref (mas->compat_sessions);
  g_free (mas->version);
  g_free (mas->url);
  g_free (mas);
}

/* ------------------------------------------------------------------------ */
/* Identifiers, tokens, times, scopes */

static gint64
now_us (void)
{
  return g_get_real_time ();
}

/* A ULID (crates/data-model uses ulid::Ulid::from_datetime_with_rng): 48
 * bits of milliseconds and 80 random bits in 26 Crockford base32
 * characters. Within one millisecond the random part counts up, so that
 * IDs sort as they were made, as the tests of ordering expect. */
gchar *
hs_mas_ulid_new_locked (TestHomeserver *self)
{
  MasState *mas = self->mas;
  gint64 ms = now_us () / 1000;
  guint8 bytes[16];
  gchar *out = g_new (gchar, 27);

  if (ms <= mas->ulid_ms)
    {
      ms = mas->ulid_ms;
      for (gint i = 9; i >= 0 && ++mas->ulid_random[i] == 0; i--)
        ;
    }
  else
    {
      mas->ulid_ms = ms;
      for (guint i = 0; i < 10; i++)
        mas->ulid_random[i] = (guint8) g_random_int_range (0, 256);
    }
  for (guint i = 0; i < 6; i++)
    bytes[i] = (guint8) (ms >> (8 * (5 - i)));
  memcpy (bytes + 6, mas->ulid_random, 10);
  /* 26 groups of 5 bits of a 130-bit number whose top 2 bits are 0 */
  for (guint c = 0; c < 26; c++)
    {
      guint value = 0;

      for (guint b = 0; b < 5; b++)
        {
          gint bit = 129 - (gint) (c * 5 + b); /* from the most significant */
          value <<= 1;
          if (bit < 128)
            value |= (bytes[15 - bit / 8] >> (bit % 8)) & 1;
        }
      out[c] = CROCKFORD[value];
    }
  out[26] = '\0';
  return out;
}

/* The ulid crate's parsing of a path or body ULID: 26 Crockford
 * characters of either case, the first at most 7 (128 bits). The canonical
 * (uppercase) form, or NULL. */
static gchar *
parse_ulid (const gchar *text)
{
  g_autofree gchar *upper = NULL;

  if (text == NULL || strlen (text) != 26)
    return NULL;
  upper = g_ascii_strup (text, -1);
  for (guint i = 0; i < 26; i++)
    {
      if (strchr (CROCKFORD, upper[i]) == NULL)
        return NULL;
    }
  if (upper[0] > '7')
    return NULL;
  return g_steal_pointer (&upper);
}

/* CRC-32/ISO-HDLC, zlib's crc32() */
static guint32
crc32_iso_hdlc (const gchar *data)
{
  guint32 crc = 0xffffffffu;

  for (const guchar *p = (const guchar *) data; *p != '\0'; p++)
    {
      crc ^= *p;
      for (guint k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
  return crc ^ 0xffffffffu;
}

/* base62_encode() of crates/data-model/src/tokens.rs: the digits come out
 * least significant first and are then padded on the left to 6 */
static gchar *
base62_crc (const gchar *base)
{
  static const gchar digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  guint32 num = crc32_iso_hdlc (base);
  g_autoptr(GString) res = g_string_new (NULL);

  while (num > 0)
    {
      g_string_append_c (res, digits[num % 62]);
      num /= 62;
    }
  while (res->len < 6)
    g_string_prepend_c (res, '0');
  return g_string_free (g_steal_pointer (&res), FALSE);
}

/* TokenType::generate(): "<prefix>_<30 alphanumerics>_<base62 crc32>" */
gchar *
hs_mas_token_new (const gchar *prefix)
{
  g_autofree gchar *random = hs_random_string (ALPHANUMERIC, 30);
  g_autofree gchar *base = g_strconcat (prefix, "_", random, NULL);
  g_autofree gchar *crc = base62_crc (base);

  return g_strconcat (base, "_", crc, NULL);
}

/* TokenType::check(): the token's prefix ("mat", "mar", "mct", "mcr",
 * "mpt"; Synapse's own syt_/syr_ count as compat), or NULL with the text
 * of TokenFormatError in *format_error (g_free) */
const gchar *
hs_mas_token_type (const gchar *token, gchar **format_error)
{
  static const gchar *const prefixes[] = { "mat", "mar", "mct", "mcr", "mpt", NULL };
  g_auto(GStrv) parts = NULL;
  g_autofree gchar *base = NULL;
  g_autofree gchar *crc = NULL;

  *format_error = NULL;
  if (g_str_has_prefix (token, "syt_"))
    return "mct";
  if (g_str_has_prefix (token, "syr_"))
    return "mcr";
  parts = g_strsplit (token, "_", -1);
  if (g_strv_length (parts) != 3 || strlen (parts[0]) != 3 || strlen (parts[1]) != 30 || strlen (parts[2]) != 6)
    {
      *format_error = g_strdup ("invalid token format");
      return NULL;
    }
  for (guint i = 0; prefixes[i] != NULL; i++)
    {
      if (g_strcmp0 (parts[0], prefixes[i]) != 0)
        continue;
      base = g_strconcat (parts[0], "_", parts[1], NULL);
      crc = base62_crc (base);
      if (g_strcmp0 (crc, parts[2]) != 0)
        {
          *format_error = g_strdup_printf ("invalid crc \"%s\", expected \"%s\"", parts[2], crc);
          return NULL;
        }
      return prefixes[i];
    }
  *format_error = g_strdup_printf ("unknown token prefix \"%s\"", parts[0]);
  return NULL;
}

/* chrono's RFC 3339 with SecondsFormat::AutoSi, as serde writes a
 * DateTime<Utc>: a fraction of 3 or 6 digits only when there is one */
static json_object *
time_json (gint64 us)
{
  time_t secs = (time_t) (us / G_USEC_PER_SEC);
  gint64 frac = us % G_USEC_PER_SEC;
  struct tm tm;
  gchar buf[64];
  gchar fraction[16] = "";

  if (us == 0)
    return NULL;
  gmtime_r (&secs, &tm);
  if (frac % 1000 == 0 && frac != 0)
    g_snprintf (fraction, sizeof fraction, ".%03" G_GINT64_FORMAT, frac / 1000);
  else if (frac != 0)
    g_snprintf (fraction, sizeof fraction, ".%06" G_GINT64_FORMAT, frac);
  g_snprintf (buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
  return json_object_new_string (buf);
}

/* RFC 6749 NQCHAR, crates/oauth2-types/src/scope.rs */
static gboolean
is_nqchar (gchar c)
{
  return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* Scope::from_str(): tokens one space apart, each a non-empty run of
 * NQCHAR, kept in a BTreeSet; so the canonical form is sorted without
 * duplicates. NULL for an invalid scope ("" is one). */
static gchar *
normalize_scope (const gchar *scope)
{
  g_auto(GStrv) tokens = g_strsplit (scope, " ", -1);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (tokens[i][0] == '\0')
        return NULL;
      for (const gchar *p = tokens[i]; *p != '\0'; p++)
        {
          if (!is_nqchar (*p))
            return NULL;
        }
      g_ptr_array_add (sorted, tokens[i]);
    }
  g_ptr_array_sort (sorted, compare_strings);
  for (guint i = 0; i < sorted->len; i++)
    {
      const gchar *token = g_ptr_array_index (sorted, i);

      if (i > 0 && g_strcmp0 (token, g_ptr_array_index (sorted, i - 1)) == 0)
        continue;
      if (out->len > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, token);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
hs_mas_scope_has (const gchar *scope, const gchar *token)
{
  g_auto(GStrv) tokens = g_strsplit (scope != NULL ? scope : "", " ", -1);

  return g_strv_contains ((const gchar *const *) tokens, token);
}

/* The device IDs the scope names (Device::from_scope_token(), either
 * prefix): TRUE when there is at least one; *device_id is the first in
 * scope order, *n_devices how many distinct IDs there are */
gboolean
hs_mas_scope_device (const gchar *scope, gchar **device_id, guint *n_devices)
{
  g_auto(GStrv) tokens = g_strsplit (scope != NULL ? scope : "", " ", -1);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();

  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const gchar *id = NULL;

      if (g_str_has_prefix (tokens[i], STABLE_DEVICE_PREFIX))
        id = tokens[i] + strlen (STABLE_DEVICE_PREFIX);
      else if (g_str_has_prefix (tokens[i], UNSTABLE_DEVICE_PREFIX))
        id = tokens[i] + strlen (UNSTABLE_DEVICE_PREFIX);
      if (id != NULL && !g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
        g_ptr_array_add (ids, (gpointer) id);
    }
  if (device_id != NULL)
    *device_id = ids->len > 0 ? g_strdup (g_ptr_array_index (ids, 0)) : NULL;
  if (n_devices != NULL)
    *n_devices = ids->len;
  return ids->len > 0;
}

/* "1.22.0" or "v1.22.0" against a version: whether it is at least that */
static gboolean
version_at_least (const gchar *version, guint major, guint minor, guint micro)
{
  g_auto(GStrv) parts = NULL;
  guint64 have[3] = { 0, 0, 0 };
  guint64 want[3] = { major, minor, micro };

  if (version[0] == 'v')
    version++;
  parts = g_strsplit (version, ".", 3);
  for (guint i = 0; i < 3 && parts[i] != NULL; i++)
    have[i] = g_ascii_strtoull (parts[i], NULL, 10);
  for (guint i = 0; i < 3; i++)
    {
      if (have[i] != want[i])
        return have[i] > want[i];
    }
  return TRUE;
}

/* an absolute URL of MAS: public base + path (crates/router/src/url_builder.rs) */
gchar *
hs_mas_base_url_locked (TestHomeserver *self, const gchar *path)
{
  return g_strconcat (self->mas->url != NULL ? self->mas->url : "", path, NULL);
}

/* ------------------------------------------------------------------------ */
/* State helpers; the caller holds self->lock */

/* UserRepository::find_by_username(): LOWER(username) = LOWER($1), the
 * exact casing winning among several */
MasUser *
hs_mas_lookup_user_by_name (TestHomeserver *self, const gchar *username)
{
  MasUser *caseless = NULL;
  guint matches = 0;

  if (username == NULL)
    return NULL;
  for (guint i = 0; i < self->mas->users->len; i++)
    {
      MasUser *user = g_ptr_array_index (self->mas->users, i);

      if (g_strcmp0 (user->username, username) == 0)
        return user;
      if (g_ascii_strcasecmp (user->username, username) == 0)
        {
          caseless = user;
          matches++;
        }
    }
  return matches == 1 ? caseless : NULL;
}

MasUser *
hs_mas_lookup_user_by_id (TestHomeserver *self, const gchar *id)
{
  for (guint i = 0; id != NULL && i < self->mas->users->len; i++)
    {
      MasUser *user = g_ptr_array_index (self->mas->users, i);
      if (g_strcmp0 (user->id, id) == 0)
        return user;
    }
  return NULL;
}

MasUser *
hs_mas_add_user_locked (TestHomeserver *self, const gchar *username)
{
  MasUser *user = g_new0 (MasUser, 1);

  user->id = hs_mas_ulid_new_locked (self);
  user->username = g_strdup (username);
  user->created_at = now_us ();
  g_ptr_array_add (self->mas->users, user);
  return user;
}

void
hs_mas_seed_user_locked (TestHomeserver *self, const gchar *localpart, const gchar *password,
                         gboolean admin)
{
  MasUser *user = hs_mas_lookup_user_by_name (self, localpart);

  if (user == NULL || g_strcmp0 (user->username, localpart) != 0)
    user = hs_mas_add_user_locked (self, localpart);
  g_free (user->password);
  user->password = g_strdup (password);
  user->admin = admin;
}

/* HomeserverConnection::mxid() */
gchar *
hs_mas_user_mxid (TestHomeserver *self, const MasUser *user)
{
  return g_strdup_printf ("@%s:%s", user->username, self->server_name);
}

gboolean
hs_mas_personal_session_active (const MasPersonalSession *session, gboolean unexpired)
{
  if (session->revoked_at != 0)
    return FALSE;
  return !unexpired || session->expires_at == 0 || now_us () <= session->expires_at;
}

MasCompatSession *
hs_mas_lookup_compat_token (TestHomeserver *self, const gchar *token)
{
  for (guint i = 0; token != NULL && i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (self->mas->compat_sessions, i);
      if (g_strcmp0 (session->token, token) == 0)
        return session;
    }
  return NULL;
}

MasPersonalSession *
hs_mas_lookup_personal_token (TestHomeserver *self, const gchar *token)
{
  for (guint i = 0; token != NULL && i < self->mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (self->mas->personal_sessions, i);
      if (g_strcmp0 (session->token, token) == 0)
        return session;
    }
  return NULL;
}

MasAdminToken *
hs_mas_lookup_admin_token (TestHomeserver *self, const gchar *token)
{
  for (guint i = 0; token != NULL && i < self->mas->admin_tokens->len; i++)
    {
      MasAdminToken *admin = g_ptr_array_index (self->mas->admin_tokens, i);
      if (g_strcmp0 (admin->token, token) == 0)
        return admin;
    }
  return NULL;
}

static MasPersonalSession *
lookup_personal_session (TestHomeserver *self, const gchar *id)
{
  for (guint i = 0; i < self->mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (self->mas->personal_sessions, i);
      if (g_strcmp0 (session->id, id) == 0)
        return session;
    }
  return NULL;
}

static MasCompatSession *
lookup_compat_session (TestHomeserver *self, const gchar *id)
{
  for (guint i = 0; i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (self->mas->compat_sessions, i);
      if (g_strcmp0 (session->id, id) == 0)
        return session;
    }
  return NULL;
}

static MasClient *
lookup_client (TestHomeserver *self, const gchar *client_id)
{
  for (guint i = 0; i < self->mas->clients->len; i++)
    {
      MasClient *client = g_ptr_array_index (self->mas->clients, i);
      if (g_strcmp0 (client->client_id, client_id) == 0)
        return client;
    }
  return NULL;
}

/* A compat session of `user` on device_id (the login's, or Device::generate():
 * 10 alphanumerics), after finish_sessions_to_replace_device() ended any
 * active one on the same device (crates/handlers/src/compat/login.rs);
 * the device is made on the homeserver too, before the login answers,
 * as MAS's upsert_device() does. */
MasCompatSession *
hs_mas_compat_session_start_locked (TestHomeserver *self, MasUser *user, const gchar *device_id,
                                    const gchar *human_name, const gchar *user_agent)
{
  MasCompatSession *session = g_new0 (MasCompatSession, 1);
  g_autofree gchar *mxid = hs_mas_user_mxid (self, user);

  for (guint i = 0; i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *other = g_ptr_array_index (self->mas->compat_sessions, i);
      if (other->finished_at == 0 && g_strcmp0 (other->user_id, user->id) == 0
          && g_strcmp0 (other->device_id, device_id) == 0)
        other->finished_at = now_us ();
    }
  session->id = hs_mas_ulid_new_locked (self);
  session->user_id = g_strdup (user->id);
  session->device_id = device_id != NULL ? g_strdup (device_id) : hs_random_string (ALPHANUMERIC, 10);
  session->token = hs_mas_token_new ("mct");
  session->human_name = g_strdup (human_name);
  session->user_agent = user_agent != NULL && user_agent[0] != '\0' ? g_strdup (user_agent) : NULL;
  session->created_at = now_us ();
  g_ptr_array_add (self->mas->compat_sessions, session);
  hs_device_register_locked (self, mxid, session->device_id, human_name);
  return session;
}

static void
add_device_id (GPtrArray *keep, const gchar *device_id)
{
  if (device_id != NULL && !g_ptr_array_find_with_equal_func (keep, device_id, g_str_equal, NULL))
    g_ptr_array_add (keep, g_strdup (device_id));
}

/* SyncDevicesJob (crates/tasks/src/matrix.rs): the homeserver keeps only
 * the devices of the user's active MAS sessions; Synapse's sync_devices
 * deletes the others, with their access tokens. */
void
hs_mas_sync_devices_locked (TestHomeserver *self, const MasUser *user)
{
  g_autofree gchar *mxid = hs_mas_user_mxid (self, user);
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  Token *token;

  for (guint i = 0; i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (self->mas->compat_sessions, i);
      if (session->finished_at == 0 && g_strcmp0 (session->user_id, user->id) == 0)
        add_device_id (keep, session->device_id);
    }
  for (guint i = 0; i < self->mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (self->mas->personal_sessions, i);
      g_autofree gchar *device_id = NULL;

      if (session->revoked_at == 0 && g_strcmp0 (session->actor_user_id, user->id) == 0
          && hs_mas_scope_device (session->scope, &device_id, NULL))
        add_device_id (keep, device_id);
    }
  for (guint i = self->devices->len; i > 0; i--)
    {
      Device *device = g_ptr_array_index (self->devices, i - 1);
      if (g_strcmp0 (device->user_id, mxid) == 0
          && !g_ptr_array_find_with_equal_func (keep, device->device_id, g_str_equal, NULL))
        g_ptr_array_remove_index (self->devices, i - 1);
    }
  g_hash_table_iter_init (&iter, self->tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    {
      if (g_strcmp0 (token->user_id, mxid) == 0 && token->device_id != NULL
          && !g_ptr_array_find_with_equal_func (keep, token->device_id, g_str_equal, NULL))
        g_hash_table_iter_remove (&iter);
    }
}

/* ------------------------------------------------------------------------ */
/* Replies */

/* crates/handlers/src/admin/response.rs ErrorResponse::from_error(): the
 * error's text, then each of its sources' */
static void
reply_errors (Reply *reply, guint status, const gchar *title, const gchar *source)
{
  json_object *obj = json_object_new_object ();
  json_object *errors = json_object_new_array ();
  json_object *error = json_object_new_object ();

  json_object_object_add (error, "title", json_object_new_string (title));
  json_object_array_add (errors, error);
  if (source != NULL)
    {
      error = json_object_new_object ();
      json_object_object_add (error, "title", json_object_new_string (source));
      json_object_array_add (errors, error);
    }
  json_object_object_add (obj, "errors", errors);
  hs_reply_json (reply, status, obj);
}

static void
reply_errorf (Reply *reply, guint status, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static void
reply_errorf (Reply *reply, guint status, const gchar *format, ...)
{
  g_autofree gchar *title = NULL;
  va_list args;

  va_start (args, format);
  title = g_strdup_vprintf (format, args);
  va_end (args);
  reply_errors (reply, status, title, NULL);
}

/* oauth2-types ClientError: {"error", "error_description"}; description
 * NULL takes ClientErrorCode::default_description() */
static void
reply_oauth_error (Reply *reply, guint status, const gchar *error, const gchar *description)
{
  static const struct { const gchar *code; const gchar *text; } defaults[] = {
    { "invalid_request", "The request is missing a required parameter, includes an invalid parameter value, "
                         "includes a parameter more than once, or is otherwise malformed." },
    { "invalid_client", "Client authentication failed." },
    { "invalid_grant", "The provided access grant is invalid, expired, or revoked." },
    { "unauthorized_client", "The client is not authorized to request an access token using this method." },
    { "unsupported_grant_type", "The authorization grant type is not supported by the authorization server." },
    { "invalid_scope", "The requested scope is invalid, unknown, or malformed." },
    { "unsupported_token_type",
      "The authorization server does not support the revocation of the presented token type." },
    { "server_error", "The authorization server encountered an unexpected condition that prevented it from "
                      "fulfilling the request." },
  };
  json_object *obj = json_object_new_object ();

  for (guint i = 0; description == NULL && i < G_N_ELEMENTS (defaults); i++)
    {
      if (g_strcmp0 (defaults[i].code, error) == 0)
        description = defaults[i].text;
    }
  json_object_object_add (obj, "error", json_object_new_string (error));
  if (description != NULL)
    json_object_object_add (obj, "error_description", json_object_new_string (description));
  hs_reply_json (reply, status, obj);
}

/* axum's plain-text rejections (JsonRejection, ...) */
static void
reply_text (Reply *reply, guint status, const gchar *text)
{
  hs_reply_raw (reply, status, "text/plain; charset=utf-8", text);
}

/* SingleResponse: {"data": {"type", "id", "attributes", "links": {"self"}},
 * "links": {"self"}}; paths relative, data's canonical */
static json_object *
single_response (const gchar *type, const gchar *kind_path, const gchar *id, json_object *attributes,
                 const gchar *self_path)
{
  json_object *obj = json_object_new_object ();
  json_object *data = json_object_new_object ();
  json_object *links = json_object_new_object ();
  json_object *top_links = json_object_new_object ();
  g_autofree gchar *canonical = g_strdup_printf ("%s/%s", kind_path, id);

  json_object_object_add (data, "type", json_object_new_string (type));
  json_object_object_add (data, "id", json_object_new_string (id));
  json_object_object_add (data, "attributes", attributes);
  json_object_object_add (links, "self", json_object_new_string (canonical));
  json_object_object_add (data, "links", links);
  json_object_object_add (obj, "data", data);
  json_object_object_add (top_links, "self", json_object_new_string (self_path != NULL ? self_path : canonical));
  json_object_object_add (obj, "links", top_links);
  return obj;
}

#define USERS_PATH "/api/admin/v1/users"
#define PERSONAL_SESSIONS_PATH "/api/admin/v1/personal-sessions"
#define COMPAT_SESSIONS_PATH "/api/admin/v1/compat-sessions"

/* crates/handlers/src/admin/model.rs User */
static json_object *
user_response (const MasUser *user, const gchar *self_path)
{
  json_object *attrs = json_object_new_object ();

  json_object_object_add (attrs, "username", json_object_new_string (user->username));
  json_object_object_add (attrs, "created_at", time_json (user->created_at));
  json_object_object_add (attrs, "locked_at", time_json (user->locked_at));
  json_object_object_add (attrs, "deactivated_at", time_json (user->deactivated_at));
  json_object_object_add (attrs, "admin", json_object_new_boolean (user->admin));
  json_object_object_add (attrs, "legacy_guest", json_object_new_boolean (FALSE));
  return single_response ("user", USERS_PATH, user->id, attrs, self_path);
}

/* model.rs PersonalSession: expires_at is the active token's, so none
 * once revoked; the token itself only right after creation */
static json_object *
personal_session_response (const MasPersonalSession *session, gboolean with_token)
{
  json_object *attrs = json_object_new_object ();

  json_object_object_add (attrs, "created_at", time_json (session->created_at));
  json_object_object_add (attrs, "revoked_at", time_json (session->revoked_at));
  json_object_object_add (attrs, "owner_user_id", hs_json_nullable_string (session->owner_user_id));
  json_object_object_add (attrs, "owner_client_id", hs_json_nullable_string (session->owner_client_id));
  json_object_object_add (attrs, "actor_user_id", json_object_new_string (session->actor_user_id));
  json_object_object_add (attrs, "human_name", json_object_new_string (session->human_name));
  json_object_object_add (attrs, "scope", json_object_new_string (session->scope));
  json_object_object_add (attrs, "last_active_at", NULL);
  json_object_object_add (attrs, "last_active_ip", NULL);
  json_object_object_add (attrs, "expires_at", session->revoked_at == 0 ? time_json (session->expires_at) : NULL);
  if (with_token)
    json_object_object_add (attrs, "access_token", json_object_new_string (session->token));
  return single_response ("personal-session", PERSONAL_SESSIONS_PATH, session->id, attrs, NULL);
}

/* model.rs CompatSession */
static json_object *
compat_session_response (const MasCompatSession *session, const gchar *self_path)
{
  json_object *attrs = json_object_new_object ();

  json_object_object_add (attrs, "user_id", json_object_new_string (session->user_id));
  json_object_object_add (attrs, "device_id", hs_json_nullable_string (session->device_id));
  json_object_object_add (attrs, "user_session_id", NULL);
  json_object_object_add (attrs, "redirect_uri", NULL);
  json_object_object_add (attrs, "created_at", time_json (session->created_at));
  json_object_object_add (attrs, "user_agent", hs_json_nullable_string (session->user_agent));
  json_object_object_add (attrs, "last_active_at", NULL);
  json_object_object_add (attrs, "last_active_ip", NULL);
  json_object_object_add (attrs, "finished_at", time_json (session->finished_at));
  json_object_object_add (attrs, "human_name", hs_json_nullable_string (session->human_name));
  return single_response ("compat-session", COMPAT_SESSIONS_PATH, session->id, attrs, self_path);
}

/* ------------------------------------------------------------------------ */
/* Request bodies */

/* the media type of a Content-Type header, lowercase, parameters dropped */
static gchar *
media_type (const gchar *content_type)
{
  g_autofree gchar *type = NULL;
  const gchar *semicolon;

  if (content_type == NULL)
    return NULL;
  semicolon = strchr (content_type, ';');
  type = semicolon != NULL ? g_strndup (content_type, semicolon - content_type) : g_strdup (content_type);
  g_strstrip (type);
  return g_ascii_strdown (type, -1);
}

/* axum's json_content_type(), and MAS's MatrixJsonBody's check:
 * application/json or application/<x>+json */
gboolean
hs_mas_is_json_type (const gchar *content_type)
{
  g_autofree gchar *type = media_type (content_type);

  return type != NULL && g_str_has_prefix (type, "application/")
         && (g_strcmp0 (type, "application/json") == 0 || g_str_has_suffix (type, "+json"));
}

/* axum's Json<T> extractor of the admin API. With `optional` (an
 * Option<Json<T>>), no Content-Type at all means no body (NULL, no
 * reply). A non-JSON type is 415, a body that does not parse 400 and one
 * that is not an object 422, all text/plain. The serde texts after the
 * fixed prefixes are approximate: no line and column. */
static json_object *
admin_json_body (Request *req, gboolean optional, const gchar *struct_name, Reply *reply)
{
  json_tokener *tok;
  json_object *obj;
  gsize end;
  g_autofree gchar *text = NULL;

  if (optional && req->content_type == NULL)
    return NULL;
  if (!hs_mas_is_json_type (req->content_type))
    {
      reply_text (reply, 415, "Expected request with `Content-Type: application/json`");
      return NULL;
    }
  if (req->body_len == 0)
    {
      reply_text (reply, 400, "Failed to parse the request body as JSON: EOF while parsing a value at line 1 column 0");
      return NULL;
    }
  tok = json_tokener_new ();
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
  obj = json_tokener_parse_ex (tok, req->body, (int) req->body_len);
  end = json_tokener_get_parse_end (tok);
  if (json_tokener_get_error (tok) != json_tokener_success)
    {
      text = g_strdup_printf ("Failed to parse the request body as JSON: %s",
                              json_tokener_error_desc (json_tokener_get_error (tok)));
      g_clear_pointer (&obj, json_object_put);
    }
  json_tokener_free (tok);
  for (gsize i = end; obj != NULL && i < req->body_len; i++)
    {
      if (!g_ascii_isspace (req->body[i]))
        {
          text = g_strdup ("Failed to parse the request body as JSON: trailing characters");
          g_clear_pointer (&obj, json_object_put);
        }
    }
  if (obj == NULL && text == NULL)
    text = g_strdup ("Failed to parse the request body as JSON: expected value");
  if (obj == NULL)
    {
      reply_text (reply, 400, text);
      return NULL;
    }
  if (!json_object_is_type (obj, json_type_object))
    {
      text = g_strdup_printf ("Failed to deserialize the JSON body into the target type: "
                              "invalid type: %s, expected struct %s",
                              json_object_is_type (obj, json_type_array) ? "sequence"
                              : json_object_is_type (obj, json_type_string) ? "string"
                              : json_object_is_type (obj, json_type_null) ? "null" : "value",
                              struct_name);
      json_object_put (obj);
      reply_text (reply, 422, text);
      return NULL;
    }
  return obj;
}

/* serde's Unexpected of a JSON value, as its "invalid type" errors name it */
static const gchar *
serde_kind (json_object *value)
{
  switch (json_object_get_type (value))
    {
    case json_type_null:
      return "null";
    case json_type_boolean:
      return "boolean";
    case json_type_int:
      return "integer";
    case json_type_double:
      return "floating point";
    case json_type_string:
      return "string";
    case json_type_array:
      return "sequence";
    case json_type_object:
    default:
      return "map";
    }
}

static void
reply_data_error (Reply *reply, const gchar *detail)
{
  g_autofree gchar *text = g_strdup_printf ("Failed to deserialize the JSON body into the target type: %s", detail);

  reply_text (reply, 422, text);
}

/* serde's view of one field: required fields must be there, Option<T>
 * fields may be null, #[serde(default)] ones may be absent but not null */
typedef enum {
  FIELD_REQUIRED,
  FIELD_OPTION,
  FIELD_DEFAULT,
} FieldKind;

static gboolean
body_field (json_object *body, const gchar *key, json_type type, FieldKind kind, json_object **out, Reply *reply)
{
  static const struct { json_type type; const gchar *name; } expected[] = {
    { json_type_string, "a string" },
    { json_type_boolean, "a boolean" },
    { json_type_int, "u32" },
  };
  const gchar *want = "a value";
  json_object *value = NULL;
  g_autofree gchar *detail = NULL;

  *out = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      if (expected[i].type == type)
        want = expected[i].name;
    }
  if (!hs_json_has (body, key, &value))
    {
      if (kind != FIELD_REQUIRED)
        return TRUE;
      detail = g_strdup_printf ("missing field `%s`", key);
      reply_data_error (reply, detail);
      return FALSE;
    }
  if (value == NULL && kind == FIELD_OPTION)
    return TRUE;
  if (value == NULL || !json_object_is_type (value, type))
    {
      detail = g_strdup_printf ("%s: invalid type: %s, expected %s", key, serde_kind (value), want);
      reply_data_error (reply, detail);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/* the media type of a form post (axum's Form: application/x-www-form-urlencoded) */
static gboolean
is_form_type (const gchar *content_type)
{
  g_autofree gchar *type = media_type (content_type);

  return g_strcmp0 (type, "application/x-www-form-urlencoded") == 0;
}

/* ------------------------------------------------------------------------ */
/* Client authentication (crates/axum-utils/src/client_authorization.rs) */

typedef struct {
  gchar *client_id;  /* who the credentials name; NULL for a bearer token */
  gchar *secret;     /* NULL: no secret (Credentials::None) */
  GHashTable *form;  /* the decoded form, or NULL if the body is not a form */
} ClientAuth;

static void
client_auth_clear (ClientAuth *auth)
{
  g_clear_pointer (&auth->client_id, g_free);
  g_clear_pointer (&auth->secret, g_free);
  g_clear_pointer (&auth->form, g_hash_table_unref);
}

/* ClientAuthorization::from_request(): the Authorization header (Basic:
 * base64 of id:secret, taken as they are, with no percent-decoding, as
 * the headers crate's Basic does), then the form when the body is one,
 * then which credentials those make. FALSE with the error answered. */
static gboolean
client_auth_parse (Request *req, ClientAuth *auth, Reply *reply)
{
  g_autofree gchar *basic_id = NULL;
  g_autofree gchar *basic_secret = NULL;
  gboolean bearer = FALSE;
  const gchar *form_id = NULL;
  const gchar *form_secret = NULL;
  gboolean assertion = FALSE;

  if (req->authorization != NULL)
    {
      if (g_ascii_strncasecmp (req->authorization, "Basic ", 6) == 0)
        {
          g_autofree gchar *encoded = g_strstrip (g_strdup (req->authorization + 6));
          g_autofree guchar *decoded = NULL;
          g_autofree gchar *text = NULL;
          gsize len = 0;
          const gchar *colon;

          decoded = g_base64_decode (encoded, &len);
          text = decoded != NULL ? g_strndup ((const gchar *) decoded, len) : NULL;
          colon = text != NULL && strlen (text) == len && g_utf8_validate (text, -1, NULL) ? strchr (text, ':') : NULL;
          if (colon == NULL)
            {
              reply_oauth_error (reply, 400, "invalid_request", "Invalid Authorization header");
              return FALSE;
            }
          basic_id = g_strndup (text, colon - text);
          basic_secret = g_strdup (colon + 1);
        }
      else if (g_ascii_strncasecmp (req->authorization, "Bearer ", 7) == 0)
        bearer = TRUE;
      else
        {
          reply_oauth_error (reply, 400, "invalid_request", "Invalid Authorization header");
          return FALSE;
        }
    }
  /* a body that is not a form is no error here: there is just no form */
  if (is_form_type (req->content_type))
    {
      auth->form = soup_form_decode (req->body);
      form_id = g_hash_table_lookup (auth->form, "client_id");
      form_secret = g_hash_table_lookup (auth->form, "client_secret");
      assertion = g_hash_table_contains (auth->form, "client_assertion")
                  || g_hash_table_contains (auth->form, "client_assertion_type");
    }

  if (basic_id != NULL && form_secret == NULL && !assertion)
    {
      if (form_id != NULL && g_strcmp0 (form_id, basic_id) != 0)
        {
          g_autofree gchar *text = g_strdup_printf ("client_id in form (\"%s\") does not match credential (\"%s\")",
                                                    form_id, basic_id);
          reply_oauth_error (reply, 400, "invalid_grant", text);
          return FALSE;
        }
      auth->client_id = g_steal_pointer (&basic_id);
      auth->secret = g_steal_pointer (&basic_secret);
      return TRUE;
    }
  if (req->authorization == NULL && form_id != NULL && !assertion)
    {
      auth->client_id = g_strdup (form_id);
      auth->secret = g_strdup (form_secret);
      return TRUE;
    }
  if (bearer && form_id == NULL && form_secret == NULL && !assertion)
    return TRUE; /* Credentials::BearerToken: it names no client */
  if (req->authorization == NULL && form_id == NULL && form_secret == NULL && !assertion)
    {
      reply_oauth_error (reply, 400, "invalid_request", "No credentials were presented");
      return FALSE;
    }
  /* client assertions (private_key_jwt, client_secret_jwt) are not
   * modelled: no client here has keys */
  reply_oauth_error (reply, 400, "invalid_request", NULL);
  return FALSE;
}

/* Credentials::fetch() and verify(): the client, or 401 invalid_client.
 * A confidential client takes its secret either way (the brief's
 * clients accept client_secret_basic and client_secret_post alike); a
 * public one takes no secret at all. */
static MasClient *
client_auth_verify (TestHomeserver *self, const ClientAuth *auth, Reply *reply)
{
  MasClient *client = auth->client_id != NULL ? lookup_client (self, auth->client_id) : NULL;

  if (client == NULL || (client->secret == NULL) != (auth->secret == NULL)
      || (client->secret != NULL && g_strcmp0 (client->secret, auth->secret) != 0))
    {
      reply_oauth_error (reply, 401, "invalid_client", NULL);
      return NULL;
    }
  return client;
}

/* ------------------------------------------------------------------------ */
/* OAuth 2.0: discovery, token, revocation */

/* crates/handlers/src/oauth2/discovery.rs, with the default config
 * (device code grant on, password registration off) */
json_object *
hs_mas_discovery_json (TestHomeserver *self)
{
  static const gchar *const auth_methods[] = {
    "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none", NULL,
  };
  static const gchar *const signing_algs[] = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES256K", NULL,
  };
  static const gchar *const claims[] = {
    "iss", "sub", "aud", "iat", "exp", "nonce", "auth_time", "at_hash", "c_hash", NULL,
  };
  static const gchar *const actions[] = {
    "org.matrix.profile", "org.matrix.devices_list", "org.matrix.device_view", "org.matrix.device_delete",
    "org.matrix.cross_signing_reset", "org.matrix.sessions_list", "org.matrix.session_view",
    "org.matrix.session_end", NULL,
  };
  static const struct { const gchar *key; const gchar *path; } endpoints[] = {
    { "issuer", "/" },
    { "authorization_endpoint", "/authorize" },
    { "token_endpoint", "/oauth2/token" },
    { "jwks_uri", "/oauth2/keys.json" },
    { "registration_endpoint", "/oauth2/registration" },
  };
  struct {
    const gchar *key;
    const gchar *const *values;
  } lists[] = {
    { "scopes_supported", (const gchar *const[]) { "openid", "email", NULL } },
    { "response_types_supported", (const gchar *const[]) { "code", "id_token", "code id_token", NULL } },
    { "response_modes_supported", (const gchar *const[]) { "form_post", "query", "fragment", NULL } },
    { "grant_types_supported",
      (const gchar *const[]) { "authorization_code", "refresh_token", "client_credentials",
                               "urn:ietf:params:oauth:grant-type:device_code", NULL } },
    { "token_endpoint_auth_methods_supported", auth_methods },
    { "token_endpoint_auth_signing_alg_values_supported", signing_algs },
  };
  json_object *obj = json_object_new_object ();

  for (guint i = 0; i < G_N_ELEMENTS (endpoints); i++)
    {
      g_autofree gchar *url = hs_mas_base_url_locked (self, endpoints[i].path);
      json_object_object_add (obj, endpoints[i].key, json_object_new_string (url));
    }
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      json_object *arr = json_object_new_array ();
      for (guint j = 0; lists[i].values[j] != NULL; j++)
        json_object_array_add (arr, json_object_new_string (lists[i].values[j]));
      json_object_object_add (obj, lists[i].key, arr);
    }
  {
    g_autofree gchar *revoke = hs_mas_base_url_locked (self, "/oauth2/revoke");
    g_autofree gchar *introspect = hs_mas_base_url_locked (self, "/oauth2/introspect");
    g_autofree gchar *userinfo = hs_mas_base_url_locked (self, "/oauth2/userinfo");
    g_autofree gchar *device = hs_mas_base_url_locked (self, "/oauth2/device");
    g_autofree gchar *graphql = hs_mas_base_url_locked (self, "/graphql");
    g_autofree gchar *account = hs_mas_base_url_locked (self, "/account/");
    json_object *arr;

    json_object_object_add (obj, "revocation_endpoint", json_object_new_string (revoke));
    arr = json_object_new_array ();
    for (guint j = 0; auth_methods[j] != NULL; j++)
      json_object_array_add (arr, json_object_new_string (auth_methods[j]));
    json_object_object_add (obj, "revocation_endpoint_auth_methods_supported", arr);
    json_object_object_add (obj, "introspection_endpoint", json_object_new_string (introspect));
    arr = json_object_new_array ();
    for (guint j = 0; auth_methods[j] != NULL; j++)
      json_object_array_add (arr, json_object_new_string (auth_methods[j]));
    json_object_object_add (obj, "introspection_endpoint_auth_methods_supported", arr);
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("plain"));
    json_object_array_add (arr, json_object_new_string ("S256"));
    json_object_object_add (obj, "code_challenge_methods_supported", arr);
    json_object_object_add (obj, "userinfo_endpoint", json_object_new_string (userinfo));
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("public"));
    json_object_object_add (obj, "subject_types_supported", arr);
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("RS256"));
    json_object_object_add (obj, "id_token_signing_alg_values_supported", arr);
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("RS256"));
    json_object_object_add (obj, "userinfo_signing_alg_values_supported", arr);
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("page"));
    json_object_object_add (obj, "display_values_supported", arr);
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("normal"));
    json_object_object_add (obj, "claim_types_supported", arr);
    arr = json_object_new_array ();
    for (guint j = 0; claims[j] != NULL; j++)
      json_object_array_add (arr, json_object_new_string (claims[j]));
    json_object_object_add (obj, "claims_supported", arr);
    json_object_object_add (obj, "claims_parameter_supported", json_object_new_boolean (FALSE));
    json_object_object_add (obj, "request_parameter_supported", json_object_new_boolean (FALSE));
    json_object_object_add (obj, "request_uri_parameter_supported", json_object_new_boolean (FALSE));
    /* prompt=create only with password registration, off by default */
    arr = json_object_new_array ();
    json_object_array_add (arr, json_object_new_string ("login"));
    json_object_object_add (obj, "prompt_values_supported", arr);
    json_object_object_add (obj, "device_authorization_endpoint", json_object_new_string (device));
    json_object_object_add (obj, "org.matrix.matrix-authentication-service.graphql_endpoint",
                            json_object_new_string (graphql));
    json_object_object_add (obj, "account_management_uri", json_object_new_string (account));
    arr = json_object_new_array ();
    for (guint j = 0; actions[j] != NULL; j++)
      json_object_array_add (arr, json_object_new_string (actions[j]));
    json_object_object_add (obj, "account_management_actions_supported", arr);
  }
  return obj;
}

static void
handle_discovery (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  (void) req, (void) args;
  hs_reply_json (reply, 200, hs_mas_discovery_json (self));
}

/* policies/authorization_grant/authorization_grant.rego for the
 * client_credentials grant: each scope token must be allowed (openid,
 * email, urn:mas:graphql:*, and urn:mas:admin for a client listed in
 * admin_clients; the C-S, device and Synapse admin scopes need an
 * interactive grant), plus the device and stable/unstable rules. The
 * violations, sorted as OPA's set keeps them, joined with ", ". NULL
 * when the policy allows the scope. */
static gchar *
policy_violations (const MasClient *client, const gchar *scope)
{
  g_auto(GStrv) tokens = g_strsplit (scope, " ", -1);
  g_autoptr(GPtrArray) violations = g_ptr_array_new_with_free_func (g_free);
  gboolean stable = FALSE, unstable = FALSE, device = FALSE, api = FALSE;
  guint stable_devices = 0, unstable_devices = 0;
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const gchar *t = tokens[i];
      gboolean allowed = t[0] == '\0' || g_strcmp0 (t, "openid") == 0 || g_strcmp0 (t, "email") == 0
                         || g_strcmp0 (t, "urn:mas:graphql:*") == 0
                         || (g_strcmp0 (t, ADMIN_SCOPE) == 0 && client->admin);

      if (!allowed)
        g_ptr_array_add (violations, g_strdup_printf ("scope '%s' not allowed", t));
      if (g_str_has_prefix (t, "urn:matrix:client:"))
        stable = TRUE;
      if (g_str_has_prefix (t, "urn:matrix:org.matrix.msc2967.client:"))
        unstable = TRUE;
      if (g_str_has_prefix (t, STABLE_DEVICE_PREFIX))
        stable_devices++;
      if (g_str_has_prefix (t, UNSTABLE_DEVICE_PREFIX))
        unstable_devices++;
      if (g_str_has_prefix (t, "urn:matrix:client:api:")
          || g_str_has_prefix (t, "urn:matrix:org.matrix.msc2967.client:api:"))
        api = TRUE;
    }
  device = stable_devices > 0 || unstable_devices > 0;
  if (stable_devices > 1 || unstable_devices > 1)
    g_ptr_array_add (violations, g_strdup ("only one device scope is allowed at a time"));
  if (device && !api)
    g_ptr_array_add (violations,
                     g_strdup ("device scopes are only allowed when the client-server API scope is requested"));
  if (stable && unstable)
    g_ptr_array_add (violations, g_strdup ("request cannot mix unstable and stable scopes"));
  if (violations->len == 0)
    return NULL;
  g_ptr_array_sort (violations, compare_strings);
  for (guint i = 0; i < violations->len; i++)
    {
      if (i > 0 && g_strcmp0 (g_ptr_array_index (violations, i), g_ptr_array_index (violations, i - 1)) == 0)
        continue;
      if (out->len > 0)
        g_string_append (out, ", ");
      g_string_append (out, g_ptr_array_index (violations, i));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static const gchar *const token_headers[] = { "Cache-Control", "no-store", "Pragma", "no-cache", NULL };

/* the client_credentials grant (token.rs client_credentials_grant()): an
 * OAuth 2.0 session of the client and a mat_ token living
 * access_token_ttl, no refresh token, scope left out when empty */
static void
client_credentials_grant (TestHomeserver *self, MasClient *client, const gchar *scope, Reply *reply)
{
  g_autofree gchar *violations = NULL;
  MasAdminToken *token;
  json_object *obj;

  /* static clients always have the grant; public ones here never */
  if (client->secret == NULL)
    {
      reply_oauth_error (reply, 401, "unauthorized_client", NULL);
      return;
    }
  violations = policy_violations (client, scope);
  if (violations != NULL)
    {
      reply_oauth_error (reply, 403, "invalid_scope", violations);
      return;
    }
  token = g_new0 (MasAdminToken, 1);
  token->session_id = hs_mas_ulid_new_locked (self);
  token->token = hs_mas_token_new ("mat");
  token->client_id = g_strdup (client->client_id);
  token->scope = g_strdup (scope);
  token->created_at = now_us ();
  token->expires_at = token->created_at + (gint64) self->mas->token_ttl_s * G_USEC_PER_SEC;
  g_ptr_array_add (self->mas->admin_tokens, token);

  obj = json_object_new_object ();
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  json_object_object_add (obj, "token_type", json_object_new_string ("Bearer"));
  json_object_object_add (obj, "expires_in", json_object_new_int64 (self->mas->token_ttl_s));
  if (scope[0] != '\0')
    json_object_object_add (obj, "scope", json_object_new_string (scope));
  hs_reply_json (reply, 200, obj);
  reply->headers = token_headers;
}

/* a field of the form that serde requires for the grant, or FALSE with
 * BadForm answered (ClientAuthorizationError::BadForm, 400 invalid_request) */
static gboolean
form_require (GHashTable *form, const gchar *key, Reply *reply)
{
  g_autofree gchar *text = NULL;

  if (g_hash_table_contains (form, key))
    return TRUE;
  text = g_strdup_printf ("Failed to deserialize form: missing field `%s`", key);
  reply_oauth_error (reply, 400, "invalid_request", text);
  return FALSE;
}

/* POST /oauth2/token (crates/handlers/src/oauth2/token.rs): client
 * authentication first, then the form (none: 400 invalid_request), then
 * the grant. Only client_credentials is modelled to the end: an
 * authorization code or refresh token is never found here (400
 * invalid_grant), static clients lack the device code grant (401
 * unauthorized_client), any other grant_type is unsupported. */
static void
handle_token (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  ClientAuth auth = { NULL, NULL, NULL };
  g_autofree gchar *scope = NULL;
  const gchar *grant_type;
  const gchar *raw_scope;
  MasClient *client;

  (void) args;
  if (!client_auth_parse (req, &auth, reply))
    goto out;
  /* the form is deserialized, as a whole, before the client is looked up */
  if (auth.form != NULL)
    {
      grant_type = g_hash_table_lookup (auth.form, "grant_type");
      if (grant_type == NULL)
        {
          reply_oauth_error (reply, 400, "invalid_request", "Failed to deserialize form: missing field `grant_type`");
          goto out;
        }
      raw_scope = g_hash_table_lookup (auth.form, "scope");
      if (raw_scope != NULL && (g_strcmp0 (grant_type, "client_credentials") == 0
                                || g_strcmp0 (grant_type, "refresh_token") == 0))
        {
          scope = normalize_scope (raw_scope);
          if (scope == NULL)
            {
              reply_oauth_error (reply, 400, "invalid_request", "Failed to deserialize form: Invalid scope format");
              goto out;
            }
        }
      if ((g_strcmp0 (grant_type, "authorization_code") == 0 && !form_require (auth.form, "code", reply))
          || (g_strcmp0 (grant_type, "refresh_token") == 0 && !form_require (auth.form, "refresh_token", reply))
          || (g_strcmp0 (grant_type, "urn:ietf:params:oauth:grant-type:device_code") == 0
              && !form_require (auth.form, "device_code", reply)))
        goto out;
    }
  client = client_auth_verify (self, &auth, reply);
  if (client == NULL)
    goto out;
  if (auth.form == NULL)
    {
      reply_oauth_error (reply, 400, "invalid_request", NULL);
      goto out;
    }
  grant_type = g_hash_table_lookup (auth.form, "grant_type");
  if (g_strcmp0 (grant_type, "client_credentials") == 0)
    client_credentials_grant (self, client, scope != NULL ? scope : "", reply);
  else if (g_strcmp0 (grant_type, "authorization_code") == 0 || g_strcmp0 (grant_type, "refresh_token") == 0)
    reply_oauth_error (reply, 400, "invalid_grant", NULL);
  else if (g_strcmp0 (grant_type, "urn:ietf:params:oauth:grant-type:device_code") == 0)
    reply_oauth_error (reply, 401, "unauthorized_client", NULL);
  else
    reply_oauth_error (reply, 400, "unsupported_grant_type", NULL);
out:
  client_auth_clear (&auth);
}

/* POST /oauth2/revoke (crates/handlers/src/oauth2/revoke.rs, RFC 7009):
 * client authentication, the form (token, token_type_hint), then an empty
 * 200 whether or not the token was known, valid, or even well-formed; a
 * token another client got is 401 unauthorized_client. Revoking ends the
 * token's OAuth 2.0 session. Compat and personal tokens are not for this
 * endpoint: 200 and nothing happens. */
static void
handle_revoke (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  ClientAuth auth = { NULL, NULL, NULL };
  g_autofree gchar *format_error = NULL;
  const gchar *token_str;
  const gchar *hint;
  const gchar *type;
  MasAdminToken *token;
  MasClient *client;

  (void) args;
  if (!client_auth_parse (req, &auth, reply))
    goto out;
  if (auth.form != NULL && !g_hash_table_contains (auth.form, "token"))
    {
      reply_oauth_error (reply, 400, "invalid_request", "Failed to deserialize form: missing field `token`");
      goto out;
    }
  client = client_auth_verify (self, &auth, reply);
  if (client == NULL)
    goto out;
  if (auth.form == NULL)
    {
      reply_oauth_error (reply, 400, "invalid_request", NULL);
      goto out;
    }
  token_str = g_hash_table_lookup (auth.form, "token");
  hint = g_hash_table_lookup (auth.form, "token_type_hint");
  hs_reply_raw (reply, 200, HS_NO_CONTENT_TYPE, "");
  type = hs_mas_token_type (token_str, &format_error);
  if (type == NULL)
    goto out;
  if (hint != NULL && g_strcmp0 (hint, "access_token") != 0 && g_strcmp0 (hint, "refresh_token") != 0)
    {
      reply_oauth_error (reply, 400, "unsupported_token_type", NULL);
      goto out;
    }
  /* refresh tokens (mar_) are never handed out here */
  if (g_strcmp0 (type, "mat") != 0 || g_strcmp0 (hint, "refresh_token") == 0)
    goto out;
  token = hs_mas_lookup_admin_token (self, token_str);
  if (token == NULL || now_us () > token->expires_at || token->finished)
    goto out;
  if (g_strcmp0 (token->client_id, client->client_id) != 0)
    {
      reply_oauth_error (reply, 401, "unauthorized_client", NULL);
      goto out;
    }
  token->finished = TRUE;
out:
  client_auth_clear (&auth);
}

/* ------------------------------------------------------------------------ */
/* The admin API: who calls (crates/handlers/src/admin/call_context.rs) */

typedef struct {
  const gchar *client_id; /* an OAuth 2.0 client-credentials session's client */
  const gchar *user_id;   /* a personal session's actor */
} Caller;

/* CallContext::from_request_parts(): a Bearer header (none: 400 "Missing
 * authorization header", another scheme: 400 "Invalid authorization
 * header"), a token of MAS's format and of an access or personal type
 * (else 401 "Invalid type of access token", with the format error as its
 * source), known (401 "Unknown access token"), its session not ended (401
 * "Access token revoked", checked before expiry), not expired (401
 * "Access token expired"), the actor of a personal session not
 * deactivated (401 "User locked"), and urn:mas:admin in the scope (401
 * "Missing urn:mas:admin scope"). */
static gboolean
call_context (TestHomeserver *self, Request *req, Caller *caller, Reply *reply)
{
  g_autofree gchar *format_error = NULL;
  const gchar *token_str;
  const gchar *type;
  const gchar *scope;

  if (req->authorization == NULL)
    {
      reply_errors (reply, 400, "Missing authorization header", NULL);
      return FALSE;
    }
  if (g_ascii_strncasecmp (req->authorization, "Bearer ", 7) != 0 || req->authorization[7] == '\0')
    {
      reply_errors (reply, 400, "Invalid authorization header", NULL);
      return FALSE;
    }
  token_str = req->authorization + 7;
  type = hs_mas_token_type (token_str, &format_error);
  if (type == NULL)
    {
      reply_errors (reply, 401, "Invalid type of access token", format_error);
      return FALSE;
    }
  if (g_strcmp0 (type, "mat") == 0)
    {
      MasAdminToken *token = hs_mas_lookup_admin_token (self, token_str);

      if (token == NULL)
        {
          reply_errors (reply, 401, "Unknown access token", NULL);
          return FALSE;
        }
      if (token->finished)
        {
          reply_errors (reply, 401, "Access token revoked", NULL);
          return FALSE;
        }
      if (now_us () > token->expires_at)
        {
          reply_errors (reply, 401, "Access token expired", NULL);
          return FALSE;
        }
      caller->client_id = token->client_id;
      caller->user_id = NULL;
      scope = token->scope;
    }
  else if (g_strcmp0 (type, "mpt") == 0)
    {
      MasPersonalSession *session = hs_mas_lookup_personal_token (self, token_str);
      MasUser *actor;

      if (session == NULL)
        {
          reply_errors (reply, 401, "Unknown access token", NULL);
          return FALSE;
        }
      if (session->revoked_at != 0)
        {
          reply_errors (reply, 401, "Access token revoked", NULL);
          return FALSE;
        }
      if (!hs_mas_personal_session_active (session, TRUE))
        {
          reply_errors (reply, 401, "Access token expired", NULL);
          return FALSE;
        }
      actor = hs_mas_lookup_user_by_id (self, session->actor_user_id);
      if (actor == NULL || actor->deactivated_at != 0)
        {
          reply_errors (reply, 401, "User locked", NULL);
          return FALSE;
        }
      caller->client_id = NULL;
      caller->user_id = session->actor_user_id;
      scope = session->scope;
    }
  else
    {
      reply_errors (reply, 401, "Invalid type of access token", NULL);
      return FALSE;
    }
  if (!hs_mas_scope_has (scope, ADMIN_SCOPE))
    {
      reply_errors (reply, 401, "Missing urn:mas:admin scope", NULL);
      return FALSE;
    }
  return TRUE;
}

/* UlidPathParam (crates/handlers/src/admin/params.rs): 400 "Invalid ULID
 * in path" (its source, axum's path rejection, is left out) */
static gchar *
path_ulid (const gchar *arg, Reply *reply)
{
  gchar *id = parse_ulid (arg);

  if (id == NULL)
    reply_errors (reply, 400, "Invalid ULID in path", NULL);
  return id;
}

/* ------------------------------------------------------------------------ */
/* The admin API: server */

/* GET /api/admin/v1/version (v1/version.rs, MAS >= 1.4.0): AppVersion,
 * which is VERGEN_GIT_DESCRIBE, `git describe` of the release tag: "v1.22.0" */
static void
handle_version (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  const gchar *version = self->mas->version;
  g_autofree gchar *described = g_strconcat (version[0] == 'v' ? "" : "v", version, NULL);
  json_object *obj = json_object_new_object ();

  (void) req, (void) args;
  json_object_object_add (obj, "version", json_object_new_string (described));
  hs_reply_json (reply, 200, obj);
}

/* GET /api/admin/v1/site-config (v1/site_config.rs, MAS >= 1.3.0), a plain
 * object, with the defaults of crates/config/src/sections/account.rs
 * and crates/cli/src/util.rs site_config_from_config() */
static void
handle_site_config (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  gboolean passwords = self->mas->password_login;
  json_object *obj = json_object_new_object ();

  (void) req, (void) args;
  json_object_object_add (obj, "server_name", json_object_new_string (self->server_name));
  json_object_object_add (obj, "password_login_enabled", json_object_new_boolean (passwords));
  json_object_object_add (obj, "password_registration_enabled", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "password_registration_email_required", json_object_new_boolean (TRUE));
  json_object_object_add (obj, "password_registration_token_required", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "registration_token_required", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "email_change_allowed", json_object_new_boolean (TRUE));
  json_object_object_add (obj, "displayname_change_allowed", json_object_new_boolean (TRUE));
  json_object_object_add (obj, "password_change_allowed", json_object_new_boolean (passwords));
  json_object_object_add (obj, "account_recovery_allowed", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "account_deactivation_allowed", json_object_new_boolean (TRUE));
  json_object_object_add (obj, "captcha_enabled", json_object_new_boolean (FALSE));
  json_object_object_add (obj, "minimum_password_complexity", json_object_new_int (self->mas->minimum_complexity));
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* The admin API: users */

/* v1/users/add.rs username_valid(): 1-255 bytes of a-z 0-9 = _ - . / +,
 * not starting with _ */
static gboolean
username_valid (const gchar *username)
{
  gsize len = strlen (username);

  if (len == 0 || len > 255 || username[0] == '_')
    return FALSE;
  for (const gchar *p = username; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("=_-./+", *p) != NULL))
        return FALSE;
    }
  return TRUE;
}

/* POST /api/admin/v1/users (v1/users/add.rs): in MAS already (caseless)
 * 409 "User already exists"; invalid 400 "Username is not valid"; the
 * homeserver's is_localpart_available() false (Synapse's check_username():
 * taken by any account, deactivated or Synapse-only, or a name Synapse
 * refuses) 409 "Username is reserved by the homeserver" unless
 * skip_homeserver_check; then the user, provisioned on the homeserver in
 * the same call (no password there; display name the given one, else
 * Synapse's default, the localpart). 201. */
static void
handle_add_user (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *mxid = NULL;
  json_object *username = NULL;
  json_object *skip = NULL;
  json_object *displayname = NULL;
  json_object *avatar_url = NULL;
  const gchar *name;
  Reply scratch = { 0, NULL, NULL, NULL };
  gboolean available;
  MasUser *user;
  User *hs_user;

  (void) args;
  body = admin_json_body (req, FALSE, "AddUserRequest", reply);
  if (body == NULL)
    return;
  if (!body_field (body, "username", json_type_string, FIELD_REQUIRED, &username, reply)
      || !body_field (body, "skip_homeserver_check", json_type_boolean, FIELD_DEFAULT, &skip, reply)
      || !body_field (body, "displayname", json_type_string, FIELD_OPTION, &displayname, reply)
      || !body_field (body, "avatar_url", json_type_string, FIELD_OPTION, &avatar_url, reply))
    return;
  name = json_object_get_string (username);
  if (hs_mas_lookup_user_by_name (self, name) != NULL)
    {
      reply_errors (reply, 409, "User already exists", NULL);
      return;
    }
  if (!username_valid (name))
    {
      reply_errors (reply, 400, "Username is not valid", NULL);
      return;
    }
  available = hs_check_username_locked (self, name, &scratch);
  hs_reply_clear (&scratch);
  if (!available && !(skip != NULL && json_object_get_boolean (skip)))
    {
      reply_errors (reply, 409, "Username is reserved by the homeserver", NULL);
      return;
    }
  user = hs_mas_add_user_locked (self, name);
  /* ProvisionRequest, Synapse's /_synapse/mas/provision_user */
  mxid = hs_mas_user_mxid (self, user);
  hs_user = hs_lookup_user (self, mxid);
  if (hs_user == NULL)
    hs_add_user_locked (self, name, NULL, displayname != NULL ? json_object_get_string (displayname) : NULL, FALSE);
  else if (displayname != NULL)
    {
      g_free (hs_user->displayname);
      hs_user->displayname = g_strdup (json_object_get_string (displayname));
    }
  hs_reply_json (reply, 201, user_response (user, NULL));
}

/* GET /api/admin/v1/users/<id> (v1/users/get.rs) */
static void
handle_get_user (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  MasUser *user;

  (void) req;
  if (id == NULL)
    return;
  user = hs_mas_lookup_user_by_id (self, id);
  if (user == NULL)
    {
      reply_errorf (reply, 404, "User ID %s not found", id);
      return;
    }
  hs_reply_json (reply, 200, user_response (user, NULL));
}

/* GET /api/admin/v1/users/by-username/<username> (v1/users/by_username.rs):
 * links.self is the by-username path; 404 with the name as Rust's Debug
 * prints it */
static void
handle_user_by_username (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *self_path = g_strdup_printf (USERS_PATH "/by-username/%s", args[0]);
  MasUser *user = hs_mas_lookup_user_by_name (self, args[0]);

  (void) req;
  if (user == NULL)
    {
      g_autofree gchar *quoted = g_strescape (args[0], NULL);
      reply_errorf (reply, 404, "User with username \"%s\" not found", quoted);
      return;
    }
  hs_reply_json (reply, 200, user_response (user, self_path));
}

/* A stand-in for zxcvbn's score (0..4) of crates/handlers/src/passwords.rs
 * is_password_complex_enough(); see test_homeserver_mas_set_minimum_password_complexity() */
static guint
password_score (const gchar *password)
{
  static const gchar *const common[] = {
    "password", "password1", "passw0rd", "123456", "1234567", "12345678", "123456789", "1234567890",
    "qwerty", "qwertyuiop", "abc123", "111111", "123123", "letmein", "welcome", "monkey", "dragon",
    "football", "iloveyou", "admin", "hunter2", "trustno1", "sunshine", "princess", "1q2w3e4r",
    "correcthorsebatterystaple", NULL,
  };
  gsize len = g_utf8_strlen (password, -1);
  gboolean lower = FALSE, upper = FALSE, digit = FALSE, other = FALSE;
  g_autoptr(GHashTable) distinct = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint classes;

  for (guint i = 0; common[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (password, common[i]) == 0)
        return 0;
    }
  for (const gchar *p = password; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_hash_table_add (distinct, GUINT_TO_POINTER (c));
      if (c < 0x80 && g_ascii_islower (c))
        lower = TRUE;
      else if (c < 0x80 && g_ascii_isupper (c))
        upper = TRUE;
      else if (c < 0x80 && g_ascii_isdigit (c))
        digit = TRUE;
      else
        other = TRUE;
    }
  classes = (lower ? 1 : 0) + (upper ? 1 : 0) + (digit ? 1 : 0) + (other ? 1 : 0);
  if (g_hash_table_size (distinct) < 3)
    return 0;
  if (len < 8)
    return 1;
  if (len < 12 && (classes < 2 || g_hash_table_size (distinct) < 5))
    return 2;
  if (len >= 16 && g_hash_table_size (distinct) >= 5)
    return 4;
  return 3;
}

/* POST /api/admin/v1/users/<id>/set-password (v1/users/set_password.rs):
 * 403 "Password auth is disabled" before anything about the user, 404,
 * 400 "Password is too weak" unless skip_password_check; 204 without a
 * body. The new password replaces the active one; sessions stay. */
static void
handle_set_password (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  g_autoptr(json_object) body = NULL;
  json_object *password = NULL;
  json_object *skip = NULL;
  MasUser *user;

  if (id == NULL)
    return;
  body = admin_json_body (req, FALSE, "SetUserPasswordRequest", reply);
  if (body == NULL)
    return;
  if (!body_field (body, "password", json_type_string, FIELD_REQUIRED, &password, reply)
      || !body_field (body, "skip_password_check", json_type_boolean, FIELD_OPTION, &skip, reply))
    return;
  if (!self->mas->password_login)
    {
      reply_errors (reply, 403, "Password auth is disabled", NULL);
      return;
    }
  user = hs_mas_lookup_user_by_id (self, id);
  if (user == NULL)
    {
      reply_errorf (reply, 404, "User ID %s not found", id);
      return;
    }
  if (!(skip != NULL && json_object_get_boolean (skip))
      && password_score (json_object_get_string (password)) < self->mas->minimum_complexity)
    {
      reply_errors (reply, 400, "Password is too weak", NULL);
      return;
    }
  g_free (user->password);
  user->password = g_strdup (json_object_get_string (password));
  hs_reply_raw (reply, 204, HS_NO_CONTENT_TYPE, "");
}

/* DeactivateUserJob (crates/tasks/src/user.rs), run at once: MAS ends
 * every session of the user (compat, personal as actor or owner), then
 * the homeserver deactivates the account (Synapse's
 * /_synapse/mas/delete_user: deactivate_account(), which parts its rooms
 * and removes its devices), erasing unless told not to */
static void
deactivate_user_locked (TestHomeserver *self, MasUser *user, gboolean erase)
{
  g_autofree gchar *mxid = hs_mas_user_mxid (self, user);
  gint64 now = now_us ();
  User *hs_user;

  if (user->deactivated_at == 0)
    user->deactivated_at = now;
  for (guint i = 0; i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (self->mas->compat_sessions, i);
      if (session->finished_at == 0 && g_strcmp0 (session->user_id, user->id) == 0)
        session->finished_at = now;
    }
  for (guint i = 0; i < self->mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (self->mas->personal_sessions, i);
      if (session->revoked_at == 0 && (g_strcmp0 (session->actor_user_id, user->id) == 0
                                       || g_strcmp0 (session->owner_user_id, user->id) == 0))
        session->revoked_at = now;
    }
  hs_user = hs_lookup_user (self, mxid);
  if (hs_user != NULL)
    hs_deactivate_user_locked (self, hs_user, erase);
}

/* POST /api/admin/v1/users/<id>/deactivate (v1/users/deactivate.rs): the
 * body is optional ({"skip_erase": false}; without a Content-Type there
 * is none); 200 with the user, links.self the deactivate path */
static void
handle_deactivate (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  g_autofree gchar *self_path = NULL;
  g_autoptr(json_object) body = NULL;
  json_object *skip_erase = NULL;
  MasUser *user;

  if (id == NULL)
    return;
  body = admin_json_body (req, TRUE, "DeactivateUserRequest", reply);
  if (body == NULL && reply->status != 0)
    return;
  if (body != NULL && !body_field (body, "skip_erase", json_type_boolean, FIELD_DEFAULT, &skip_erase, reply))
    return;
  user = hs_mas_lookup_user_by_id (self, id);
  if (user == NULL)
    {
      reply_errorf (reply, 404, "User ID %s not found", id);
      return;
    }
  deactivate_user_locked (self, user, !(skip_erase != NULL && json_object_get_boolean (skip_erase)));
  self_path = g_strdup_printf (USERS_PATH "/%s/deactivate", id);
  hs_reply_json (reply, 200, user_response (user, self_path));
}

/* ------------------------------------------------------------------------ */
/* The admin API: personal sessions (MAS >= 1.5.0) */

/* POST /api/admin/v1/personal-sessions (v1/personal_sessions/add.rs):
 * actor not found 404 "User not found", deactivated 410 "User is not
 * active", a scope that does not parse 400 "Invalid scope"; no policy
 * check on the scope. The owner is the caller: the admin client, or a
 * personal session's actor. Each device the scope names is made on the
 * homeserver before the answer. 201 with the mpt_ token. */
static void
handle_add_personal_session (TestHomeserver *self, Request *req, gchar **args, Reply *reply,
                             const Caller *caller)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *actor_id = NULL;
  g_autofree gchar *scope = NULL;
  g_autofree gchar *mxid = NULL;
  g_auto(GStrv) tokens = NULL;
  json_object *actor = NULL;
  json_object *human_name = NULL;
  json_object *raw_scope = NULL;
  json_object *expires_in = NULL;
  MasPersonalSession *session;
  MasUser *user;

  (void) args;
  body = admin_json_body (req, FALSE, "CreatePersonalSessionRequest", reply);
  if (body == NULL)
    return;
  if (!body_field (body, "actor_user_id", json_type_string, FIELD_REQUIRED, &actor, reply)
      || !body_field (body, "human_name", json_type_string, FIELD_REQUIRED, &human_name, reply)
      || !body_field (body, "scope", json_type_string, FIELD_REQUIRED, &raw_scope, reply)
      || !body_field (body, "expires_in", json_type_int, FIELD_OPTION, &expires_in, reply))
    return;
  actor_id = parse_ulid (json_object_get_string (actor));
  if (actor_id == NULL)
    {
      reply_data_error (reply, "actor_user_id: invalid ULID");
      return;
    }
  if (expires_in != NULL && (json_object_get_int64 (expires_in) < 0
                             || json_object_get_int64 (expires_in) > G_MAXUINT32))
    {
      g_autofree gchar *detail = g_strdup_printf ("expires_in: invalid value: integer `%" G_GINT64_FORMAT "`, "
                                                  "expected u32", json_object_get_int64 (expires_in));
      reply_data_error (reply, detail);
      return;
    }
  user = hs_mas_lookup_user_by_id (self, actor_id);
  if (user == NULL)
    {
      reply_errors (reply, 404, "User not found", NULL);
      return;
    }
  if (user->deactivated_at != 0)
    {
      reply_errors (reply, 410, "User is not active", NULL);
      return;
    }
  scope = normalize_scope (json_object_get_string (raw_scope));
  if (scope == NULL)
    {
      reply_errors (reply, 400, "Invalid scope", NULL);
      return;
    }
  session = g_new0 (MasPersonalSession, 1);
  session->id = hs_mas_ulid_new_locked (self);
  session->owner_client_id = g_strdup (caller->client_id);
  session->owner_user_id = g_strdup (caller->user_id);
  session->actor_user_id = g_strdup (user->id);
  session->human_name = g_strdup (json_object_get_string (human_name));
  session->scope = g_steal_pointer (&scope);
  session->created_at = now_us ();
  session->token = hs_mas_token_new ("mpt");
  if (expires_in != NULL)
    session->expires_at = session->created_at + json_object_get_int64 (expires_in) * G_USEC_PER_SEC;
  g_ptr_array_add (self->mas->personal_sessions, session);

  /* upsert_device() for every device scope token, no display name */
  mxid = hs_mas_user_mxid (self, user);
  tokens = g_strsplit (session->scope, " ", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      g_autofree gchar *device_id = NULL;

      if (hs_mas_scope_device (tokens[i], &device_id, NULL))
        hs_device_register_locked (self, mxid, device_id, NULL);
    }
  hs_reply_json (reply, 201, personal_session_response (session, TRUE));
}

/* GET /api/admin/v1/personal-sessions/<id> (v1/personal_sessions/get.rs) */
static void
handle_get_personal_session (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  MasPersonalSession *session;

  (void) req;
  if (id == NULL)
    return;
  session = lookup_personal_session (self, id);
  if (session == NULL)
    {
      reply_errors (reply, 404, "Personal session not found", NULL);
      return;
    }
  hs_reply_json (reply, 200, personal_session_response (session, FALSE));
}

/* POST /api/admin/v1/personal-sessions/<id>/revoke
 * (v1/personal_sessions/revoke.rs): no body; 404, 409 when already
 * revoked; a session with a device has the device sync remove it */
static void
handle_revoke_personal_session (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  MasPersonalSession *session;
  MasUser *actor;

  (void) req;
  if (id == NULL)
    return;
  session = lookup_personal_session (self, id);
  if (session == NULL)
    {
      reply_errorf (reply, 404, "Personal session with ID %s not found", id);
      return;
    }
  if (session->revoked_at != 0)
    {
      reply_errorf (reply, 409, "Personal session with ID %s is already revoked", id);
      return;
    }
  session->revoked_at = now_us ();
  actor = hs_mas_lookup_user_by_id (self, session->actor_user_id);
  if (actor != NULL && hs_mas_scope_device (session->scope, NULL, NULL))
    hs_mas_sync_devices_locked (self, actor);
  hs_reply_json (reply, 200, personal_session_response (session, FALSE));
}

/* GET /api/admin/v1/personal-sessions (v1/personal_sessions/list.rs),
 * with filter[actor_user] and filter[status] (active, revoked), page[first]
 * (10 by default); oldest first. The other filters and the paging links
 * beyond self are not modelled. */
static void
handle_list_personal_sessions (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  const gchar *actor_arg = req->query != NULL ? g_hash_table_lookup (req->query, "filter[actor_user]") : NULL;
  const gchar *status = req->query != NULL ? g_hash_table_lookup (req->query, "filter[status]") : NULL;
  const gchar *first_arg = req->query != NULL ? g_hash_table_lookup (req->query, "page[first]") : NULL;
  g_autofree gchar *actor = NULL;
  json_object *obj, *data, *meta, *links;
  guint64 first = 10;
  guint count = 0;

  (void) args;
  if ((actor_arg != NULL && (actor = parse_ulid (actor_arg)) == NULL)
      || (status != NULL && g_strcmp0 (status, "active") != 0 && g_strcmp0 (status, "revoked") != 0))
    {
      reply_errors (reply, 400, "Invalid filter parameters", NULL);
      return;
    }
  if (first_arg != NULL && !g_ascii_string_to_unsigned (first_arg, 10, 1, G_MAXUINT, &first, NULL))
    {
      reply_errors (reply, 400, "Invalid pagination parameters", NULL);
      return;
    }
  obj = json_object_new_object ();
  data = json_object_new_array ();
  for (guint i = 0; i < self->mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (self->mas->personal_sessions, i);
      g_autoptr(json_object) single = NULL;

      if ((actor != NULL && g_strcmp0 (session->actor_user_id, actor) != 0)
          || (status != NULL && (g_strcmp0 (status, "active") == 0) != (session->revoked_at == 0)))
        continue;
      if (count++ >= first)
        continue;
      single = personal_session_response (session, FALSE);
      json_object_array_add (data, json_object_get (json_object_object_get (single, "data")));
    }
  meta = json_object_new_object ();
  json_object_object_add (meta, "count", json_object_new_int64 (count));
  json_object_object_add (obj, "meta", meta);
  json_object_object_add (obj, "data", data);
  links = json_object_new_object ();
  json_object_object_add (links, "self", json_object_new_string (PERSONAL_SESSIONS_PATH));
  json_object_object_add (obj, "links", links);
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* The admin API: compat sessions */

/* GET /api/admin/v1/compat-sessions (v1/compat_sessions/list.rs,
 * admin/params.rs Pagination, admin/response.rs PaginatedResponse), with
 * filter[user] and filter[status] (active, finished), page[first] (10 by
 * default) and page[after]; oldest first. The other filters, page[last],
 * page[before] and count=false|only are not modelled. */
static void
handle_list_compat_sessions (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  const gchar *user_arg = req->query != NULL ? g_hash_table_lookup (req->query, "filter[user]") : NULL;
  const gchar *status = req->query != NULL ? g_hash_table_lookup (req->query, "filter[status]") : NULL;
  const gchar *first_arg = req->query != NULL ? g_hash_table_lookup (req->query, "page[first]") : NULL;
  const gchar *after_arg = req->query != NULL ? g_hash_table_lookup (req->query, "page[after]") : NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *after = NULL;
  g_autoptr(GString) base = g_string_new (COMPAT_SESSIONS_PATH);
  g_autoptr(GPtrArray) matching = g_ptr_array_new ();
  json_object *obj;
  json_object *data;
  json_object *meta;
  json_object *links;
  guint64 first = 10;
  guint start = 0;

  (void) args;
  if ((user_arg != NULL && (user_id = parse_ulid (user_arg)) == NULL)
      || (status != NULL && g_strcmp0 (status, "active") != 0 && g_strcmp0 (status, "finished") != 0))
    {
      reply_errors (reply, 400, "Invalid filter parameters", NULL);
      return;
    }
  if ((first_arg != NULL && (!g_ascii_string_to_unsigned (first_arg, 10, 1, G_MAXUINT, &first, NULL)))
      || (after_arg != NULL && (after = parse_ulid (after_arg)) == NULL))
    {
      reply_errors (reply, 400, "Invalid pagination parameters", NULL);
      return;
    }
  if (user_id != NULL && hs_mas_lookup_user_by_id (self, user_id) == NULL)
    {
      reply_errorf (reply, 404, "User ID %s not found", user_id);
      return;
    }
  for (guint i = 0; i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (self->mas->compat_sessions, i);

      if ((user_id == NULL || g_strcmp0 (session->user_id, user_id) == 0)
          && (status == NULL || (g_strcmp0 (status, "active") == 0) == (session->finished_at == 0)))
        g_ptr_array_add (matching, session);
    }
  /* FilterParams' Display: the filters again, in their order */
  if (user_id != NULL)
    g_string_append_printf (base, "?filter[user]=%s", user_id);
  if (status != NULL)
    g_string_append_printf (base, "%cfilter[status]=%s", user_id != NULL ? '&' : '?', status);
  while (after != NULL && start < matching->len
         && g_strcmp0 (((MasCompatSession *) g_ptr_array_index (matching, start))->id, after) <= 0)
    start++;

  obj = json_object_new_object ();
  meta = json_object_new_object ();
  json_object_object_add (meta, "count", json_object_new_int64 (matching->len));
  json_object_object_add (obj, "meta", meta);
  data = json_object_new_array ();
  for (guint i = start; i < matching->len && i - start < first; i++)
    {
      MasCompatSession *session = g_ptr_array_index (matching, i);
      g_autoptr(json_object) single = compat_session_response (session, NULL);
      json_object *resource = json_object_get (json_object_object_get (single, "data"));
      json_object *resource_meta = json_object_new_object ();
      json_object *page = json_object_new_object ();

      json_object_object_add (page, "cursor", json_object_new_string (session->id));
      json_object_object_add (resource_meta, "page", page);
      json_object_object_add (resource, "meta", resource_meta);
      json_object_array_add (data, resource);
    }
  json_object_object_add (obj, "data", data);
  links = json_object_new_object ();
  {
    const gchar sep = strchr (base->str, '?') != NULL ? '&' : '?';
    g_autofree gchar *self_link = after != NULL
      ? g_strdup_printf ("%s%cpage[after]=%s&page[first]=%" G_GUINT64_FORMAT, base->str, sep, after, first)
      : g_strdup_printf ("%s%cpage[first]=%" G_GUINT64_FORMAT, base->str, sep, first);
    g_autofree gchar *first_link = g_strdup_printf ("%s%cpage[first]=%" G_GUINT64_FORMAT, base->str, sep, first);
    g_autofree gchar *last_link = g_strdup_printf ("%s%cpage[last]=%" G_GUINT64_FORMAT, base->str, sep, first);

    json_object_object_add (links, "self", json_object_new_string (self_link));
    json_object_object_add (links, "first", json_object_new_string (first_link));
    json_object_object_add (links, "last", json_object_new_string (last_link));
    if (matching->len - start > first)
      {
        MasCompatSession *last = g_ptr_array_index (matching, start + first - 1);
        g_autofree gchar *next = g_strdup_printf ("%s%cpage[after]=%s&page[first]=%" G_GUINT64_FORMAT, base->str,
                                                  sep, last->id, first);
        json_object_object_add (links, "next", json_object_new_string (next));
      }
  }
  json_object_object_add (obj, "links", links);
  hs_reply_json (reply, 200, obj);
}

/* GET /api/admin/v1/compat-sessions/<id> (v1/compat_sessions/get.rs) */
static void
handle_get_compat_session (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  MasCompatSession *session;

  (void) req;
  if (id == NULL)
    return;
  session = lookup_compat_session (self, id);
  if (session == NULL)
    {
      reply_errorf (reply, 404, "Compatibility session ID %s not found", id);
      return;
    }
  hs_reply_json (reply, 200, compat_session_response (session, NULL));
}

/* POST /api/admin/v1/compat-sessions/<id>/finish
 * (v1/compat_sessions/finish.rs): 404, 400 when already finished; the
 * device sync removes its device */
static void
handle_finish_compat_session (TestHomeserver *self, Request *req, gchar **args, Reply *reply)
{
  g_autofree gchar *id = path_ulid (args[0], reply);
  g_autofree gchar *self_path = NULL;
  MasCompatSession *session;
  MasUser *user;

  (void) req;
  if (id == NULL)
    return;
  session = lookup_compat_session (self, id);
  if (session == NULL)
    {
      reply_errorf (reply, 404, "Compatibility session with ID %s not found", id);
      return;
    }
  if (session->finished_at != 0)
    {
      reply_errorf (reply, 400, "Compatibility session with ID %s is already finished", id);
      return;
    }
  session->finished_at = now_us ();
  user = hs_mas_lookup_user_by_id (self, session->user_id);
  if (user != NULL)
    hs_mas_sync_devices_locked (self, user);
  self_path = g_strdup_printf (COMPAT_SESSIONS_PATH "/%s/finish", id);
  hs_reply_json (reply, 200, compat_session_response (session, self_path));
}

/* ------------------------------------------------------------------------ */
/* Routing */

typedef void (*MasHandler) (TestHomeserver *self, Request *req, gchar **args, Reply *reply);

typedef struct {
  const gchar *method;
  const gchar *pattern;   /* "{}" captures one segment */
  MasHandler func;
  gboolean admin;         /* behind the CallContext */
  guint since[3];         /* the first MAS version with the route */
} MasRoute;

/* crates/handlers/src/lib.rs, crates/router/src/endpoints.rs and
 * crates/handlers/src/admin/v1/mod.rs; static paths before the {} that
 * would take them, as axum's matcher prefers them */
static const MasRoute mas_routes[] = {
  { "GET", ".well-known/openid-configuration", handle_discovery, FALSE, { 0, 0, 0 } },
  { "POST", "oauth2/token", handle_token, FALSE, { 0, 0, 0 } },
  { "POST", "oauth2/revoke", handle_revoke, FALSE, { 0, 0, 0 } },
  { "GET", "api/admin/v1/version", handle_version, TRUE, { 1, 4, 0 } },
  { "GET", "api/admin/v1/site-config", handle_site_config, TRUE, { 1, 3, 0 } },
  { "POST", "api/admin/v1/users", handle_add_user, TRUE, { 0, 10, 0 } },
  { "GET", "api/admin/v1/users/by-username/{}", handle_user_by_username, TRUE, { 0, 10, 0 } },
  { "GET", "api/admin/v1/users/{}", handle_get_user, TRUE, { 0, 10, 0 } },
  { "POST", "api/admin/v1/users/{}/set-password", handle_set_password, TRUE, { 0, 10, 0 } },
  { "POST", "api/admin/v1/users/{}/deactivate", handle_deactivate, TRUE, { 0, 10, 0 } },
  /* handled with the caller, below */
  { "POST", "api/admin/v1/personal-sessions", NULL, TRUE, { 1, 5, 0 } },
  { "GET", "api/admin/v1/personal-sessions", handle_list_personal_sessions, TRUE, { 1, 5, 0 } },
  { "GET", "api/admin/v1/personal-sessions/{}", handle_get_personal_session, TRUE, { 1, 5, 0 } },
  { "POST", "api/admin/v1/personal-sessions/{}/revoke", handle_revoke_personal_session, TRUE, { 1, 5, 0 } },
  { "GET", "api/admin/v1/compat-sessions", handle_list_compat_sessions, TRUE, { 0, 10, 0 } },
  { "GET", "api/admin/v1/compat-sessions/{}", handle_get_compat_session, TRUE, { 0, 10, 0 } },
  { "POST", "api/admin/v1/compat-sessions/{}/finish", handle_finish_compat_session, TRUE, { 0, 10, 0 } },
};

static gboolean
mas_route_matches (const MasRoute *route, gchar **segments, GPtrArray *captures)
{
  g_auto(GStrv) parts = g_strsplit (route->pattern, "/", -1);

  g_ptr_array_set_size (captures, 0);
  if (g_strv_length (parts) != g_strv_length (segments))
    return FALSE;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (g_strcmp0 (parts[i], "{}") == 0)
        {
          if (segments[i][0] == '\0')
            return FALSE;
          g_ptr_array_add (captures, segments[i]);
        }
      else if (g_strcmp0 (parts[i], segments[i]) != 0)
        return FALSE;
    }
  g_ptr_array_add (captures, NULL);
  return TRUE;
}

/* mas_handlers::fallback (crates/handlers/src/lib.rs): the 404 page of
 * templates/pages/404.html, HTML whatever the client accepts */
static void
reply_not_found (Request *req, Reply *reply)
{
  const gchar *query = g_uri_get_query (soup_server_message_get_uri (req->msg));
  g_autofree gchar *uri = query != NULL ? g_strdup_printf ("%s?%s", req->path, query) : g_strdup (req->path);
  g_autofree gchar *escaped = g_markup_escape_text (uri, -1);
  g_autofree gchar *page = g_strdup_printf (
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>Matrix Authentication Service</title>\n</head>\n<body>\n"
    "<main class=\"w-96 flex-1 flex flex-col gap-2 justify-center\">\n"
    "  <h1 class=\"text-xl font-semibold\">Page not found</h1>\n"
    "  <p>The page you were looking for doesn't exist or has been moved</p>\n"
    "  <div>\n    <a class=\"cpd-link\" href=\"/\">Go back to the homepage</a>\n  </div>\n\n  <hr />\n\n"
    "  <code>\n    <pre class=\"whitespace-pre-wrap break-all\">%s %s HTTP/1.1\n\nHTTP/1.1 404 Not Found</pre>\n"
    "  </code>\n</main>\n</body>\n</html>\n",
    req->method, escaped);

  hs_reply_raw (reply, 404, "text/html; charset=utf-8", page);
}

/* Everything that comes to MAS's port; self->lock is held */
void
hs_mas_handle_request (TestHomeserver *self, Request *req, Reply *reply)
{
  g_autoptr(GPtrArray) captures = g_ptr_array_new ();
  const MasRoute *route = NULL;
  gboolean path_known = FALSE;
  Caller caller = { NULL, NULL };

  req->answered_by_mas = TRUE;
  for (guint i = 0; req->segments != NULL && i < G_N_ELEMENTS (mas_routes); i++)
    {
      const MasRoute *r = &mas_routes[i];

      if (!version_at_least (self->mas->version, r->since[0], r->since[1], r->since[2])
          || !mas_route_matches (r, req->segments, captures))
        continue;
      path_known = TRUE;
      if (g_strcmp0 (r->method, req->method) == 0
          || (g_strcmp0 (r->method, "GET") == 0 && g_strcmp0 (req->method, "HEAD") == 0))
        {
          route = r;
          break;
        }
    }
  if (route == NULL)
    {
      /* axum: a path with another method is an empty 405 */
      if (path_known)
        hs_reply_raw (reply, 405, HS_NO_CONTENT_TYPE, "");
      else
        reply_not_found (req, reply);
      return;
    }
  if (route->admin && !call_context (self, req, &caller, reply))
    return;
  if (route->func == NULL)
    handle_add_personal_session (self, req, (gchar **) captures->pdata, reply, &caller);
  else
    route->func (self, req, (gchar **) captures->pdata, reply);
}

/* ------------------------------------------------------------------------ */
/* Public API */

const gchar *
test_homeserver_get_mas_url (TestHomeserver *self)
{
  const gchar *ret;

  g_mutex_lock (&self->lock);
  ret = self->mas->url;
  g_mutex_unlock (&self->lock);
  return ret;
}

void
test_homeserver_mas_add_client (TestHomeserver *self, const gchar *client_id, const gchar *client_secret,
                                gboolean admin_client)
{
  MasClient *client;

  g_return_if_fail (client_id != NULL);

  g_mutex_lock (&self->lock);
  client = lookup_client (self, client_id);
  if (client == NULL)
    {
      client = g_new0 (MasClient, 1);
      client->client_id = g_strdup (client_id);
      g_ptr_array_add (self->mas->clients, client);
    }
  g_free (client->secret);
  client->secret = g_strdup (client_secret);
  client->admin = admin_client;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_mas_set_version (TestHomeserver *self, const gchar *version)
{
  g_return_if_fail (version != NULL);

  g_mutex_lock (&self->lock);
  g_free (self->mas->version);
  self->mas->version = g_strdup (version);
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_mas_set_token_ttl (TestHomeserver *self, guint seconds)
{
  g_mutex_lock (&self->lock);
  self->mas->token_ttl_s = seconds;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_mas_expire_admin_tokens (TestHomeserver *self)
{
  gint64 past = now_us () - 1;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->mas->admin_tokens->len; i++)
    {
      MasAdminToken *token = g_ptr_array_index (self->mas->admin_tokens, i);
      token->expires_at = MIN (token->expires_at, past);
    }
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_mas_set_password_login (TestHomeserver *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->mas->password_login = enabled;
  g_mutex_unlock (&self->lock);
}

void
test_homeserver_mas_set_minimum_password_complexity (TestHomeserver *self, guint complexity)
{
  g_return_if_fail (complexity <= 4);

  g_mutex_lock (&self->lock);
  self->mas->minimum_complexity = complexity;
  g_mutex_unlock (&self->lock);
}

gboolean
test_homeserver_mas_user_exists (TestHomeserver *self, const gchar *localpart)
{
  gboolean ret;

  g_mutex_lock (&self->lock);
  ret = hs_mas_lookup_user_by_name (self, localpart) != NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gboolean
test_homeserver_mas_user_is_deactivated (TestHomeserver *self, const gchar *localpart)
{
  MasUser *user;
  gboolean ret;

  g_mutex_lock (&self->lock);
  user = hs_mas_lookup_user_by_name (self, localpart);
  ret = user != NULL && user->deactivated_at != 0;
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_mas_get_user_id (TestHomeserver *self, const gchar *localpart)
{
  MasUser *user;
  gchar *ret;

  g_mutex_lock (&self->lock);
  user = hs_mas_lookup_user_by_name (self, localpart);
  ret = user != NULL ? g_strdup (user->id) : NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

gchar *
test_homeserver_mas_get_user_password (TestHomeserver *self, const gchar *localpart)
{
  MasUser *user;
  gchar *ret;

  g_mutex_lock (&self->lock);
  user = hs_mas_lookup_user_by_name (self, localpart);
  ret = user != NULL ? g_strdup (user->password) : NULL;
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_mas_count_personal_sessions (TestHomeserver *self, const gchar *localpart, gboolean active_only)
{
  MasUser *user;
  guint ret = 0;

  g_mutex_lock (&self->lock);
  user = hs_mas_lookup_user_by_name (self, localpart);
  for (guint i = 0; user != NULL && i < self->mas->personal_sessions->len; i++)
    {
      MasPersonalSession *session = g_ptr_array_index (self->mas->personal_sessions, i);
      if (g_strcmp0 (session->actor_user_id, user->id) == 0 && (!active_only || session->revoked_at == 0))
        ret++;
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_mas_count_compat_sessions (TestHomeserver *self, const gchar *localpart, gboolean active_only)
{
  MasUser *user;
  guint ret = 0;

  g_mutex_lock (&self->lock);
  user = hs_mas_lookup_user_by_name (self, localpart);
  for (guint i = 0; user != NULL && i < self->mas->compat_sessions->len; i++)
    {
      MasCompatSession *session = g_ptr_array_index (self->mas->compat_sessions, i);
      if (g_strcmp0 (session->user_id, user->id) == 0 && (!active_only || session->finished_at == 0))
        ret++;
    }
  g_mutex_unlock (&self->lock);
  return ret;
}

guint
test_homeserver_mas_count_admin_tokens (TestHomeserver *self, gboolean valid_only)
{
  gint64 now = now_us ();
  guint ret = 0;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->mas->admin_tokens->len; i++)
    {
      MasAdminToken *token = g_ptr_array_index (self->mas->admin_tokens, i);
      if (!valid_only || (!token->finished && now <= token->expires_at))
        ret++;
    }
  g_mutex_unlock (&self->lock);
  return ret;
}
