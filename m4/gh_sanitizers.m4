# gh_sanitizers.m4 - --enable-sanitizers=LIST (and --enable-asan).
#
# GH_SANITIZERS
#   LIST is a comma-separated subset of address, undefined and thread;
#   address and thread cannot be combined.  "yes" (and --enable-asan) mean
#   address,undefined.  For the chosen sanitizers:
#     - CFLAGS and LDFLAGS get -fsanitize=LIST -fno-omit-frame-pointer -g
#       (-g only when CFLAGS has no -g option yet), and UBSan is made fatal (-fno-sanitize-recover=undefined) so that a
#       report fails the test that caused it;
#     - config.h defines GH_SANITIZE_ADDRESS, GH_SANITIZE_UNDEFINED and
#       GH_SANITIZE_THREAD to 1 as appropriate (the runtime tells ASan and
#       TSan about its stack switches);
#     - a test program must link, or configure stops and names the package
#       that provides the runtime; if it links but does not run, configure
#       warns (TSan refuses some kernels' address-space layouts).
#   Sets gh_sanitizers to the normalised list (empty when off).

AC_DEFUN([GH_SANITIZERS], [dnl
AC_REQUIRE([AC_PROG_CC])dnl
AC_ARG_ENABLE([sanitizers],
  [AS_HELP_STRING([--enable-sanitizers=LIST],
    [build with sanitizers: address,undefined | thread | address | undefined])],
  [], [enable_sanitizers=no])
AC_ARG_ENABLE([asan],
  [AS_HELP_STRING([--enable-asan],
    [same as --enable-sanitizers=address,undefined])],
  [AS_IF([test "x$enableval" = xyes && test "x$enable_sanitizers" = xno],
         [enable_sanitizers=address,undefined])])

gh_san_address=no
gh_san_undefined=no
gh_san_thread=no
AS_CASE([$enable_sanitizers],
  [no|""], [],
  [yes], [gh_san_address=yes gh_san_undefined=yes],
  [
    gh_save_IFS=$IFS
    IFS=,
    for gh_san in $enable_sanitizers; do
      IFS=$gh_save_IFS
      AS_CASE([$gh_san],
        [address], [gh_san_address=yes],
        [undefined], [gh_san_undefined=yes],
        [thread], [gh_san_thread=yes],
        [AC_MSG_ERROR([unknown sanitizer '$gh_san' in --enable-sanitizers=$enable_sanitizers (use address,undefined or thread)])])
    done
    IFS=$gh_save_IFS
  ])
AS_IF([test "x$gh_san_address$gh_san_thread" = xyesyes],
  [AC_MSG_ERROR([--enable-sanitizers: address and thread cannot be combined; configure two build directories, one with --enable-sanitizers=address,undefined and one with --enable-sanitizers=thread])])

gh_sanitizers=
AS_IF([test "x$gh_san_address" = xyes], [gh_sanitizers="$gh_sanitizers,address"])
AS_IF([test "x$gh_san_undefined" = xyes], [gh_sanitizers="$gh_sanitizers,undefined"])
AS_IF([test "x$gh_san_thread" = xyes], [gh_sanitizers="$gh_sanitizers,thread"])
gh_sanitizers=`echo "$gh_sanitizers" | sed "s/^,//"`

AS_IF([test -n "$gh_sanitizers"], [
  # Name the Debian packages that hold the runtimes (Debian 12: gcc 12 and
  # clang 14; the major version is taken from the compiler at hand).
  gh_cc_major=`$CC -dumpversion 2>/dev/null | sed 's/\..*//'`
  AS_IF([test "x$gh_cv_cc_is_clang" = xyes],
    [gh_san_pkgs="libclang-rt-${gh_cc_major:-14}-dev"],
    [gh_san_pkgs="libgcc-${gh_cc_major:-12}-dev"
     AS_IF([test "x$gh_san_address" = xyes], [gh_san_pkgs="$gh_san_pkgs libasan8"])
     AS_IF([test "x$gh_san_undefined" = xyes], [gh_san_pkgs="$gh_san_pkgs libubsan1"])
     AS_IF([test "x$gh_san_thread" = xyes], [gh_san_pkgs="$gh_san_pkgs libtsan2"])])
  gh_san_flags="-fsanitize=$gh_sanitizers -fno-omit-frame-pointer"
  AS_IF([test "x$gh_san_undefined" = xyes],
        [gh_san_flags="$gh_san_flags -fno-sanitize-recover=undefined"])
  GH_CHECK_LINK_FLAGS([$gh_san_flags], [],
    [AC_MSG_ERROR([cannot link with -fsanitize=$gh_sanitizers: install the sanitizer runtime: apt-get install $gh_san_pkgs])],
    [AC_LANG_PROGRAM([[#include <pthread.h>
#include <stdlib.h>
static void *run(void *p) { return p; }]],
      [[pthread_t t; char *p = malloc(16);
        if (pthread_create(&t, 0, run, p) != 0) return 1;
        pthread_join(t, 0); free(p); return 0;]])])
  CFLAGS="$CFLAGS $gh_san_flags"
  LDFLAGS="$LDFLAGS $gh_san_flags -g"
  # Reports need line numbers: add -g unless CFLAGS already asks for debug
  # information (a trailing -g would lower --enable-debug's -g3).
  AS_CASE([" $CFLAGS "], [*" -g"*], [], [CFLAGS="$CFLAGS -g"])
  AC_CACHE_CHECK([whether sanitized programs run], [gh_cv_san_runs],
    [AC_RUN_IFELSE([AC_LANG_PROGRAM([], [[return 0;]])],
      [gh_cv_san_runs=yes], [gh_cv_san_runs=no],
      [gh_cv_san_runs="cross-compiling: not checked"])])
  AS_IF([test "x$gh_cv_san_runs" = xno],
    [AC_MSG_WARN([programs built with -fsanitize=$gh_sanitizers do not run here; see config.log (ThreadSanitizer needs a kernel with vm.mmap_rnd_bits <= 28)])])
])
AS_IF([test "x$gh_san_address" = xyes],
  [AC_DEFINE([GH_SANITIZE_ADDRESS], [1],
    [Define to 1 when built with AddressSanitizer.])])
AS_IF([test "x$gh_san_undefined" = xyes],
  [AC_DEFINE([GH_SANITIZE_UNDEFINED], [1],
    [Define to 1 when built with UndefinedBehaviorSanitizer.])])
AS_IF([test "x$gh_san_thread" = xyes],
  [AC_DEFINE([GH_SANITIZE_THREAD], [1],
    [Define to 1 when built with ThreadSanitizer.])])
])
