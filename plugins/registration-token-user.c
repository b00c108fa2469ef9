/* registration-token-user: the user step through POST
 * /_matrix/client/v3/register with user-interactive auth, completing
 * m.login.registration_token and then only the stages that need no human
 * (m.login.dummy on Synapse; none on the Conduit family), exactly as the
 * server's flows list them (backends-2026.md 2.2 and 2.5).
 *
 * - Before spending the token the name is checked with
 *   GET /register/available (continuwuity counts a token use before it
 *   checks the name): a taken name is exit 73 and costs nothing.
 * - Every request carries the full body: the Conduit family builds the
 *   account from the last one.
 * - Only stages the chosen flow lists are sent (continuwuity answers 400
 *   to any other); a server whose every flow needs email, a captcha or
 *   terms is refused, naming the stages.
 * - Registration is rate-limited per address (Synapse rc_registration,
 *   burst 3): a 429 is waited out as the server asks, within --timeout,
 *   and is never a failed account. Nothing was done when it came.
 * - The account's device (the registration's login) is logged out in
 *   cleanup; rollback deactivates the account with its own password. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>
#include "self-service-account.h"

#define REGISTER_PATH "/_matrix/client/v3/register"
#define AVAILABLE_PATH "/_matrix/client/v3/register/available"
#define TOKEN_STAGE "m.login.registration_token"
#define DUMMY_STAGE "m.login.dummy"
#define DEFAULT_PASSWORD_BYTES 32

typedef struct {
  guint password_bytes;
  gchar *server_name;     /* option; else learnt from the registration */
  SelfServiceAccount account; /* the account made (or adopted) and its session */
} RegistrationTokenUser;

static void
registration_token_user_free (gpointer data)
{
  RegistrationTokenUser *self = data;
  g_free (self->server_name);
  self_service_account_clear (&self->account);
  g_free (self);
}

static gboolean
registration_token_user_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group,
                              GError **error)
{
  RegistrationTokenUser *self = g_new0 (RegistrationTokenUser, 1);

  mxprov_plugin_set_data (plugin, self, registration_token_user_free);
  /* Dendrite-era bcrypt limit: 48 bytes = 64 characters, within 72 bytes */
  return mxprov_config_get_uint (config, group, "password-bytes", DEFAULT_PASSWORD_BYTES, 16, 48,
                                 &self->password_bytes, error)
         && mxprov_config_get_string (config, group, "server-name", NULL, &self->server_name,
                                      error);
}

static void
set_user_exists_error (RegistrationTokenUser *self, const gchar *localpart, GError **error)
{
  g_autofree gchar *who = self->server_name != NULL ? mxprov_matrix_user_id (localpart, self->server_name)
                                                    : g_strdup (localpart);
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_USER_EXISTS,
               "user %s already exists; mxprov never modifies an existing account: "
               "choose another --username", who);
}

/* Is the name free? Asked before any token use. A server without the
 * endpoint leaves the check to /register itself. */
static gboolean
check_available (RegistrationTokenUser *self, MxprovHttp *http, const gchar *localpart,
                 GError **error)
{
  g_autofree gchar *escaped = g_uri_escape_string (localpart, NULL, FALSE);
  g_autofree gchar *path = g_strdup_printf ("%s?username=%s", AVAILABLE_PATH, escaped);
  g_autoptr(json_object) answer = NULL;
  g_autoptr(GError) error_local = NULL;

  answer = mxprov_http_request (http, "GET", path, NULL, NULL, NULL, &error_local);
  if (answer != NULL)
    return TRUE;
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_IN_USE))
    {
      set_user_exists_error (self, localpart, error);
      return FALSE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_INVALID_USERNAME))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                  "the server refuses the name '%s': ", localpart);
      return FALSE;
    }
  if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNRECOGNIZED))
    return TRUE;
  g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                              "checking whether '%s' is free: ", localpart);
  return FALSE;
}

/* The full body, sent on every step; `auth` is added per stage. */
static json_object *
register_body (const gchar *localpart, const gchar *password, const gchar *device_id)
{
  json_object *body = json_object_new_object ();

  json_object_object_add (body, "username", json_object_new_string (localpart));
  json_object_object_add (body, "password", json_object_new_string (password));
  json_object_object_add (body, "device_id", json_object_new_string (device_id));
  json_object_object_add (body, "initial_device_display_name", json_object_new_string ("mxprov"));
  json_object_object_add (body, "inhibit_login", json_object_new_boolean (FALSE));
  return body;
}

/* One POST /register; a 429 is waited out as the server asks for as long
 * as --timeout allows (the HTTP client waits a few times itself): a
 * rate-limited request did nothing, so sending it again is safe. */
static json_object *
post_register (MxprovHttp *http, json_object *body, GError **error)
{
  for (;;)
    {
      g_autoptr(GError) error_local = NULL;
      json_object *answer;
      gint64 wait_ms;

      answer = mxprov_http_request (http, "POST", REGISTER_PATH, NULL, body, NULL, &error_local);
      if (answer != NULL)
        return answer;
      wait_ms = mxprov_matrix_error_get_retry_after_ms (error_local);
      if (!g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_LIMIT_EXCEEDED)
          || wait_ms <= 0 || wait_ms >= mxprov_http_get_time_left_ms (http))
        {
          g_propagate_error (error, g_steal_pointer (&error_local));
          return NULL;
        }
      g_message ("registration rate limited by the server; waiting %.1f s as it asks",
                 wait_ms / 1000.0);
      g_usleep ((gulong) wait_ms * 1000);
    }
}

/* The user-interactive auth state of a 401 answer. */
typedef struct {
  gchar *session;
  GPtrArray *flows;     /* GStrv of stages */
  GStrv completed;
  gchar *errcode;       /* a failed stage's error, or NULL */
  gchar *message;
} UiaState;

static void
uia_state_clear (UiaState *state)
{
  g_clear_pointer (&state->session, g_free);
  g_clear_pointer (&state->flows, g_ptr_array_unref);
  g_clear_pointer (&state->completed, g_strfreev);
  g_clear_pointer (&state->errcode, g_free);
  g_clear_pointer (&state->message, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (UiaState, uia_state_clear)

static GStrv
string_array (json_object *array)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (gsize i = 0; array != NULL && json_object_is_type (array, json_type_array)
                    && i < json_object_array_length (array); i++)
    {
      json_object *item = json_object_array_get_idx (array, i);
      if (json_object_is_type (item, json_type_string))
        g_strv_builder_add (builder, json_object_get_string (item));
    }
  return g_strv_builder_end (builder);
}

/* FALSE when the error is not a user-interactive auth answer at all. */
static gboolean
parse_uia (const GError *error, UiaState *state)
{
  g_autoptr(json_object) body = NULL;
  json_object *member = NULL;
  json_object *flows = NULL;

  if (mxprov_matrix_error_get_status (error) != 401 || mxprov_matrix_error_get_body (error) == NULL)
    return FALSE;
  body = json_tokener_parse (mxprov_matrix_error_get_body (error));
  if (body == NULL || !json_object_object_get_ex (body, "flows", &flows)
      || !json_object_is_type (flows, json_type_array))
    return FALSE;
  uia_state_clear (state);
  if (json_object_object_get_ex (body, "session", &member) && json_object_is_type (member, json_type_string))
    state->session = g_strdup (json_object_get_string (member));
  state->flows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  for (gsize i = 0; i < json_object_array_length (flows); i++)
    {
      json_object *stages = NULL;
      if (json_object_object_get_ex (json_object_array_get_idx (flows, i), "stages", &stages))
        g_ptr_array_add (state->flows, string_array (stages));
    }
  state->completed = json_object_object_get_ex (body, "completed", &member)
                     ? string_array (member) : g_new0 (gchar *, 1);
  if (json_object_object_get_ex (body, "errcode", &member))
    state->errcode = g_strdup (json_object_get_string (member));
  if (json_object_object_get_ex (body, "error", &member))
    state->message = g_strdup (json_object_get_string (member));
  return TRUE;
}

/* A flow with the token stage whose other stages need no human; NULL with
 * an error naming what the server asks for otherwise. */
static const gchar *const *
choose_flow (const UiaState *state, GError **error)
{
  g_autoptr(GString) needs = g_string_new (NULL);

  for (guint i = 0; i < state->flows->len; i++)
    {
      const gchar *const *stages = g_ptr_array_index (state->flows, i);
      gboolean usable = g_strv_contains (stages, TOKEN_STAGE);

      for (gsize k = 0; stages[k] != NULL; k++)
        if (g_strcmp0 (stages[k], TOKEN_STAGE) != 0 && g_strcmp0 (stages[k], DUMMY_STAGE) != 0)
          {
            usable = FALSE;
            if (strstr (needs->str, stages[k]) == NULL)
              g_string_append_printf (needs, "%s%s", needs->len > 0 ? ", " : "", stages[k]);
          }
      if (usable)
        return stages;
    }
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_UNSUPPORTED,
               "the server registers accounts only through stages that need a person (%s), or "
               "not with a registration token at all; register this account by hand",
               needs->len > 0 ? needs->str : "no token stage offered");
  return NULL;
}

/* Register through the stages of the flow, re-sending the full body
 * each time; the answer of the final step, or NULL. */
static json_object *
register_with_token (RegistrationTokenUser *self, MxprovHttp *http, const gchar *localpart,
                     const gchar *password, const gchar *token, GError **error)
{
  g_autofree gchar *device_id = mxprov_matrix_new_device_id ();
  g_auto(UiaState) state = { 0 };
  g_auto(GStrv) flow = NULL; /* a copy: each answer's parse replaces the state */

  /* 1. no auth: the server's flows and a session */
  for (;;)
    {
      g_autoptr(MxprovSecretJson) body = register_body (localpart, password, device_id);
      g_autoptr(GError) error_local = NULL;
      json_object *answer = post_register (http, body, &error_local);

      if (answer != NULL)
        return answer; /* open registration: no stage at all */
      if (parse_uia (error_local, &state))
        break;
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_IN_USE))
        set_user_exists_error (self, localpart, error);
      else if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN))
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                    "registration is not open on this server: ");
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&error_local), "registering %s: ",
                                    localpart);
      return NULL;
    }
  {
    const gchar *const *chosen = choose_flow (&state, error);
    if (chosen == NULL)
      return NULL;
    flow = g_strdupv ((gchar **) chosen);
  }

  /* 2. each stage of the flow the server has not marked completed */
  for (gsize k = 0; flow[k] != NULL; k++)
    {
      g_autoptr(MxprovSecretJson) body = NULL;
      g_autoptr(GError) error_local = NULL;
      json_object *auth;
      json_object *answer;

      if (state.completed != NULL && g_strv_contains ((const gchar *const *) state.completed, flow[k]))
        continue;
      body = register_body (localpart, password, device_id);
      auth = json_object_new_object ();
      json_object_object_add (auth, "type", json_object_new_string (flow[k]));
      if (g_strcmp0 (flow[k], TOKEN_STAGE) == 0)
        json_object_object_add (auth, "token", json_object_new_string (token));
      if (state.session != NULL)
        json_object_object_add (auth, "session", json_object_new_string (state.session));
      json_object_object_add (body, "auth", auth);
      answer = post_register (http, body, &error_local);
      if (answer != NULL)
        return answer;
      if (g_error_matches (error_local, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_USER_IN_USE))
        {
          set_user_exists_error (self, localpart, error);
          return NULL;
        }
      if (!parse_uia (error_local, &state))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&error_local),
                                      "registering %s (stage %s): ", localpart, flow[k]);
          return NULL;
        }
      if (state.errcode != NULL || !g_strv_contains ((const gchar *const *) state.completed, flow[k]))
        {
          if (g_strcmp0 (flow[k], TOKEN_STAGE) == 0)
            g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_REFUSED,
                         "the server refused the registration token (%s: %s): it is used up, "
                         "expired or wrong; ask for a new token",
                         state.errcode != NULL ? state.errcode : "not completed",
                         state.message != NULL ? state.message : "no reason given");
          else
            g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED,
                         "registering %s: stage %s failed (%s: %s)", localpart, flow[k],
                         state.errcode != NULL ? state.errcode : "not completed",
                         state.message != NULL ? state.message : "no reason given");
          return NULL;
        }
    }
  g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_BAD_ANSWER,
               "registering %s: every stage of the flow is complete, but the server did not "
               "register the account", localpart);
  return NULL;
}

static gboolean
registration_token_user_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  RegistrationTokenUser *self = mxprov_plugin_get_data (plugin);
  MxprovHttp *http = mxprov_context_get_http (context);
  g_autoptr(MxprovSecret) password = NULL;
  g_autoptr(MxprovSecretJson) answer = NULL;
  g_autofree gchar *server_name = NULL;
  const gchar *token, *localpart, *user_id, *access_token;

  if ((token = mxprov_context_lookup (context, "registration.token", error)) == NULL
      || (localpart = mxprov_context_lookup (context, "user.localpart", error)) == NULL)
    return FALSE;
  if (!mxprov_matrix_validate_localpart (localpart, self->server_name, error)
      || !check_available (self, http, localpart, error))
    return FALSE;
  password = mxprov_secret_generate_password (self->password_bytes, error);
  if (password == NULL)
    return FALSE;
  answer = register_with_token (self, http, localpart, password, token, error);
  if (answer == NULL)
    return FALSE;
  if ((user_id = mxprov_json_get_string (answer, "user_id", error)) == NULL)
    return FALSE;
  /* from here the account exists: rollback must know it */
  self->account.created_user_id = g_strdup (user_id);
  if ((access_token = mxprov_json_get_string (answer, "access_token", error)) == NULL)
    return FALSE;
  self->account.user_token = g_strdup (access_token);
  server_name = mxprov_matrix_server_name_from_user_id (user_id, error);
  if (server_name == NULL)
    return FALSE;
  mxprov_context_set (context, "user.id", user_id, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "server.name", server_name, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_take (context, "user.password", g_steal_pointer (&password),
                       MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.token", access_token, MXPROV_CONTEXT_FLAG_SECRET);
  g_info ("registered %s with the registration token", user_id);
  return TRUE;
}

/* No admin API: the account deactivates itself with its password. */
static gboolean
registration_token_user_rollback (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  RegistrationTokenUser *self = mxprov_plugin_get_data (plugin);
  return self_service_account_rollback (&self->account, context, error);
}

/* The registration (or status) logged in on a device: logging out deletes it. */
static void
registration_token_user_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  RegistrationTokenUser *self = mxprov_plugin_get_data (plugin);
  self_service_account_cleanup (&self->account, context);
}

/* --- accounts made earlier: status, revoke (adopt) ------------------------ */

static gboolean
registration_token_user_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report,
                                GError **error)
{
  RegistrationTokenUser *self = mxprov_plugin_get_data (plugin);
  return self_service_account_status (&self->account, context, "registration-token", report, error);
}

static gboolean
registration_token_user_adopt (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  RegistrationTokenUser *self = mxprov_plugin_get_data (plugin);
  return self_service_account_adopt (&self->account, context, error);
}

static const gchar *const requires[] = { "registration.token", "user.localpart", NULL };
static const gchar *const provides[] = { "user.id", "user.password", "user.token", "server.name", NULL };
static const gchar *const options[] = { "password-bytes", "server-name", NULL };

MXPROV_PLUGIN_DEFINE (
  .name = "registration-token-user",
  .step = "user",
  .backend = "registration-token",
  .description = "Registers the account with a registration token (Synapse, Conduit, conduwuit, Tuwunel, continuwuity)",
  .requires = requires,
  .provides = provides,
  .options = options,
  .init = registration_token_user_init,
  .run = registration_token_user_run,
  .rollback = registration_token_user_rollback,
  .cleanup = registration_token_user_cleanup,
  .status = registration_token_user_status,
  .adopt = registration_token_user_adopt,
)
