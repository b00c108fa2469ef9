/* test-context.c: the run's key/value store, and the wiping of its secrets. */
#include "config.h"

#include <string.h>

#include <mxprov/mxprov.h>
#include "lib/mxprov-secret-private.h"

/* Every call of the secret free hook: the length, and whether every byte
 * was zero at that moment. */
typedef struct {
  gsize len;
  gboolean all_zero;
} HookCall;

static GArray *hook_calls;

static void
record_free (const gchar *secret, gsize len)
{
  HookCall call = { len, TRUE };

  for (gsize i = 0; i < len; i++)
    if (secret[i] != '\0')
      call.all_zero = FALSE;
  g_array_append_val (hook_calls, call);
}

static void
hook_start (void)
{
  g_clear_pointer (&hook_calls, g_array_unref);
  hook_calls = g_array_new (FALSE, TRUE, sizeof (HookCall));
  mxprov_secret_set_free_hook_for_testing (record_free);
}

static void
hook_stop (void)
{
  mxprov_secret_set_free_hook_for_testing (NULL);
  g_clear_pointer (&hook_calls, g_array_unref);
}

static void
assert_hook_call (guint index, gsize len)
{
  HookCall *call;

  g_assert_cmpuint (hook_calls->len, >, index);
  call = &g_array_index (hook_calls, HookCall, index);
  g_assert_cmpuint (call->len, ==, len);
  g_assert_true (call->all_zero);
}

static void
test_context_set_get (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();
  gchar value[] = "https://matrix.example.com";

  g_assert_null (mxprov_context_get (context, "homeserver"));
  g_assert_false (mxprov_context_has (context, "homeserver"));

  mxprov_context_set (context, "homeserver", value, MXPROV_CONTEXT_FLAG_NONE);
  /* the context keeps a copy */
  value[0] = 'X';
  g_assert_cmpstr (mxprov_context_get (context, "homeserver"), ==, "https://matrix.example.com");
  g_assert_true (mxprov_context_has (context, "homeserver"));
  g_assert_false (mxprov_context_is_secret (context, "homeserver"));

  /* replacing */
  mxprov_context_set (context, "homeserver", "https://other.example", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_cmpstr (mxprov_context_get (context, "homeserver"), ==, "https://other.example");

  /* an empty value is a value */
  mxprov_context_set (context, "user.displayname", "", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_true (mxprov_context_has (context, "user.displayname"));
  g_assert_cmpstr (mxprov_context_get (context, "user.displayname"), ==, "");

  /* keys are exact */
  g_assert_false (mxprov_context_has (context, "Homeserver"));
  g_assert_false (mxprov_context_has (context, "homeserver "));
}

static void
test_context_take (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();
  gchar *value = g_strdup ("@alice:example.com");

  mxprov_context_take (context, "user.id", value, MXPROV_CONTEXT_FLAG_NONE);
  /* the very string, not a copy */
  g_assert_true (mxprov_context_get (context, "user.id") == value);
}

static void
test_context_remove (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();

  mxprov_context_set (context, "room.id", "!r:example.com", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "user.id", "@u:example.com", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_remove (context, "room.id");
  g_assert_false (mxprov_context_has (context, "room.id"));
  g_assert_null (mxprov_context_get (context, "room.id"));
  g_assert_cmpstr (mxprov_context_get (context, "user.id"), ==, "@u:example.com");

  /* removing a missing key is harmless */
  mxprov_context_remove (context, "room.id");
  mxprov_context_remove (context, "never.set");
  g_assert_true (mxprov_context_has (context, "user.id"));
}

static void
test_context_lookup (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();
  g_autoptr(GError) error = NULL;
  const gchar *value;

  mxprov_context_set (context, "server.name", "example.com", MXPROV_CONTEXT_FLAG_NONE);
  value = mxprov_context_lookup (context, "server.name", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "example.com");

  value = mxprov_context_lookup (context, "admin.token", &error);
  g_assert_null (value);
  g_assert_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING);
  g_assert_nonnull (strstr (error->message, "'admin.token'"));

  /* without a GError too */
  g_assert_null (mxprov_context_lookup (context, "admin.token", NULL));
}

static void
test_context_list_keys (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();
  static const gchar *const expected[] = {
    "admin.password", "admin.token", "admin.user", "bundle.base64", "homeserver",
    "room.id", "user.id", "user.localpart", NULL
  };
  g_auto(GStrv) empty = mxprov_context_list_keys (context);
  g_auto(GStrv) keys = NULL;

  g_assert_nonnull (empty);
  g_assert_cmpuint (g_strv_length (empty), ==, 0);

  /* inserted in an order that is neither sorted nor reversed */
  mxprov_context_set (context, "user.id", "@u:e", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "admin.token", "t", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "room.id", "!r:e", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "homeserver", "https://e", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "admin.password", "p", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.localpart", "u", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "bundle.base64", "b", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "admin.user", "admin", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "user.id", "@u2:e", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "stale", "x", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_remove (context, "stale");

  keys = mxprov_context_list_keys (context);
  g_assert_cmpstrv (keys, expected);
}

static void
test_context_secret_replaced (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();

  hook_start ();
  mxprov_context_set (context, "admin.password", "first-secret", MXPROV_CONTEXT_FLAG_SECRET);
  g_assert_true (mxprov_context_is_secret (context, "admin.password"));
  g_assert_cmpuint (hook_calls->len, ==, 0);

  mxprov_context_set (context, "admin.password", "second", MXPROV_CONTEXT_FLAG_SECRET);
  g_assert_cmpuint (hook_calls->len, ==, 1);
  assert_hook_call (0, strlen ("first-secret"));
  g_assert_cmpstr (mxprov_context_get (context, "admin.password"), ==, "second");

  g_clear_pointer (&context, mxprov_context_free);
  g_assert_cmpuint (hook_calls->len, ==, 2);
  assert_hook_call (1, strlen ("second"));
  hook_stop ();
}

static void
test_context_secret_removed (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();

  hook_start ();
  mxprov_context_set (context, "admin.token", "syt_abcdefghij", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_remove (context, "admin.token");
  g_assert_cmpuint (hook_calls->len, ==, 1);
  assert_hook_call (0, strlen ("syt_abcdefghij"));
  g_assert_false (mxprov_context_has (context, "admin.token"));
  g_assert_false (mxprov_context_is_secret (context, "admin.token"));

  g_clear_pointer (&context, mxprov_context_free);
  g_assert_cmpuint (hook_calls->len, ==, 1);
  hook_stop ();
}

static void
test_context_secret_freed (void)
{
  MxprovContext *context = mxprov_context_new ();
  gsize total = 0;

  hook_start ();
  mxprov_context_set (context, "admin.password", "pw-one", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.token", "token-two!", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_take (context, "bundle.json", g_strdup ("{\"json\":3}"),
                       MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.id", "@not-secret:example.com", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_cmpuint (hook_calls->len, ==, 0);

  mxprov_context_free (context);
  /* one call per secret, in whatever order the table frees them */
  g_assert_cmpuint (hook_calls->len, ==, 3);
  for (guint i = 0; i < hook_calls->len; i++)
    {
      HookCall *call = &g_array_index (hook_calls, HookCall, i);
      g_assert_true (call->all_zero);
      g_assert_true (call->len == strlen ("pw-one") || call->len == strlen ("token-two!"));
      total += call->len;
    }
  g_assert_cmpuint (total, ==, strlen ("pw-one") + strlen ("token-two!") + strlen ("{\"json\":3}"));
  hook_stop ();
}

static void
test_context_plain_not_wiped (void)
{
  MxprovContext *context = mxprov_context_new ();

  hook_start ();
  mxprov_context_set (context, "room.id", "!a:example.com", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "room.id", "!b:example.com", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "user.id", "@u:example.com", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_remove (context, "user.id");
  mxprov_context_take (context, "server.name", g_strdup ("example.com"),
                       MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_free (context);
  g_assert_cmpuint (hook_calls->len, ==, 0);
  hook_stop ();
}

static void
test_context_secret_sticky (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();

  hook_start ();
  mxprov_context_set (context, "user.password", "s3cret", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.password", "plain?", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_true (mxprov_context_is_secret (context, "user.password"));
  g_assert_cmpstr (mxprov_context_get (context, "user.password"), ==, "plain?");
  g_assert_cmpuint (hook_calls->len, ==, 1);
  assert_hook_call (0, strlen ("s3cret"));

  /* and stays so through take and another set */
  mxprov_context_take (context, "user.password", g_strdup ("taken"), MXPROV_CONTEXT_FLAG_NONE);
  g_assert_true (mxprov_context_is_secret (context, "user.password"));
  g_assert_cmpuint (hook_calls->len, ==, 2);
  assert_hook_call (1, strlen ("plain?"));

  /* the value set without the flag is still wiped at the end */
  g_clear_pointer (&context, mxprov_context_free);
  g_assert_cmpuint (hook_calls->len, ==, 3);
  assert_hook_call (2, strlen ("taken"));
  hook_stop ();
}

static void
test_context_not_secret_then_secret (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();

  hook_start ();
  mxprov_context_set (context, "admin.token", "placeholder", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_false (mxprov_context_is_secret (context, "admin.token"));
  mxprov_context_set (context, "admin.token", "real-token", MXPROV_CONTEXT_FLAG_SECRET);
  g_assert_true (mxprov_context_is_secret (context, "admin.token"));
  /* the old value was not secret */
  g_assert_cmpuint (hook_calls->len, ==, 0);
  g_assert_false (mxprov_context_is_secret (context, "never.set"));

  g_clear_pointer (&context, mxprov_context_free);
  g_assert_cmpuint (hook_calls->len, ==, 1);
  assert_hook_call (0, strlen ("real-token"));
  hook_stop ();
}

static void
test_context_http (void)
{
  g_autoptr(MxprovContext) context = mxprov_context_new ();
  MxprovHttp *fake = (MxprovHttp *) GSIZE_TO_POINTER (0x1000);

  g_assert_null (mxprov_context_get_http (context));
  /* not owned: the context never dereferences or frees it */
  mxprov_context_set_http (context, fake);
  g_assert_true (mxprov_context_get_http (context) == fake);
  mxprov_context_set_http (context, NULL);
  g_assert_null (mxprov_context_get_http (context));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/context/set-get", test_context_set_get);
  g_test_add_func ("/context/take", test_context_take);
  g_test_add_func ("/context/remove", test_context_remove);
  g_test_add_func ("/context/lookup", test_context_lookup);
  g_test_add_func ("/context/list-keys", test_context_list_keys);
  g_test_add_func ("/context/secret/replaced", test_context_secret_replaced);
  g_test_add_func ("/context/secret/removed", test_context_secret_removed);
  g_test_add_func ("/context/secret/freed", test_context_secret_freed);
  g_test_add_func ("/context/secret/plain-not-wiped", test_context_plain_not_wiped);
  g_test_add_func ("/context/secret/sticky", test_context_secret_sticky);
  g_test_add_func ("/context/secret/not-secret-then-secret", test_context_not_secret_then_secret);
  g_test_add_func ("/context/http", test_context_http);

  return g_test_run ();
}
