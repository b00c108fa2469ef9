/* fuzz-bundle.c: libFuzzer target for mxprov_bundle_decode and the
 * encode/decode round trip.
 * The checks live in fuzz-targets.c, shared with the regression test. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "fuzz-targets.h"

/* libFuzzer's entry points; it declares no header for them. */
int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  mxprov_fuzz_quiet_logs ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mxprov_fuzz_bundle (data, size);
  return 0;
}
