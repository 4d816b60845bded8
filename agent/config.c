#include "agent/config.h"

#include "common/duration.h"
#include "common/netaddr.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void agent_config_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(cfg->name, sizeof(cfg->name) - 1) < 0 || !cfg->name[0])
		snprintf(cfg->name, sizeof(cfg->name), "localhost");
	snprintf(cfg->listen_unix, sizeof(cfg->listen_unix), "/run/chaoskit/agent.sock");
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/chaoskit");
	cfg->max_fault_duration_ms = 3600u * 1000u;
	cfg->max_faults = 64;
	snprintf(cfg->packet_backend, sizeof(cfg->packet_backend), "auto");
	snprintf(cfg->shape_backend, sizeof(cfg->shape_backend), "auto");
	cfg->guardian = 1;
}

/* Parsing context: where errors go and which file relative paths start from. */
struct loader {
	const char *file;
	char dir[4096];
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 3, 4)))
static int fail_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s) : ld->file;
	unsigned line = s ? config_setting_source_line(s) : 0;
	int n = snprintf(ld->err, ld->err_len, "%s:%u: ", file, line);
	if (n < 0 || (size_t)n >= ld->err_len)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int get_string(struct loader *ld, const config_setting_t *s, char *out, size_t len)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail_at(ld, s, "%s must be a string", config_setting_name(s));
	const char *v = config_setting_get_string(s);
	if (!v[0])
		return fail_at(ld, s, "%s must not be empty", config_setting_name(s));
	if (strlen(v) >= len)
		return fail_at(ld, s, "%s is too long (at most %zu characters)", config_setting_name(s), len - 1);
	snprintf(out, len, "%s", v);
	return 0;
}

/* Relative paths in the file are relative to the file, so a config moved with
 * its certificates keeps working wherever the agent is started from. */
static int get_path(struct loader *ld, const config_setting_t *s, char *out, size_t len)
{
	char raw[4096];
	int r = get_string(ld, s, raw, sizeof(raw));
	if (r < 0)
		return r;
	int n = raw[0] == '/' ? snprintf(out, len, "%s", raw) : snprintf(out, len, "%s/%s", ld->dir, raw);
	if (n < 0 || (size_t)n >= len)
		return fail_at(ld, s, "%s: path too long", config_setting_name(s));
	return 0;
}

static int parse_labels(struct loader *ld, const config_setting_t *group, struct agent_config *cfg)
{
	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "labels must be a group: labels = { dc = \"dc1\"; };");
	int n = config_setting_length(group);
	if (n > AGENT_MAX_LABELS)
		return fail_at(ld, group, "too many labels (at most %d)", AGENT_MAX_LABELS);
	cfg->n_labels = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		struct agent_label *l = &cfg->labels[cfg->n_labels];
		if (strlen(config_setting_name(s)) >= sizeof(l->key))
			return fail_at(ld, s, "label name too long");
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail_at(ld, s, "label %s must be a string", config_setting_name(s));
		const char *v = config_setting_get_string(s);
		if (strlen(v) >= sizeof(l->value))
			return fail_at(ld, s, "label %s: value too long", config_setting_name(s));
		snprintf(l->key, sizeof(l->key), "%s", config_setting_name(s));
		snprintf(l->value, sizeof(l->value), "%s", v);
		cfg->n_labels++;
	}
	return 0;
}

static int parse_tls(struct loader *ld, const config_setting_t *group, struct agent_config *cfg,
		     bool seen[3])
{
	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return fail_at(ld, group, "tls must be a group: tls = { ca = \"...\"; cert = \"...\"; key = \"...\"; };");
	int n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *key = config_setting_name(s);
		int r;
		if (strcmp(key, "ca") == 0) {
			r = get_path(ld, s, cfg->tls_ca, sizeof(cfg->tls_ca));
			seen[0] = true;
		} else if (strcmp(key, "cert") == 0) {
			r = get_path(ld, s, cfg->tls_cert, sizeof(cfg->tls_cert));
			seen[1] = true;
		} else if (strcmp(key, "key") == 0) {
			r = get_path(ld, s, cfg->tls_key, sizeof(cfg->tls_key));
			seen[2] = true;
		} else {
			r = fail_at(ld, s, "unknown key tls.%s (known: ca, cert, key)", key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_setting(struct loader *ld, const config_setting_t *s, struct agent_config *cfg,
			 bool tls_seen[3], const config_setting_t **tls_group)
{
	const char *key = config_setting_name(s);
	if (strcmp(key, "name") == 0)
		return get_string(ld, s, cfg->name, sizeof(cfg->name));
	if (strcmp(key, "labels") == 0)
		return parse_labels(ld, s, cfg);
	if (strcmp(key, "listen_unix") == 0) {
		int r = get_path(ld, s, cfg->listen_unix, sizeof(cfg->listen_unix));
		if (r == 0 && strrchr(cfg->listen_unix, '/') == cfg->listen_unix)
			return fail_at(ld, s, "listen_unix must be in a directory of its own, not /");
		return r;
	}
	if (strcmp(key, "listen_tls") == 0) {
		int r = get_string(ld, s, cfg->listen_tls, sizeof(cfg->listen_tls));
		if (r < 0)
			return r;
		if (host_port_split(cfg->listen_tls, cfg->tls_host, sizeof(cfg->tls_host), &cfg->tls_port) < 0)
			return fail_at(ld, s, "listen_tls must be ADDRESS:PORT or [IPV6]:PORT, got \"%s\"",
				       cfg->listen_tls);
		return 0;
	}
	if (strcmp(key, "tls") == 0) {
		*tls_group = s;
		return parse_tls(ld, s, cfg, tls_seen);
	}
	if (strcmp(key, "state_dir") == 0)
		return get_path(ld, s, cfg->state_dir, sizeof(cfg->state_dir));
	if (strcmp(key, "max_fault_duration") == 0) {
		char text[64];
		int r = get_string(ld, s, text, sizeof(text));
		if (r < 0)
			return r;
		uint64_t ms;
		if (duration_parse(text, &ms) < 0 || ms == 0)
			return fail_at(ld, s, "max_fault_duration: \"%s\" is not a duration like \"30s\", \"5m\", \"1h\"",
				       text);
		cfg->max_fault_duration_ms = ms;
		return 0;
	}
	if (strcmp(key, "max_faults") == 0) {
		if (config_setting_type(s) != CONFIG_TYPE_INT)
			return fail_at(ld, s, "max_faults must be an integer");
		int v = config_setting_get_int(s);
		if (v < 1 || v > 4096)
			return fail_at(ld, s, "max_faults must be between 1 and 4096, got %d", v);
		cfg->max_faults = v;
		return 0;
	}
	if (strcmp(key, "packet_backend") == 0) {
		int r = get_string(ld, s, cfg->packet_backend, sizeof(cfg->packet_backend));
		if (r < 0)
			return fail_at(ld, s, "packet_backend must be \"auto\", \"tcx\" or \"clsact\"");
		if (strcmp(cfg->packet_backend, "auto") && strcmp(cfg->packet_backend, "tcx") &&
		    strcmp(cfg->packet_backend, "clsact"))
			return fail_at(ld, s, "packet_backend must be \"auto\", \"tcx\" or \"clsact\", got \"%s\"",
				       cfg->packet_backend);
		return 0;
	}
	if (strcmp(key, "shape_backend") == 0) {
		int r = get_string(ld, s, cfg->shape_backend, sizeof(cfg->shape_backend));
		if (r < 0 || (strcmp(cfg->shape_backend, "auto") && strcmp(cfg->shape_backend, "netem") &&
			      strcmp(cfg->shape_backend, "delay-line")))
			return fail_at(ld, s, "shape_backend must be \"auto\", \"netem\" or \"delay-line\"");
		return 0;
	}
	if (strcmp(key, "guardian") == 0) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail_at(ld, s, "guardian must be true or false");
		cfg->guardian = config_setting_get_bool(s);
		return 0;
	}
	return fail_at(ld, s, "unknown key %s (known: name, labels, listen_unix, listen_tls, tls, state_dir, "
		       "max_fault_duration, max_faults, packet_backend, shape_backend, guardian)", key);
}

int agent_config_load(const char *file, struct agent_config *out, char *err, size_t err_len)
{
	struct loader ld = { .file = file, .err = err, .err_len = err_len };
	const char *slash = strrchr(file, '/');
	if (!slash)
		snprintf(ld.dir, sizeof(ld.dir), ".");
	else if (slash == file)
		snprintf(ld.dir, sizeof(ld.dir), "/");
	else
		snprintf(ld.dir, sizeof(ld.dir), "%.*s", (int)(slash - file), file);

	struct agent_config *cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	agent_config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", file);

	config_t lc;
	config_init(&lc);
	config_set_include_dir(&lc, ld.dir);
	int r = 0;
	FILE *f = fopen(file, "r");
	if (!f) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", file, strerror(errno));
		goto out;
	}
	if (config_read(&lc, f) != CONFIG_TRUE) {
		snprintf(err, err_len, "%s:%d: %s", config_error_file(&lc) ? config_error_file(&lc) : file,
			 config_error_line(&lc), config_error_text(&lc));
		r = -EINVAL;
		goto out;
	}
	const config_setting_t *root = config_root_setting(&lc);
	bool tls_seen[3] = { false, false, false };
	const config_setting_t *tls_group = NULL;
	int n = config_setting_length(root);
	for (int i = 0; i < n && r == 0; i++)
		r = parse_setting(&ld, config_setting_get_elem(root, (unsigned)i), cfg, tls_seen, &tls_group);
	if (r < 0)
		goto out;
	if (cfg->listen_tls[0] && !(tls_seen[0] && tls_seen[1] && tls_seen[2])) {
		r = fail_at(&ld, tls_group ? tls_group : config_lookup(&lc, "listen_tls"),
			    "listen_tls needs tls = { ca = ...; cert = ...; key = ...; } with all three files");
		goto out;
	}
	if (!cfg->listen_tls[0] && tls_group) {
		r = fail_at(&ld, tls_group, "tls is set but listen_tls is not");
		goto out;
	}
	*out = *cfg;
out:
	if (f)
		fclose(f);
	config_destroy(&lc);
	free(cfg);
	return r;
}
