/* mxprov-test-run.c: running the real mxprov binary from a test. */
#include "config.h"

#include <string.h>

#include "mxprov-test-run.h"

void
run_result_free (RunResult *r)
{
  g_free (r->out);
  g_free (r->err);
  g_free (r);
}

RunResult *
run_mxprov (const gchar *const *args, const gchar *stdin_text, const gchar *const *env,
            gboolean quiet)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  RunResult *r = g_new0 (RunResult, 1);
  const gchar *binary = g_getenv ("MXPROV_BINARY");
  const gchar *wrapper = g_getenv ("MXPROV_TEST_WRAPPER");
  g_auto(GStrv) wrapper_argv = NULL;

  g_assert_nonnull (binary);
  /* make check-valgrind runs every mxprov under memcheck this way */
  if (wrapper != NULL && *wrapper != '\0')
    {
      g_assert_true (g_shell_parse_argv (wrapper, NULL, &wrapper_argv, &error));
      for (gsize i = 0; wrapper_argv[i] != NULL; i++)
        g_ptr_array_add (argv, wrapper_argv[i]);
    }
  g_ptr_array_add (argv, (gpointer) binary);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                        | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_unsetenv (launcher, "MXPROV_ADMIN_PASSWORD");
  for (gsize i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1], TRUE);
    }
  proc = g_subprocess_launcher_spawnv (launcher, (const gchar *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, stdin_text != NULL ? stdin_text : "", NULL,
                                 &r->out, &r->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  r->exit_code = g_subprocess_get_exit_status (proc);
  if (!quiet)
    g_test_message ("mxprov exit %d\nstdout: %s\nstderr: %s", r->exit_code, r->out, r->err);
  return r;
}

void
assert_contains (const gchar *haystack, const gchar *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("expected to find '%s' in:\n%s", needle, haystack);
}

void
assert_not_contains (const gchar *haystack, const gchar *needle)
{
  if (needle != NULL && *needle != '\0' && strstr (haystack, needle) != NULL)
    g_error ("'%s' must not appear in:\n%s", needle, haystack);
}
