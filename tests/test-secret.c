/* test-secret.c: Base64url, password generation and wiping of secrets. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mxprov/mxprov.h>
#include "lib/mxprov-secret-private.h"
#include "lib/mxprov-secure-alloc-private.h"

/* RFC 4648 section 10, in the URL-safe alphabet without padding. */
static const struct {
  const gchar *plain;
  const gchar *encoded;
} rfc4648_vectors[] = {
  { "", "" },
  { "f", "Zg" },
  { "fo", "Zm8" },
  { "foo", "Zm9v" },
  { "foob", "Zm9vYg" },
  { "fooba", "Zm9vYmE" },
  { "foobar", "Zm9vYmFy" },
};

static gboolean
is_base64url_text (const gchar *text)
{
  for (const gchar *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static void
test_base64url_encode_vectors (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (rfc4648_vectors); i++)
    {
      g_autofree gchar *encoded =
        mxprov_base64url_encode ((const guint8 *) rfc4648_vectors[i].plain,
                                 strlen (rfc4648_vectors[i].plain));
      g_assert_cmpstr (encoded, ==, rfc4648_vectors[i].encoded);
    }
}

static void
test_base64url_decode_vectors (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (rfc4648_vectors); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize len = G_MAXSIZE;
      g_autofree guint8 *decoded = mxprov_base64url_decode (rfc4648_vectors[i].encoded,
                                                            &len, &error);

      g_assert_no_error (error);
      g_assert_nonnull (decoded);
      g_assert_cmpuint (len, ==, strlen (rfc4648_vectors[i].plain));
      g_assert_cmpmem (decoded, len, rfc4648_vectors[i].plain, strlen (rfc4648_vectors[i].plain));
      /* NUL-terminated, not counted in len */
      g_assert_cmpuint (decoded[len], ==, 0);
    }
}

static void
test_base64url_url_safe_chars (void)
{
  static const guint8 bytes[] = { 0xfb, 0xff };
  g_autofree gchar *encoded = mxprov_base64url_encode (bytes, sizeof bytes);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *decoded = NULL;
  gsize len = 0;

  /* standard Base64 would be "+/8=" */
  g_assert_cmpstr (encoded, ==, "-_8");
  decoded = mxprov_base64url_decode ("-_8", &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (decoded, len, bytes, sizeof bytes);
}

/* Every byte value, every length 0..256: compare with GLib's standard
 * Base64 translated to the URL-safe alphabet without padding. */
static void
test_base64url_all_bytes (void)
{
  guint8 bytes[256];

  for (gsize i = 0; i < sizeof bytes; i++)
    bytes[i] = (guint8) (255 - i);
  for (gsize n = 0; n <= sizeof bytes; n++)
    {
      g_autofree gchar *ours = mxprov_base64url_encode (bytes, n);
      g_autofree gchar *theirs = g_base64_encode (bytes, n);
      g_autofree guint8 *decoded = NULL;
      g_autoptr(GError) error = NULL;
      gchar *pad;
      gsize len = 0;

      pad = strchr (theirs, '=');
      if (pad != NULL)
        *pad = '\0';
      g_strdelimit (theirs, "+", '-');
      g_strdelimit (theirs, "/", '_');
      g_assert_cmpstr (ours, ==, theirs);

      decoded = mxprov_base64url_decode (ours, &len, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (decoded, len, bytes, n);
    }
}

static void
assert_decode_fails (const gchar *text, gint code, const gchar *fragment)
{
  g_autoptr(GError) error = NULL;
  gsize len = 12345;
  g_autofree guint8 *decoded = mxprov_base64url_decode (text, &len, &error);

  g_test_message ("decoding '%s'", text);
  g_assert_null (decoded);
  g_assert_error (error, G_CONVERT_ERROR, code);
  g_assert_nonnull (strstr (error->message, fragment));
  /* out_len is left alone on failure */
  g_assert_cmpuint (len, ==, 12345);
}

static void
test_base64url_decode_rejects (void)
{
  /* "Zg" is "f"; "Zh" has the same byte but non-zero trailing bits */
  assert_decode_fails ("Zh", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "trailing bits");
  assert_decode_fails ("Zm9vYmF", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "trailing bits");
  assert_decode_fails ("Zg==", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "padding");
  assert_decode_fails ("Zm9v+mFy", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "standard Base64 alphabet");
  assert_decode_fails ("Zm9v/mFy", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "standard Base64 alphabet");
  assert_decode_fails ("Zm9v YmFy", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "not in the URL-safe");
  assert_decode_fails ("Zm9v\nYmFy", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "not in the URL-safe");
  assert_decode_fails ("Zm9v*mFy", G_CONVERT_ERROR_ILLEGAL_SEQUENCE, "offset 4");
  assert_decode_fails ("Zm9vY", G_CONVERT_ERROR_PARTIAL_INPUT, "truncated");
  assert_decode_fails ("Z", G_CONVERT_ERROR_PARTIAL_INPUT, "truncated");
}

static void
test_password_generate (void)
{
  static const struct {
    gsize nbytes;
    gsize nchars;
  } sizes[] = { { 1, 2 }, { 2, 3 }, { 3, 4 }, { 32, 43 }, { 48, 64 } };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MxprovSecret) password = mxprov_secret_generate_password (sizes[i].nbytes,
                                                                         &error);
      g_autofree guint8 *raw = NULL;
      gsize len = 0;

      g_assert_no_error (error);
      g_assert_nonnull (password);
      g_assert_cmpuint (strlen (password), ==, sizes[i].nchars);
      g_assert_true (is_base64url_text (password));
      raw = mxprov_base64url_decode (password, &len, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (len, ==, sizes[i].nbytes);
    }
}

static void
test_password_distinct (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      (GDestroyNotify) mxprov_secret_free,
                                                      NULL);

  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr(GError) error = NULL;
      gchar *password = mxprov_secret_generate_password (32, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (strlen (password), ==, 43);
      g_assert_true (is_base64url_text (password));
      g_assert_true (g_hash_table_add (seen, password));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 1000);
}

static void
test_password_out_of_range (void)
{
  static const gsize bad[] = { 0, 49, 64, G_MAXSIZE };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MxprovSecret) password = mxprov_secret_generate_password (bad[i], &error);
      g_autofree gchar *number = g_strdup_printf ("%" G_GSIZE_FORMAT, bad[i]);

      g_assert_null (password);
      g_assert_error (error, MXPROV_PROVISION_ERROR, MXPROV_PROVISION_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "out of range"));
      g_assert_nonnull (strstr (error->message, number));
    }
}

/* What the free hook saw. */
static guint hook_calls;
static gsize hook_len;
static gboolean hook_all_zero;

static void
record_free (const gchar *secret, gsize len)
{
  hook_calls++;
  hook_len = len;
  hook_all_zero = TRUE;
  for (gsize i = 0; i < len; i++)
    if (secret[i] != '\0')
      hook_all_zero = FALSE;
}

static void
reset_hook (void)
{
  hook_calls = 0;
  hook_len = 0;
  hook_all_zero = FALSE;
  mxprov_secret_set_free_hook_for_testing (record_free);
}

static void
test_secret_free_wipes (void)
{
  reset_hook ();
  mxprov_secret_free (g_strdup ("correct horse battery staple"));
  g_assert_cmpuint (hook_calls, ==, 1);
  g_assert_cmpuint (hook_len, ==, strlen ("correct horse battery staple"));
  g_assert_true (hook_all_zero);

  /* the autoptr goes through the same path */
  {
    g_autoptr(MxprovSecret) secret = g_strdup ("hunter2");
    g_assert_cmpstr (secret, ==, "hunter2");
  }
  g_assert_cmpuint (hook_calls, ==, 2);
  g_assert_cmpuint (hook_len, ==, 7);
  g_assert_true (hook_all_zero);

  /* NULL is allowed and frees nothing */
  mxprov_secret_free (NULL);
  g_assert_cmpuint (hook_calls, ==, 2);

  mxprov_secret_set_free_hook_for_testing (NULL);
  mxprov_secret_free (g_strdup ("no hook"));
  g_assert_cmpuint (hook_calls, ==, 2);
}

/* The allocator libcurl and OpenSSL run on wipes every block it frees,
 * and realloc never leaves an unwiped copy behind. */
static void
test_secure_allocator (void)
{
  gchar *block;
  gchar *grown;

  reset_hook ();
  block = malloc (64);
  memcpy (block, "Authorization: Bearer syt_secret_token_value", 45);
  mxprov_secure_free (block);
  g_assert_cmpuint (hook_calls, ==, 1);
#ifdef HAVE_MALLOC_USABLE_SIZE
  g_assert_cmpuint (hook_len, >=, 64);
  g_assert_true (hook_all_zero);
#endif

  block = malloc (16);
  memcpy (block, "token-1234567890", 16);
  grown = mxprov_secure_realloc (block, 4096);
  /* the old block was wiped and freed, the content moved */
  g_assert_cmpuint (hook_calls, ==, 2);
#ifdef HAVE_MALLOC_USABLE_SIZE
  g_assert_true (hook_all_zero);
#endif
  g_assert_cmpmem (grown, 16, "token-1234567890", 16);
  grown = mxprov_secure_realloc (grown, 0);
  g_assert_null (grown);
  g_assert_cmpuint (hook_calls, ==, 3);
  mxprov_secure_free (NULL);
  g_assert_cmpuint (hook_calls, ==, 3);
  mxprov_secret_set_free_hook_for_testing (NULL);
}

static void
test_secret_wipe (void)
{
  guint8 buf[32];

  memset (buf, 0xa5, sizeof buf);
  mxprov_secret_wipe (buf, 20);
  for (gsize i = 0; i < 20; i++)
    g_assert_cmpuint (buf[i], ==, 0);
  /* only the given length */
  for (gsize i = 20; i < sizeof buf; i++)
    g_assert_cmpuint (buf[i], ==, 0xa5);

  memset (buf, 0x5a, sizeof buf);
  mxprov_secret_wipe (buf, 0);
  for (gsize i = 0; i < sizeof buf; i++)
    g_assert_cmpuint (buf[i], ==, 0x5a);
  mxprov_secret_wipe (NULL, 16);

  {
    g_autofree gchar *text = g_strdup ("s3cr3t-t0k3n");
    gsize len = strlen (text);

    mxprov_secret_wipe (text, len);
    for (gsize i = 0; i < len; i++)
      g_assert_cmpint (text[i], ==, 0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/secret/base64url/encode-vectors", test_base64url_encode_vectors);
  g_test_add_func ("/secret/base64url/decode-vectors", test_base64url_decode_vectors);
  g_test_add_func ("/secret/base64url/url-safe-chars", test_base64url_url_safe_chars);
  g_test_add_func ("/secret/base64url/all-bytes", test_base64url_all_bytes);
  g_test_add_func ("/secret/base64url/decode-rejects", test_base64url_decode_rejects);
  g_test_add_func ("/secret/password/generate", test_password_generate);
  g_test_add_func ("/secret/password/distinct", test_password_distinct);
  g_test_add_func ("/secret/password/out-of-range", test_password_out_of_range);
  g_test_add_func ("/secret/free-wipes", test_secret_free_wipes);
  g_test_add_func ("/secret/wipe", test_secret_wipe);
  g_test_add_func ("/secret/secure-allocator", test_secure_allocator);

  return g_test_run ();
}
