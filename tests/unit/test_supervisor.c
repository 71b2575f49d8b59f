/*
 * Unit tests for the supervisor's hold bookkeeping: time agentd itself held
 * runs back (429 pauses, store outages) is measured once however the holds
 * overlap, so staleness (invariant 4) does not count it.
 */
#include <string.h>

#include "harness.h"

#include "supervisor.h"

static void
test_supervisor_held_ms(void **state)
{
	struct sup	s;

	(void)state;
	memset(&s, 0, sizeof s);
	assert_int_equal(sup_held_ms(&s, 0, 1000), 0);
	sup_hold(&s, 10, 20);
	sup_hold(&s, 15, 30);
	sup_hold(&s, 40, 50);
	assert_int_equal(sup_held_ms(&s, 0, 45), 25);
	assert_int_equal(sup_held_ms(&s, 0, 100), 30);
	assert_int_equal(sup_held_ms(&s, 16, 18), 2);
	assert_int_equal(sup_held_ms(&s, 30, 40), 0);
	/* A hold inside another is not counted twice. */
	sup_hold(&s, 11, 12);
	assert_int_equal(sup_held_ms(&s, 0, 100), 30);
	/* Empty or reversed holds are ignored. */
	sup_hold(&s, 60, 60);
	sup_hold(&s, 70, 65);
	assert_int_equal(s.nholds, 4);
}

static void
test_supervisor_hold_ring(void **state)
{
	struct sup	s;
	int		i;

	(void)state;
	memset(&s, 0, sizeof s);
	for (i = 0; i < 100; i++)
		sup_hold(&s, i * 10, i * 10 + 5);
	assert_int_equal(s.nholds, 64);
	/* The oldest were forgotten; the newest 64 remain. */
	assert_int_equal(sup_held_ms(&s, 0, 360), 0);
	assert_int_equal(sup_held_ms(&s, 360, 1000), 64 * 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supervisor_held_ms),
		cmocka_unit_test(test_supervisor_hold_ring),
	};

	return cmocka_run_group_tests_name("supervisor", tests, NULL, NULL);
}
