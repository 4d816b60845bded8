#pragma once
#include "faults/fault.h"

/* NULL-terminated lists; adding a fault kind is one line in registry.c. */
const struct fault_kind *const *fault_kinds(void);
const struct fault_family *const *fault_families(void);
const struct fault_kind *fault_kind_find(const char *name);
