# mxprov-build-options.m4: --enable-sanitizers and --enable-fuzzing.
#
# MXPROV_BUILD_OPTIONS
# --------------------
# --enable-sanitizers builds everything (library, host, plugins, tests) with
# ASan and UBSan, and sets SANITIZER_TESTS_ENVIRONMENT so that `make check`
# runs with leak detection and the suppressions in fuzz/lsan.supp.
#
# --enable-fuzzing (clang only) sets FUZZ_CFLAGS and FUZZ_LDFLAGS for the
# libFuzzer targets in fuzz/ and the ENABLE_FUZZING conditional; the normal
# build is left alone, since the fuzzers compile the sources they test
# themselves.
AC_DEFUN([MXPROV_BUILD_OPTIONS],
[
AC_REQUIRE([AC_PROG_CC])

AC_ARG_ENABLE([sanitizers],
  [AS_HELP_STRING([--enable-sanitizers],
                  [build with AddressSanitizer and UndefinedBehaviorSanitizer, and run the tests with leak detection])],
  [], [enable_sanitizers=no])

SANITIZER_TESTS_ENVIRONMENT=
AS_IF([test "x$enable_sanitizers" = xyes],
  [mxprov_sanitizer_flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
   AC_MSG_CHECKING([whether $CC can build with $mxprov_sanitizer_flags])
   mxprov_save_CFLAGS=$CFLAGS
   mxprov_save_LDFLAGS=$LDFLAGS
   CFLAGS="$CFLAGS $mxprov_sanitizer_flags"
   LDFLAGS="$LDFLAGS $mxprov_sanitizer_flags"
   AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <stdlib.h>]],
                                   [[char *p = malloc (4); p[0] = 0; free (p);]])],
     [AC_MSG_RESULT([yes])],
     [AC_MSG_RESULT([no])
      CFLAGS=$mxprov_save_CFLAGS
      LDFLAGS=$mxprov_save_LDFLAGS
      AC_MSG_ERROR([--enable-sanitizers: $CC cannot compile and link with $mxprov_sanitizer_flags (gcc needs libasan and libubsan, e.g. apt-get install libgcc-12-dev; clang needs libclang-rt-dev)])])
   dnl Leaks fail the tests; the suppressions cover only one-time
   dnl allocations inside GLib, libsoup, GnuTLS, libcurl, OpenSSL and the
   dnl dynamic loader. G_SLICE=always-malloc, because GLib < 2.76 otherwise
   dnl hands out GErrors, lists and arrays from slabs that LSan sees as
   dnl still reachable. UBSan already aborts (-fno-sanitize-recover); the
   dnl stack trace says where. fast_unwind_on_malloc=0: Debian's GLib has no
   dnl frame pointers, so only the slow unwinder gives the full allocation
   dnl stacks that the suppressions are matched against.
   SANITIZER_TESTS_ENVIRONMENT="ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0; LSAN_OPTIONS='suppressions=\$(abs_top_srcdir)/fuzz/lsan.supp:print_suppressions=0'; UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; G_SLICE=always-malloc; export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS G_SLICE;"])
AC_SUBST([SANITIZER_TESTS_ENVIRONMENT])

AC_ARG_ENABLE([fuzzing],
  [AS_HELP_STRING([--enable-fuzzing],
                  [build the libFuzzer targets in fuzz/ for `make fuzz' (needs CC=clang)])],
  [], [enable_fuzzing=no])

FUZZ_CFLAGS=
FUZZ_LDFLAGS=
AS_IF([test "x$enable_fuzzing" = xyes],
  [AC_MSG_CHECKING([whether $CC supports -fsanitize=fuzzer-no-link])
   mxprov_save_CFLAGS=$CFLAGS
   mxprov_save_LDFLAGS=$LDFLAGS
   CFLAGS="$CFLAGS -fsanitize=fuzzer-no-link"
   LDFLAGS="$LDFLAGS -fsanitize=fuzzer-no-link"
   AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
     [AC_MSG_RESULT([yes])],
     [AC_MSG_RESULT([no])
      AC_MSG_ERROR([--enable-fuzzing needs clang with libFuzzer: ./configure --enable-fuzzing CC=clang (Debian: apt-get install clang libclang-rt-dev)])])
   CFLAGS=$mxprov_save_CFLAGS
   LDFLAGS=$mxprov_save_LDFLAGS

   dnl -fsanitize=fuzzer brings libFuzzer's main(): check that its runtime
   dnl is installed too, not just the compiler flag.
   AC_MSG_CHECKING([whether $CC can link a libFuzzer target])
   CFLAGS="$CFLAGS -fsanitize=fuzzer-no-link,address,undefined"
   LDFLAGS="$LDFLAGS -fsanitize=fuzzer,address,undefined"
   AC_LINK_IFELSE([AC_LANG_SOURCE([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) { return data != NULL && size > 0 ? 0 : 0; }
]])],
     [AC_MSG_RESULT([yes])],
     [AC_MSG_RESULT([no])
      AC_MSG_ERROR([--enable-fuzzing: $CC cannot link with -fsanitize=fuzzer,address,undefined (Debian: apt-get install libclang-rt-dev)])])
   CFLAGS=$mxprov_save_CFLAGS
   LDFLAGS=$mxprov_save_LDFLAGS
   FUZZ_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -g -O1"
   FUZZ_LDFLAGS="-fsanitize=fuzzer,address,undefined"])
AC_SUBST([FUZZ_CFLAGS])
AC_SUBST([FUZZ_LDFLAGS])
AM_CONDITIONAL([ENABLE_FUZZING], [test "x$enable_fuzzing" = xyes])
])
