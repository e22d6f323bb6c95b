/*
 * check_error.c - the error table: every GH_E* code has a fixed message
 * and a name, gohttpd's own codes sit outside errno's range, and unknown
 * codes still get a message.
 */
#include "check_gh.h"

struct code {
    int value;
    const char *name;
    const char *msg;
};

static const struct code codes[] = {
#define ROW(name, value, msg) {GH_##name, #name, msg},
    GH_ERRNO_MAP(ROW)
#undef ROW
};
#define N_CODES ((int)(sizeof codes / sizeof codes[0]))

START_TEST(error_every_code_has_its_table_message)
{
    for (int i = 0; i < N_CODES; i++) {
        const char *m = gh_strerror(codes[i].value);
        ck_assert_ptr_nonnull(m);
        ck_assert_msg(m[0] != '\0', "empty message for %s", codes[i].name);
        ck_assert_str_eq(m, codes[i].msg);
    }
}
END_TEST

START_TEST(error_messages_are_distinct)
{
    for (int i = 0; i < N_CODES; i++)
        for (int j = i + 1; j < N_CODES; j++) {
            if (codes[i].value == codes[j].value)
                continue; /* aliases such as ENOTSUP == EOPNOTSUPP */
            ck_assert_msg(strcmp(gh_strerror(codes[i].value),
                                 gh_strerror(codes[j].value)) != 0,
                          "%s and %s share a message", codes[i].name,
                          codes[j].name);
        }
}
END_TEST

START_TEST(error_every_code_has_its_name)
{
    for (int i = 0; i < N_CODES; i++) {
        const char *n = gh_err_name(codes[i].value);
        ck_assert_ptr_nonnull(n);
        ck_assert_str_eq(n, codes[i].name);
    }
}
END_TEST

START_TEST(error_system_codes_are_negated_errno)
{
    ck_assert_int_eq(GH_EAGAIN, -EAGAIN);
    ck_assert_int_eq(GH_ETIMEDOUT, -ETIMEDOUT);
    ck_assert_int_eq(GH_ECANCELED, -ECANCELED);
    ck_assert_int_eq(GH_EBADF, -EBADF);
    for (int i = 0; i < N_CODES; i++)
        ck_assert_msg(codes[i].value < 0, "%s is not negative",
                      codes[i].name);
}
END_TEST

START_TEST(error_closed_is_outside_errno_range_with_its_message)
{
    ck_assert_int_le(GH_ECLOSED, -4000);
    ck_assert_int_le(GH_EDEADLINE, -4000);
    ck_assert_int_le(GH_EPANIC, -4000);
    ck_assert_str_eq(gh_strerror(GH_ECLOSED),
                     "use of closed channel or descriptor");
    ck_assert_str_eq(gh_err_name(GH_ECLOSED), "ECLOSED");
    ck_assert_int_ne(GH_ECLOSED, GH_EDEADLINE);
}
END_TEST

START_TEST(error_unknown_code_still_has_a_message)
{
    /* Not in the table: a negated errno value, gohttpd's range, success,
     * a positive number, INT_MIN. */
    int unknown[] = {-EDOM, -EXDEV, -4999, -123456, 0, 1, 4000, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *m = gh_strerror(unknown[i]);
        const char *n = gh_err_name(unknown[i]);
        ck_assert_msg(m != NULL && m[0] != '\0', "no message for %d",
                      unknown[i]);
        ck_assert_ptr_nonnull(n);
        if (unknown[i] != 0)
            ck_assert_msg(strcmp(n, "UNKNOWN") == 0,
                          "gh_err_name(%d) = \"%s\"", unknown[i], n);
    }
    /* A negated errno outside the table reads as the C library's text. */
    ck_assert_str_eq(gh_strerror(-EDOM), strerror(EDOM));
}
END_TEST

START_TEST(error_strerror_is_stable_and_thread_safe)
{
    /* The same static string every time. */
    ck_assert_ptr_eq(gh_strerror(GH_EAGAIN), gh_strerror(GH_EAGAIN));
    ck_assert_ptr_eq(gh_err_name(GH_EAGAIN), gh_err_name(GH_EAGAIN));
}
END_TEST

START_TEST(error_version_string_matches_the_header)
{
    ck_assert_ptr_nonnull(gh_version());
    ck_assert_str_eq(gh_version(), GH_VERSION_STRING);
}
END_TEST

static Suite *error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, error_every_code_has_its_table_message);
    tcase_add_test(tc, error_messages_are_distinct);
    tcase_add_test(tc, error_every_code_has_its_name);
    tcase_add_test(tc, error_system_codes_are_negated_errno);
    tcase_add_test(tc, error_closed_is_outside_errno_range_with_its_message);
    tcase_add_test(tc, error_unknown_code_still_has_a_message);
    tcase_add_test(tc, error_strerror_is_stable_and_thread_safe);
    tcase_add_test(tc, error_version_string_matches_the_header);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(error_suite)
