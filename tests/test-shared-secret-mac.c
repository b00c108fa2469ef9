/* test-shared-secret-mac.c: the registration MAC against the test vectors
 * in matrix-api-notes.md (secret s3cret, nonce abc, user alice, password pw). */
#include "config.h"

#include "shared-secret-mac.h"

static void
test_vectors (void)
{
  g_autofree gchar *notadmin = shared_secret_registration_mac ("s3cret", "abc", "alice", "pw", FALSE, NULL);
  g_autofree gchar *admin = shared_secret_registration_mac ("s3cret", "abc", "alice", "pw", TRUE, NULL);
  g_autofree gchar *bot = shared_secret_registration_mac ("s3cret", "abc", "alice", "pw", FALSE, "bot");

  g_assert_cmpstr (notadmin, ==, "d7cd8fe38bb2b37bacf757920ef46050075d427d");
  g_assert_cmpstr (admin, ==, "fff9f57189c2d1a494c19759e16d592b0f64ce32");
  g_assert_cmpstr (bot, ==, "d3aca8c91c01f0a76c048b887bea95fa6d6e3e6b");
}

/* Every field is covered by the MAC, separators included. */
static void
test_fields_matter (void)
{
  g_autofree gchar *base = shared_secret_registration_mac ("s3cret", "abc", "alice", "pw", FALSE, NULL);
  g_autofree gchar *other_secret = shared_secret_registration_mac ("s3creT", "abc", "alice", "pw", FALSE, NULL);
  g_autofree gchar *shifted = shared_secret_registration_mac ("s3cret", "abca", "lice", "pw", FALSE, NULL);

  g_assert_cmpuint (strlen (base), ==, 40);
  g_assert_cmpstr (base, !=, other_secret);
  g_assert_cmpstr (base, !=, shifted);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/shared-secret/mac/vectors", test_vectors);
  g_test_add_func ("/shared-secret/mac/fields-matter", test_fields_matter);
  return g_test_run ();
}
