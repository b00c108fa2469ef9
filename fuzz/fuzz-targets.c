/* fuzz-targets.c: the parsers' contracts, checked on arbitrary input.
 *
 * Compiled into each libFuzzer program (with the library sources, all
 * instrumented) and into the regression test (against the normal
 * libraries), so a crasher saved in fuzz/regressions/ is checked exactly as
 * the fuzzer checked it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mxprov/mxprov-bundle.h>
#include <mxprov/mxprov-error.h>
#include <mxprov/mxprov-http.h>
#include <mxprov/mxprov-secret.h>
#include "lib/mxprov-http-private.h"
#include "mxprov-step-config.h"
#include "fuzz-targets.h"

/* Not g_assert: that can be compiled out (G_DISABLE_ASSERT), and a
 * violated invariant must always stop the fuzzer. */
#define FUZZ_CHECK(cond)                                                    \
  G_STMT_START {                                                            \
    if (G_UNLIKELY (!(cond)))                                               \
      fuzz_violation (__FILE__, __LINE__, G_STRFUNC, #cond);                \
  } G_STMT_END

static void
fuzz_violation (const gchar *file, gint line, const gchar *func, const gchar *cond)
{
  fprintf (stderr, "%s:%d: %s: invariant violated: %s\n", file, line, func, cond);
  fflush (stderr);
  abort ();
}

/* libFuzzer's buffer is not NUL-terminated; the string parsers need one. A
 * NUL inside the input ends the string early, as it would for a real
 * caller. */
static gchar *
fuzz_strdup (const guint8 *data, gsize size)
{
  gchar *text = g_malloc (size + 1);

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';
  return text;
}

/* --- bundle ---------------------------------------------------------------- */

/* What mxprov_bundle_decode promises about a bundle it returns. */
static void
check_bundle_valid (const MxprovBundle *bundle)
{
  const gchar *colon;

  FUZZ_CHECK ((bundle->version == 1 && bundle->kind == MXPROV_BUNDLE_KIND_NONE)
              || (bundle->version == 2 && (bundle->kind == MXPROV_BUNDLE_KIND_PROVISIONED
                                           || bundle->kind == MXPROV_BUNDLE_KIND_HANDOVER)));
  FUZZ_CHECK (bundle->home_server != NULL);
  FUZZ_CHECK (g_str_has_prefix (bundle->home_server, "https://")
              || g_str_has_prefix (bundle->home_server, "http://"));
  FUZZ_CHECK (bundle->user != NULL && bundle->user[0] == '@');
  colon = strchr (bundle->user, ':');
  FUZZ_CHECK (colon != NULL && colon != bundle->user + 1 && colon[1] != '\0');
  FUZZ_CHECK (bundle->password != NULL && bundle->password[0] != '\0');
  FUZZ_CHECK (bundle->room_id != NULL && bundle->room_id[0] == '!');
}

/* The bundle's fields must be the JSON's strings, whole: a "\u0000" inside
 * one would otherwise cut it short in C, silently turning one value into
 * another (or a non-empty password into an empty one). */
static void
check_bundle_fields_whole (const gchar *text, const MxprovBundle *bundle)
{
  static const gchar *const members[] = { "homeServer", "user", "password", "roomId" };
  const gchar *fields[] = { bundle->home_server, bundle->user, bundle->password, bundle->room_id };
  g_autofree gchar *trimmed = g_strstrip (g_strdup (text));
  g_autofree guint8 *raw = NULL;
  g_autoptr(json_object) obj = NULL;
  gsize len = strlen (trimmed);

  /* the decoder took correct padding off */
  while (len > 0 && trimmed[len - 1] == '=')
    trimmed[--len] = '\0';
  raw = mxprov_base64url_decode (trimmed, NULL, NULL);
  FUZZ_CHECK (raw != NULL);
  obj = json_tokener_parse ((const gchar *) raw);
  FUZZ_CHECK (obj != NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++)
    {
      json_object *member = NULL;

      FUZZ_CHECK (json_object_object_get_ex (obj, members[i], &member));
      FUZZ_CHECK ((gsize) json_object_get_string_len (member) == strlen (fields[i]));
    }
}

void
mxprov_fuzz_bundle (const guint8 *data, gsize size)
{
  g_autofree gchar *text = fuzz_strdup (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error_again = NULL;
  g_autoptr(MxprovBundle) bundle = NULL;
  g_autoptr(MxprovBundle) again = NULL;
  g_autoptr(MxprovSecret) encoded = NULL;

  /* the Lotti app's rules take any text too, and say why they refuse */
  {
    g_autoptr(GError) lotti_error = NULL;
    if (!mxprov_bundle_lotti_accepts (text, &lotti_error))
      FUZZ_CHECK (lotti_error != NULL && lotti_error->domain == MXPROV_LOTTI_ERROR);
    else
      FUZZ_CHECK (lotti_error == NULL);
  }

  bundle = mxprov_bundle_decode (text, &error);
  if (bundle == NULL)
    {
      FUZZ_CHECK (error != NULL);
      FUZZ_CHECK (error->domain == MXPROV_BUNDLE_ERROR);
      FUZZ_CHECK (error->message != NULL);
      return;
    }
  FUZZ_CHECK (error == NULL);
  check_bundle_valid (bundle);
  check_bundle_fields_whole (text, bundle);

  /* Whatever the desktop client accepts, mxprov must be able to produce:
   * the encoding of a decoded bundle decodes to the same fields. */
  encoded = mxprov_bundle_encode (bundle);
  FUZZ_CHECK (encoded != NULL);
  again = mxprov_bundle_decode (encoded, &error_again);
  if (again == NULL)
    fprintf (stderr, "re-decoding the encoded bundle failed: %s\n",
             error_again != NULL ? error_again->message : "(no error set)");
  FUZZ_CHECK (again != NULL);
  FUZZ_CHECK (error_again == NULL);
  FUZZ_CHECK (again->version == bundle->version);
  FUZZ_CHECK (again->kind == bundle->kind);
  FUZZ_CHECK (g_strcmp0 (again->home_server, bundle->home_server) == 0);
  FUZZ_CHECK (g_strcmp0 (again->user, bundle->user) == 0);
  FUZZ_CHECK (g_strcmp0 (again->password, bundle->password) == 0);
  FUZZ_CHECK (g_strcmp0 (again->room_id, bundle->room_id) == 0);
}

/* --- HTTP answer ------------------------------------------------------------ */

/* NULL: curl reports no Content-Type header. */
static const gchar *const content_types[] = {
  "application/json", "text/html", NULL, "application/json; charset=utf-8",
};

/* -1: no Retry-After header; the others are what header_cb can produce. */
static const gint64 retry_after_headers[] = { -1, 0, 2000, 86400000 };

void
mxprov_fuzz_answer (const guint8 *data, gsize size)
{
  g_autoptr(GError) error = NULL;
  json_object *obj;
  const gchar *content_type;
  gint64 retry_after_header_ms;
  const gchar *body;
  gsize len;
  guint status;
  gboolean success;

  if (size < 3)
    return;
  status = ((guint) data[0] << 8 | data[1]) % 600;
  content_type = content_types[data[2] % G_N_ELEMENTS (content_types)];
  retry_after_header_ms = retry_after_headers[(data[2] >> 2) % G_N_ELEMENTS (retry_after_headers)];
  /* The body stays in libFuzzer's buffer, not NUL-terminated: the parser
   * must honour `len` (ASan catches a read past it). */
  body = (const gchar *) data + 3;
  len = size - 3;

  obj = mxprov_http_parse_answer (status, content_type, body, len, retry_after_header_ms, &error);
  success = status >= 200 && status < 300 && error == NULL;

  /* An object exactly for a 2xx JSON object, an error otherwise. */
  FUZZ_CHECK ((obj != NULL) == success);
  FUZZ_CHECK ((obj != NULL) != (error != NULL));
  if (obj != NULL)
    {
      FUZZ_CHECK (json_object_is_type (obj, json_type_object));
      json_object_put (obj);
      return;
    }

  /* The host maps errors to exit codes by domain: exactly these two. */
  FUZZ_CHECK (error->message != NULL);
  FUZZ_CHECK ((error->domain == MXPROV_MATRIX_ERROR) != (error->domain == MXPROV_HTTP_ERROR));
  if (error->domain == MXPROV_MATRIX_ERROR)
    {
      FUZZ_CHECK (mxprov_matrix_error_get_status (error) == status);
      FUZZ_CHECK (mxprov_http_error_get_status (error) == 0);
      /* Only a JSON object answer outside 2xx/3xx and 502-504 is the
       * server's own error. */
      FUZZ_CHECK (status < 200 || status >= 400);
      FUZZ_CHECK (status != 502 && status != 503 && status != 504);
    }
  else
    {
      FUZZ_CHECK (mxprov_http_error_get_status (error) == status);
      FUZZ_CHECK (mxprov_matrix_error_get_status (error) == 0);
      FUZZ_CHECK (mxprov_matrix_error_get_errcode (error) == NULL);
    }
}

/* --- step config ------------------------------------------------------------- */

void
mxprov_fuzz_config (const guint8 *data, gsize size)
{
  g_autofree gchar *text = fuzz_strdup (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = NULL;
  guint n_steps;
  gint last = -1;

  config = mxprov_step_config_load_data (text, "fuzz.conf", &error);
  if (config == NULL)
    {
      FUZZ_CHECK (error != NULL);
      FUZZ_CHECK (error->domain == MXPROV_CONFIG_ERROR);
      FUZZ_CHECK (error->message != NULL);
      return;
    }
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (config->keyfile != NULL);
  FUZZ_CHECK (g_strcmp0 (config->source, "fuzz.conf") == 0);
  FUZZ_CHECK (config->steps != NULL && config->plugins != NULL);

  /* The pipeline indexes plugins by step: same length, never empty. */
  n_steps = g_strv_length (config->steps);
  FUZZ_CHECK (n_steps > 0);
  FUZZ_CHECK (g_strv_length (config->plugins) == n_steps);

  /* Known steps, each at most once, in the one order they can run. */
  for (guint i = 0; i < n_steps; i++)
    {
      gint index = -1;

      FUZZ_CHECK (mxprov_step_name_is_valid (config->steps[i]));
      for (gint j = 0; mxprov_step_names[j] != NULL; j++)
        if (strcmp (mxprov_step_names[j], config->steps[i]) == 0)
          index = j;
      FUZZ_CHECK (index > last);
      last = index;

      /* Plugin names become file names: nothing that could leave the
       * plugin directory. */
      FUZZ_CHECK (config->plugins[i][0] != '\0');
      FUZZ_CHECK (strchr (config->plugins[i], '/') == NULL);
      FUZZ_CHECK (strstr (config->plugins[i], "..") == NULL);
      FUZZ_CHECK (g_strcmp0 (mxprov_step_config_plugin_for (config, config->steps[i]),
                             config->plugins[i]) == 0);
    }
  FUZZ_CHECK (config->plugin_dir == NULL || g_path_is_absolute (config->plugin_dir));
}

/* --- logging ------------------------------------------------------------------ */

static GLogWriterOutput
quiet_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
              gpointer user_data)
{
  /* A critical is a g_return_if_fail that failed: a bug, so let it be
   * seen and crash; everything else is expected chatter on bad input. */
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

void
mxprov_fuzz_quiet_logs (void)
{
  /* g_log() goes through the default handler to the writer, so this one
   * place catches both the old and the structured API. */
  g_log_set_writer_func (quiet_writer, NULL, NULL);
}
