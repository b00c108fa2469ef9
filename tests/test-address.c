/* test-address.c: which addresses count as this machine, and so may be
 * sent the admin password over plain http://. */
#include "config.h"

#include <mxprov/mxprov.h>
#include "mxprov-address.h"
#include "mxprov-session.h"

static void
test_loopback_literals (void)
{
  static const struct {
    const gchar *literal;
    gboolean loopback;
  } cases[] = {
    { "127.0.0.1", TRUE },
    { "127.255.255.254", TRUE },
    { "::1", TRUE },
    { "0:0:0:0:0:0:0:1", TRUE },
    { "128.0.0.1", FALSE },
    { "126.255.255.255", FALSE },
    { "10.0.0.1", FALSE },
    { "::", FALSE },
    { "1::1", FALSE },
    /* IPv4-mapped: not loopback for GIO either */
    { "::ffff:127.0.0.1", FALSE },
    /* a name can resolve anywhere; brackets and ports are the caller's */
    { "localhost", FALSE },
    { "[::1]", FALSE },
    { "127.0.0.1:8008", FALSE },
    /* inet_pton takes only full dotted quads */
    { "127.1", FALSE },
    { "", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].literal);
      g_assert_cmpint (mxprov_address_is_loopback (cases[i].literal), ==, cases[i].loopback);
    }
  g_assert_false (mxprov_address_is_loopback (NULL));
}

static void
test_plain_http_only_to_this_machine (void)
{
  static const gchar *const allowed[] = {
    "http://127.0.0.1:8008", "http://[::1]:8008", "http://localhost:8008", "http://LOCALHOST",
    "https://matrix.example.com", "https://10.0.0.1",
  };
  static const gchar *const refused[] = {
    "http://matrix.example.com", "http://10.0.0.1:8008", "http://[2001:db8::1]",
    "http://localhost.example.com", "http://127.0.0.1.example.com",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (allowed); i++)
    {
      g_autoptr(GError) error = NULL;
      g_test_message ("%s", allowed[i]);
      g_assert_true (mxprov_session_check_transport_security (allowed[i], &error));
      g_assert_no_error (error);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_test_message ("%s", refused[i]);
      g_assert_false (mxprov_session_check_transport_security (refused[i], &error));
      g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
      g_assert_nonnull (strstr (error->message, "--allow-insecure-http"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/address/loopback-literals", test_loopback_literals);
  g_test_add_func ("/address/plain-http-only-to-this-machine", test_plain_http_only_to_this_machine);
  return g_test_run ();
}
