/* mxprov-bench-run: run a command and record what it cost.
 *
 *   mxprov-bench-run OUT-FILE COMMAND [ARG...]
 *
 * Runs COMMAND (fork + execvp) with this process's standard input, output
 * and error, waits for it with wait4() and writes one line of JSON to
 * OUT-FILE (truncated first):
 *
 *   {"exit":N,"wall_ms":W,"user_ms":U,"sys_ms":S,"maxrss_kb":R}
 *
 * exit is the command's exit status, or 128+signal if a signal killed it
 * (127 if it could not be started). wall_ms runs from just before fork()
 * to wait4() returning, on the monotonic clock. user_ms, sys_ms and
 * maxrss_kb are the child's own figures from wait4()'s struct rusage, so
 * they count that process only, not this helper. The exit status of the
 * helper is the command's, so a caller can test it as usual; the helper
 * itself exits 125 if it cannot run at all (bad usage, OUT-FILE not
 * writable, fork failed).
 *
 * Plain POSIX C, no GLib: the figures must not include anything but the
 * measured command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double
tv_ms (const struct timeval *tv)
{
  return tv->tv_sec * 1000.0 + tv->tv_usec / 1000.0;
}

int
main (int argc, char **argv)
{
  FILE *out;
  pid_t pid;
  int status = 0;
  int code;
  struct rusage ru;
  double start, wall;

  if (argc < 3)
    {
      fprintf (stderr, "usage: %s OUT-FILE COMMAND [ARG...]\n", argv[0]);
      return 125;
    }

  /* Open the result file before running anything, so a bad path fails
   * fast and the command's descriptors are not disturbed afterwards. */
  out = fopen (argv[1], "w");
  if (out == NULL)
    {
      fprintf (stderr, "mxprov-bench-run: %s: %s\n", argv[1], strerror (errno));
      return 125;
    }

  fflush (NULL);
  start = now_ms ();
  pid = fork ();
  if (pid < 0)
    {
      fprintf (stderr, "mxprov-bench-run: fork: %s\n", strerror (errno));
      fclose (out);
      return 125;
    }
  if (pid == 0)
    {
      fclose (out);
      execvp (argv[2], argv + 2);
      fprintf (stderr, "mxprov-bench-run: %s: %s\n", argv[2], strerror (errno));
      _exit (127);
    }

  memset (&ru, 0, sizeof ru);
  while (wait4 (pid, &status, 0, &ru) < 0)
    {
      if (errno != EINTR)
        {
          fprintf (stderr, "mxprov-bench-run: wait4: %s\n", strerror (errno));
          fclose (out);
          return 125;
        }
    }
  wall = now_ms () - start;

  if (WIFEXITED (status))
    code = WEXITSTATUS (status);
  else if (WIFSIGNALED (status))
    code = 128 + WTERMSIG (status);
  else
    code = 125;

  /* ru_maxrss is in kilobytes on Linux. */
  fprintf (out, "{\"exit\":%d,\"wall_ms\":%.3f,\"user_ms\":%.3f,\"sys_ms\":%.3f,\"maxrss_kb\":%ld}\n",
           code, wall, tv_ms (&ru.ru_utime), tv_ms (&ru.ru_stime), (long) ru.ru_maxrss);
  if (fclose (out) != 0)
    {
      fprintf (stderr, "mxprov-bench-run: %s: %s\n", argv[1], strerror (errno));
      return 125;
    }
  return code;
}
