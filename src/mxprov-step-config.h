/* mxprov-step-config.h: the step config file (GKeyFile) that names the
 * plugin for each step of the pipeline. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The steps a pipeline may contain, in the only order they may run. */
extern const gchar *const mxprov_step_names[];
gboolean mxprov_step_name_is_valid (const gchar *step);
/* The step's place in mxprov_step_names, or -1 if it is not a step. */
gint mxprov_step_order (const gchar *step);

typedef struct {
  GKeyFile *keyfile;
  gchar *source;       /* file name, or "built-in default" */
  gchar **steps;       /* e.g. {"auth","user","room","bundle",NULL} */
  gchar **plugins;     /* plugin name per step, same index */
  gchar *plugin_dir;   /* [pipeline] plugin-dir, or NULL */
} MxprovStepConfig;

void mxprov_step_config_free (MxprovStepConfig *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovStepConfig, mxprov_step_config_free)

/* The Synapse pipeline used when no config file exists. */
extern const gchar mxprov_step_config_default_text[];

MxprovStepConfig *mxprov_step_config_load_data (const gchar *data, const gchar *source,
                                                GError **error);
MxprovStepConfig *mxprov_step_config_load_file (const gchar *filename, GError **error);
MxprovStepConfig *mxprov_step_config_new_default (void);

/* Without a config file the credential given chooses the built-in
 * pipeline: an admin password or token (`admin_credential`), or none,
 * the Synapse admin one; MXPROV_REGISTRATION_SECRET the shared-secret one;
 * MXPROV_REGISTRATION_TOKEN the registration-token one. Two kinds at once
 * are a G_OPTION_ERROR, not a guess. The config's source says which and
 * why. */
MxprovStepConfig *mxprov_step_config_new_builtin (gboolean admin_credential, GError **error);

/* The config file to use: `explicit_file` if given (returned as is; loading
 * it reports a missing file), else
 * $XDG_CONFIG_HOME/mxprov/mxprov.conf, else `sysconfdir`/mxprov/mxprov.conf,
 * else NULL for the built-in default. */
gchar *mxprov_step_config_find (const gchar *explicit_file, const gchar *sysconfdir);

/* The configured sysconfdir, or $MXPROV_SYSCONFDIR (tests of a build whose
 * sysconfdir holds an installed mxprov's config, relocated installs). */
const gchar *mxprov_step_config_sysconfdir (void);

/* The group holding step `step`'s plugin and options. */
const gchar *mxprov_step_config_plugin_for (MxprovStepConfig *self, const gchar *step);

G_END_DECLS
