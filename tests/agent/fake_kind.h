/* A fault kind for unit tests: no kernel objects, counts its calls. */
#pragma once
#include "faults/fault.h"

struct fake_counters {
	int applied, reverted, recovered, swept;
	int fail_apply;     /* next apply returns this (negative) when set */
	int fail_probe;
	char last_recover_id[64];
};
extern struct fake_counters fake;
extern const struct fault_kind fake_kind;
extern const struct fault_family fake_family;
void fake_reset(void);
