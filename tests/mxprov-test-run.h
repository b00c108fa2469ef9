/* mxprov-test-run.h: running the real mxprov binary from a test. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gint exit_code;
  gchar *out;
  gchar *err;
} RunResult;

void run_result_free (RunResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RunResult, run_result_free)

/* Run $MXPROV_BINARY with `args` (NULL-terminated), optional stdin text
 * and extra environment ("NAME=value" strings), and wait for it.
 * MXPROV_ADMIN_PASSWORD is never inherited. $MXPROV_TEST_WRAPPER, if set,
 * is a command line to run mxprov under (valgrind). When `quiet`, the output is
 * not copied into the test log (for tests that run mxprov many times). */
RunResult *run_mxprov (const gchar *const *args, const gchar *stdin_text,
                       const gchar *const *env, gboolean quiet);
#define run_mxprov_full(args, stdin_text, env) run_mxprov ((args), (stdin_text), (env), FALSE)

/* g_error with the haystack when the needle is missing / present. */
void assert_contains (const gchar *haystack, const gchar *needle);
void assert_not_contains (const gchar *haystack, const gchar *needle);

G_END_DECLS
