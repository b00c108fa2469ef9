/* test-homeserver-register.c: registration: shared-secret registration at
 * /_synapse/admin/v1/register, and POST /_matrix/client/v3/register with
 * its token validity and username availability checks.
 *
 * Shared secret: Synapse 1.67's rest/admin/users.py UserRegisterServlet,
 * Dendrite 0.13.7's clientapi/routing/register_secret.go, Tuwunel 1.9's
 * src/api/client/admin/register.rs; the flavour's shared_secret_register
 * hook picks the server. /register: Synapse's rest/client/register.py
 * (backends-2026.md 2.2) and the Conduit family's (2.5), through the
 * flavour's client_register hook; the UIA itself is in
 * test-homeserver-uia.c, the tokens in test-homeserver-tokens.c.
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "test-homeserver"

#include "test-homeserver-private.h"

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
  gint64 timeout_us = self->flavour->nonce_lifetime_s * G_USEC_PER_SEC;
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

void
hs_handle_register_nonce (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autofree gchar *nonce = NULL;
  json_object *obj;

  (void) req, (void) who, (void) args;
  nonces_expire_locked (self);
  nonce = hs_random_string (self->flavour->nonce_alphabet, self->flavour->nonce_length);
  nonce_add_locked (self, nonce);
  obj = json_object_new_object ();
  json_object_object_add (obj, "nonce", json_object_new_string (nonce));
  hs_reply_json (reply, 200, obj);
}

/* registers the user with a fresh device, as both servers do; NULL
 * device_id = a random one */
static Token *
register_with_device_locked (TestHomeserver *self, User *user, const gchar *device_id,
                             const gchar *display_name)
{
  g_autofree gchar *random_id = hs_random_string (UPPERCASE, 10);

  if (device_id == NULL)
    device_id = random_id;
  hs_device_register_locked (self, user->user_id, device_id, display_name);
  return hs_add_token_locked (self, user->user_id, user->user_id, device_id, 0);
}

/* Synapse 1.67 UserRegisterServlet.on_POST, in its order */
void
hs_register_synapse (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
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

  (void) who, (void) args;
  nonces_expire_locked (self);
  if (!registration_enabled_locked (self))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Shared secret registration is not enabled");
      return;
    }
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;

  if (!hs_json_has (body, "nonce", &value))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "nonce must be specified");
      return;
    }
  if (!json_object_is_type (value, json_type_string)
      || !g_hash_table_contains (self->nonces, json_object_get_string (value)))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "unrecognised nonce");
      return;
    }
  /* "Delete the nonce, so it can't be reused, even if it's invalid" */
  nonce = g_strdup (json_object_get_string (value));
  g_hash_table_remove (self->nonces, nonce);

  if (!hs_json_has (body, "username", &value))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "username must be specified");
      return;
    }
  if (!json_is_clean_string (value) || json_object_get_string_len (value) > 512)
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid username");
      return;
    }
  username = json_object_get_string (value);
  if (!hs_json_has (body, "password", &value))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "password must be specified");
      return;
    }
  if (!json_is_clean_string (value) || json_object_get_string_len (value) > MAX_PASSWORD_LENGTH)
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid password");
      return;
    }
  password = json_object_get_string (value);

  /* body.get("admin"): Python truthiness */
  if (hs_json_has (body, "admin", &value))
    admin = json_object_get_boolean (value);
  if (hs_json_has (body, "user_type", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_string)
          || !g_strv_contains ((const gchar *const[]) { "support", "bot", NULL }, json_object_get_string (value)))
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid user type");
          return;
        }
      user_type = json_object_get_string (value);
    }
  if (hs_json_has (body, "displayname", &value) && value != NULL && json_object_is_type (value, json_type_string))
    displayname = json_object_get_string (value);

  if (!hs_json_has (body, "mac", &value))
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "mac must be specified");
      return;
    }
  /* got_mac.encode("ascii") on anything else raises: a 500 */
  if (!json_object_is_type (value, json_type_string))
    {
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }
  got_mac = json_object_get_string (value);
  for (const gchar *p = got_mac; *p != '\0'; p++)
    {
      if ((guchar) *p >= 0x80)
        {
          hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
          return;
        }
    }
  want_mac = registration_mac (self->registration_secret, nonce, username, password, admin, user_type);
  if (g_strcmp0 (want_mac, got_mac) != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "HMAC incorrect");
      return;
    }

  localpart = g_ascii_strdown (username, -1);
  if (!hs_check_username_locked (self, localpart, reply))
    return;
  user = hs_add_user_locked (self, localpart, password, displayname, admin);
  user->user_type = g_strdup (user_type);

  /* RegisterRestServlet._create_registration_details() */
  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "home_server", json_object_new_string (self->server_name));
  if (!(hs_json_has (body, "inhibit_login", &value) && json_object_get_boolean (value)))
    {
      Token *token;

      if (hs_json_has (body, "device_id", &value) && value != NULL
          && json_object_is_type (value, json_type_string))
        device_id = json_object_get_string (value);
      /* register_device() runs after the user was created: a name too long
       * refuses the device but leaves the account behind */
      if (!hs_check_device_name_length (hs_initial_device_display_name (body), reply))
        {
          json_object_put (obj);
          return;
        }
      token = register_with_device_locked (self, user, device_id, hs_initial_device_display_name (body));
      json_object_object_add (obj, "access_token", json_object_new_string (token->token));
      json_object_object_add (obj, "device_id", json_object_new_string (token->device_id));
    }
  hs_reply_json (reply, 200, obj);
}

/* Go's json.Decode into a string field: absent or null is "", another type
 * is an error */
static gboolean
go_string_field (json_object *body, const gchar *key, const gchar **out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *out = "";
  if (!hs_json_has (body, key, &value) || value == NULL)
    return TRUE;
  if (!json_object_is_type (value, json_type_string))
    {
      text = g_strdup_printf ("malformed json: json: cannot unmarshal %s into Go struct field "
                              "SharedSecretRegistrationRequest.%s of type string",
                              json_type_to_name (json_object_get_type (value)), key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
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
void
hs_register_dendrite (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
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

  (void) who, (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    {
      hs_reply_error (reply, 400, "M_BAD_JSON",
                      "malformed json: invalid character looking for beginning of value");
      return;
    }
  if (!go_string_field (body, "username", &username, reply)
      || !go_string_field (body, "password", &password, reply)
      || !go_string_field (body, "nonce", &nonce, reply)
      || !go_string_field (body, "mac", &got_mac, reply)
      || !go_string_field (body, "displayname", &displayname, reply))
    return;
  if (hs_json_has (body, "admin", &value) && value != NULL)
    {
      if (!json_object_is_type (value, json_type_boolean))
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "malformed json: json: cannot unmarshal into Go struct "
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
          hs_reply_error (reply, 400, "M_BAD_JSON", text);
          return;
        }
    }
  if (mac_len % 2 != 0)
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "malformed json: encoding/hex: odd length hex string");
      return;
    }

  /* IsValidMacLogin(): its errors go out through util.ErrorResponse() */
  nonces_expire_locked (self);
  if (!g_hash_table_contains (self->nonces, nonce))
    {
      text = g_strdup_printf ("incorrect or expired nonce: %s", nonce);
      hs_reply_go_message (reply, 500, text);
      return;
    }
  if (strlen (username) != (gsize) json_object_get_string_len (json_object_object_get (body, "username")))
    {
      hs_reply_go_message (reply, 500, "username contains invalid character");
      return;
    }
  if (strlen (password) != (gsize) json_object_get_string_len (json_object_object_get (body, "password")))
    {
      hs_reply_go_message (reply, 500, "password contains invalid character");
      return;
    }
  /* Dendrite never adds a user_type: a user_type in the body is ignored */
  want_mac = registration_mac (self->registration_secret, nonce, username, password, admin, NULL);
  if (g_ascii_strcasecmp (want_mac, got_mac) != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "bad mac");
      return;
    }

  localpart = g_ascii_strdown (username, -1);
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  if (strlen (user_id) > DENDRITE_MAX_USER_ID_LENGTH)
    {
      /* UsernameResponse(ErrUsernameTooLong) is a BadJSON */
      hs_reply_error (reply, 400, "M_BAD_JSON", "username exceeds the maximum length of 254 characters");
      return;
    }
  if (!is_dendrite_localpart (localpart))
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME",
                      "username can only contain characters a-z, 0-9, or '_-./='");
      return;
    }
  if (localpart[0] == '_')
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", "username cannot start with a '_'");
      return;
    }
  if (strlen (password) > MAX_PASSWORD_LENGTH)
    {
      hs_reply_error (reply, 400, "M_BAD_JSON", "password too long: max 512 characters");
      return;
    }
  if (strlen (password) > 0 && strlen (password) < DENDRITE_MIN_PASSWORD_LENGTH)
    {
      hs_reply_error (reply, 400, "M_WEAK_PASSWORD", "password too weak: min 8 characters");
      return;
    }
  /* completeRegistration() */
  if (password[0] == '\0')
    {
      hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing password");
      return;
    }
  if (hs_lookup_user_caseless (self, user_id) != NULL)
    {
      hs_reply_error (reply, 400, "M_USER_IN_USE", "Desired user ID is already taken.");
      return;
    }
  user = hs_add_user_locked (self, localpart, password, displayname[0] != '\0' ? displayname : NULL, admin);
  /* completeRegistration(..., deviceDisplayName = &ssrr.User, ...): the
   * lowercased username names the device */
  token = register_with_device_locked (self, user, DENDRITE_SHARED_SECRET_DEVICE, localpart);

  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "access_token", json_object_new_string (token->token));
  json_object_object_add (obj, "device_id", json_object_new_string (token->device_id));
  hs_reply_json (reply, 200, obj);
}

void
hs_handle_register (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  self->flavour->shared_secret_register (self, req, who, args, reply);
}

/* Tuwunel 1.9 GET /_synapse/admin/v1/register (TUW get_nonce.rs): with no
 * secret configured there is no nonce, unlike Synapse */
void
hs_tuwunel_register_nonce (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  if (!registration_enabled_locked (self))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Shared-secret registration is not enabled");
      return;
    }
  hs_handle_register_nonce (self, req, who, args, reply);
}

/* a string field of a ruma request body: absent or null is NULL, another
 * type refuses the request as its deserialization does */
static gboolean
ruma_string_field (json_object *body, const gchar *key, gboolean required, const gchar **out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  *out = NULL;
  if (!hs_json_has (body, key, &value) || value == NULL)
    {
      if (!required)
        return TRUE;
      text = g_strdup_printf ("missing field `%s`", key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  if (!json_object_is_type (value, json_type_string))
    {
      text = g_strdup_printf ("invalid type: %s, expected a string for `%s`",
                              json_type_to_name (json_object_get_type (value)), key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *out = json_object_get_string (value);
  return TRUE;
}

static gboolean
ruma_bool_field (json_object *body, const gchar *key, gboolean *out, Reply *reply)
{
  json_object *value = NULL;
  g_autofree gchar *text = NULL;

  if (!hs_json_has (body, key, &value) || value == NULL)
    return TRUE;
  if (!json_object_is_type (value, json_type_boolean))
    {
      text = g_strdup_printf ("invalid type: %s, expected a boolean for `%s`",
                              json_type_to_name (json_object_get_type (value)), key);
      hs_reply_error (reply, 400, "M_BAD_JSON", text);
      return FALSE;
    }
  *out = json_object_get_boolean (value);
  return TRUE;
}

/* Tuwunel's check_field(): empty, over 512 bytes or holding a NUL byte */
static gboolean
tuwunel_check_field (const gchar *label, json_object *value, Reply *reply)
{
  const gchar *s = json_object_get_string (value);
  gsize len = (gsize) json_object_get_string_len (value);
  g_autofree gchar *text = NULL;

  if (len == 0)
    text = g_strdup_printf ("%s must not be empty", label);
  else if (len > 512)
    text = g_strdup_printf ("%s must not exceed 512 bytes", label);
  else if (strlen (s) != len)
    text = g_strdup_printf ("%s must not contain a null byte", label);
  if (text == NULL)
    return TRUE;
  hs_reply_error (reply, 400, "M_INVALID_PARAM", text);
  return FALSE;
}

/* ruma's UserId::validate_strict() on a localpart: the spec's grammar,
 * '+' included */
static gboolean
strict_localpart (const gchar *localpart)
{
  if (*localpart == '\0')
    return FALSE;
  for (const gchar *p = localpart; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("._=-/+", *p) != NULL))
        return FALSE;
    }
  return TRUE;
}

/* the display name the Conduit family gives a new account: the localpart,
 * then its new_user_displayname_suffix */
static gchar *
conduit_displayname (TestHomeserver *self, const gchar *localpart, const gchar *given)
{
  const gchar *suffix = self->flavour->displayname_suffix;
  const gchar *name = given != NULL ? given : localpart;

  return suffix != NULL ? g_strdup_printf ("%s %s", name, suffix) : g_strdup (name);
}

/* Tuwunel 1.9 POST /_synapse/admin/v1/register (TUW register.rs, in its
 * order): the secret, the nonce (consumed whatever follows), username and
 * password checks, the MAC (hex of either case), then the user ID
 * (lowercased, localpart or own MXID), "User ID is not available", and
 * Synapse's answer without a 201; inhibit_login, device_id and
 * initial_device_display_name are taken as on /register */
void
hs_register_tuwunel (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *want_mac = NULL;
  g_autofree gchar *lower = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *domain = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *displayname = NULL;
  const gchar *nonce;
  const gchar *username;
  const gchar *password;
  const gchar *got_mac;
  const gchar *given_name;
  const gchar *user_type;
  const gchar *device_id;
  const gchar *device_name;
  gboolean admin = FALSE;
  gboolean inhibit_login = FALSE;
  User *user;
  json_object *obj;

  (void) who, (void) args;
  nonces_expire_locked (self);
  if (!registration_enabled_locked (self))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "Shared-secret registration is not enabled");
      return;
    }
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!ruma_string_field (body, "nonce", TRUE, &nonce, reply)
      || !ruma_string_field (body, "username", TRUE, &username, reply)
      || !ruma_string_field (body, "password", TRUE, &password, reply)
      || !ruma_string_field (body, "mac", TRUE, &got_mac, reply)
      || !ruma_string_field (body, "displayname", FALSE, &given_name, reply)
      || !ruma_string_field (body, "user_type", FALSE, &user_type, reply)
      || !ruma_string_field (body, "device_id", FALSE, &device_id, reply)
      || !ruma_string_field (body, "initial_device_display_name", FALSE, &device_name, reply)
      || !ruma_bool_field (body, "admin", &admin, reply)
      || !ruma_bool_field (body, "inhibit_login", &inhibit_login, reply))
    return;

  /* consume_register_nonce(): removed either way */
  if (!g_hash_table_remove (self->nonces, nonce))
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "Unrecognised or expired nonce");
      return;
    }
  if (!tuwunel_check_field ("Username", json_object_object_get (body, "username"), reply)
      || !tuwunel_check_field ("Password", json_object_object_get (body, "password"), reply))
    return;
  want_mac = registration_mac (self->registration_secret, nonce, username, password, admin, user_type);
  if (g_ascii_strcasecmp (want_mac, got_mac) != 0)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "HMAC check failed");
      return;
    }

  /* resolve_local_user_id() */
  lower = g_ascii_strdown (username, -1);
  if (lower[0] == '@')
    {
      if (!hs_split_user_id (lower, &localpart, &domain))
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "Invalid user id");
          return;
        }
    }
  else
    {
      if (strchr (lower, ':') != NULL)
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "Invalid user id");
          return;
        }
      localpart = g_strdup (lower);
      domain = g_strdup (self->server_name);
    }
  if (!strict_localpart (localpart))
    {
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", "Username contains disallowed characters or spaces");
      return;
    }
  if (g_strcmp0 (domain, self->server_name) != 0)
    {
      hs_reply_error (reply, 400, "M_INVALID_PARAM", "User is not local to this server");
      return;
    }
  user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);
  if (hs_lookup_user (self, user_id) != NULL)
    {
      hs_reply_error (reply, 400, "M_USER_IN_USE", "User ID is not available");
      return;
    }
  /* full_register(), which gives the display name its suffix */
  displayname = conduit_displayname (self, localpart, given_name);
  user = hs_add_user_locked (self, localpart, password, displayname, admin);

  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  json_object_object_add (obj, "home_server", json_object_new_string (self->server_name));
  if (!inhibit_login)
    {
      Token *token = register_with_device_locked (self, user, device_id, device_name);

      json_object_object_add (obj, "access_token", json_object_new_string (token->token));
      json_object_object_add (obj, "device_id", json_object_new_string (token->device_id));
    }
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* POST /_matrix/client/v3/register with user-interactive auth */

static const gchar *const token_dummy_flow[] = { UIA_TOKEN, UIA_DUMMY, NULL };
static const gchar *const token_flow[] = { UIA_TOKEN, NULL };
static const gchar *const dummy_flow[] = { UIA_DUMMY, NULL };
/* Synapse's _calculate_registration_flows(): [dummy], with the token
 * prepended to every flow while one is required */
static const gchar *const *const synapse_token_flows[] = { token_dummy_flow, NULL };
static const gchar *const *const token_flows[] = { token_flow, NULL };
static const gchar *const *const dummy_flows[] = { dummy_flow, NULL };

/* rc_registration (0.17/s, burst 3) and rc_registration_token_validity
 * (0.1/s, burst 5), per address (synapse/config/ratelimiting.py) */
static const RateLimit registration_limit = { "rc_registration", 3, 5882, TEST_RATE_LIMIT_REGISTRATION };
static const RateLimit token_validity_limit = { "rc_registration_token_validity", 5, 10000,
                                                TEST_RATE_LIMIT_TOKEN_VALIDITY };

static gboolean
has_access_token (Request *req)
{
  return req->authorization != NULL || (req->query != NULL && g_hash_table_contains (req->query, "access_token"));
}

/* the answer to a registration: {user_id, home_server?} and, unless
 * inhibit_login, the new device's access_token and device_id */
static gboolean
registration_details (TestHomeserver *self, User *user, gboolean with_home_server, gboolean inhibit_login,
                      const gchar *device_id, const gchar *device_name, Reply *reply)
{
  json_object *obj;

  if (!inhibit_login && !hs_check_device_name_length (device_name, reply))
    return FALSE;
  obj = json_object_new_object ();
  json_object_object_add (obj, "user_id", json_object_new_string (user->user_id));
  if (with_home_server)
    json_object_object_add (obj, "home_server", json_object_new_string (self->server_name));
  if (!inhibit_login)
    {
      Token *token = register_with_device_locked (self, user, device_id, device_name);

      json_object_object_add (obj, "access_token", json_object_new_string (token->token));
      json_object_object_add (obj, "device_id", json_object_new_string (token->device_id));
    }
  hs_reply_json (reply, 200, obj);
  return TRUE;
}

/* Synapse's generate_user_id(): the next free number */
static gchar *
generated_localpart_locked (TestHomeserver *self)
{
  for (;;)
    {
      g_autofree gchar *localpart = g_strdup_printf ("%u", ++self->next_generated_user);
      g_autofree gchar *user_id = g_strdup_printf ("@%s:%s", localpart, self->server_name);

      if (hs_lookup_user_caseless (self, user_id) == NULL)
        return g_steal_pointer (&localpart);
    }
}

/* Synapse RegisterRestServlet.on_POST (1.67 and 1.157 alike, rest/client/
 * register.py; backends-2026.md 2.2), in its order: rc_registration checked
 * without counting, kind, refresh_token, username type, an access token,
 * registration disabled, the password (popped from the body, so the
 * session never keeps it; its "hash" goes to the session instead),
 * initial_device_display_name dropped without a password, then
 * check_username() before any UIA, so a taken name costs no token. Then
 * check_ui_auth() with [[token, dummy]] (or [[dummy]] when open); once a
 * flow is complete the account is built from the session's parameters
 * (the last non-empty body) and this request's password or the kept one,
 * rc_registration is spent, and the token's pending use becomes a
 * completed one. A session that registered already answers for the same
 * account again. */
void
hs_register_client_synapse (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  g_autoptr(json_object) body = NULL;
  g_autoptr(json_object) clientdict = NULL;
  g_autofree gchar *desired = NULL;
  g_autofree gchar *password = NULL;
  g_autofree gchar *localpart = NULL;
  json_object *value = NULL;
  json_object *auth = NULL;
  const gchar *kind = req->query != NULL ? g_hash_table_lookup (req->query, "kind") : NULL;
  const gchar *session_id = NULL;
  UiaSession *known = NULL;
  UiaSession *session = NULL;
  UiaResult result;
  guint retry_after_ms = 0;
  const gchar *use_password;
  gboolean registered = FALSE;
  json_object *params;
  User *user;

  (void) who, (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (!hs_ratelimit_locked (self, &registration_limit, req->remote_ip, FALSE, &retry_after_ms))
    {
      hs_reply_limit_exceeded (self, reply, retry_after_ms);
      return;
    }
  if (g_strcmp0 (kind, "guest") == 0)
    {
      hs_reply_error (reply, 403, "M_UNKNOWN", "Guest access is disabled");
      return;
    }
  if (kind != NULL && g_strcmp0 (kind, "user") != 0)
    {
      g_autofree gchar *text = g_strdup_printf ("Do not understand membership kind: %s", kind);
      hs_reply_error (reply, 400, "M_UNRECOGNIZED", text);
      return;
    }
  if (hs_json_has (body, "refresh_token", &value) && !json_object_is_type (value, json_type_boolean))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN", "`refresh_token` should be true or false.");
      return;
    }
  if (hs_json_has (body, "username", &value))
    {
      if (!json_object_is_type (value, json_type_string) || hs_python_len (json_object_get_string (value)) > 512)
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid username");
          return;
        }
      desired = g_ascii_strdown (json_object_get_string (value), -1);
    }
  if (hs_json_has (body, "type", &value) && json_object_is_type (value, json_type_string)
      && g_strcmp0 (json_object_get_string (value), "m.login.application_service") == 0)
    {
      /* no application service is registered here */
      if (!has_access_token (req))
        hs_reply_error (reply, 400, "M_UNKNOWN",
                        "Appservice token must be provided when using a type of m.login.application_service");
      else
        hs_reply_unknown_token (reply);
      return;
    }
  if (has_access_token (req))
    {
      hs_reply_error (reply, 400, "M_UNKNOWN",
                      "An access token should not be provided on requests to /register "
                      "(except if type is m.login.application_service)");
      return;
    }
  if (self->registration == TEST_REGISTRATION_OFF)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Registration has been disabled");
      return;
    }
  if (hs_json_has (body, "password", &value))
    {
      if (value != NULL
          && (!json_object_is_type (value, json_type_string)
              || hs_python_len (json_object_get_string (value)) > MAX_PASSWORD_LENGTH))
        {
          hs_reply_error (reply, 400, "M_UNKNOWN", "Invalid password");
          return;
        }
      password = value != NULL ? g_strdup (json_object_get_string (value)) : NULL;
      json_object_object_del (body, "password");
    }
  if (password == NULL && hs_json_has (body, "initial_device_display_name", NULL))
    json_object_object_del (body, "initial_device_display_name");

  /* get_session_id(), and what the session says already */
  if (hs_json_has (body, "auth", &auth) && auth != NULL && json_object_is_type (auth, json_type_object))
    session_id = hs_auth_string (auth, "session");
  if (session_id != NULL)
    known = g_hash_table_lookup (self->uia_sessions, session_id);
  if (desired != NULL)
    {
      g_autofree gchar *desired_id = g_strdup_printf ("@%s:%s", desired, self->server_name);

      /* check_username(assigned_user_id=...) */
      if (known != NULL && known->registered_user_id != NULL)
        {
          if (g_strcmp0 (desired_id, known->registered_user_id) != 0)
            {
              hs_reply_error (reply, 400, "M_UNKNOWN",
                              "A different user ID has already been registered for this session");
              return;
            }
        }
      else if (!hs_check_username_locked (self, desired, reply))
        return;
    }

  /* clientdict.pop("auth", {}) is None for "auth": null */
  if (hs_json_has (body, "auth", &auth) && (auth == NULL || !json_object_is_type (auth, json_type_object)))
    {
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }
  auth = auth != NULL ? json_object_get (auth) : NULL;
  clientdict = hs_json_copy (body);
  json_object_object_del (clientdict, "auth");
  result = hs_uia_check_synapse_locked (self, req, auth,
                                        g_steal_pointer (&clientdict),
                                        self->registration == TEST_REGISTRATION_TOKEN
                                        ? synapse_token_flows : dummy_flows,
                                        &session, reply);
  g_clear_pointer (&auth, json_object_put);
  /* InteractiveAuthIncompleteError: the password waits in the session */
  if (result == UIA_INCOMPLETE && session != NULL && session->password_hash == NULL
      && password != NULL && password[0] != '\0')
    session->password_hash = g_strdup (password);
  if (result != UIA_DONE)
    return;

  params = session->clientdict;
  if (session->registered_user_id != NULL)
    user = hs_lookup_user (self, session->registered_user_id);
  else
    {
      const gchar *username = NULL;

      use_password = password != NULL && password[0] != '\0' ? password : session->password_hash;
      if (use_password == NULL)
        {
          hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing params: password");
          return;
        }
      if (hs_json_has (params, "username", &value) && json_object_is_type (value, json_type_string))
        username = json_object_get_string (value);
      /* RegistrationHandler.register_user(): the limit is spent, then the
       * name checked once more */
      if (!hs_ratelimit_locked (self, &registration_limit, req->remote_ip, TRUE, &retry_after_ms))
        {
          hs_reply_limit_exceeded (self, reply, retry_after_ms);
          return;
        }
      if (username != NULL)
        {
          localpart = g_ascii_strdown (username, -1);
          if (!hs_check_username_locked (self, localpart, reply))
            return;
        }
      else
        localpart = generated_localpart_locked (self);
      user = hs_add_user_locked (self, localpart, use_password, NULL, FALSE);
      session->registered_user_id = g_strdup (user->user_id);
      registered = TRUE;
    }
  if (user == NULL)
    {
      hs_reply_error (reply, 500, "M_UNKNOWN", "Internal server error");
      return;
    }

  {
    const gchar *device_id = NULL;
    const gchar *device_name = hs_initial_device_display_name (params);
    gboolean inhibit_login = hs_json_has (params, "inhibit_login", &value) && hs_python_truthy (value);

    if (hs_json_has (params, "device_id", &value) && value != NULL && json_object_is_type (value, json_type_string))
      device_id = json_object_get_string (value);
    /* register_device() runs after the account exists */
    if (!registration_details (self, user, TRUE, inhibit_login, device_id, device_name, reply))
      return;
  }
  /* use_registration_token(): pending - 1, completed + 1, once */
  if (registered && session->registration_token != NULL && !session->token_used)
    {
      RegToken *token = hs_reg_token_lookup (self, session->registration_token);

      if (token != NULL)
        {
          if (token->pending > 0)
            token->pending--;
          token->completed++;
        }
      session->token_used = TRUE;
    }
}

/* the Conduit family's registration flows; NULL when there are none
 * (continuwuity then refuses registration) */
static const gchar *const *const *
conduit_register_flows (TestHomeserver *self)
{
  if (hs_reg_tokens_any_locked (self))
    return token_flows;
  /* continuwuity offers a dummy flow only with its open-registration flag */
  if (self->flavour->token_style == TOKENS_CONTINUWUITY && self->registration != TEST_REGISTRATION_OPEN)
    return NULL;
  return dummy_flows;
}

/* The Conduit family's resolution of a username for registration:
 * Conduit and Tuwunel lowercase it (register.rs
 * resolve_registration_user_id()), continuwuity does not
 * (determine_registration_user_id()). A missing one is random. */
static gchar *
conduit_registration_localpart (TestHomeserver *self, const gchar *username, Reply *reply)
{
  gboolean continuwuity = self->flavour->token_style == TOKENS_CONTINUWUITY;
  g_autofree gchar *name = NULL;
  g_autofree gchar *user_id = NULL;
  g_autofree gchar *text = NULL;

  if (username == NULL)
    {
      for (;;)
        {
          g_autofree gchar *random = hs_random_string ("abcdefghijklmnopqrstuvwxyz0123456789", 10);

          g_free (user_id);
          user_id = g_strdup_printf ("@%s:%s", random, self->server_name);
          if (hs_lookup_user (self, user_id) == NULL)
            return g_steal_pointer (&random);
        }
    }
  name = continuwuity ? g_strdup (username) : g_ascii_strdown (username, -1);
  user_id = g_strdup_printf ("@%s:%s", name, self->server_name);
  if (name[0] == '\0' || strchr (name, ':') != NULL || strlen (user_id) > MAX_USER_ID_LENGTH)
    {
      text = g_strdup_printf ("Username %s is not valid: invalid user ID", name);
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", text);
      return NULL;
    }
  if (!strict_localpart (name))
    {
      text = g_strdup_printf ("Username %s contains disallowed characters or spaces: "
                              "localpart contains invalid characters", name);
      hs_reply_error (reply, 400, "M_INVALID_USERNAME", text);
      return NULL;
    }
  if (hs_lookup_user (self, user_id) != NULL)
    {
      hs_reply_error (reply, 400, "M_USER_IN_USE",
                      continuwuity ? "Username is not available." : "User ID is not available.");
      return NULL;
    }
  return g_steal_pointer (&name);
}

/* POST /_matrix/client/v3/register on the Conduit family (backends-2026.md
 * 2.5; TUW src/api/client/register/register.rs, CTW src/api/client/account/
 * register.rs): registration off is 403; Conduit and Tuwunel check the
 * username before any UIA, continuwuity only after it (its token use
 * already counted) and after demanding a password; the account is built
 * from this, the final, request's body; no home_server in the answer. */
void
hs_register_client_conduit (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  gboolean continuwuity = self->flavour->token_style == TOKENS_CONTINUWUITY;
  const gchar *kind = req->query != NULL ? g_hash_table_lookup (req->query, "kind") : NULL;
  const gchar *const *const *flows;
  g_autoptr(json_object) body = NULL;
  g_autofree gchar *localpart = NULL;
  g_autofree gchar *displayname = NULL;
  json_object *auth = NULL;
  const gchar *username;
  const gchar *password;
  const gchar *device_id;
  const gchar *device_name;
  gboolean inhibit_login = FALSE;
  User *user;

  (void) who, (void) args;
  body = hs_parse_body (req, FALSE, reply);
  if (body == NULL)
    return;
  if (g_strcmp0 (kind, "guest") == 0)
    {
      hs_reply_error (reply, 403, "M_GUEST_ACCESS_FORBIDDEN",
                      continuwuity ? "Guests may not register on this server." : "Guest registration is disabled.");
      return;
    }
  if (self->registration == TEST_REGISTRATION_OFF)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN",
                      continuwuity ? "This server is not accepting registrations at this time."
                                   : "Registration has been disabled.");
      return;
    }
  if (!ruma_string_field (body, "username", FALSE, &username, reply)
      || !ruma_string_field (body, "password", FALSE, &password, reply)
      || !ruma_string_field (body, "device_id", FALSE, &device_id, reply)
      || !ruma_string_field (body, "initial_device_display_name", FALSE, &device_name, reply)
      || !ruma_bool_field (body, "inhibit_login", &inhibit_login, reply))
    return;
  if (!continuwuity)
    {
      localpart = conduit_registration_localpart (self, username, reply);
      if (localpart == NULL)
        return;
    }
  flows = conduit_register_flows (self);
  if (flows == NULL)
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "This server is not accepting registrations at this time.");
      return;
    }
  hs_json_has (body, "auth", &auth);
  if (hs_uia_conduit_locked (self, "", flows, self->flavour->uia->register_params, auth, reply) != UIA_DONE)
    return;

  if (continuwuity)
    {
      if (password == NULL)
        {
          hs_reply_error (reply, 400, "M_INVALID_PARAM", "A password must be provided.");
          return;
        }
      localpart = conduit_registration_localpart (self, username, reply);
      if (localpart == NULL)
        return;
    }
  displayname = conduit_displayname (self, localpart, NULL);
  user = hs_add_user_locked (self, localpart, password, displayname, FALSE);
  registration_details (self, user, FALSE, inhibit_login, device_id, device_name, reply);
}

/* the flavour's client_register */
void
hs_handle_client_register (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  self->flavour->client_register (self, req, who, args, reply);
}

/* GET /_matrix/client/v1/register/m.login.registration_token/validity
 * (backends-2026.md 2.3). Synapse: rc_registration_token_validity first,
 * then 403 while registration is off, 400 without a token, {"valid"}.
 * Tuwunel: 403 while no token exists. continuwuity: just the answer. The
 * token is taken as it is, untrimmed. */
void
hs_handle_token_validity (TestHomeserver *self, Request *req, Requester *who, gchar **args, Reply *reply)
{
  const gchar *token = req->query != NULL ? g_hash_table_lookup (req->query, "token") : NULL;
  TokenStyle style = self->flavour->token_style;
  guint retry_after_ms = 0;
  RegToken *stored;
  json_object *obj;

  (void) who, (void) args;
  if (style == TOKENS_SYNAPSE)
    {
      if (!hs_ratelimit_locked (self, &token_validity_limit, req->remote_ip, TRUE, &retry_after_ms))
        {
          hs_reply_limit_exceeded (self, reply, retry_after_ms);
          return;
        }
      if (self->registration == TEST_REGISTRATION_OFF)
        {
          hs_reply_error (reply, 403, "M_FORBIDDEN", "Registration has been disabled");
          return;
        }
    }
  else if (style == TOKENS_TUWUNEL && !hs_reg_tokens_any_locked (self))
    {
      hs_reply_error (reply, 403, "M_FORBIDDEN", "Server does not allow token registration");
      return;
    }
  if (token == NULL)
    {
      if (style == TOKENS_SYNAPSE)
        hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing string query parameter 'token'");
      else
        hs_reply_error (reply, 400, "M_BAD_JSON", "Failed to deserialize request: missing field `token`");
      return;
    }
  stored = hs_reg_token_lookup (self, token);
  obj = json_object_new_object ();
  json_object_object_add (obj, "valid",
                          json_object_new_boolean (stored != NULL && hs_reg_token_valid (self, stored)));
  hs_reply_json (reply, 200, obj);
}

/* GET /_matrix/client/v3/register/available?username=. Synapse's
 * UsernameAvailabilityRestServlet: 403 while registration is off, then
 * check_username(): 200 {"available": true}, or 400 M_USER_IN_USE /
 * M_INVALID_USERNAME. The Conduit family: never false, an unavailable name
 * is an error (TUW register/available.rs, lowercasing it; CTW
 * determine_registration_user_id(), not; Conduit's is the one Tuwunel
 * forked) */
void
hs_handle_register_available (TestHomeserver *self, Request *req, Requester *who, gchar **args,
                              Reply *reply)
{
  const gchar *username = req->query != NULL ? g_hash_table_lookup (req->query, "username") : NULL;
  g_autofree gchar *localpart = NULL;
  json_object *obj;

  (void) who, (void) args;
  if (self->flavour->uia == NULL)
    {
      if (self->registration == TEST_REGISTRATION_OFF)
        {
          hs_reply_error (reply, 403, "M_FORBIDDEN", "Registration has been disabled");
          return;
        }
      if (username == NULL)
        {
          hs_reply_error (reply, 400, "M_MISSING_PARAM", "Missing string query parameter 'username'");
          return;
        }
      if (!hs_check_username_locked (self, username, reply))
        return;
    }
  else
    {
      if (username == NULL)
        {
          hs_reply_error (reply, 400, "M_BAD_JSON", "Failed to deserialize request: missing field `username`");
          return;
        }
      localpart = conduit_registration_localpart (self, username, reply);
      if (localpart == NULL)
        return;
    }
  obj = json_object_new_object ();
  json_object_object_add (obj, "available", json_object_new_boolean (TRUE));
  hs_reply_json (reply, 200, obj);
}

/* ------------------------------------------------------------------------ */
/* Public API */

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
