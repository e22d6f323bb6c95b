# gh_check_flags.m4 - probe compiler and linker flags one at a time.
#
# GH_CHECK_CFLAG(VARIABLE, FLAG)
#   Append FLAG to the shell variable VARIABLE when the C compiler accepts
#   it without any diagnostic.  The probe compiles with -Werror so that a
#   compiler that merely warns about an unknown option (clang) is treated
#   like one that rejects it (gcc).  GCC silently accepts any -Wno-FOO, so
#   for those the positive form -WFOO is probed instead.  Results are cached
#   per flag (gh_cv_cflag_FLAG).
#
# GH_CHECK_CFLAGS(VARIABLE, FLAG...)
#   GH_CHECK_CFLAG for each whitespace-separated FLAG.
#
# GH_CHECK_LINK_FLAGS(FLAGS, [ACTION-IF-OK], [ACTION-IF-NOT], [PROGRAM])
#   Try to compile and link PROGRAM (default: an empty main) with FLAGS
#   added to both CFLAGS and LDFLAGS.  Nothing is cached: used for
#   sanitizer runtimes, where the answer depends on installed packages.

AC_DEFUN([GH_CHECK_CFLAG], [dnl
AC_REQUIRE([AC_PROG_CC])dnl
AS_VAR_PUSHDEF([gh_cv], [gh_cv_cflag_$2])dnl
AC_CACHE_CHECK([whether $CC accepts $2], [gh_cv], [
    gh_probe_flag="m4_bpatsubst([$2], [^-Wno-], [-W])"
    gh_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $gh_probe_flag"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
                      [AS_VAR_SET([gh_cv], [yes])],
                      [AS_VAR_SET([gh_cv], [no])])
    CFLAGS=$gh_save_CFLAGS])
AS_VAR_IF([gh_cv], [yes], [AS_VAR_APPEND([$1], [" $2"])])
AS_VAR_POPDEF([gh_cv])dnl
])

AC_DEFUN([GH_CHECK_CFLAGS], [dnl
m4_foreach_w([gh_flag], [$2], [GH_CHECK_CFLAG([$1], gh_flag)
])dnl
])

AC_DEFUN([GH_CHECK_LINK_FLAGS], [dnl
AC_REQUIRE([AC_PROG_CC])dnl
AC_MSG_CHECKING([whether $CC can build and link with $1])
gh_save_CFLAGS=$CFLAGS
gh_save_LDFLAGS=$LDFLAGS
CFLAGS="$CFLAGS $1"
LDFLAGS="$LDFLAGS $1"
AC_LINK_IFELSE([m4_default([$4], [AC_LANG_PROGRAM([], [])])],
               [gh_link_ok=yes], [gh_link_ok=no])
CFLAGS=$gh_save_CFLAGS
LDFLAGS=$gh_save_LDFLAGS
AC_MSG_RESULT([$gh_link_ok])
AS_IF([test "x$gh_link_ok" = xyes], [$2], [$3])
])
