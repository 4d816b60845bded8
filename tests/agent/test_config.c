#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/config.h"

static char dir[256];

static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ckt-agt-unit.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void good_file(void **state)
{
	(void)state;
	const char *path = write_file("good.cfg",
		"name = \"h1\";\n"
		"labels = { dc = \"dc1\"; rack = \"r1\"; service = \"web\"; };\n"
		"listen_unix = \"/run/ck/agent.sock\";\n"
		"listen_tls = \"[::]:7070\";\n"
		"tls = { ca = \"ca.pem\"; cert = \"/etc/ck/agent.pem\"; key = \"agent-key.pem\"; };\n"
		"state_dir = \"/var/lib/ck\";\n"
		"max_fault_duration = \"30m\";\n"
		"max_faults = 8;\n"
		"packet_backend = \"clsact\";\n");
	struct agent_config cfg;
	char err[512] = "";
	assert_int_equal(agent_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "h1");
	assert_int_equal(cfg.n_labels, 3);
	assert_string_equal(cfg.labels[2].key, "service");
	assert_string_equal(cfg.labels[2].value, "web");
	assert_string_equal(cfg.listen_unix, "/run/ck/agent.sock");
	assert_string_equal(cfg.tls_host, "::");
	assert_int_equal(cfg.tls_port, 7070);
	char expect[600];
	snprintf(expect, sizeof(expect), "%s/ca.pem", dir);
	assert_string_equal(cfg.tls_ca, expect);  /* relative to the config file */
	assert_string_equal(cfg.tls_cert, "/etc/ck/agent.pem");
	assert_string_equal(cfg.state_dir, "/var/lib/ck");
	assert_int_equal(cfg.max_fault_duration_ms, 30 * 60 * 1000);
	assert_int_equal(cfg.max_faults, 8);
	assert_string_equal(cfg.packet_backend, "clsact");
}

static void defaults_for_an_empty_file(void **state)
{
	(void)state;
	const char *path = write_file("empty.cfg", "# nothing\n");
	struct agent_config cfg;
	char err[512] = "";
	assert_int_equal(agent_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen_unix, "/run/chaoskit/agent.sock");
	assert_string_equal(cfg.state_dir, "/var/lib/chaoskit");
	assert_int_equal(cfg.max_fault_duration_ms, 3600 * 1000);
	assert_int_equal(cfg.max_faults, 64);
	assert_string_equal(cfg.packet_backend, "auto");
	assert_string_equal(cfg.listen_tls, "");
	assert_true(cfg.name[0] != '\0');
}

/* Each bad file must fail with "FILE:LINE:" and a message naming the problem. */
static void expect_error(const char *text, int line, const char *needle)
{
	const char *path = write_file("bad.cfg", text);
	struct agent_config cfg;
	memset(&cfg, 0x5a, sizeof(cfg));
	struct agent_config untouched = cfg;
	char err[512] = "";
	assert_int_equal(agent_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	char where[600];
	snprintf(where, sizeof(where), "%s:%d: ", path, line);
	if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, needle))
		fail_msg("expected [%s...%s], got [%s]", where, needle, err);
	assert_memory_equal(&cfg, &untouched, sizeof(cfg));  /* output only on success */
}

static void unknown_key(void **state)
{
	(void)state;
	expect_error("name = \"h1\";\n\nlisten_tcp = \"1.2.3.4:1\";\n", 3, "unknown key listen_tcp");
	expect_error("listen_tls = \"127.0.0.1:7070\";\ntls = { ca = \"a\"; cert = \"b\"; key = \"c\";\n  crl = \"d\"; };\n",
		     3, "unknown key tls.crl");
}

static void wrong_type(void **state)
{
	(void)state;
	expect_error("name = \"h1\";\nmax_faults = \"many\";\n", 2, "max_faults must be an integer");
	expect_error("labels = { dc = 1; };\n", 1, "label dc must be a string");
	expect_error("name = 5;\n", 1, "name must be a string");
	expect_error("max_faults = 0;\n", 1, "between 1 and 4096");
	expect_error("packet_backend = \"xdp\";\n", 1, "packet_backend must be");
}

static void bad_duration(void **state)
{
	(void)state;
	expect_error("name = \"h1\";\nstate_dir = \"/x\";\nmax_fault_duration = \"1 hour\";\n", 3, "max_fault_duration");
	expect_error("max_fault_duration = \"0s\";\n", 1, "max_fault_duration");
}

static void tls_consistency(void **state)
{
	(void)state;
	expect_error("name = \"h\";\nlisten_tls = \"127.0.0.1:7070\";\n", 2, "listen_tls needs tls");
	expect_error("listen_tls = \"localhost\";\n", 1, "ADDRESS:PORT");
	expect_error("tls = { ca = \"a\"; cert = \"b\"; key = \"c\"; };\n", 1, "listen_tls is not");
}

static void syntax_error_has_line(void **state)
{
	(void)state;
	expect_error("name = \"h1\";\nmax_faults = ;\n", 2, "");
}

static void missing_file(void **state)
{
	(void)state;
	struct agent_config cfg;
	char err[512] = "";
	assert_int_equal(agent_config_load("/nonexistent/ck.cfg", &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ck.cfg"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file),
		cmocka_unit_test(defaults_for_an_empty_file),
		cmocka_unit_test(unknown_key),
		cmocka_unit_test(wrong_type),
		cmocka_unit_test(bad_duration),
		cmocka_unit_test(tls_consistency),
		cmocka_unit_test(syntax_error_has_line),
		cmocka_unit_test(missing_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
