/* Per-service scope of network faults: limit a fault to the sockets of one
 * cgroup v2 (a systemd unit or a container). Parsed with the match parameters
 * (`scope = { cgroup = "..." }` or `{ unit = "x.service" }`), resolved to a
 * cgroup id and depth at apply time, checked by faults/scope.bpf.h. */
#pragma once
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "faults/fault.h"

#define PACKET_SCOPE_PATH_MAX 256

struct packet_scope {
	/* "" = the whole host. Otherwise what the user named, kept for the
	 * journal and listings: a cgroup path or a systemd unit name. */
	char cgroup[PACKET_SCOPE_PATH_MAX];
	char unit[PACKET_SCOPE_PATH_MAX];
};

static inline int packet_scope_is_host(const struct packet_scope *s)
{
	return s->cgroup[0] == '\0' && s->unit[0] == '\0';
}

/* Validates the `scope` object (pure, unprivileged); `key` prefix is "scope". */
int scope_parse(struct json_object *v, struct packet_scope *out, struct fault_error *err);
struct json_object *scope_to_json(const struct packet_scope *s);
/* Finds the cgroup v2 directory the scope names and returns its id (the inode
 * number the kernel's bpf_*_cgroup_id helpers return) and depth below the v2
 * root. -ENOENT with a message in `err` when it does not exist. */
int scope_resolve(const struct packet_scope *s, uint64_t *cgroup_id, uint32_t *level, struct fault_error *err);

/* The directory of the cgroup the scope names (for kinds that attach cgroup
 * BPF programs to it), under the v2 mount. Same errors as scope_resolve(). */
int scope_resolve_path(const struct packet_scope *s, char *path, size_t len, struct fault_error *err);

/* Where the cgroup v2 hierarchy is mounted, from /proc/self/mountinfo:
 * /sys/fs/cgroup on pure v2 hosts, /sys/fs/cgroup/unified on hybrid ones.
 * -ENOENT when there is none. */
int scope_cgroup2_mount(char *path, size_t len);

/* The id and depth of the cgroup v2 directory `dir` (under `mount`). */
int scope_cgroup_id(const char *mount, const char *dir, uint64_t *cgroup_id, uint32_t *level);
