/* test-pipeline.c: contract validation and the runner, with in-process
 * plugins whose behaviour each test chooses. */
#include "config.h"

#include <mxprov/mxprov.h>
#include "mxprov-exit.h"
#include "mxprov-pipeline.h"
#include "mxprov-step-config.h"

/* What the fake steps did, in order: "run:a", "cleanup:a", … */
static GString *trace;

typedef enum {
  BEHAVE_OK,
  BEHAVE_FAIL,          /* FALSE with an error */
  BEHAVE_FAIL_SILENTLY, /* FALSE without an error: a plugin bug */
  BEHAVE_FORGET_KEY,    /* TRUE without setting what it provides */
} Behaviour;

static GHashTable *behaviours; /* plugin name -> Behaviour */

static gboolean
fake_run (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  const MxprovPluginInfo *info = mxprov_plugin_get_info_struct (plugin);
  Behaviour behaviour = GPOINTER_TO_INT (g_hash_table_lookup (behaviours, info->name));

  g_string_append_printf (trace, "run:%s ", info->name);
  for (gsize i = 0; info->requires != NULL && info->requires[i] != NULL; i++)
    g_assert_true (mxprov_context_has (context, info->requires[i]));
  switch (behaviour)
    {
    case BEHAVE_FAIL:
      g_set_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN, "server said no");
      return FALSE;
    case BEHAVE_FAIL_SILENTLY:
      return FALSE;
    case BEHAVE_FORGET_KEY:
      return TRUE;
    case BEHAVE_OK:
    default:
      for (gsize i = 0; info->provides != NULL && info->provides[i] != NULL; i++)
        mxprov_context_set (context, info->provides[i], "value", MXPROV_CONTEXT_FLAG_NONE);
      return TRUE;
    }
}

static gboolean rollback_fails;

static gboolean
fake_rollback (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  g_string_append_printf (trace, "rollback:%s ", mxprov_plugin_get_name (plugin));
  if (rollback_fails)
    {
      g_set_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_UNKNOWN, "server gone");
      return FALSE;
    }
  return TRUE;
}

static void
fake_cleanup (MxprovPlugin *plugin, MxprovContext *context)
{
  g_string_append_printf (trace, "cleanup:%s ", mxprov_plugin_get_name (plugin));
}

static const gchar *const auth_requires[] = { "admin.user", "admin.password", NULL };
static const gchar *const auth_provides[] = { "admin.token", "server.name", NULL };
static const gchar *const user_requires[] = { "admin.token", "server.name", "user.localpart", NULL };
static const gchar *const user_provides[] = { "user.id", "user.password", "user.token", NULL };
static const gchar *const room_requires[] = { "user.token", NULL };
static const gchar *const room_provides[] = { "room.id", NULL };
static const gchar *const bundle_requires[] = { "user.id", "user.password", "room.id", NULL };
static const gchar *const bundle_provides[] = { "bundle.base64", "bundle.json", NULL };

static const MxprovPluginInfo fake_auth = {
  .abi_version = MXPROV_PLUGIN_ABI_VERSION, .struct_size = sizeof (MxprovPluginInfo),
  .name = "fake-auth", .step = "auth", .backend = "fake",
  .requires = auth_requires, .provides = auth_provides,
  .run = fake_run, .cleanup = fake_cleanup,
};
static const MxprovPluginInfo fake_user = {
  .abi_version = MXPROV_PLUGIN_ABI_VERSION, .struct_size = sizeof (MxprovPluginInfo),
  .name = "fake-user", .step = "user", .backend = "fake",
  .requires = user_requires, .provides = user_provides,
  .run = fake_run, .rollback = fake_rollback, .cleanup = fake_cleanup,
};
/* no cleanup: a NULL vfunc means nothing to do */
static const MxprovPluginInfo fake_room = {
  .abi_version = MXPROV_PLUGIN_ABI_VERSION, .struct_size = sizeof (MxprovPluginInfo),
  .name = "fake-room", .step = "room", .backend = "fake",
  .requires = room_requires, .provides = room_provides,
  .run = fake_run, .rollback = fake_rollback,
};
static const MxprovPluginInfo fake_bundle = {
  .abi_version = MXPROV_PLUGIN_ABI_VERSION, .struct_size = sizeof (MxprovPluginInfo),
  .name = "fake-bundle", .step = "bundle", .backend = "fake",
  .requires = bundle_requires, .provides = bundle_provides,
  .run = fake_run, .cleanup = fake_cleanup,
};

static const gchar *const outputs[] = { "bundle.base64", "bundle.json", NULL };

static MxprovPipeline *
make_pipeline (const MxprovPluginInfo *const *infos)
{
  GPtrArray *plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) mxprov_plugin_free);
  for (gsize i = 0; infos[i] != NULL; i++)
    g_ptr_array_add (plugins, mxprov_plugin_new (NULL, infos[i], "in-process"));
  return mxprov_pipeline_new_from_plugins (plugins);
}

static MxprovContext *
make_inputs (void)
{
  MxprovContext *context = mxprov_context_new ();
  mxprov_context_set (context, "admin.user", "admin", MXPROV_CONTEXT_FLAG_NONE);
  mxprov_context_set (context, "admin.password", "pw", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.localpart", "bob", MXPROV_CONTEXT_FLAG_NONE);
  return context;
}

static void
setup (void)
{
  if (trace != NULL)
    g_string_free (trace, TRUE);
  trace = g_string_new (NULL);
  g_clear_pointer (&behaviours, g_hash_table_unref);
  behaviours = g_hash_table_new (g_str_hash, g_str_equal);
  rollback_fails = FALSE;
}

static const MxprovPluginInfo *const full[] = { &fake_auth, &fake_user, &fake_room, &fake_bundle, NULL };

static void
test_contract_ok (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) inputs = mxprov_pipeline_get_inputs (pipeline);
  const gchar *expected[] = { "admin.user", "admin.password", "user.localpart", NULL };

  g_assert_true (mxprov_pipeline_check (pipeline, context, NULL, outputs, &error));
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const gchar *const *) inputs, expected));
}

static void
test_contract_missing_input (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;
  const gchar *deferred[] = { "user.localpart", NULL };

  mxprov_context_remove (context, "user.localpart");
  g_assert_false (mxprov_pipeline_check (pipeline, context, NULL, outputs, &error));
  g_assert_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_MISSING_INPUT);
  g_assert_nonnull (strstr (error->message, "--username"));
  g_assert_nonnull (strstr (error->message, "fake-user"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_USAGE);
  g_clear_error (&error);

  /* a deferred input (the host will prompt for it) satisfies the check */
  g_assert_true (mxprov_pipeline_check (pipeline, context, deferred, outputs, &error));
  g_assert_no_error (error);
}

static void
test_contract_gap (void)
{
  const MxprovPluginInfo *const no_user[] = { &fake_auth, &fake_room, &fake_bundle, NULL };
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (no_user);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  g_assert_false (mxprov_pipeline_check (pipeline, context, NULL, outputs, &error));
  g_assert_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_CONTRACT);
  g_assert_nonnull (strstr (error->message, "'user.token'"));
  g_assert_nonnull (strstr (error->message, "fake-room"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_CONFIG);
}

static void
test_contract_no_bundle (void)
{
  const MxprovPluginInfo *const no_bundle[] = { &fake_auth, &fake_user, &fake_room, NULL };
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (no_bundle);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  g_assert_false (mxprov_pipeline_check (pipeline, context, NULL, outputs, &error));
  g_assert_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_CONTRACT);
  g_assert_nonnull (strstr (error->message, "bundle.base64"));
  /* --check needs no outputs */
  g_clear_error (&error);
  g_assert_true (mxprov_pipeline_check (pipeline, context, NULL, NULL, &error));
}

static void
test_run_ok (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  g_assert_true (mxprov_pipeline_run (pipeline, context, NULL, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (trace->str, ==,
                   "run:fake-auth run:fake-user run:fake-room run:fake-bundle "
                   "cleanup:fake-bundle cleanup:fake-user cleanup:fake-auth ");
  g_assert_true (mxprov_context_has (context, "bundle.base64"));
}

static void
test_run_stop_after (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  g_assert_true (mxprov_pipeline_run (pipeline, context, "auth", TRUE, &error));
  g_assert_cmpstr (trace->str, ==, "run:fake-auth cleanup:fake-auth ");
  g_assert_false (mxprov_context_has (context, "user.id"));
}

/* A pipeline without the step to stop after runs nothing at all. */
static void
test_run_stop_after_missing_step (void)
{
  const MxprovPluginInfo *const no_auth[] = { &fake_user, &fake_room, &fake_bundle, NULL };
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (no_auth);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  mxprov_context_set (context, "admin.token", "t", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "server.name", "example.test", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_true (mxprov_pipeline_run (pipeline, context, "auth", TRUE, &error));
  g_assert_cmpstr (trace->str, ==, "");
}

static void
test_run_failure (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  g_hash_table_insert (behaviours, (gpointer) "fake-room", GINT_TO_POINTER (BEHAVE_FAIL));
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, TRUE, &error));
  /* the domain and code survive; the message names the plugin */
  g_assert_error (error, MXPROV_MATRIX_ERROR, MXPROV_MATRIX_ERROR_FORBIDDEN);
  g_assert_cmpstr (error->message, ==, "fake-room: server said no");
  /* the failed step's cleanup (none here) and every earlier one ran */
  /* the failed step and the completed ones are rolled back, newest first,
   * before any cleanup (rollback may need the admin's session) */
  g_assert_cmpstr (trace->str, ==,
                   "run:fake-auth run:fake-user run:fake-room "
                   "rollback:fake-room rollback:fake-user "
                   "cleanup:fake-user cleanup:fake-auth ");
}

static void
test_run_failure_cleans_failed_step (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  g_hash_table_insert (behaviours, (gpointer) "fake-user", GINT_TO_POINTER (BEHAVE_FAIL));
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, TRUE, &error));
  g_assert_cmpstr (trace->str, ==, "run:fake-auth run:fake-user rollback:fake-user cleanup:fake-user cleanup:fake-auth ");
}

static void
test_run_silent_failure_is_bug (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  g_hash_table_insert (behaviours, (gpointer) "fake-user", GINT_TO_POINTER (BEHAVE_FAIL_SILENTLY));
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, TRUE, &error));
  g_assert_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG);
  g_assert_true (g_str_has_prefix (error->message, "fake-user: "));
  g_assert_nonnull (strstr (error->message, "bug in the plugin"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_SOFTWARE);
  g_assert_cmpstr (trace->str, ==, "run:fake-auth run:fake-user rollback:fake-user cleanup:fake-user cleanup:fake-auth ");
}

static void
test_run_missing_provide_is_bug (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  g_hash_table_insert (behaviours, (gpointer) "fake-room", GINT_TO_POINTER (BEHAVE_FORGET_KEY));
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, TRUE, &error));
  g_assert_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_PLUGIN_BUG);
  g_assert_nonnull (strstr (error->message, "'room.id'"));
  g_assert_true (g_str_has_prefix (error->message, "fake-room: "));
  /* the bundle step never ran */
  g_assert_null (strstr (trace->str, "run:fake-bundle"));
  g_assert_nonnull (strstr (trace->str, "rollback:fake-room rollback:fake-user"));
}

static void
test_run_no_rollback (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *results = NULL;

  setup ();
  g_hash_table_insert (behaviours, (gpointer) "fake-bundle", GINT_TO_POINTER (BEHAVE_FAIL));
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, FALSE, &error));
  g_assert_null (strstr (trace->str, "rollback:"));
  g_assert_nonnull (strstr (trace->str, "cleanup:fake-auth"));
  /* what is left, without the secrets */
  results = mxprov_pipeline_describe_results (pipeline, context);
  g_assert_cmpstr (results, ==, "admin.token=value, server.name=value, user.id=value, "
                                "user.password=value, user.token=value, room.id=value");
}

static void
test_run_describe_hides_secrets (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *results = NULL;

  setup ();
  mxprov_context_set (context, "user.password", "hunter2", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "admin.token", "tok", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "user.token", "tok2", MXPROV_CONTEXT_FLAG_SECRET);
  g_hash_table_insert (behaviours, (gpointer) "fake-bundle", GINT_TO_POINTER (BEHAVE_FAIL));
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, FALSE, &error));
  results = mxprov_pipeline_describe_results (pipeline, context);
  g_assert_cmpstr (results, ==, "server.name=value, user.id=value, room.id=value");
}

/* A failing rollback is a warning; the step's own error is what is reported. */
static void
test_run_rollback_failure_is_warning (void)
{
  g_autoptr(MxprovPipeline) pipeline = make_pipeline (full);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  rollback_fails = TRUE;
  g_hash_table_insert (behaviours, (gpointer) "fake-room", GINT_TO_POINTER (BEHAVE_FAIL));
  g_test_expect_message ("mxprov", G_LOG_LEVEL_WARNING, "fake-room: rollback failed: server gone");
  g_test_expect_message ("mxprov", G_LOG_LEVEL_WARNING, "fake-user: rollback failed: server gone");
  g_assert_false (mxprov_pipeline_run (pipeline, context, NULL, TRUE, &error));
  g_test_assert_expected_messages ();
  g_assert_cmpstr (error->message, ==, "fake-room: server said no");
  /* rollback of the user was still attempted after the room's failed */
  g_assert_nonnull (strstr (trace->str, "rollback:fake-room rollback:fake-user cleanup:fake-user"));
}

/* The entries for accounts made earlier: called in step order from the
 * first step asked for, only where a plugin has them; those steps then get
 * rollback and cleanup; a required step without the entry is "not
 * supported", before anything is called. */
static gboolean
fake_status (MxprovPlugin *plugin, MxprovContext *context, json_object *report, GError **error)
{
  g_string_append_printf (trace, "status:%s ", mxprov_plugin_get_name (plugin));
  json_object_object_add (report, mxprov_plugin_get_name (plugin), json_object_new_boolean (TRUE));
  return TRUE;
}

static gboolean
fake_adopt (MxprovPlugin *plugin, MxprovContext *context, GError **error)
{
  g_string_append_printf (trace, "adopt:%s ", mxprov_plugin_get_name (plugin));
  return TRUE;
}

static void
test_entries (void)
{
  MxprovPluginInfo user = fake_user;
  MxprovPluginInfo room = fake_room;
  const MxprovPluginInfo *const infos[] = { &fake_auth, &user, &room, &fake_bundle, NULL };
  const MxprovPluginInfo *const old[] = { &fake_auth, &fake_user, &fake_room, &fake_bundle, NULL };
  g_autoptr(MxprovPipeline) pipeline = NULL;
  g_autoptr(MxprovPipeline) old_pipeline = make_pipeline (old);
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(json_object) report = json_object_new_object ();
  g_autoptr(GError) error = NULL;

  setup ();
  user.status = fake_status;
  user.adopt = fake_adopt;
  room.status = fake_status;
  pipeline = make_pipeline (infos);

  g_assert_true (mxprov_pipeline_call_entry (pipeline, context, MXPROV_PIPELINE_ENTRY_STATUS, "user",
                                             "user", report, &error));
  g_assert_no_error (error);
  g_assert_true (json_object_object_get_ex (report, "fake-user", NULL));
  g_assert_true (json_object_object_get_ex (report, "fake-room", NULL));
  /* the room step has no adopt: only the user's is called */
  g_assert_true (mxprov_pipeline_call_entry (pipeline, context, MXPROV_PIPELINE_ENTRY_ADOPT, "user",
                                             "user", NULL, &error));
  g_assert_true (mxprov_pipeline_rollback (pipeline, context));
  mxprov_pipeline_cleanup (pipeline, context);
  g_assert_cmpstr (trace->str, ==, "status:fake-user status:fake-room adopt:fake-user "
                                   "rollback:fake-room rollback:fake-user cleanup:fake-user ");

  /* the same steps built for ABI 1 before the entries existed */
  g_string_truncate (trace, 0);
  g_assert_false (mxprov_pipeline_call_entry (old_pipeline, context, MXPROV_PIPELINE_ENTRY_STATUS,
                                              "user", "user", report, &error));
  g_assert_error (error, MXPROV_PIPELINE_ERROR, MXPROV_PIPELINE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "not supported by fake-user"));
  g_assert_cmpint (mxprov_exit_code_for_error (error), ==, EX_UNAVAILABLE);
  g_assert_cmpstr (trace->str, ==, "");
  g_clear_error (&error);
  g_assert_false (mxprov_pipeline_check_entry (pipeline, MXPROV_PIPELINE_ENTRY_SET_PASSWORD, "user",
                                               &error));
  g_assert_nonnull (strstr (error->message, "no set_password entry"));
}

/* A batch runs one set of plugin instances per account, made from the
 * modules loaded once: each instance gets init again and data of its own,
 * and freeing one leaves the others, and the loaded set, working. */
static guint counting_inits;
static guint counting_frees;

static void
count_free (gpointer data)
{
  counting_frees++;
  g_free (data);
}

static gboolean
counting_init (MxprovPlugin *plugin, GKeyFile *config, const gchar *group, GError **error)
{
  g_assert_cmpstr (group, ==, "user");
  mxprov_plugin_set_data (plugin, g_strdup_printf ("instance %u", ++counting_inits), count_free);
  return TRUE;
}

static const MxprovPluginInfo counting_user = {
  .abi_version = MXPROV_PLUGIN_ABI_VERSION, .struct_size = sizeof (MxprovPluginInfo),
  .name = "counting-user", .step = "user", .backend = "fake",
  .requires = user_requires, .provides = user_provides,
  .init = counting_init, .run = fake_run,
};

static void
test_new_instances (void)
{
  const MxprovPluginInfo *const infos[] = { &counting_user, NULL };
  g_autoptr(MxprovStepConfig) config = NULL;
  g_autoptr(MxprovPipeline) loaded = NULL;
  g_autoptr(MxprovPipeline) first = NULL;
  g_autoptr(MxprovPipeline) second = NULL;
  g_autoptr(MxprovContext) context = make_inputs ();
  g_autoptr(GError) error = NULL;

  setup ();
  counting_inits = counting_frees = 0;
  config = g_new0 (MxprovStepConfig, 1);
  config->keyfile = g_key_file_new ();
  config->source = g_strdup ("test");
  config->steps = g_strsplit ("user", ";", -1);
  config->plugins = g_strsplit ("counting-user", ";", -1);
  loaded = make_pipeline (infos);

  first = mxprov_pipeline_new_instances (loaded, config, &error);
  g_assert_no_error (error);
  second = mxprov_pipeline_new_instances (loaded, config, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (counting_inits, ==, 2);

  g_clear_pointer (&first, mxprov_pipeline_free);
  g_assert_cmpuint (counting_frees, ==, 1);

  mxprov_context_set (context, "admin.token", "t", MXPROV_CONTEXT_FLAG_SECRET);
  mxprov_context_set (context, "server.name", "example.test", MXPROV_CONTEXT_FLAG_NONE);
  g_assert_true (mxprov_pipeline_execute_from (second, context, "user", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (trace->str, ==, "run:counting-user ");
}

int
main (int argc, char **argv)
{
  gint rc;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pipeline/contract/ok", test_contract_ok);
  g_test_add_func ("/pipeline/contract/missing-input", test_contract_missing_input);
  g_test_add_func ("/pipeline/contract/gap", test_contract_gap);
  g_test_add_func ("/pipeline/contract/no-bundle", test_contract_no_bundle);
  g_test_add_func ("/pipeline/run/ok", test_run_ok);
  g_test_add_func ("/pipeline/run/stop-after", test_run_stop_after);
  g_test_add_func ("/pipeline/run/stop-after-missing-step", test_run_stop_after_missing_step);
  g_test_add_func ("/pipeline/run/failure", test_run_failure);
  g_test_add_func ("/pipeline/run/failure-cleans-failed-step", test_run_failure_cleans_failed_step);
  g_test_add_func ("/pipeline/run/silent-failure-is-bug", test_run_silent_failure_is_bug);
  g_test_add_func ("/pipeline/run/missing-provide-is-bug", test_run_missing_provide_is_bug);
  g_test_add_func ("/pipeline/run/no-rollback", test_run_no_rollback);
  g_test_add_func ("/pipeline/run/describe-hides-secrets", test_run_describe_hides_secrets);
  g_test_add_func ("/pipeline/run/rollback-failure-is-warning", test_run_rollback_failure_is_warning);
  g_test_add_func ("/pipeline/new-instances", test_new_instances);
  g_test_add_func ("/pipeline/entries", test_entries);
  rc = g_test_run ();
  g_clear_pointer (&behaviours, g_hash_table_unref);
  if (trace != NULL)
    g_string_free (trace, TRUE);
  return rc;
}
