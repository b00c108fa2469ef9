/* mxprov-pipeline.h: the configured steps, their contract, and the runner. */
#pragma once

#include <glib.h>
#include <mxprov/mxprov-context.h>
#include "lib/mxprov-plugin-private.h"
#include "mxprov-step-config.h"

G_BEGIN_DECLS

#define MXPROV_PIPELINE_ERROR (mxprov_pipeline_error_quark ())
typedef enum {
  MXPROV_PIPELINE_ERROR_MISSING_INPUT, /* a key the user must give (an option) is absent */
  MXPROV_PIPELINE_ERROR_CONTRACT,      /* a step needs a key nothing provides */
  MXPROV_PIPELINE_ERROR_PLUGIN_BUG,    /* a plugin broke its own contract at run time */
  MXPROV_PIPELINE_ERROR_UNSUPPORTED,   /* a step's plugin lacks the entry a command needs */
} MxprovPipelineError;
GQuark mxprov_pipeline_error_quark (void);

typedef struct _MxprovPipeline MxprovPipeline;

/* Load each step's plugin, check its config group's keys against the
 * plugin's declared options, and call its init. */
MxprovPipeline *mxprov_pipeline_new (MxprovStepConfig *config,
                                     const gchar *const *plugin_dirs, GError **error);
/* Fresh instances of `loaded`'s plugins, each with its own private data and
 * init run again, without loading the modules again: a batch makes one set
 * per account. `loaded` owns the modules and must outlive the copy. */
MxprovPipeline *mxprov_pipeline_new_instances (MxprovPipeline *loaded,
                                               MxprovStepConfig *config,
                                               GError **error);
/* For tests: a pipeline from plugins already opened (takes them). */
MxprovPipeline *mxprov_pipeline_new_from_plugins (GPtrArray *plugins);
void mxprov_pipeline_free (MxprovPipeline *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovPipeline, mxprov_pipeline_free)

guint mxprov_pipeline_get_n_steps (MxprovPipeline *self);
MxprovPlugin *mxprov_pipeline_get_plugin (MxprovPipeline *self, guint index);

/* Keys some step requires that no earlier step provides: what the command
 * line and config must supply. Free with g_strfreev. */
gchar **mxprov_pipeline_get_inputs (MxprovPipeline *self);

/* Check, before any request, that every key each step requires is in
 * `context`, in `deferred` (inputs the host will fill in later, such as a
 * password it has yet to prompt for), or provided by an earlier step, and
 * that the pipeline ends with every key in `outputs`. */
gboolean mxprov_pipeline_check (MxprovPipeline *self, MxprovContext *context,
                                const gchar *const *deferred,
                                const gchar *const *outputs, GError **error);

/* Time rollback and cleanup get, whatever was left of --timeout. */
#define MXPROV_PIPELINE_GRACE_US (30 * G_USEC_PER_SEC)

/* Run the steps in order; with `last_step`, only up to and including that
 * step (none if the pipeline has no such step). Errors are prefixed with
 * the failing plugin's name. Call once per pipeline. */
gboolean mxprov_pipeline_execute (MxprovPipeline *self, MxprovContext *context,
                                  const gchar *last_step, GError **error);
/* Run the steps from `first_step` on (batch: every account's steps after
 * the one shared auth step); rollback and cleanup then cover only those. */
gboolean mxprov_pipeline_execute_from (MxprovPipeline *self, MxprovContext *context,
                                       const gchar *first_step, GError **error);
/* Undo what the steps that ran made, the last (possibly failed) one first.
 * Best effort: a failed undo is a warning and does not stop the others;
 * FALSE if any failed. */
gboolean mxprov_pipeline_rollback (MxprovPipeline *self, MxprovContext *context);
/* Every step whose run was called gets its cleanup, in reverse order. */
void mxprov_pipeline_cleanup (MxprovPipeline *self, MxprovContext *context);
/* The optional entries for accounts made earlier (status, revoke, reissue). */
typedef enum {
  MXPROV_PIPELINE_ENTRY_STATUS,
  MXPROV_PIPELINE_ENTRY_ADOPT,
  MXPROV_PIPELINE_ENTRY_SET_PASSWORD,
} MxprovPipelineEntry;

/* Call `entry` of each step from `first_step` on that has it, in order
 * (status fills `report`); those steps then get rollback and cleanup as
 * if their run had been called. `required_step`'s plugin must have the
 * entry: else nothing is called and the error (MXPROV_PIPELINE_ERROR_
 * UNSUPPORTED) says the command is not supported by that plugin. Errors
 * are prefixed with the plugin's name. May be called several times. */
gboolean mxprov_pipeline_call_entry (MxprovPipeline *self, MxprovContext *context,
                                     MxprovPipelineEntry entry, const gchar *first_step,
                                     const gchar *required_step, json_object *report,
                                     GError **error);
/* Whether `step`'s plugin has `entry`; the error is call_entry's. */
gboolean mxprov_pipeline_check_entry (MxprovPipeline *self, MxprovPipelineEntry entry,
                                      const gchar *step, GError **error);
/* Run one step's run (reissue: the bundle step, after set_password). */
gboolean mxprov_pipeline_execute_step (MxprovPipeline *self, MxprovContext *context,
                                       const gchar *step, GError **error);
/* The plugin configured for `step`, or NULL. */
MxprovPlugin *mxprov_pipeline_get_plugin_for_step (MxprovPipeline *self, const gchar *step);

/* "user.id=@a:b, room.id=!c" for the non-secret keys the steps that ran
 * provided: what --no-rollback leaves behind. */
gchar *mxprov_pipeline_describe_results (MxprovPipeline *self, MxprovContext *context);
/* execute, then rollback if it failed and `rollback_on_failure`, then cleanup. */
gboolean mxprov_pipeline_run (MxprovPipeline *self, MxprovContext *context,
                              const gchar *last_step, gboolean rollback_on_failure,
                              GError **error);

/* The --help text for an input key ("--username"), or NULL. */
const gchar *mxprov_pipeline_input_hint (const gchar *key);

G_END_DECLS
