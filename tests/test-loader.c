/* test-loader.c: the loader against real and deliberately broken .so files. */
#include "config.h"

#include <glib/gstdio.h>
#include <mxprov/mxprov.h>
#include "mxprov-exit.h"
#include "mxprov-loader.h"
#include "mxprov-pipeline.h"
#include "mxprov-step-config.h"

static gchar *
fixture_path (const gchar *name)
{
  const gchar *dir = g_getenv ("MXPROV_FIXTURE_DIR");
  g_assert_nonnull (dir);
  return g_strdup_printf ("%s/%s.%s", dir, name, G_MODULE_SUFFIX);
}

static void
test_loader_good (void)
{
  g_autofree gchar *path = fixture_path ("fixture-good");
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPlugin) plugin = mxprov_loader_open (path, &error);
  const MxprovPluginInfo *info;

  g_assert_no_error (error);
  g_assert_nonnull (plugin);
  info = mxprov_plugin_get_info_struct (plugin);
  g_assert_cmpstr (info->name, ==, "fixture-good");
  g_assert_cmpstr (info->step, ==, "room");
  g_assert_cmpuint (info->abi_version, ==, MXPROV_PLUGIN_ABI_VERSION);
  g_assert_cmpstr (mxprov_plugin_get_filename (plugin), ==, path);
}

static void
test_loader_wrong_abi (void)
{
  g_autofree gchar *path = fixture_path ("fixture-wrong-abi");
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPlugin) plugin = mxprov_loader_open (path, &error);
  g_autofree gchar *theirs = g_strdup_printf ("version %d", MXPROV_PLUGIN_ABI_VERSION + 41);
  g_autofree gchar *ours = g_strdup_printf ("version %d", MXPROV_PLUGIN_ABI_VERSION);

  g_assert_null (plugin);
  g_assert_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_ABI_MISMATCH);
  /* the message names the file and both versions */
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, theirs));
  g_assert_nonnull (strstr (error->message, ours));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_CONFIG);
}

static void
test_loader_no_getter (void)
{
  g_autofree gchar *path = fixture_path ("fixture-no-getter");
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPlugin) plugin = mxprov_loader_open (path, &error);

  g_assert_null (plugin);
  g_assert_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_NO_GETTER);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "mxprov_plugin_get_info"));
}

static void
test_loader_null_run (void)
{
  g_autofree gchar *path = fixture_path ("fixture-null-run");
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPlugin) plugin = mxprov_loader_open (path, &error);

  g_assert_null (plugin);
  g_assert_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "no run function"));
}

static void
test_loader_not_a_library (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = g_build_filename (g_get_tmp_dir (), "mxprov-not-a-plugin.so", NULL);
  g_autoptr(MxprovPlugin) plugin = NULL;

  g_assert_true (g_file_set_contents (path, "not ELF", -1, NULL));
  plugin = mxprov_loader_open (path, &error);
  g_assert_null (plugin);
  g_assert_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, path));
  g_unlink (path);
}

static void
test_loader_wrong_step (void)
{
  const gchar *dirs[] = { g_getenv ("MXPROV_FIXTURE_DIR"), NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPlugin) plugin = NULL;

  /* accepted in its own slot ... */
  plugin = mxprov_loader_load (dirs, "fixture-good", "room", &error);
  g_assert_no_error (error);
  g_assert_nonnull (plugin);
  g_clear_pointer (&plugin, mxprov_plugin_free);

  /* ... refused in another one, naming both steps */
  plugin = mxprov_loader_load (dirs, "fixture-good", "user", &error);
  g_assert_null (plugin);
  g_assert_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_WRONG_STEP);
  g_assert_nonnull (strstr (error->message, "implements step 'room'"));
  g_assert_nonnull (strstr (error->message, "configured for step 'user'"));
}

static void
test_loader_not_found (void)
{
  const gchar *dirs[] = { g_getenv ("MXPROV_FIXTURE_DIR"), "/nonexistent", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPlugin) plugin = mxprov_loader_load (dirs, "no-such-plugin", "auth", &error);

  g_assert_null (plugin);
  g_assert_error (error, MXPROV_LOADER_ERROR, MXPROV_LOADER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-plugin"));
  g_assert_nonnull (strstr (error->message, "/nonexistent"));
}

static void
test_loader_search_path (void)
{
  g_auto(GStrv) dirs = NULL;

  g_setenv ("MXPROV_PLUGIN_PATH", "/a:/b", TRUE);
  dirs = mxprov_loader_search_path ("/from-config");
  g_assert_cmpuint (g_strv_length (dirs), ==, 4);
  g_assert_cmpstr (dirs[0], ==, "/a");
  g_assert_cmpstr (dirs[1], ==, "/b");
  g_assert_cmpstr (dirs[2], ==, "/from-config");
  g_assert_cmpstr (dirs[3], ==, PLUGINDIR);
  g_clear_pointer (&dirs, g_strfreev);

  g_unsetenv ("MXPROV_PLUGIN_PATH");
  dirs = mxprov_loader_search_path (NULL);
  g_assert_cmpuint (g_strv_length (dirs), ==, 1);
  g_assert_cmpstr (dirs[0], ==, PLUGINDIR);
}

/* The fixtures directory mixes good and broken plugins: scan lists the
 * good one and reports each broken one with its reason. */
static void
test_loader_scan (void)
{
  const gchar *dirs[] = { g_getenv ("MXPROV_FIXTURE_DIR"), NULL };
  g_autoptr(GPtrArray) errors = NULL;
  g_autoptr(GPtrArray) plugins = mxprov_loader_scan (dirs, &errors);
  g_autofree gchar *all_errors = NULL;

  g_assert_cmpuint (plugins->len, ==, 1);
  g_assert_cmpstr (mxprov_plugin_get_name (g_ptr_array_index (plugins, 0)), ==, "fixture-good");
  g_assert_cmpuint (errors->len, ==, 3);
  g_ptr_array_add (errors, NULL);
  all_errors = g_strjoinv ("\n", (gchar **) errors->pdata);
  g_assert_nonnull (strstr (all_errors, "fixture-wrong-abi"));
  g_assert_nonnull (strstr (all_errors, "fixture-no-getter"));
  g_assert_nonnull (strstr (all_errors, "fixture-null-run"));
}

/* Every built-in plugin loads, exports only the getter, and matches the
 * default pipeline (SSSD's dlopen test idea). */
static void
test_loader_builtin_plugins (void)
{
  const gchar *dirs[] = { g_getenv ("MXPROV_PLUGIN_PATH"), NULL };
  g_autoptr(MxprovStepConfig) config = mxprov_step_config_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovPipeline) pipeline = NULL;

  g_assert_nonnull (dirs[0]);
  pipeline = mxprov_pipeline_new (config, dirs, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mxprov_pipeline_get_n_steps (pipeline), ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      const MxprovPluginInfo *info =
        mxprov_plugin_get_info_struct (mxprov_pipeline_get_plugin (pipeline, i));
      g_assert_cmpstr (info->step, ==, mxprov_step_names[i]);
      g_assert_nonnull (info->description);
    }
}

/* An option a plugin does not declare is a typo, reported with the list. */
static void
test_loader_unknown_plugin_option (void)
{
  const gchar *dirs[] = { g_getenv ("MXPROV_PLUGIN_PATH"), NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MxprovStepConfig) config = NULL;
  g_autoptr(MxprovPipeline) pipeline = NULL;

  config = mxprov_step_config_load_data ("[pipeline]\nsteps=auth;user;room;bundle\n"
                                         "[auth]\nplugin=synapse-auth\n"
                                         "[user]\nplugin=synapse-user\n"
                                         "[room]\nplugin=matrix-room\nrom-name=x\n"
                                         "[bundle]\nplugin=lotti-bundle\n",
                                         "test.conf", &error);
  g_assert_no_error (error);
  pipeline = mxprov_pipeline_new (config, dirs, &error);
  g_assert_null (pipeline);
  g_assert_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_UNKNOWN_KEY);
  g_assert_nonnull (strstr (error->message, "rom-name"));
  g_assert_nonnull (strstr (error->message, "room-name"));
  g_clear_error (&error);
  g_clear_pointer (&config, mxprov_step_config_free);

  /* and a bad value is reported by the plugin's init, prefixed with its name */
  config = mxprov_step_config_load_data ("[pipeline]\nsteps=user\n"
                                         "[user]\nplugin=synapse-user\ntoken-lifetime=5\n",
                                         "test.conf", &error);
  g_assert_no_error (error);
  pipeline = mxprov_pipeline_new (config, dirs, &error);
  g_assert_null (pipeline);
  g_assert_error (error, MXPROV_CONFIG_ERROR, MXPROV_CONFIG_ERROR_INVALID);
  g_assert_true (g_str_has_prefix (error->message, "synapse-user: "));
  g_assert_nonnull (strstr (error->message, "token-lifetime"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/loader/good", test_loader_good);
  g_test_add_func ("/loader/wrong-abi", test_loader_wrong_abi);
  g_test_add_func ("/loader/no-getter", test_loader_no_getter);
  g_test_add_func ("/loader/null-run", test_loader_null_run);
  g_test_add_func ("/loader/not-a-library", test_loader_not_a_library);
  g_test_add_func ("/loader/wrong-step", test_loader_wrong_step);
  g_test_add_func ("/loader/not-found", test_loader_not_found);
  g_test_add_func ("/loader/scan", test_loader_scan);
  g_test_add_func ("/loader/builtin-plugins", test_loader_builtin_plugins);
  g_test_add_func ("/loader/unknown-plugin-option", test_loader_unknown_plugin_option);
  g_test_add_func ("/loader/search-path", test_loader_search_path);
  return g_test_run ();
}
