/* The disk family: disk-fill (faults/diskfill.c) and io-throttle (faults/iothrottle.c).
 * What the two kinds share, and the pieces the unit tests reach directly. */
#pragma once
#include "faults/fault.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes as people write them: 1048576, "1048576", "512B", "64KiB", "1MiB", "2GiB", "1TiB"
 * (powers of 1024), "1K"/"1M"/"1G"/"1T" (also 1024), "1kB"/"1MB"/"1GB"/"1TB" (powers of
 * 1000): common/size.h, whole numbers only. A JSON integer is bytes. -EINVAL malformed,
 * -ERANGE overflow. */
int disk_size_parse(const char *text, uint64_t *out);
int disk_size_from_json(struct json_object *v, uint64_t *out);

/* --- io-throttle ------------------------------------------------------------------ */

enum throttle_iface { THROTTLE_V1 = 1, THROTTLE_V2 = 2 };

enum throttle_key { THROTTLE_RBPS, THROTTLE_WBPS, THROTTLE_RIOPS, THROTTLE_WIOPS, THROTTLE_NKEYS };

/* The param name of a key ("read_bps"), its io.max word ("rbps") and its v1 file
 * ("blkio.throttle.read_bps_device"). */
const char *throttle_param_name(enum throttle_key key);
const char *throttle_v2_word(enum throttle_key key);
const char *throttle_v1_file(enum throttle_key key);

/* The whole disk behind a device number: a partition's parent, else the device
 * itself. SYSFS_ROOT is "/sys" on a real host. -ENODEV when SYSFS_ROOT/dev/block/MAJ:MIN
 * does not exist (not a block device: tmpfs, overlay, ...). */
int throttle_whole_disk(const char *sysfs_root, unsigned major, unsigned minor, unsigned *wmajor,
			unsigned *wminor);

/* The limit a cgroup file's text sets for one device and key: 0 when there is none
 * (v1: no line for the device; v2: no line, or "max"). -EINVAL when the text is not
 * of that interface's format. */
int throttle_parse_value(enum throttle_iface iface, const char *text, unsigned major, unsigned minor,
			 enum throttle_key key, uint64_t *value);

/* The line that sets `value` (0: removes the limit) for one device and key:
 * v1 "8:0 1048576" / "8:0 0", v2 "8:0 wbps=1048576" / "8:0 wbps=max". */
int throttle_format_line(enum throttle_iface iface, unsigned major, unsigned minor, enum throttle_key key,
			 uint64_t value, char *buf, size_t len);

/* Reads / writes one key's limit in cgroup directory DIR (the file for the key and
 * interface: io.max or blkio.throttle.*_device). */
int throttle_cgroup_get(const char *dir, enum throttle_iface iface, unsigned major, unsigned minor,
			enum throttle_key key, uint64_t *value);
int throttle_cgroup_set(const char *dir, enum throttle_iface iface, unsigned major, unsigned minor,
			enum throttle_key key, uint64_t value);

/* True when the v2 cgroup DIR can take io.max: its parent's cgroup.subtree_control
 * lists "io" (and DIR has an io.max file). */
bool throttle_v2_io_enabled(const char *dir);

/* Restores every io-throttle state file left in STATE_DIR (sweep). Returns how many
 * were handled or -errno. */
int iothrottle_sweep(const struct fault_env *env);
