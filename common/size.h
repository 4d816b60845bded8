/* Byte sizes as people write them: "1048576", "512B", "64K", "64KiB", "1MiB", "2GB".
 * K/M/G/T, KiB/MiB/GiB/TiB and k are powers of 1024; kB/KB/MB/GB/TB powers of 1000;
 * B or no unit is bytes. */
#pragma once
#include <stdint.h>

enum size_syntax {
	SIZE_STRICT,   /* a whole number directly followed by its unit */
	SIZE_LENIENT,  /* also blanks before the number and the unit, and a decimal
			* fraction of a unit ("1.5GiB"; not of a byte: "1.5" is refused) */
};

/* 0, -EINVAL malformed, -ERANGE above UINT64_MAX. */
int size_parse(const char *text, enum size_syntax syntax, uint64_t *out);
