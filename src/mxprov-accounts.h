/* mxprov-accounts.h: what status, revoke and reissue share: the accounts
 * they act on (named on the command line, or read from bundles and batch
 * outputs), one pipeline instance per account, and the host's reading of
 * what the plugins' status entries report. The host knows no backend: the
 * plugins look, the host only classifies. */
#pragma once

#include <glib.h>
#include <mxprov/mxprov.h>
#include "mxprov-pipeline.h"
#include "mxprov-session.h"

G_BEGIN_DECLS

/* One account made earlier. */
typedef struct {
  gchar *user;        /* a full user ID, or a localpart until mxprov_account_run_new */
  gchar *password;    /* secret: from its bundle, else NULL */
  gchar *room_id;     /* from its bundle, else NULL */
  gchar *home_server; /* from its bundle, else NULL */
  gchar *source;      /* where it was named, for messages */
} MxprovAccount;

void mxprov_account_free (MxprovAccount *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovAccount, mxprov_account_free)

/* The accounts of the command line: USER arguments (localparts or full
 * IDs), --bundle FILE (- = standard input; repeatable) and --input (a batch
 * output: its "created" records). Everything is read and checked before any
 * request; a name given twice counts once. */
GPtrArray *mxprov_accounts_collect (gint argc, gchar **argv, gchar **bundle_files,
                                    const gchar *input_file, GError **error);

/* Prepare and connect the session for these accounts (the homeserver of
 * their first bundle when --homeserver is not given), check that the user
 * step has the entries the command needs (`required`, ending with -1)
 * before any request, and run the auth step: one admin login for all. */
gboolean mxprov_accounts_connect (MxprovSession *session, GPtrArray *accounts,
                                  const gint *required, GError **error);

typedef enum {
  MXPROV_ACCOUNT_UNUSED,      /* active, no device, in its one marked room */
  MXPROV_ACCOUNT_IN_USE,      /* the app logged in: devices, or a rotated password */
  MXPROV_ACCOUNT_DEACTIVATED,
  MXPROV_ACCOUNT_MISSING,
  MXPROV_ACCOUNT_PROBLEM,     /* not what mxprov made: `detail` says what */
} MxprovAccountState;

const gchar *mxprov_account_state_to_string (MxprovAccountState state);

typedef struct {
  MxprovAccountState state;
  gchar *user_id;
  gchar *room_id;   /* its one marked room, when known */
  gchar *detail;    /* one line for people */
  gboolean admin;   /* a server admin's account */
  gboolean room_known; /* the room step could look (a backend may not) */
  json_object *devices; /* [{device_id, display_name, last_seen_ts}] or NULL */
} MxprovAccountStatus;

void mxprov_account_status_free (MxprovAccountStatus *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovAccountStatus, mxprov_account_status_free)

/* One account's steps: fresh plugin instances and a context holding the
 * session's results (admin token, server name) and the account's keys
 * (user.id, and from a bundle user.password and room.id). Freeing it runs
 * the cleanup of every step whose entry was called. */
typedef struct {
  MxprovPipeline *pipeline;
  MxprovContext *context;
  const MxprovAccount *account;
} MxprovAccountRun;

MxprovAccountRun *mxprov_account_run_new (MxprovSession *session, const MxprovAccount *account,
                                          GError **error);
void mxprov_account_run_free (MxprovAccountRun *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MxprovAccountRun, mxprov_account_run_free)

/* Ask the steps' status entries (reading only) and classify the answer. */
MxprovAccountStatus *mxprov_account_run_status (MxprovAccountRun *self, GError **error);

/* The status as one JSON object, {"user","state","room","detail","devices"}. */
json_object *mxprov_account_status_to_json (const MxprovAccountStatus *status);

/* --format table|json: FALSE with a G_OPTION_ERROR for anything else. */
gboolean mxprov_accounts_check_format (const gchar *format, gboolean *out_json, GError **error);

/* Rows of a table on standard output, columns padded to the widest cell. */
typedef struct _MxprovTable MxprovTable;
MxprovTable *mxprov_table_new (const gchar *first_heading, ...) G_GNUC_NULL_TERMINATED;
void mxprov_table_add_row (MxprovTable *self, const gchar *first_cell, ...) G_GNUC_NULL_TERMINATED;
/* Print and free. */
void mxprov_table_print (MxprovTable *self);

G_END_DECLS
