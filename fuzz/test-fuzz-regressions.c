/* test-fuzz-regressions.c: replay the fuzzers' seed corpora and every
 * crasher saved in fuzz/regressions/ through the fuzz targets' checks, so a
 * bug the fuzzers once found stays fixed without needing clang or
 * --enable-fuzzing.
 *
 * Each input runs in a subprocess: a crash or a violated invariant (which
 * aborts) then fails that input's test alone, under its file name.
 *
 * A crasher whose bug is not fixed yet is listed in
 * fuzz/regressions/KNOWN-OPEN: it is expected to fail (TAP "# TODO", which
 * make check counts as XFAIL), so it can be committed before the fix, and
 * once it passes the test fails until the line is removed. */
#include "config.h"

#include <string.h>

#include "fuzz-targets.h"

typedef void (*FuzzTarget) (const guint8 *data, gsize size);

static const struct {
  const gchar *name;
  FuzzTarget func;
} targets[] = {
  { "bundle", mxprov_fuzz_bundle },
  { "answer", mxprov_fuzz_answer },
  { "config", mxprov_fuzz_config },
};

typedef struct {
  FuzzTarget func;
  gchar *path;
  gboolean known_open;
} Replay;

static void
replay_free (gpointer data)
{
  Replay *replay = data;

  g_free (replay->path);
  g_free (replay);
}

static void
test_replay (gconstpointer data)
{
  const Replay *replay = data;

  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *contents = NULL;
      gsize len = 0;

      g_file_get_contents (replay->path, &contents, &len, &error);
      g_assert_no_error (error);
      replay->func ((const guint8 *) contents, len);
      return;
    }
  g_test_message ("replaying %s", replay->path);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!replay->known_open)
    {
      g_test_trap_assert_passed ();
      return;
    }
  if (g_test_trap_has_passed ())
    {
      g_test_message ("%s passes now: remove it from fuzz/regressions/KNOWN-OPEN",
                      replay->path);
      g_test_fail ();
      return;
    }
  g_test_incomplete ("known open bug, listed in fuzz/regressions/KNOWN-OPEN");
}

/* The TARGET/FILE names at the start of KNOWN-OPEN's lines. */
static GHashTable *
load_known_open (void)
{
  GHashTable *known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "..", "fuzz", "regressions",
                                                  "KNOWN-OPEN", NULL);
  g_autofree gchar *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return known;
  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit_set (g_strstrip (lines[i]), " \t", 2);

      if (words[0] != NULL && words[0][0] != '\0' && words[0][0] != '#')
        g_hash_table_add (known, g_strdup (words[0]));
    }
  return known;
}

static void
test_corpus_present (gconstpointer data)
{
  const gchar *dir = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);

  /* Without seeds the replay would pass vacuously. */
  g_assert_no_error (error);
  g_assert_nonnull (g_dir_read_name (d));
}

/* Inputs are every regular file but the README and hidden files. A missing
 * directory has none: test_corpus_present reports it for the corpora. */
static GPtrArray *
list_inputs (const gchar *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);

      if (name[0] == '.' || g_str_has_prefix (name, "README")
          || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      g_ptr_array_add (names, g_strdup (name));
    }
  return names;
}

/* Name order, so that test numbers are stable from run to run. */
static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

int
main (int argc, char **argv)
{
  static const gchar *const kinds[] = { "corpus", "regressions" };
  g_autoptr(GPtrArray) replays = g_ptr_array_new_with_free_func (replay_free);
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) known_open = NULL;

  g_test_init (&argc, &argv, NULL);
  known_open = load_known_open ();

  for (gsize t = 0; t < G_N_ELEMENTS (targets); t++)
    for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
      {
        /* G_TEST_DIST is the source tree's tests/; the inputs are beside it. */
        gchar *dir = g_test_build_filename (G_TEST_DIST, "..", "fuzz", kinds[k],
                                            targets[t].name, NULL);
        g_autoptr(GPtrArray) names = list_inputs (dir);

        g_ptr_array_add (dirs, dir);
        if (k == 0)
          {
            g_autofree gchar *test = g_strdup_printf ("/fuzz/%s/%s/present", kinds[k],
                                                      targets[t].name);
            g_test_add_data_func (test, dir, test_corpus_present);
          }
        g_ptr_array_sort (names, compare_names);
        for (guint i = 0; i < names->len; i++)
          {
            const gchar *name = g_ptr_array_index (names, i);
            g_autofree gchar *test = g_strdup_printf ("/fuzz/%s/%s/%s", kinds[k],
                                                      targets[t].name, name);
            g_autofree gchar *key = g_strdup_printf ("%s/%s", targets[t].name, name);
            Replay *replay = g_new0 (Replay, 1);

            replay->func = targets[t].func;
            replay->path = g_build_filename (dir, name, NULL);
            replay->known_open = k == 1 && g_hash_table_contains (known_open, key);
            g_ptr_array_add (replays, replay);
            g_test_add_data_func (test, replay, test_replay);
          }
      }

  return g_test_run ();
}
