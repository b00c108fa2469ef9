/* test-config.c: the step config file: parsing, validation and where it
 * is looked for. */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include <mxprov/mxprov.h>
#include "mxprov-step-config.h"

static const gchar *const default_steps[] = { "auth", "user", "room", "bundle", NULL };
static const gchar *const default_plugins[] = {
  "synapse-auth", "synapse-user", "matrix-room", "lotti-bundle", NULL
};

static void
assert_default_pipeline (MxprovStepConfig *config)
{
  g_assert_nonnull (config);
  g_assert_nonnull (config->keyfile);
  g_assert_cmpstrv (config->steps, default_steps);
  g_assert_cmpstrv (config->plugins, default_plugins);
  g_assert_null (config->plugin_dir);
  g_assert_cmpstr (mxprov_step_config_plugin_for (config, "auth"), ==, "synapse-auth");
  g_assert_cmpstr (mxprov_step_config_plugin_for (config, "user"), ==, "synapse-user");
  g_assert_cmpstr (mxprov_step_config_plugin_for (config, "room"), ==, "matrix-room");
  g_assert_cmpstr (mxprov_step_config_plugin_for (config, "bundle"), ==, "lotti-bundle");
  g_assert_null (mxprov_step_config_plugin_for (config, "rooms"));
}

static void
test_step_names (void)
{
  g_assert_cmpstrv (mxprov_step_names, default_steps);
  for (gsize i = 0; default_steps[i] != NULL; i++)
    g_assert_true (mxprov_step_name_is_valid (default_steps[i]));
  g_assert_false (mxprov_step_name_is_valid ("rooms"));
  g_assert_false (mxprov_step_name_is_valid ("Auth"));
  g_assert_false (mxprov_step_name_is_valid ("pipeline"));
  g_assert_false (mxprov_step_name_is_valid (""));
  g_assert_false (mxprov_step_name_is_valid (NULL));
}

static void
test_default (void)
{
  g_autoptr(MxprovStepConfig) config = mxprov_step_config_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) parsed = NULL;

  assert_default_pipeline (config);
  g_assert_cmpstr (config->source, ==, "built-in default");

  parsed = mxprov_step_config_load_data (mxprov_step_config_default_text, "copy", &error);
  g_assert_no_error (error);
  assert_default_pipeline (parsed);
  g_assert_cmpstr (parsed->source, ==, "copy");
}

static void
test_example_file (void)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "..", "examples", "synapse.conf",
                                                  NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = mxprov_step_config_load_file (path, &error);
  g_autoptr(MxprovStepConfig) builtin = mxprov_step_config_new_default ();

  g_assert_no_error (error);
  assert_default_pipeline (config);
  g_assert_cmpstrv (config->steps, builtin->steps);
  g_assert_cmpstrv (config->plugins, builtin->plugins);
  g_assert_cmpstr (config->source, ==, path);
  g_assert_true (g_key_file_has_group (config->keyfile, "provision"));
}

static void
test_subset (void)
{
  static const gchar *const steps[] = { "auth", "user", NULL };
  static const gchar *const plugins[] = { "synapse-auth", "my_user-2", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config =
    mxprov_step_config_load_data ("[pipeline]\n"
                                  "steps=auth;user\n"
                                  "[auth]\n"
                                  "plugin=synapse-auth\n"
                                  "[user]\n"
                                  "plugin=my_user-2\n"
                                  "password-bytes=24\n",
                                  "subset.conf", &error);

  g_assert_no_error (error);
  g_assert_cmpstrv (config->steps, steps);
  g_assert_cmpstrv (config->plugins, plugins);
  g_assert_null (mxprov_step_config_plugin_for (config, "room"));
  g_assert_cmpstr (config->source, ==, "subset.conf");
}

static void
test_full_config (void)
{
  static const gchar *const steps[] = { "user", "room", "bundle", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config =
    mxprov_step_config_load_data ("# comment\n"
                                  "[pipeline]\n"
                                  "steps = user; room ;bundle;\n"
                                  "plugin-dir = /opt/mxprov/plugins \n"
                                  "[provision]\n"
                                  "homeserver=https://matrix.example.com\n"
                                  "admin-user=admin\n"
                                  "admin-password-file=/etc/mxprov/pw\n"
                                  "display-name=Lotti Sync\n"
                                  "cacert=/etc/ssl/ca.pem\n"
                                  "request-timeout=5\n"
                                  "timeout=60\n"
                                  "[user]\n"
                                  "plugin = synapse-user \n"
                                  "[room]\n"
                                  "plugin=matrix-room\n"
                                  "[bundle]\n"
                                  "plugin=lotti-bundle\n",
                                  "full.conf", &error);

  g_assert_no_error (error);
  g_assert_cmpstrv (config->steps, steps);
  g_assert_cmpstr (mxprov_step_config_plugin_for (config, "user"), ==, "synapse-user");
  g_assert_cmpstr (config->plugin_dir, ==, "/opt/mxprov/plugins");
}

typedef struct {
  const gchar *name;
  const gchar *data;
  MxprovConfigError code;
  const gchar *fragments[3];
} BadConfig;

static const BadConfig bad_configs[] = {
  { "not-a-key-file", "this is not a key file\n", MXPROV_CONFIG_ERROR_INVALID, { NULL } },
  { "unclosed-group", "[pipeline\nsteps=auth\n", MXPROV_CONFIG_ERROR_INVALID, { NULL } },
  { "empty-file", "", MXPROV_CONFIG_ERROR_MISSING, { "[pipeline]" } },
  { "no-pipeline", "[auth]\nplugin=synapse-auth\n", MXPROV_CONFIG_ERROR_MISSING,
    { "no [pipeline]" } },
  { "empty-steps", "[pipeline]\nsteps=\n", MXPROV_CONFIG_ERROR_MISSING,
    { "[pipeline] steps", "empty" } },
  { "no-steps", "[pipeline]\nplugin-dir=/usr/lib/mxprov\n", MXPROV_CONFIG_ERROR_MISSING,
    { "[pipeline] steps", "missing" } },
  { "unknown-step",
    "[pipeline]\nsteps=auth;rooms\n[auth]\nplugin=synapse-auth\n[rooms]\nplugin=matrix-room\n",
    MXPROV_CONFIG_ERROR_INVALID, { "unknown step 'rooms'" } },
  { "out-of-order",
    "[pipeline]\nsteps=user;auth\n[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n",
    MXPROV_CONFIG_ERROR_INVALID, { "'auth'", "out of order" } },
  { "out-of-order-gap",
    "[pipeline]\nsteps=auth;bundle;room\n[auth]\nplugin=a\n[room]\nplugin=r\n[bundle]\nplugin=b\n",
    MXPROV_CONFIG_ERROR_INVALID, { "'room'", "out of order" } },
  { "repeated",
    "[pipeline]\nsteps=auth;user;user\n[auth]\nplugin=synapse-auth\n[user]\nplugin=synapse-user\n",
    MXPROV_CONFIG_ERROR_INVALID, { "'user'", "repeated" } },
  { "step-without-group",
    "[pipeline]\nsteps=auth;user\n[auth]\nplugin=synapse-auth\n",
    MXPROV_CONFIG_ERROR_MISSING, { "step 'user'", "no [user] group" } },
  { "group-without-plugin",
    "[pipeline]\nsteps=auth\n[auth]\ntoken-lifetime=600\n",
    MXPROV_CONFIG_ERROR_MISSING, { "[auth]", "no plugin=" } },
  { "empty-plugin",
    "[pipeline]\nsteps=auth\n[auth]\nplugin=\n",
    MXPROV_CONFIG_ERROR_INVALID, { "[auth] plugin=''" } },
  { "plugin-slash",
    "[pipeline]\nsteps=auth\n[auth]\nplugin=sub/synapse-auth\n",
    MXPROV_CONFIG_ERROR_INVALID, { "[auth]", "'sub/synapse-auth'", "not a plugin name" } },
  { "plugin-dotdot",
    "[pipeline]\nsteps=auth\n[auth]\nplugin=..\n",
    MXPROV_CONFIG_ERROR_INVALID, { "[auth]", "'..'", "not a plugin name" } },
  { "plugin-path",
    "[pipeline]\nsteps=auth;user\n[auth]\nplugin=synapse-auth\n[user]\nplugin=../../tmp/evil\n",
    MXPROV_CONFIG_ERROR_INVALID, { "[user]", "'../../tmp/evil'" } },
  { "plugin-upper-case",
    "[pipeline]\nsteps=auth\n[auth]\nplugin=Synapse-Auth\n",
    MXPROV_CONFIG_ERROR_INVALID, { "[auth]", "'Synapse-Auth'" } },
  { "unknown-pipeline-key",
    "[pipeline]\nsteps=auth\nstpes=auth;user\n[auth]\nplugin=synapse-auth\n",
    MXPROV_CONFIG_ERROR_UNKNOWN_KEY, { "unknown key 'stpes'", "[pipeline]" } },
  { "unknown-provision-key",
    "[pipeline]\nsteps=auth\n[provision]\nhomesever=https://h.example\n[auth]\nplugin=synapse-auth\n",
    MXPROV_CONFIG_ERROR_UNKNOWN_KEY, { "unknown key 'homesever'", "[provision]" } },
  { "stray-group",
    "[pipeline]\nsteps=auth;user;room\n[auth]\nplugin=a\n[user]\nplugin=u\n[room]\nplugin=r\n"
    "[rooom]\nroom-name=Lotti\n",
    MXPROV_CONFIG_ERROR_UNKNOWN_KEY, { "[rooom]" } },
  { "group-for-unlisted-step",
    "[pipeline]\nsteps=auth;user\n[auth]\nplugin=a\n[user]\nplugin=u\n[room]\nplugin=r\n",
    MXPROV_CONFIG_ERROR_UNKNOWN_KEY, { "[room]" } },
  { "relative-plugin-dir",
    "[pipeline]\nsteps=auth\nplugin-dir=lib/plugins\n[auth]\nplugin=synapse-auth\n",
    MXPROV_CONFIG_ERROR_INVALID, { "plugin-dir 'lib/plugins'", "absolute" } },
};

static void
test_bad_config (gconstpointer data)
{
  const BadConfig *bad = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = mxprov_step_config_load_data (bad->data, "bad.conf",
                                                                     &error);

  g_assert_null (config);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, MXPROV_CONFIG_ERROR, (gint) bad->code);
  /* every message names the file */
  g_assert_true (g_str_has_prefix (error->message, "bad.conf: "));
  for (gsize i = 0; i < G_N_ELEMENTS (bad->fragments) && bad->fragments[i] != NULL; i++)
    g_assert_nonnull (strstr (error->message, bad->fragments[i]));
}

static gchar *
write_temp_file (const gchar *contents)
{
  g_autoptr(GError) error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("mxprov-test-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  g_close (fd, NULL);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_load_file_errors (void)
{
  g_autofree gchar *garbage = write_temp_file ("this is not a key file\n");
  g_autofree gchar *no_pipeline = write_temp_file ("[auth]\nplugin=synapse-auth\n");
  g_autofree gchar *missing = g_strconcat (garbage, ".does-not-exist", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = NULL;

  config = mxprov_step_config_load_file (garbage, &error);
  g_assert_null (config);
  g_assert_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, garbage));
  g_clear_error (&error);

  config = mxprov_step_config_load_file (no_pipeline, &error);
  g_assert_null (config);
  g_assert_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING);
  g_assert_nonnull (strstr (error->message, no_pipeline));
  g_assert_nonnull (strstr (error->message, "[pipeline]"));
  g_clear_error (&error);

  config = mxprov_step_config_load_file (missing, &error);
  g_assert_null (config);
  g_assert_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_MISSING);
  g_assert_nonnull (strstr (error->message, missing));

  g_unlink (garbage);
  g_unlink (no_pipeline);
}

/* mxprov_step_config_find: each test has its own XDG directories
 * (G_TEST_OPTION_ISOLATE_DIRS), so files made here are seen by
 * g_get_user_config_dir () and removed after the test. */

static gchar *
make_conf (const gchar *base)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_build_filename (base, "mxprov", NULL);
  gchar *path = g_build_filename (dir, "mxprov.conf", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, mxprov_step_config_default_text, -1, &error);
  g_assert_no_error (error);
  return path;
}

static gchar *
make_sysconfdir (void)
{
  gchar *dir = g_build_filename (g_get_home_dir (), "etc", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  return dir;
}

static void
assert_isolated (void)
{
  /* the XDG config dir is this test's, not the build tree's */
  g_assert_true (g_path_is_absolute (g_get_user_config_dir ()));
  g_assert_null (strstr (g_get_user_config_dir (), "no-xdg-config"));
}

static void
test_find_explicit (void)
{
  g_autofree gchar *sysconfdir = make_sysconfdir ();
  g_autofree gchar *user_file = NULL;
  g_autofree gchar *system_file = NULL;
  g_autofree gchar *explicit_file = write_temp_file (mxprov_step_config_default_text);
  g_autofree gchar *found = NULL;

  assert_isolated ();
  user_file = make_conf (g_get_user_config_dir ());
  system_file = make_conf (sysconfdir);
  found = mxprov_step_config_find (explicit_file, sysconfdir);
  g_assert_cmpstr (found, ==, explicit_file);
  g_unlink (explicit_file);
}

static void
test_find_user (void)
{
  g_autofree gchar *sysconfdir = make_sysconfdir ();
  g_autofree gchar *user_file = NULL;
  g_autofree gchar *system_file = NULL;
  g_autofree gchar *found = NULL;
  g_autofree gchar *found_without_sysconfdir = NULL;

  assert_isolated ();
  user_file = make_conf (g_get_user_config_dir ());
  system_file = make_conf (sysconfdir);
  found = mxprov_step_config_find (NULL, sysconfdir);
  g_assert_cmpstr (found, ==, user_file);
  found_without_sysconfdir = mxprov_step_config_find (NULL, NULL);
  g_assert_cmpstr (found_without_sysconfdir, ==, user_file);
}

static void
test_find_system (void)
{
  g_autofree gchar *sysconfdir = make_sysconfdir ();
  g_autofree gchar *system_file = NULL;
  g_autofree gchar *found = NULL;
  g_autofree gchar *user_dir = g_build_filename (g_get_user_config_dir (), "mxprov", NULL);

  assert_isolated ();
  /* an mxprov config directory without the file does not count */
  g_assert_cmpint (g_mkdir_with_parents (user_dir, 0700), ==, 0);
  system_file = make_conf (sysconfdir);
  found = mxprov_step_config_find (NULL, sysconfdir);
  g_assert_cmpstr (found, ==, system_file);
}

static void
test_find_none (void)
{
  g_autofree gchar *sysconfdir = make_sysconfdir ();
  g_autofree gchar *found = NULL;
  g_autofree gchar *found_without_sysconfdir = NULL;

  assert_isolated ();
  found = mxprov_step_config_find (NULL, sysconfdir);
  g_assert_null (found);
  found_without_sysconfdir = mxprov_step_config_find (NULL, NULL);
  g_assert_null (found_without_sysconfdir);
}

/* Without a config file the credential given chooses the pipeline; two
 * kinds at once are an error. */
static void
test_builtin_by_credential (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) admin = NULL;
  g_autoptr(MxprovStepConfig) secret = NULL;
  g_autoptr(MxprovStepConfig) token = NULL;
  g_autoptr(MxprovStepConfig) both = NULL;

  g_unsetenv ("MXPROV_REGISTRATION_SECRET");
  g_unsetenv ("MXPROV_REGISTRATION_TOKEN");
  admin = mxprov_step_config_new_builtin (TRUE, &error);
  g_assert_no_error (error);
  assert_default_pipeline (admin);

  g_setenv ("MXPROV_REGISTRATION_SECRET", "s3cret", TRUE);
  secret = mxprov_step_config_new_builtin (FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mxprov_step_config_plugin_for (secret, "auth"), ==, "shared-secret-auth");
  g_assert_cmpstr (mxprov_step_config_plugin_for (secret, "user"), ==, "shared-secret-user");
  g_assert_nonnull (strstr (secret->source, "MXPROV_REGISTRATION_SECRET is set"));
  both = mxprov_step_config_new_builtin (TRUE, &error);
  g_assert_null (both);
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "an admin password or token and MXPROV_REGISTRATION_SECRET"));
  g_clear_error (&error);
  g_unsetenv ("MXPROV_REGISTRATION_SECRET");

  g_setenv ("MXPROV_REGISTRATION_TOKEN", "t0ken", TRUE);
  token = mxprov_step_config_new_builtin (FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mxprov_step_config_plugin_for (token, "auth"), ==, "registration-token-auth");
  g_assert_cmpstr (mxprov_step_config_plugin_for (token, "user"), ==, "registration-token-user");
  g_assert_cmpstr (mxprov_step_config_plugin_for (token, "room"), ==, "matrix-room");
  g_unsetenv ("MXPROV_REGISTRATION_TOKEN");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/config/step-names", test_step_names);
  g_test_add_func ("/config/default", test_default);
  g_test_add_func ("/config/builtin-by-credential", test_builtin_by_credential);
  g_test_add_func ("/config/example-file", test_example_file);
  g_test_add_func ("/config/subset", test_subset);
  g_test_add_func ("/config/full", test_full_config);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_configs); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/config/bad/%s", bad_configs[i].name);
      g_test_add_data_func (path, &bad_configs[i], test_bad_config);
    }
  g_test_add_func ("/config/load-file-errors", test_load_file_errors);
  g_test_add_func ("/config/find/explicit", test_find_explicit);
  g_test_add_func ("/config/find/user", test_find_user);
  g_test_add_func ("/config/find/system", test_find_system);
  g_test_add_func ("/config/find/none", test_find_none);

  return g_test_run ();
}
