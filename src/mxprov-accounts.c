/* mxprov-accounts.c: the accounts status, revoke and reissue act on, and
 * the host's reading of the plugins' status reports. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mxprov/mxprov.h>
#include "mxprov-accounts.h"

void
mxprov_account_free (MxprovAccount *self)
{
  if (self == NULL)
    return;
  g_free (self->user);
  mxprov_secret_free (self->password);
  g_free (self->room_id);
  g_free (self->home_server);
  g_free (self->source);
  g_free (self);
}

static MxprovAccount *
account_from_bundle (const MxprovBundle *bundle, gchar *source)
{
  MxprovAccount *account = g_new0 (MxprovAccount, 1);

  account->user = g_strdup (bundle->user);
  account->password = g_strdup (bundle->password);
  account->room_id = g_strdup (bundle->room_id);
  account->home_server = g_strdup (bundle->home_server);
  account->source = source;
  return account;
}

/* A user named on the command line: a full ID, or a localpart whose
 * server name the auth step will tell. */
static gboolean
check_user_argument (const gchar *user, GError **error)
{
  g_autofree gchar *server_name = NULL;

  if (user[0] != '@')
    return mxprov_matrix_validate_localpart (user, NULL, error);
  server_name = mxprov_matrix_server_name_from_user_id (user, error);
  if (server_name == NULL)
    return FALSE;
  if (user[1] == ':')
    {
      g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                   "'%s' is not a user ID (@localpart:server)", user);
      return FALSE;
    }
  return TRUE;
}

/* Lines of a batch output hold bundles: wiped when freed. */
typedef gchar **SecretLines;

static void
secret_lines_free (SecretLines lines)
{
  for (gsize i = 0; lines != NULL && lines[i] != NULL; i++)
    mxprov_secret_wipe (lines[i], strlen (lines[i]));
  g_strfreev (lines);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (SecretLines, secret_lines_free, NULL)

/* A batch output: one JSON record per line; the accounts it made are its
 * "created" records, which carry their bundles. The others were never the
 * batch's (exists: never modified) or do not exist (failed). */
static gboolean
collect_batch_output (GPtrArray *accounts, const gchar *path, GError **error)
{
  g_autoptr(MxprovSecret) contents = NULL;
  g_auto(SecretLines) lines = NULL;
  guint skipped = 0;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(MxprovSecretJson) record = NULL;
      g_autoptr(MxprovBundle) bundle = NULL;
      g_autoptr(GError) error_local = NULL;
      const gchar *status;
      const gchar *text;

      if (*g_strstrip (lines[i]) == '\0')
        continue;
      record = json_tokener_parse (lines[i]);
      if (record == NULL || !json_object_is_type (record, json_type_object))
        {
          g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_JSON,
                       "%s line %" G_GSIZE_FORMAT ": not a batch output record (a JSON object)",
                       path, i + 1);
          return FALSE;
        }
      status = json_object_get_string (json_object_object_get (record, "status"));
      if (g_strcmp0 (status, "created") != 0)
        {
          skipped++;
          continue;
        }
      text = json_object_get_string (json_object_object_get (record, "bundle"));
      bundle = text != NULL ? mxprov_bundle_decode (text, &error_local) : NULL;
      if (bundle == NULL)
        {
          g_set_error (error, MXPROV_BUNDLE_ERROR, MXPROV_BUNDLE_ERROR_FIELD,
                       "%s line %" G_GSIZE_FORMAT ": a created record without a valid bundle%s%s",
                       path, i + 1, error_local != NULL ? ": " : "",
                       error_local != NULL ? error_local->message : "");
          return FALSE;
        }
      g_ptr_array_add (accounts, account_from_bundle (bundle, g_strdup_printf ("%s line %" G_GSIZE_FORMAT,
                                                                               path, i + 1)));
    }
  if (skipped > 0)
    g_message ("%s: %u records not \"created\" (existing or failed accounts) are not the batch's; "
               "skipped", path, skipped);
  return TRUE;
}

GPtrArray *
mxprov_accounts_collect (gint argc, gchar **argv, gchar **bundle_files, const gchar *input_file,
                         GError **error)
{
  g_autoptr(GPtrArray) accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) mxprov_account_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *unique;

  for (gint i = 1; i < argc; i++)
    {
      MxprovAccount *account;

      if (!check_user_argument (argv[i], error))
        return NULL;
      account = g_new0 (MxprovAccount, 1);
      account->user = g_strdup (argv[i]);
      account->source = g_strdup ("the command line");
      g_ptr_array_add (accounts, account);
    }
  for (gsize i = 0; bundle_files != NULL && bundle_files[i] != NULL; i++)
    {
      g_autoptr(MxprovSecret) text = mxprov_secret_read_file (bundle_files[i], "bundle", error);
      g_autoptr(MxprovBundle) bundle = NULL;

      if (text == NULL)
        return NULL;
      bundle = mxprov_bundle_decode (text, error);
      if (bundle == NULL)
        {
          g_prefix_error (error, "%s: ", g_strcmp0 (bundle_files[i], "-") == 0
                                           ? "standard input" : bundle_files[i]);
          return NULL;
        }
      g_ptr_array_add (accounts, account_from_bundle (bundle, g_strdup (bundle_files[i])));
    }
  if (input_file != NULL && !collect_batch_output (accounts, input_file, error))
    return NULL;
  if (accounts->len == 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "name the accounts: USER arguments, --bundle FILE or --input BATCH.jsonl");
      return NULL;
    }

  /* the first naming of an account wins; a bundle's tells more than a name */
  unique = g_ptr_array_new_with_free_func ((GDestroyNotify) mxprov_account_free);
  for (guint i = 0; i < accounts->len; i++)
    {
      MxprovAccount *account = g_ptr_array_index (accounts, i);
      if (g_hash_table_contains (seen, account->user))
        continue;
      g_hash_table_add (seen, account->user);
      g_ptr_array_add (unique, g_steal_pointer (&g_ptr_array_index (accounts, i)));
    }
  return unique;
}

gboolean
mxprov_accounts_connect (MxprovSession *session, GPtrArray *accounts, const gint *required,
                         GError **error)
{
  for (guint i = 0; session->homeserver == NULL && i < accounts->len; i++)
    {
      const MxprovAccount *account = g_ptr_array_index (accounts, i);
      if (account->home_server != NULL)
        session->homeserver = g_strdup (account->home_server);
    }
  /* the user step's own run never happens here; its input is deferred */
  if (!mxprov_session_prepare (session, (const gchar *const[]) { "user.localpart", NULL }, NULL,
                               error))
    return FALSE;
  for (gsize i = 0; required[i] >= 0; i++)
    if (!mxprov_pipeline_check_entry (session->pipeline, (MxprovPipelineEntry) required[i], "user",
                                      error))
      return FALSE;
  if (!mxprov_session_connect (session, error))
    return FALSE;
  if (!mxprov_pipeline_execute (session->pipeline, session->context, "auth", error))
    {
      mxprov_pipeline_cleanup (session->pipeline, session->context);
      return FALSE;
    }
  return TRUE;
}

const gchar *
mxprov_account_state_to_string (MxprovAccountState state)
{
  switch (state)
    {
    case MXPROV_ACCOUNT_UNUSED:
      return "unused";
    case MXPROV_ACCOUNT_IN_USE:
      return "in-use";
    case MXPROV_ACCOUNT_DEACTIVATED:
      return "deactivated";
    case MXPROV_ACCOUNT_MISSING:
      return "missing";
    case MXPROV_ACCOUNT_PROBLEM:
    default:
      return "problem";
    }
}

void
mxprov_account_status_free (MxprovAccountStatus *self)
{
  if (self == NULL)
    return;
  g_free (self->user_id);
  g_free (self->room_id);
  g_free (self->detail);
  if (self->devices != NULL)
    json_object_put (self->devices);
  g_free (self);
}

MxprovAccountRun *
mxprov_account_run_new (MxprovSession *session, const MxprovAccount *account, GError **error)
{
  g_autoptr(MxprovAccountRun) self = g_new0 (MxprovAccountRun, 1);
  g_auto(GStrv) keys = mxprov_context_list_keys (session->context);
  g_autofree gchar *user_id = NULL;

  self->account = account;
  if (account->user[0] == '@')
    user_id = g_strdup (account->user);
  else
    {
      const gchar *server_name = mxprov_context_get (session->context, "server.name");
      if (server_name == NULL)
        {
          g_set_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_INVALID_NAME,
                       "%s: give the full user ID (@%s:SERVER); this pipeline's auth step does "
                       "not tell the server name", account->user, account->user);
          return NULL;
        }
      user_id = mxprov_matrix_user_id (account->user, server_name);
    }
  self->pipeline = mxprov_pipeline_new_instances (session->pipeline, session->config, error);
  if (self->pipeline == NULL)
    return NULL;
  /* what the auth step established, and this account's own keys */
  self->context = mxprov_context_new ();
  for (gsize i = 0; keys[i] != NULL; i++)
    if (!g_str_has_prefix (keys[i], "user.") && !g_str_has_prefix (keys[i], "room."))
      mxprov_context_set (self->context, keys[i], mxprov_context_get (session->context, keys[i]),
                          mxprov_context_is_secret (session->context, keys[i])
                            ? MXPROV_CONTEXT_FLAG_SECRET : MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (self->context, "user.id", user_id, MXPROV_CONTEXT_FLAG_NONE);
  if (account->password != NULL)
    mxprov_context_set (self->context, "user.password", account->password,
                        MXPROV_CONTEXT_FLAG_SECRET);
  if (account->room_id != NULL)
    mxprov_context_set (self->context, "room.id", account->room_id, MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set_http (self->context, session->http);
  /* each account gets the whole --timeout, as in a batch */
  mxprov_http_set_deadline (session->http,
                            g_get_monotonic_time () + (gint64) session->timeout * G_USEC_PER_SEC);
  return g_steal_pointer (&self);
}

void
mxprov_account_run_free (MxprovAccountRun *self)
{
  if (self == NULL)
    return;
  if (self->pipeline != NULL && self->context != NULL)
    mxprov_pipeline_cleanup (self->pipeline, self->context);
  g_clear_pointer (&self->context, mxprov_context_free);
  g_clear_pointer (&self->pipeline, mxprov_pipeline_free);
  g_free (self);
}

static const gchar *
report_string (json_object *report, const gchar *member)
{
  json_object *value = NULL;

  if (!json_object_object_get_ex (report, member, &value)
      || !json_object_is_type (value, json_type_string))
    return NULL;
  return json_object_get_string (value);
}

static gboolean
report_flag (json_object *report, const gchar *member)
{
  json_object *value = NULL;

  return json_object_object_get_ex (report, member, &value)
         && json_object_is_type (value, json_type_boolean) && json_object_get_boolean (value);
}

/* "Lotti Sync (ABCDEF), last seen 2026-12-01 07:40 UTC" for each device */
static gchar *
describe_devices (json_object *devices)
{
  g_autoptr(GString) text = g_string_new (NULL);
  gsize n = json_object_array_length (devices);

  g_string_append_printf (text, "%" G_GSIZE_FORMAT " device%s: ", n, n == 1 ? "" : "s");
  for (gsize i = 0; i < n; i++)
    {
      json_object *device = json_object_array_get_idx (devices, i);
      const gchar *name = report_string (device, "display_name");
      const gchar *id = report_string (device, "device_id");
      json_object *seen = NULL;

      if (i > 0)
        g_string_append (text, "; ");
      g_string_append_printf (text, "%s (%s)", name != NULL ? name : "unnamed",
                              id != NULL ? id : "?");
      if (json_object_object_get_ex (device, "last_seen_ts", &seen)
          && json_object_is_type (seen, json_type_int))
        {
          g_autoptr(GDateTime) when =
            g_date_time_new_from_unix_utc (json_object_get_int64 (seen) / 1000);
          g_autofree gchar *shown = when != NULL ? g_date_time_format (when, "%Y-%m-%d %H:%M UTC") : NULL;
          if (shown != NULL)
            g_string_append_printf (text, ", last seen %s", shown);
        }
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* What the plugins said, as one of the five states. A problem wins over
 * in-use: an account whose room is gone is not a working sync account,
 * whoever logged in. */
static void
classify (MxprovAccountStatus *status, json_object *report, const gchar *bundle_room)
{
  const gchar *state = report_string (report, "state");
  const gchar *login = report_string (report, "login");
  json_object *marked = NULL;
  json_object *devices = NULL;

  status->admin = report_flag (report, "admin");
  if (g_strcmp0 (state, "missing") == 0)
    {
      status->state = MXPROV_ACCOUNT_MISSING;
      status->detail = g_strdup ("no such account");
      return;
    }
  if (g_strcmp0 (state, "deactivated") == 0)
    {
      status->state = MXPROV_ACCOUNT_DEACTIVATED;
      status->detail = g_strdup ("deactivated");
      return;
    }
  if (state == NULL && g_strcmp0 (login, "refused") == 0)
    {
      /* a backend without an admin API: the password was all it had */
      status->state = MXPROV_ACCOUNT_IN_USE;
      status->detail = g_strdup ("the bundle's password no longer logs in: the app has changed it");
      status->room_id = g_strdup (bundle_room);
      return;
    }
  if (json_object_object_get_ex (report, "devices", &devices)
      && json_object_is_type (devices, json_type_array))
    status->devices = json_object_get (devices);

  if (report_flag (report, "locked"))
    {
      status->state = MXPROV_ACCOUNT_PROBLEM;
      status->detail = g_strdup ("the account is locked");
      return;
    }
  if (json_object_object_get_ex (report, "marked_rooms", &marked)
      && json_object_is_type (marked, json_type_array))
    {
      gsize n = json_object_array_length (marked);

      status->room_known = TRUE;
      if (report_flag (report, "room_gone"))
        {
          status->state = MXPROV_ACCOUNT_PROBLEM;
          status->detail = g_strdup_printf ("its room %s is gone", bundle_room);
          return;
        }
      if (report_flag (report, "room_not_joined"))
        {
          status->state = MXPROV_ACCOUNT_PROBLEM;
          status->detail = g_strdup_printf ("not joined to its room %s", bundle_room);
          return;
        }
      if (n == 0)
        {
          status->state = MXPROV_ACCOUNT_PROBLEM;
          status->detail = g_strdup ("joined to no marked sync room");
          return;
        }
      if (n > 1)
        {
          g_autoptr(GString) rooms = g_string_new (NULL);
          for (gsize i = 0; i < n; i++)
            g_string_append_printf (rooms, "%s%s", i > 0 ? ", " : "",
                                    json_object_get_string (json_object_array_get_idx (marked, i)));
          status->state = MXPROV_ACCOUNT_PROBLEM;
          status->detail = g_strdup_printf ("joined to %" G_GSIZE_FORMAT " marked sync rooms: %s",
                                            n, rooms->str);
          return;
        }
      status->room_id = g_strdup (json_object_get_string (json_object_array_get_idx (marked, 0)));
      if (bundle_room != NULL && g_strcmp0 (status->room_id, bundle_room) != 0)
        {
          status->state = MXPROV_ACCOUNT_PROBLEM;
          status->detail = g_strdup_printf ("its marked room is %s, not the bundle's %s",
                                            status->room_id, bundle_room);
          return;
        }
    }
  else
    status->room_id = g_strdup (bundle_room);

  if (status->devices != NULL && json_object_array_length (status->devices) > 0)
    {
      status->state = MXPROV_ACCOUNT_IN_USE;
      status->detail = describe_devices (status->devices);
      return;
    }
  status->state = MXPROV_ACCOUNT_UNUSED;
  status->detail = status->room_id != NULL ? g_strdup_printf ("no device; room %s", status->room_id)
                                           : g_strdup ("no device");
}

MxprovAccountStatus *
mxprov_account_run_status (MxprovAccountRun *self, GError **error)
{
  g_autoptr(json_object) report = json_object_new_object ();
  g_autoptr(MxprovAccountStatus) status = g_new0 (MxprovAccountStatus, 1);

  status->user_id = g_strdup (mxprov_context_get (self->context, "user.id"));
  if (!mxprov_pipeline_call_entry (self->pipeline, self->context, MXPROV_PIPELINE_ENTRY_STATUS,
                                   "user", "user", report, error))
    {
      g_prefix_error (error, "status of %s: ", status->user_id);
      return NULL;
    }
  if (report_string (report, "state") == NULL && report_string (report, "login") == NULL)
    {
      g_set_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG,
                   "status of %s: the user step reported no state (a bug in the plugin)",
                   status->user_id);
      return NULL;
    }
  g_debug ("status report for %s: %s", status->user_id,
           json_object_to_json_string_ext (report, JSON_C_TO_STRING_PLAIN));
  classify (status, report, self->account->room_id);
  return g_steal_pointer (&status);
}

json_object *
mxprov_account_status_to_json (const MxprovAccountStatus *status)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "user", json_object_new_string (status->user_id));
  json_object_object_add (obj, "state",
                          json_object_new_string (mxprov_account_state_to_string (status->state)));
  if (status->room_id != NULL)
    json_object_object_add (obj, "room", json_object_new_string (status->room_id));
  if (status->detail != NULL)
    json_object_object_add (obj, "detail", json_object_new_string (status->detail));
  if (status->devices != NULL)
    json_object_object_add (obj, "devices", json_object_get (status->devices));
  if (status->admin)
    json_object_object_add (obj, "admin", json_object_new_boolean (TRUE));
  return obj;
}

gboolean
mxprov_accounts_check_format (const gchar *format, gboolean *out_json, GError **error)
{
  if (format == NULL || g_strcmp0 (format, "table") == 0)
    *out_json = FALSE;
  else if (g_strcmp0 (format, "json") == 0)
    *out_json = TRUE;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--format must be table or json, not '%s'", format);
      return FALSE;
    }
  return TRUE;
}

struct _MxprovTable {
  GPtrArray *rows; /* GStrv */
  guint n_columns;
};

static GStrv
collect_cells (const gchar *first, va_list args)
{
  g_autoptr(GStrvBuilder) cells = g_strv_builder_new ();

  for (const gchar *cell = first; cell != NULL; cell = va_arg (args, const gchar *))
    g_strv_builder_add (cells, cell);
  return g_strv_builder_end (cells);
}

MxprovTable *
mxprov_table_new (const gchar *first_heading, ...)
{
  MxprovTable *self = g_new0 (MxprovTable, 1);
  GStrv headings;
  va_list args;

  va_start (args, first_heading);
  headings = collect_cells (first_heading, args);
  va_end (args);
  self->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  self->n_columns = g_strv_length (headings);
  g_ptr_array_add (self->rows, headings);
  return self;
}

void
mxprov_table_add_row (MxprovTable *self, const gchar *first_cell, ...)
{
  va_list args;

  va_start (args, first_cell);
  g_ptr_array_add (self->rows, collect_cells (first_cell, args));
  va_end (args);
}

void
mxprov_table_print (MxprovTable *self)
{
  g_autofree gsize *widths = g_new0 (gsize, self->n_columns);

  for (guint r = 0; r < self->rows->len; r++)
    {
      GStrv row = g_ptr_array_index (self->rows, r);
      for (guint c = 0; c < self->n_columns && row[c] != NULL; c++)
        widths[c] = MAX (widths[c], (gsize) g_utf8_strlen (row[c], -1));
    }
  for (guint r = 0; r < self->rows->len; r++)
    {
      GStrv row = g_ptr_array_index (self->rows, r);
      for (guint c = 0; c < self->n_columns && row[c] != NULL; c++)
        {
          /* the last column is not padded: no trailing blanks */
          if (c + 1 == self->n_columns || row[c + 1] == NULL)
            printf ("%s", row[c]);
          else
            printf ("%s%*s  ", row[c], (gint) (widths[c] - g_utf8_strlen (row[c], -1)), "");
        }
      printf ("\n");
    }
  g_ptr_array_unref (self->rows);
  g_free (self);
}
