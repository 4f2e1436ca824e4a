/*
 * Runs every Check suite under tests/unit. The build lists the suites in
 * test_suites.h, one HEARTH_SUITE(module) line per tests/unit/test_<module>.c,
 * and each of those files defines hearth_test_<module>_suite(). Run from the
 * repository root: tests open their data under tests/data.
 */
#include <check.h>
#include <stdlib.h>

#define HEARTH_SUITE(name) Suite *hearth_test_##name##_suite(void);
#include "test_suites.h"
#undef HEARTH_SUITE

int main(void)
{
        SRunner *runner = srunner_create(NULL);
        int failed;

#define HEARTH_SUITE(name) srunner_add_suite(runner, hearth_test_##name##_suite());
#include "test_suites.h"
#undef HEARTH_SUITE

        srunner_run_all(runner, CK_NORMAL);
        failed = srunner_ntests_failed(runner);
        srunner_free(runner);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
