/* fuzz-targets.h: the bodies of the fuzz targets, shared by the libFuzzer
 * programs (fuzz-*.c) and the regression test that replays the seed
 * corpora and past crashers in every `make check`.
 *
 * Each function feeds one input to the parser it is named after and checks
 * the parser's contract; a violation prints what failed and aborts, which
 * libFuzzer reports as a crash and GTest as a failed test. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* mxprov_bundle_decode on the input as a string; a bundle it accepts must
 * survive encode and decode unchanged. */
void mxprov_fuzz_bundle (const guint8 *data, gsize size);

/* mxprov_http_parse_answer. Input: 2 bytes of big-endian status (mod 600),
 * 1 byte choosing the content type and Retry-After header, then the body. */
void mxprov_fuzz_answer (const guint8 *data, gsize size);

/* mxprov_step_config_load_data on the input as a string. */
void mxprov_fuzz_config (const guint8 *data, gsize size);

/* For the fuzzers: drop GLib's log messages, so that the parsers' warnings
 * do not flood libFuzzer's output, but still abort on criticals and
 * errors, which mean a broken precondition. */
void mxprov_fuzz_quiet_logs (void);

G_END_DECLS
