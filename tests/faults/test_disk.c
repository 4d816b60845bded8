/* The disk family (faults/diskfill.c, faults/iothrottle.c) without root: parameters,
 * sizes, the partition -> disk lookup on a fake sysfs tree, the v1/v2 throttle file
 * formats, and recover()/sweep() against fake cgroup directories and fill files in a
 * temporary directory. */
#include "faults/disk.h"
#include "faults/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

static char tmp_root[64];

/* snprintf that fails the test instead of truncating. */
__attribute__((format(printf, 3, 4))) static char *pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	assert_true(w >= 0 && (size_t)w < len);
	return buf;
}

static int setup_tmp(void **state)
{
	(void)state;
	pathf(tmp_root, sizeof(tmp_root), "/tmp/ckt-dk-unit.XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	pathf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void mkdirs(const char *path)
{
	char cmd[PATH_MAX + 16];
	pathf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static const char *spec_json(const char *kind_name, const char *json, char *buf, size_t len)
{
	struct json_object *o = fault_parsed_json(kind_name, json);
	pathf(buf, len, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return buf;
}

static void test_registered(void **state)
{
	(void)state;
	fault_expect_family("disk-fill", "disk");
	fault_expect_family("io-throttle", "disk");
}

static void test_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int r;
		uint64_t value;
	} cases[] = {
		{ "0", 0, 0 }, { "1048576", 0, 1048576 }, { "512B", 0, 512 }, { "64KiB", 0, 65536 },
		{ "1MiB", 0, 1048576 }, { "1M", 0, 1048576 }, { "1MB", 0, 1000000 }, { "2GiB", 0, 2147483648ULL },
		{ "3kB", 0, 3000 }, { "1TiB", 0, 1ULL << 40 }, { "16777216TiB", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 }, { "", -EINVAL, 0 }, { "MiB", -EINVAL, 0 },
		{ "1.5MiB", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "1 MiB", -EINVAL, 0 }, { "1mib", -EINVAL, 0 },
		{ "8XB", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int r = disk_size_parse(cases[i].text, &v);
		if (r != cases[i].r)
			fail_msg("\"%s\": %d, expected %d", cases[i].text, r, cases[i].r);
		if (r == 0 && v != cases[i].value)
			fail_msg("\"%s\": %llu", cases[i].text, (unsigned long long)v);
	}
}

static void test_fill_params(void **state)
{
	(void)state;
	char buf[512];
	assert_string_equal(spec_json("disk-fill", "{\"path\": \"/mnt/x\", \"free_bytes\": \"8MiB\"}", buf, sizeof(buf)),
			    "{\"path\":\"\\/mnt\\/x\",\"free_bytes\":8388608}");
	assert_string_equal(spec_json("disk-fill", "{\"path\": \"/mnt/x\", \"free_bytes\": 0}", buf, sizeof(buf)),
			    "{\"path\":\"\\/mnt\\/x\",\"free_bytes\":0}");
	assert_string_equal(spec_json("disk-fill", "{\"path\": \"/mnt/x\", \"free_percent\": 12.5}", buf, sizeof(buf)),
			    "{\"path\":\"\\/mnt\\/x\",\"free_percent\":12.5}");
	assert_string_equal(spec_json("disk-fill", "{\"path\": \"/mnt/x\", \"free_percent\": 0}", buf, sizeof(buf)),
			    "{\"path\":\"\\/mnt\\/x\",\"free_percent\":0.0}");

	fault_expect_parse_error("disk-fill", "{}", "path", "is required");
	fault_expect_parse_error("disk-fill", "{\"free_bytes\": 1}", "path", "is required");
	fault_expect_parse_error("disk-fill", "{\"path\": \"mnt\", \"free_bytes\": 1}", "path", "absolute");
	fault_expect_parse_error("disk-fill", "{\"path\": 3, \"free_bytes\": 1}", "path", "absolute");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\"}", "free_bytes", "is required (or free_percent)");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_bytes\": \"8MiB\", \"free_percent\": 5}",
				 "free_percent", "not both");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_percent\": 100}", "free_percent",
				 "from 0 to below 100");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_percent\": -1}", "free_percent", "from 0");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_percent\": \"10\"}", "free_percent", "number");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_bytes\": \"8XB\"}", "free_bytes", "size");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_bytes\": -4}", "free_bytes", "size");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_bytes\": 1.5}", "free_bytes", "size");
	fault_expect_parse_error("disk-fill", "{\"path\": \"/mnt\", \"free_bytes\": 1, \"size\": 3}", "size",
				 "unknown parameter");
	fault_expect_parse_error("disk-fill", "[1]", "", "must be an object");
}

static void test_throttle_params(void **state)
{
	(void)state;
	char buf[512];
	assert_string_equal(spec_json("io-throttle",
				      "{\"device\": \"/dev/sdb\", \"cgroup\": \"/sys/fs/cgroup/blkio/x\", "
				      "\"read_bps\": \"1MiB\", \"write_bps\": 2048, \"write_iops\": 50}",
				      buf, sizeof(buf)),
			    "{\"device\":\"\\/dev\\/sdb\",\"read_bps\":1048576,\"write_bps\":2048,\"write_iops\":50,"
			    "\"cgroup\":\"\\/sys\\/fs\\/cgroup\\/blkio\\/x\"}");
	assert_string_equal(spec_json("io-throttle", "{\"device\": \"/var/lib\", \"unit\": \"db.service\", "
						     "\"read_iops\": 10}", buf, sizeof(buf)),
			    "{\"device\":\"\\/var\\/lib\",\"read_iops\":10,\"unit\":\"db.service\"}");

	/* processes: the process target's own parser (faults/target.h), kept in spec_to_json. */
	spec_json("io-throttle", "{\"device\": \"/dev/sdb\", \"processes\": {\"name\": \"postgres\"}, "
				 "\"write_bps\": \"5MiB\"}", buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"processes\":{"));
	assert_non_null(strstr(buf, "\"name\":\"postgres\""));
	assert_non_null(strstr(buf, "\"write_bps\":5242880"));
	void *spec = NULL;
	struct fault_error err;
	assert_int_equal(fault_parse_text("io-throttle", "{\"device\": \"/dev/sdb\", \"processes\": {}, "
							 "\"write_bps\": 1}", &spec, &err), -EINVAL);
	assert_null(spec);
	assert_memory_equal(err.key, "processes", strlen("processes"));

	const char *k = "io-throttle";
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"processes\": {\"pid\": 4}, "
				    "\"read_bps\": 1}", "processes", "not several");
	fault_expect_parse_error(k, "{\"cgroup\": \"/x\", \"read_bps\": 1}", "device", "is required");
	fault_expect_parse_error(k, "{\"device\": \"sdb\", \"cgroup\": \"/x\", \"read_bps\": 1}", "device", "absolute");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\"}", "", "at least one limit");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"read_bps\": 1}", "cgroup", "is required (or unit");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"unit\": \"a.service\", "
				    "\"read_bps\": 1}", "unit", "not several");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"read_bps\": \"1 MiB\"}", "read_bps",
				 "bytes per second");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"write_bps\": \"fast\"}",
				 "write_bps", "bytes per second");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"write_bps\": 0}", "write_bps",
				 "at least 1");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"read_iops\": \"10\"}", "read_iops",
				 "whole number");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"read_iops\": -3}", "read_iops",
				 "whole number");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"\", \"read_iops\": 3}", "cgroup",
				 "cgroup path");
	fault_expect_parse_error(k, "{\"device\": \"/dev/sdb\", \"cgroup\": \"/x\", \"read_iops\": 3, \"rate\": 1}",
				 "rate", "unknown parameter");
}

static void test_whole_disk(void **state)
{
	(void)state;
	char sys[PATH_MAX], path[PATH_MAX + 128];
	pathf(sys, sizeof(sys), "%s/sys", tmp_root);
	pathf(path, sizeof(path), "%s/devices/pci0/block/sda/sda2", sys);
	mkdirs(path);
	pathf(path, sizeof(path), "%s/dev/block", sys);
	mkdirs(path);
	pathf(path, sizeof(path), "%s/devices/pci0/block/sda/dev", sys);
	write_file(path, "8:0\n");
	pathf(path, sizeof(path), "%s/devices/pci0/block/sda/sda2/dev", sys);
	write_file(path, "8:2\n");
	pathf(path, sizeof(path), "%s/devices/pci0/block/sda/sda2/partition", sys);
	write_file(path, "2\n");
	pathf(path, sizeof(path), "%s/dev/block/8:0", sys);
	assert_int_equal(symlink("../../devices/pci0/block/sda", path), 0);
	pathf(path, sizeof(path), "%s/dev/block/8:2", sys);
	assert_int_equal(symlink("../../devices/pci0/block/sda/sda2", path), 0);

	unsigned ma = 0, mi = 0;
	assert_int_equal(throttle_whole_disk(sys, 8, 2, &ma, &mi), 0);
	assert_int_equal(ma, 8);
	assert_int_equal(mi, 0);
	assert_int_equal(throttle_whole_disk(sys, 8, 0, &ma, &mi), 0);
	assert_int_equal(ma, 8);
	assert_int_equal(mi, 0);
	assert_int_equal(throttle_whole_disk(sys, 0, 45, &ma, &mi), -ENODEV);
}

static void test_formats(void **state)
{
	(void)state;
	const char *v1 = "8:0 1048576\n7:3 500\n";
	uint64_t v = 99;
	assert_int_equal(throttle_parse_value(THROTTLE_V1, v1, 7, 3, THROTTLE_WBPS, &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(throttle_parse_value(THROTTLE_V1, v1, 8, 0, THROTTLE_RBPS, &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(throttle_parse_value(THROTTLE_V1, v1, 7, 0, THROTTLE_RBPS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(throttle_parse_value(THROTTLE_V1, "", 7, 0, THROTTLE_RBPS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(throttle_parse_value(THROTTLE_V1, "8:0 many\n", 8, 0, THROTTLE_RBPS, &v), -EINVAL);
	assert_int_equal(throttle_parse_value(THROTTLE_V1, "garbage\n", 8, 0, THROTTLE_RBPS, &v), -EINVAL);

	const char *v2 = "8:0 rbps=1048576 wbps=max riops=max wiops=120\n259:0 rbps=max wbps=2097152 riops=7 wiops=max\n";
	assert_int_equal(throttle_parse_value(THROTTLE_V2, v2, 8, 0, THROTTLE_RBPS, &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(throttle_parse_value(THROTTLE_V2, v2, 8, 0, THROTTLE_WBPS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(throttle_parse_value(THROTTLE_V2, v2, 8, 0, THROTTLE_WIOPS, &v), 0);
	assert_int_equal(v, 120);
	assert_int_equal(throttle_parse_value(THROTTLE_V2, v2, 259, 0, THROTTLE_WBPS, &v), 0);
	assert_int_equal(v, 2097152);
	assert_int_equal(throttle_parse_value(THROTTLE_V2, v2, 259, 0, THROTTLE_RIOPS, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(throttle_parse_value(THROTTLE_V2, v2, 7, 0, THROTTLE_RIOPS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(throttle_parse_value(THROTTLE_V2, "8:0 rbps=12x\n", 8, 0, THROTTLE_RBPS, &v), -EINVAL);

	char line[64];
	assert_int_equal(throttle_format_line(THROTTLE_V1, 7, 0, THROTTLE_WBPS, 1048576, line, sizeof(line)), 0);
	assert_string_equal(line, "7:0 1048576");
	assert_int_equal(throttle_format_line(THROTTLE_V1, 7, 0, THROTTLE_WBPS, 0, line, sizeof(line)), 0);
	assert_string_equal(line, "7:0 0");
	assert_int_equal(throttle_format_line(THROTTLE_V2, 8, 16, THROTTLE_RIOPS, 250, line, sizeof(line)), 0);
	assert_string_equal(line, "8:16 riops=250");
	assert_int_equal(throttle_format_line(THROTTLE_V2, 8, 16, THROTTLE_WBPS, 0, line, sizeof(line)), 0);
	assert_string_equal(line, "8:16 wbps=max");
	assert_string_equal(throttle_v1_file(THROTTLE_RIOPS), "blkio.throttle.read_iops_device");
	assert_string_equal(throttle_param_name(THROTTLE_WIOPS), "write_iops");
}

/* A fake v2 tree: parent with cgroup.subtree_control, child with io.max. */
static void test_v2_fake_cgroup(void **state)
{
	(void)state;
	char parent[PATH_MAX], child[PATH_MAX + 16], path[PATH_MAX + 64], buf[512];
	pathf(parent, sizeof(parent), "%s/cg2", tmp_root);
	pathf(child, sizeof(child), "%s/svc", parent);
	mkdirs(child);
	pathf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
	write_file(path, "cpu memory pids\n");
	pathf(path, sizeof(path), "%s/io.max", child);
	write_file(path, "8:0 rbps=max wbps=4096 riops=max wiops=max\n");
	assert_false(throttle_v2_io_enabled(child));
	pathf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
	write_file(path, "cpu io memory pids\n");
	assert_true(throttle_v2_io_enabled(child));

	uint64_t v = 1;
	assert_int_equal(throttle_cgroup_get(child, THROTTLE_V2, 8, 0, THROTTLE_WBPS, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(throttle_cgroup_get(child, THROTTLE_V2, 8, 0, THROTTLE_RBPS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(throttle_cgroup_set(child, THROTTLE_V2, 8, 0, THROTTLE_RBPS, 1048576), 0);
	pathf(path, sizeof(path), "%s/io.max", child);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "8:0 rbps=1048576");

	/* recover(): the fault set rbps; the previous value was "max": "max" is written back. */
	const struct fault_kind *kind = fault_kind_find("io-throttle");
	char record_text[PATH_MAX + 512];
	pathf(record_text, sizeof(record_text),
		 "{\"interface\": \"io.max\", \"device\": \"8:0\", \"device_path\": \"/dev/sda\", "
		 "\"limits\": {\"read_bps\": 1048576}, \"cgroups\": [{\"dir\": \"%s\", \"previous\": {\"read_bps\": 0}}]}",
		 child);
	struct json_object *record = json_tokener_parse(record_text);
	assert_non_null(record);
	struct fault_env env = { .fault_id = "f-unit1", .state_dir = tmp_root };
	assert_int_equal(kind->recover(record, &env), 0);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "8:0 rbps=max");

	/* Someone else's value is left alone. */
	write_file(path, "8:0 rbps=777 wbps=max riops=max wiops=max\n");
	assert_int_equal(kind->recover(record, &env), 0);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "8:0 rbps=777 wbps=max riops=max wiops=max\n");
	json_object_put(record);
}

static void test_v1_fake_cgroup(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX + 64], buf[512];
	pathf(dir, sizeof(dir), "%s/blkio/ckt-dk-x", tmp_root);
	mkdirs(dir);
	for (int k = 0; k < THROTTLE_NKEYS; k++) {
		pathf(path, sizeof(path), "%s/%s", dir, throttle_v1_file((enum throttle_key)k));
		write_file(path, "");
	}
	/* write_bps: 7:0 was limited by the fault, 8:0 by someone else before;
	 * read_iops: 7:0 had 40 before the fault. */
	pathf(path, sizeof(path), "%s/blkio.throttle.write_bps_device", dir);
	write_file(path, "7:0 1048576\n8:0 999\n");
	pathf(path, sizeof(path), "%s/blkio.throttle.read_iops_device", dir);
	write_file(path, "7:0 5\n");
	char record_text[PATH_MAX + 512];
	pathf(record_text, sizeof(record_text),
		 "{\"interface\": \"blkio.throttle\", \"device\": \"7:0\", \"device_path\": \"/dev/loop0\", "
		 "\"limits\": {\"write_bps\": 1048576, \"read_iops\": 5}, \"cgroups\": [{\"dir\": \"%s\", "
		 "\"previous\": {\"write_bps\": 0, \"read_iops\": 40}}]}",
		 dir);
	/* A crash before the journal had the record: recover() reads the state file. */
	char statedir[PATH_MAX];
	pathf(statedir, sizeof(statedir), "%s/iothrottle", tmp_root);
	mkdirs(statedir);
	pathf(path, sizeof(path), "%s/iothrottle/f-unit2.json", tmp_root);
	write_file(path, record_text);
	struct json_object *empty = json_object_new_object();
	struct fault_env env = { .fault_id = "f-unit2", .state_dir = tmp_root };
	assert_int_equal(fault_kind_find("io-throttle")->recover(empty, &env), 0);
	json_object_put(empty);
	assert_int_equal(access(path, F_OK), -1);
	pathf(path, sizeof(path), "%s/blkio.throttle.write_bps_device", dir);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "7:0 0");
	pathf(path, sizeof(path), "%s/blkio.throttle.read_iops_device", dir);
	assert_string_equal(read_file(path, buf, sizeof(buf)), "7:0 40");
}

static const struct fault_family *disk_family_get(void)
{
	for (const struct fault_family *const *f = fault_families(); *f; f++)
		if (strcmp((*f)->name, "disk") == 0)
			return *f;
	return NULL;
}

static void test_fill_recover_and_sweep(void **state)
{
	(void)state;
	char data[PATH_MAX], statedir[PATH_MAX], path[PATH_MAX + 64], text[PATH_MAX + 128];
	pathf(data, sizeof(data), "%s/data", tmp_root);
	pathf(statedir, sizeof(statedir), "%s/state", tmp_root);
	pathf(path, sizeof(path), "%s/diskfill", statedir);
	mkdirs(data);
	mkdirs(path);
	/* recover() with an empty record: the state file names the file. */
	char fill1[PATH_MAX + 64], fill2[PATH_MAX + 64], other[PATH_MAX + 64];
	pathf(fill1, sizeof(fill1), "%s/.chaoskit-fill-f-a", data);
	pathf(fill2, sizeof(fill2), "%s/.chaoskit-fill-f-b", data);
	pathf(other, sizeof(other), "%s/keep-me", data);
	write_file(fill1, "x");
	write_file(fill2, "y");
	write_file(other, "z");
	pathf(path, sizeof(path), "%s/diskfill/f-a.json", statedir);
	pathf(text, sizeof(text), "{\"path\": \"%s\", \"file\": \".chaoskit-fill-f-a\"}", data);
	write_file(path, text);
	struct json_object *empty = json_object_new_object();
	struct fault_env env = { .fault_id = "f-a", .state_dir = statedir };
	assert_int_equal(fault_kind_find("disk-fill")->recover(empty, &env), 0);
	assert_int_equal(access(fill1, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);
	/* idempotent */
	assert_int_equal(fault_kind_find("disk-fill")->recover(empty, &env), 0);
	json_object_put(empty);

	/* A record that names a file outside the fill prefix is not acted on. */
	pathf(text, sizeof(text), "{\"path\": \"%s\", \"file\": \"keep-me\"}", data);
	struct json_object *bad = json_tokener_parse(text);
	assert_int_equal(fault_kind_find("disk-fill")->recover(bad, &env), 0);
	json_object_put(bad);
	assert_int_equal(access(other, F_OK), 0);

	/* sweep: every state file's fill file goes, and the state files with them. */
	pathf(path, sizeof(path), "%s/diskfill/f-b.json", statedir);
	pathf(text, sizeof(text), "{\"path\": \"%s\", \"file\": \".chaoskit-fill-f-b\"}", data);
	write_file(path, text);
	struct fault_env senv = { .fault_id = "", .state_dir = statedir };
	/* and one that names no fill file is dropped without touching anything */
	char bogus[PATH_MAX + 64];
	pathf(bogus, sizeof(bogus), "%s/diskfill/f-c.json", statedir);
	pathf(text, sizeof(text), "{\"path\": \"%s\", \"file\": \"keep-me\"}", data);
	write_file(bogus, text);
	assert_int_equal(disk_family_get()->sweep(&senv), 2);
	assert_int_equal(access(bogus, F_OK), -1);
	assert_int_equal(access(fill2, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(disk_family_get()->sweep(&senv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_fill_params),
		cmocka_unit_test(test_throttle_params),
		cmocka_unit_test(test_whole_disk),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_v2_fake_cgroup),
		cmocka_unit_test(test_v1_fake_cgroup),
		cmocka_unit_test(test_fill_recover_and_sweep),
	};
	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
