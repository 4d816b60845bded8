#include "scheduler/experiment.h"

#include <errno.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <stdarg.h>
#include <libgen.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/netaddr.h"
#include "faults/registry.h"

/* What a loader needs to report problems: the list, and the file libconfig
 * attributes settings to when it knows nothing better. */
struct ctx {
	struct diags *d;
	const char *file;
	char *include_dir;
};

/* libconfig names an included file by its @include text, relative to the include
 * directory (the top file's directory); people and paths need it from the cwd. */
static void setting_file(const struct ctx *c, const config_setting_t *s, char *buf, size_t len)
{
	const char *f = s ? config_setting_source_file(s) : NULL;
	if (!f)
		f = c->file;
	if (f[0] != '/' && strcmp(f, c->file) != 0 && c->include_dir && strcmp(c->include_dir, ".") != 0)
		snprintf(buf, len, "%s/%s", c->include_dir, f);
	else
		snprintf(buf, len, "%s", f);
}

__attribute__((format(printf, 3, 4)))
static void problem(struct ctx *c, const config_setting_t *where, const char *fmt, ...)
{
	char file[PATH_MAX];
	setting_file(c, where, file, sizeof(file));
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	diags_add(c->d, file, where ? (int)config_setting_source_line(where) : 0, "%s", msg ? msg : "out of memory");
	free(msg);
}

#define PROBLEM(c, where, ...) problem((c), (where), __VA_ARGS__)

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "something else";
	}
}

/* Path of a setting for messages: "targets.web.count", "method[2].duration". */
static void setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *chain[32];
	int n = 0;
	for (const config_setting_t *p = s; p && !config_setting_is_root(p) && n < 32;
	     p = config_setting_parent(p))
		chain[n++] = p;
	size_t used = 0;
	buf[0] = '\0';
	for (int i = n - 1; i >= 0 && used < len; i--) {
		const char *name = config_setting_name(chain[i]);
		int w;
		if (name)
			w = snprintf(buf + used, len - used, "%s%s", used ? "." : "", name);
		else
			w = snprintf(buf + used, len - used, "[%d]", config_setting_index(chain[i]));
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void check_keys(struct ctx *c, const config_setting_t *group, const char *const *allowed)
{
	int n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		bool known = false;
		for (size_t k = 0; allowed[k]; k++)
			if (strcmp(allowed[k], name) == 0)
				known = true;
		if (!known) {
			char path[256];
			setting_path(m, path, sizeof(path));
			char list[256] = "";
			size_t used = 0;
			for (size_t k = 0; allowed[k] && used < sizeof(list); k++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 k ? ", " : "", allowed[k]);
			PROBLEM(c, m, "unknown key '%s' (allowed here: %s)", path, list);
		}
	}
}

static bool expect_group(struct ctx *c, const config_setting_t *s)
{
	if (config_setting_is_group(s))
		return true;
	char path[256];
	setting_path(s, path, sizeof(path));
	PROBLEM(c, s, "'%s' must be a group { ... }, not %s", path, type_name(s));
	return false;
}

/* Required keys report their absence at the enclosing group's line. */
static const config_setting_t *member(struct ctx *c, const config_setting_t *group, const char *key,
				      bool required)
{
	const config_setting_t *m = config_setting_get_member(group, key);
	if (!m && required) {
		char path[256];
		setting_path(group, path, sizeof(path));
		if (path[0])
			PROBLEM(c, group, "missing required key '%s' in '%s'", key, path);
		else
			PROBLEM(c, group, "missing required key '%s'", key);
	}
	return m;
}

static int get_string(struct ctx *c, const config_setting_t *group, const char *key, bool required,
		      char **out)
{
	const config_setting_t *m = member(c, group, key, required);
	if (!m)
		return required ? -EINVAL : -ENOENT;
	const char *v = config_setting_get_string(m);
	if (!v) {
		char path[256];
		setting_path(m, path, sizeof(path));
		PROBLEM(c, m, "'%s' must be a string, not %s", path, type_name(m));
		return -EINVAL;
	}
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

static int duration_of(struct ctx *c, const config_setting_t *m, uint64_t *ms)
{
	char path[256];
	setting_path(m, path, sizeof(path));
	const char *v = config_setting_get_string(m);
	if (!v) {
		if (config_setting_is_number(m))
			PROBLEM(c, m, "'%s' must be a duration string with a unit, e.g. \"10s\" (not %s)",
				path, type_name(m));
		else
			PROBLEM(c, m, "'%s' must be a duration string like \"10s\", not %s", path, type_name(m));
		return -EINVAL;
	}
	int r = duration_parse(v, ms);
	if (r == -ERANGE) {
		PROBLEM(c, m, "'%s': duration \"%s\" is too large", path, v);
		return r;
	}
	if (r) {
		PROBLEM(c, m, "'%s': bad duration \"%s\" (a number and a unit: ms, s, m, h, d; e.g. \"1m30s\")",
			path, v);
		return r;
	}
	return 0;
}

static int get_duration(struct ctx *c, const config_setting_t *group, const char *key, bool required,
			uint64_t *ms)
{
	const config_setting_t *m = member(c, group, key, required);
	if (!m)
		return required ? -EINVAL : -ENOENT;
	return duration_of(c, m, ms);
}

static int get_integer(struct ctx *c, const config_setting_t *group, const char *key, long long min,
		       long long max, long long *out)
{
	const config_setting_t *m = config_setting_get_member(group, key);
	if (!m)
		return -ENOENT;
	char path[256];
	setting_path(m, path, sizeof(path));
	int t = config_setting_type(m);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
		PROBLEM(c, m, "'%s' must be an integer, not %s", path, type_name(m));
		return -EINVAL;
	}
	long long v = config_setting_get_int64(m);
	if (v < min || v > max) {
		PROBLEM(c, m, "'%s' = %lld is out of range [%lld, %lld]", path, v, min, max);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

static char *file_dir(const char *file)
{
	char *copy = strdup(file ? file : ".");
	if (!copy)
		return NULL;
	char *dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

/* Relative paths in a file are relative to the directory of the file that holds the setting. */
static char *resolve_path(const struct ctx *c, const config_setting_t *where, const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char file[PATH_MAX];
	setting_file(c, where, file, sizeof(file));
	char *dir = file_dir(file);
	if (!dir)
		return NULL;
	char *out = NULL;
	if (strcmp(dir, ".") == 0)
		out = strdup(path);
	else if (asprintf(&out, "%s/%s", dir, path) < 0)
		out = NULL;
	free(dir);
	return out;
}

/* ------------------------------------------------------------------ inventory */

static void host_free(struct host *h)
{
	free(h->name);
	free(h->agent);
	for (size_t j = 0; j < h->n_labels; j++) {
		free(h->label_keys[j]);
		free(h->label_values[j]);
	}
	free(h->label_keys);
	free(h->label_values);
	for (size_t j = 0; j < h->n_addresses; j++)
		free(h->addresses[j]);
	free(h->addresses);
}

void inventory_free(struct inventory *inv)
{
	free(inv->tls.ca);
	free(inv->tls.cert);
	free(inv->tls.key);
	for (size_t i = 0; i < inv->n_hosts; i++)
		host_free(&inv->hosts[i]);
	free(inv->hosts);
	memset(inv, 0, sizeof(*inv));
}

struct label_set host_labels(const struct host *h)
{
	return (struct label_set){
		.keys = (const char *const *)h->label_keys,
		.values = (const char *const *)h->label_values,
		.count = h->n_labels,
	};
}

static int add_label(struct host *h, const char *key, const char *value)
{
	char **keys = realloc(h->label_keys, (h->n_labels + 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	h->label_keys = keys;
	char **values = realloc(h->label_values, (h->n_labels + 1) * sizeof(*values));
	if (!values)
		return -ENOMEM;
	h->label_values = values;
	keys[h->n_labels] = strdup(key);
	values[h->n_labels] = strdup(value);
	if (!keys[h->n_labels] || !values[h->n_labels]) {
		free(keys[h->n_labels]);
		free(values[h->n_labels]);
		return -ENOMEM;
	}
	h->n_labels++;
	return 0;
}

static void check_agent_address(struct ctx *c, const config_setting_t *where, const char *agent,
				bool *needs_tls)
{
	if (strncmp(agent, "unix:", 5) == 0) {
		if (!agent[5])
			PROBLEM(c, where, "agent \"%s\": empty socket path after 'unix:'", agent);
		return;
	}
	if (strncmp(agent, "https://", 8) == 0) {
		char host[256];
		uint16_t port;
		const char *hp = agent + 8;
		size_t len = strcspn(hp, "/");
		char buf[300];
		snprintf(buf, sizeof(buf), "%.*s", (int)len, hp);
		if (host_port_split(buf, host, sizeof(host), &port) || port == 0 || hp[len] != '\0')
			PROBLEM(c, where, "agent \"%s\": expected https://HOST:PORT", agent);
		*needs_tls = true;
		return;
	}
	PROBLEM(c, where, "agent \"%s\": expected \"unix:/path/agent.sock\" or \"https://HOST:PORT\"", agent);
}

static void load_tls(struct ctx *c, const config_setting_t *tls, struct inventory *inv)
{
	static const char *const keys[] = { "ca", "cert", "key", NULL };
	if (!expect_group(c, tls))
		return;
	check_keys(c, tls, keys);
	char **slots[] = { &inv->tls.ca, &inv->tls.cert, &inv->tls.key };
	bool all = true;
	for (int i = 0; i < 3; i++) {
		char *raw = NULL;
		if (get_string(c, tls, keys[i], true, &raw)) {
			all = false;
			continue;
		}
		const config_setting_t *m = config_setting_get_member(tls, keys[i]);
		*slots[i] = resolve_path(c, m, raw);
		free(raw);
		if (*slots[i] && access(*slots[i], R_OK) != 0)
			PROBLEM(c, m, "tls.%s: cannot read %s: %s", keys[i], *slots[i], strerror(errno));
	}
	inv->has_tls = all;
}

static bool is_ip_literal(const char *text)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

static int add_address(struct host *h, const char *addr)
{
	char **grown = realloc(h->addresses, (h->n_addresses + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	h->addresses = grown;
	grown[h->n_addresses] = strdup(addr);
	if (!grown[h->n_addresses])
		return -ENOMEM;
	h->n_addresses++;
	return 0;
}

static bool load_addresses(struct ctx *c, const config_setting_t *as, struct host *h)
{
	if (!config_setting_is_array(as) && !config_setting_is_list(as)) {
		PROBLEM(c, as, "host '%s': addresses must be an array of IP addresses [\"10.0.0.1\", \"fd00::1\"], not %s",
			h->name ? h->name : "?", type_name(as));
		return false;
	}
	bool ok = true;
	if (config_setting_length(as) == 0) {
		PROBLEM(c, as, "host '%s': empty addresses list (leave it out to use the agent's address)",
			h->name ? h->name : "?");
		ok = false;
	}
	for (int i = 0; i < config_setting_length(as); i++) {
		const config_setting_t *el = config_setting_get_elem(as, (unsigned)i);
		const char *v = config_setting_get_string(el);
		if (!v) {
			PROBLEM(c, el, "host '%s': addresses must be strings, not %s", h->name ? h->name : "?", type_name(el));
			ok = false;
		} else if (!is_ip_literal(v)) {
			PROBLEM(c, el, "host '%s': \"%s\" is not an IPv4 or IPv6 address", h->name ? h->name : "?", v);
			ok = false;
		} else if (add_address(h, v)) {
			ok = false;
		}
	}
	return ok;
}

/* "https://10.0.0.1:7070" -> "10.0.0.1", "https://[fd00::1]:7070" -> "fd00::1"; names give nothing */
static int default_address(struct host *h)
{
	if (strncmp(h->agent, "https://", 8) != 0)
		return 0;
	char host[256];
	uint16_t port;
	char buf[300];
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(h->agent + 8, "/"), h->agent + 8);
	if (host_port_split(buf, host, sizeof(host), &port) || !is_ip_literal(host))
		return 0;
	return add_address(h, host);
}

static void load_host(struct ctx *c, const config_setting_t *hs, struct inventory *inv,
		      bool *needs_tls, const config_setting_t **first_https)
{
	static const char *const keys[] = { "name", "agent", "labels", "addresses", NULL };
	if (!expect_group(c, hs))
		return;
	check_keys(c, hs, keys);
	struct host h = { 0 };
	bool ok = get_string(c, hs, "name", true, &h.name) == 0;
	ok &= get_string(c, hs, "agent", true, &h.agent) == 0;
	if (ok && !h.name[0]) {
		PROBLEM(c, hs, "host name must not be empty");
		ok = false;
	}
	for (size_t i = 0; ok && i < inv->n_hosts; i++)
		if (strcmp(inv->hosts[i].name, h.name) == 0) {
			PROBLEM(c, hs, "duplicate host name \"%s\"", h.name);
			ok = false;
		}
	if (ok) {
		const config_setting_t *am = config_setting_get_member(hs, "agent");
		bool https = false;
		check_agent_address(c, am, h.agent, &https);
		if (https) {
			*needs_tls = true;
			if (!*first_https)
				*first_https = am;
		} else if (strncmp(h.agent, "unix:", 5) == 0 && h.agent[5] && h.agent[5] != '/') {
			char *abs = resolve_path(c, am, h.agent + 5);
			char *full = NULL;
			if (abs && asprintf(&full, "unix:%s", abs) >= 0) {
				free(h.agent);
				h.agent = full;
			}
			free(abs);
		}
	}
	const config_setting_t *labels = config_setting_get_member(hs, "labels");
	bool has_name_label = false;
	if (labels && expect_group(c, labels)) {
		int n = config_setting_length(labels);
		for (int i = 0; i < n; i++) {
			const config_setting_t *l = config_setting_get_elem(labels, (unsigned)i);
			const char *v = config_setting_get_string(l);
			char num[32];
			if (!v && (config_setting_type(l) == CONFIG_TYPE_INT ||
				   config_setting_type(l) == CONFIG_TYPE_INT64)) {
				snprintf(num, sizeof(num), "%lld", config_setting_get_int64(l));
				v = num;
			}
			if (!v) {
				PROBLEM(c, l, "label '%s' must be a string, not %s", config_setting_name(l),
					type_name(l));
				continue;
			}
			if (strcmp(config_setting_name(l), "name") == 0)
				has_name_label = true;
			if (add_label(&h, config_setting_name(l), v))
				ok = false;
		}
	}
	if (ok && !has_name_label && add_label(&h, "name", h.name))
		ok = false;
	const config_setting_t *as = config_setting_get_member(hs, "addresses");
	if (as)
		ok &= load_addresses(c, as, &h);
	else if (ok && default_address(&h))
		ok = false;
	if (!ok) {
		host_free(&h);
		return;
	}
	struct host *grown = realloc(inv->hosts, (inv->n_hosts + 1) * sizeof(*grown));
	if (!grown) {
		host_free(&h);
		return;
	}
	inv->hosts = grown;
	inv->hosts[inv->n_hosts++] = h;
}

/* What the https-needs-tls check needs once every part of an inventory is read. */
struct tls_need {
	bool needed;
	bool given;
	char file[PATH_MAX];
	int line;
};

static void load_hosts_and_tls(struct ctx *c, const config_setting_t *g, struct inventory *inv,
			       struct tls_need *need)
{
	const config_setting_t *tls = config_setting_get_member(g, "tls");
	if (tls && need->given) {
		PROBLEM(c, tls, "a second 'tls' group: the inventory has one client certificate");
	} else if (tls) {
		need->given = true;
		load_tls(c, tls, inv);
	}
	const config_setting_t *hosts = member(c, g, "hosts", true);
	if (!hosts)
		return;
	if (!config_setting_is_list(hosts)) {
		PROBLEM(c, hosts, "'hosts' must be a list ( {...}, ... ), not %s", type_name(hosts));
		return;
	}
	if (config_setting_length(hosts) == 0)
		PROBLEM(c, hosts, "'hosts' is empty");
	bool needs_tls = false;
	const config_setting_t *first_https = NULL;
	for (int i = 0; i < config_setting_length(hosts); i++)
		load_host(c, config_setting_get_elem(hosts, (unsigned)i), inv, &needs_tls, &first_https);
	if (needs_tls && !need->needed) {
		need->needed = true;
		setting_file(c, first_https, need->file, sizeof(need->file));
		need->line = config_setting_source_line(first_https);
	}
}

static void check_tls_need(struct ctx *c, const struct tls_need *need)
{
	if (need->needed && !need->given)
		diags_add(c->d, need->file, need->line,
			  "https agents need 'inventory.tls = { ca; cert; key; }' (client certificate)");
}

static void load_inventory_group(struct ctx *c, const config_setting_t *g, struct inventory *inv)
{
	static const char *const keys[] = { "tls", "hosts", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	struct tls_need need = { 0 };
	load_hosts_and_tls(c, g, inv, &need);
	check_tls_need(c, &need);
}

static int read_config(config_t *cfg, const char *path, struct diags *d)
{
	config_init(cfg);
	char *dir = file_dir(path);
	if (!dir)
		return -ENOMEM;
	/* @include paths are relative to the including file's directory */
	config_set_include_dir(cfg, dir);
	free(dir);
	if (access(path, R_OK) != 0) {
		int err = errno;
		diags_add(d, path, 0, "cannot read: %s", strerror(err));
		return -err;
	}
	if (config_read_file(cfg, path) != CONFIG_TRUE) {
		const char *file = config_error_file(cfg);
		char full[PATH_MAX];
		const char *inc = config_get_include_dir(cfg);
		if (file && file[0] != '/' && strcmp(file, path) != 0 && inc && strcmp(inc, ".") != 0)
			snprintf(full, sizeof(full), "%s/%s", inc, file);
		else
			snprintf(full, sizeof(full), "%s", file ? file : path);
		diags_add(d, full, config_error_line(cfg), "syntax error: %s", config_error_text(cfg));
		return -EINVAL;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.cfg of `dir`, sorted, each with top-level `hosts = (...)` and maybe `tls`. */
static void load_inventory_dir(struct diags *d, const char *dir, struct inventory *inv)
{
	DIR *dh = opendir(dir);
	if (!dh) {
		diags_add(d, dir, 0, "cannot read the inventory directory: %s", strerror(errno));
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dh))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".cfg") != 0)
			continue;
		char **grown = realloc(names, (n + 1) * sizeof(*grown));
		if (!grown)
			break;
		names = grown;
		if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
			break;
		n++;
	}
	closedir(dh);
	if (n == 0)
		diags_add(d, dir, 0, "the inventory directory holds no *.cfg file");
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	struct tls_need need = { 0 };
	struct ctx first = { .d = d, .file = dir };
	static const char *const keys[] = { "tls", "hosts", NULL };
	for (size_t i = 0; i < n; i++) {
		config_t cfg;
		if (read_config(&cfg, names[i], d) == 0) {
			struct ctx c = { .d = d, .file = names[i], .include_dir = file_dir(names[i]) };
			const config_setting_t *root = config_root_setting(&cfg);
			check_keys(&c, root, keys);
			load_hosts_and_tls(&c, root, inv, &need);
			free(c.include_dir);
		}
		config_destroy(&cfg);
		free(names[i]);
	}
	free(names);
	check_tls_need(&first, &need);
}

static bool is_directory(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int inventory_load(const char *path, struct inventory *out, struct diags *d)
{
	if (is_directory(path)) {
		size_t before = d->count;
		struct inventory inv = { 0 };
		load_inventory_dir(d, path, &inv);
		if (d->count > before) {
			inventory_free(&inv);
			return -EINVAL;
		}
		*out = inv;
		return 0;
	}
	config_t cfg;
	size_t before = d->count;
	int r = read_config(&cfg, path, d);
	if (r) {
		config_destroy(&cfg);
		return r == -ENOMEM ? r : -EINVAL;
	}
	struct ctx c = { .d = d, .file = path, .include_dir = file_dir(path) };
	struct inventory inv = { 0 };
	const config_setting_t *root = config_root_setting(&cfg);
	const config_setting_t *g = config_setting_get_member(root, "inventory");
	if (!g)
		diags_add(d, path, 0, "no 'inventory = { tls = {...}; hosts = (...); };' in this file");
	else
		load_inventory_group(&c, g, &inv);
	config_destroy(&cfg);
	free(c.include_dir);
	if (d->count > before) {
		inventory_free(&inv);
		return -EINVAL;
	}
	*out = inv;
	return 0;
}

/* ------------------------------------------------------------------ fault params */

struct json_object *setting_to_json(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: {
		struct json_object *o = json_object_new_object();
		for (int i = 0; o && i < config_setting_length(s); i++) {
			const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
			struct json_object *v = setting_to_json(m);
			if (!v) {
				json_object_put(o);
				return NULL;
			}
			json_object_object_add(o, config_setting_name(m), v);
		}
		return o;
	}
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST: {
		struct json_object *a = json_object_new_array();
		for (int i = 0; a && i < config_setting_length(s); i++) {
			struct json_object *v = setting_to_json(config_setting_get_elem(s, (unsigned)i));
			if (!v) {
				json_object_put(a);
				return NULL;
			}
			json_object_array_add(a, v);
		}
		return a;
	}
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return json_object_new_int64(config_setting_get_int64(s));
	case CONFIG_TYPE_FLOAT:
		return json_object_new_double(config_setting_get_float(s));
	case CONFIG_TYPE_BOOL:
		return json_object_new_boolean(config_setting_get_bool(s));
	case CONFIG_TYPE_STRING:
		return json_object_new_string(config_setting_get_string(s));
	default:
		return json_object_new_null();
	}
}

const config_setting_t *params_setting_for_key(const config_setting_t *params, const char *key)
{
	const config_setting_t *cur = params;
	const char *p = key ? key : "";
	while (cur && *p) {
		if (*p == '.') {
			p++;
			continue;
		}
		if (*p == '[') {
			char *end;
			long idx = strtol(p + 1, &end, 10);
			if (*end != ']' || idx < 0 || !config_setting_is_aggregate(cur))
				break;
			const config_setting_t *next = config_setting_get_elem(cur, (unsigned)idx);
			if (!next)
				break;
			cur = next;
			p = end + 1;
			continue;
		}
		size_t len = strcspn(p, ".[");
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (!config_setting_is_group(cur))
			break;
		const config_setting_t *next = config_setting_get_member(cur, name);
		if (!next)
			break;
		cur = next;
		p += len;
	}
	return cur;
}

/* ------------------------------------------------------------------ targets */

static void free_target(struct target *t)
{
	free(t->name);
	free(t->select_text);
	selector_free(&t->sel);
	free(t->chosen);
}

static void resolve_target(struct ctx *c, const config_setting_t *where, struct target *t,
			   const struct inventory *inv)
{
	size_t *matches = calloc(inv->n_hosts + 1, sizeof(*matches));
	const char **names = calloc(inv->n_hosts + 1, sizeof(*names));
	size_t *order = calloc(inv->n_hosts + 1, sizeof(*order));
	if (!matches || !names || !order)
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < inv->n_hosts; i++) {
		struct label_set ls = host_labels(&inv->hosts[i]);
		if (selector_matches(&t->sel, &ls)) {
			names[n] = inv->hosts[i].name;
			matches[n++] = i;
		}
	}
	t->n_matches = n;
	if (n == 0) {
		PROBLEM(c, where, "target '%s': selector \"%s\" matches no host of the inventory (%zu hosts)",
			t->name, t->select_text, inv->n_hosts);
		goto out;
	}
	size_t want = n;
	if (t->mode == TARGET_COUNT) {
		if ((size_t)t->count > n) {
			PROBLEM(c, where, "target '%s': count = %ld but the selector matches only %zu host(s)",
				t->name, t->count, n);
			goto out;
		}
		want = (size_t)t->count;
	} else if (t->mode == TARGET_PERCENT) {
		want = percent_count(t->percent, n);
	}
	if (select_hosts(names, n, want, t->seed, order))
		goto out;
	t->chosen = calloc(want, sizeof(*t->chosen));
	if (!t->chosen)
		goto out;
	for (size_t i = 0; i < want; i++)
		t->chosen[i] = matches[order[i]];
	t->n_chosen = want;
	/* the choice is made; listing it by name reads better */
	for (size_t i = 1; i < want; i++) {
		size_t v = t->chosen[i], j = i;
		while (j > 0 && strcmp(inv->hosts[t->chosen[j - 1]].name, inv->hosts[v].name) > 0) {
			t->chosen[j] = t->chosen[j - 1];
			j--;
		}
		t->chosen[j] = v;
	}
out:
	free(matches);
	free(names);
	free(order);
}

static void load_targets(struct ctx *c, const config_setting_t *g, struct experiment *e, bool have_inv)
{
	if (!expect_group(c, g))
		return;
	int n = config_setting_length(g);
	e->targets = calloc((size_t)n + 1, sizeof(*e->targets));
	if (!e->targets)
		return;
	static const char *const keys[] = { "select", "count", "percent", "seed", NULL };
	for (int i = 0; i < n; i++) {
		const config_setting_t *ts = config_setting_get_elem(g, (unsigned)i);
		struct target *t = &e->targets[e->n_targets];
		t->name = strdup(config_setting_name(ts));
		e->n_targets++;
		if (!expect_group(c, ts))
			continue;
		check_keys(c, ts, keys);
		bool ok = get_string(c, ts, "select", true, &t->select_text) == 0;
		if (ok) {
			char err[400];
			if (selector_parse(t->select_text, &t->sel, err, sizeof(err))) {
				PROBLEM(c, config_setting_get_member(ts, "select"), "target '%s': %s", t->name, err);
				ok = false;
			}
		}
		long long v;
		const config_setting_t *cm = config_setting_get_member(ts, "count");
		const config_setting_t *pm = config_setting_get_member(ts, "percent");
		if (cm && pm) {
			PROBLEM(c, pm, "target '%s': give count or percent, not both", t->name);
			ok = false;
		}
		int r = get_integer(c, ts, "count", 1, INT_MAX, &v);
		if (r == 0) {
			t->mode = TARGET_COUNT;
			t->count = (long)v;
		} else if (r != -ENOENT) {
			ok = false;
		}
		if (pm) {
			if (!config_setting_is_number(pm)) {
				PROBLEM(c, pm, "target '%s': percent must be a number, not %s", t->name, type_name(pm));
				ok = false;
			} else {
				double p = config_setting_type(pm) == CONFIG_TYPE_FLOAT ? config_setting_get_float(pm)
					   : (double)config_setting_get_int64(pm);
				if (!(p > 0 && p <= 100)) {
					PROBLEM(c, pm, "target '%s': percent = %g is outside (0, 100]", t->name, p);
					ok = false;
				} else if (!cm) {
					t->mode = TARGET_PERCENT;
					t->percent = p;
				}
			}
		}
		r = get_integer(c, ts, "seed", 0, LLONG_MAX, &v);
		if (r == 0) {
			t->seed = (uint64_t)v;
			t->seed_given = true;
		} else if (r != -ENOENT) {
			ok = false;
		}
		if (ok && have_inv)
			resolve_target(c, ts, t, &e->inv);
	}
}

/* ------------------------------------------------------------------ probes */

static void free_probe(struct probe *p)
{
	free(p->name);
	for (size_t i = 0; i < p->n_urls; i++)
		free(p->urls[i]);
	free(p->urls);
	free(p->prom_url);
	free(p->query);
	free(p->statuses);
	free(p->address);
	free(p->run);
	free(p->regex_text);
	if (p->has_regex)
		regfree(&p->regex);
}

static void compile_regex(struct ctx *c, const config_setting_t *g, const char *key, struct probe *p)
{
	if (get_string(c, g, key, false, &p->regex_text))
		return;
	int r = regcomp(&p->regex, p->regex_text, PROBE_REGEX_FLAGS);
	if (r) {
		char msg[200];
		regerror(r, &p->regex, msg, sizeof(msg));
		PROBLEM(c, config_setting_get_member(g, key), "probe '%s': %s regex \"%s\" does not compile: %s",
			p->name ? p->name : "?", key, p->regex_text, msg);
		return;
	}
	p->has_regex = true;
}

static void load_http(struct ctx *c, const config_setting_t *g, struct probe *p)
{
	static const char *const keys[] = { "url", "urls", "status", "body", "max_latency", "timeout", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	const config_setting_t *one = config_setting_get_member(g, "url");
	const config_setting_t *many = config_setting_get_member(g, "urls");
	if (one && many) {
		PROBLEM(c, many, "probe '%s': give url or urls, not both", p->name ? p->name : "?");
	} else if (!one && !many) {
		PROBLEM(c, g, "probe '%s': missing required key 'url' (or 'urls' for client-side failover)",
			p->name ? p->name : "?");
	} else if (many && !config_setting_is_array(many) && !config_setting_is_list(many)) {
		PROBLEM(c, many, "probe '%s': urls must be an array of URLs [\"http://a\", \"http://b\"], not %s",
			p->name ? p->name : "?", type_name(many));
	} else {
		int n = many ? config_setting_length(many) : 1;
		if (n == 0)
			PROBLEM(c, many, "probe '%s': urls is empty", p->name ? p->name : "?");
		p->urls = calloc((size_t)n + 1, sizeof(*p->urls));
		for (int i = 0; p->urls && i < n; i++) {
			const config_setting_t *el = many ? config_setting_get_elem(many, (unsigned)i) : one;
			const char *v = config_setting_get_string(el);
			if (!v) {
				PROBLEM(c, el, "probe '%s': a url must be a string, not %s", p->name ? p->name : "?",
					type_name(el));
				continue;
			}
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
				PROBLEM(c, el, "probe '%s': url \"%s\" must start with http:// or https://",
					p->name ? p->name : "?", v);
			p->urls[p->n_urls++] = strdup(v);
		}
		if (p->n_urls && p->urls[0])
			p->url = p->urls[0];
	}
	const config_setting_t *st = config_setting_get_member(g, "status");
	if (st) {
		int t = config_setting_type(st);
		bool list = config_setting_is_array(st) || config_setting_is_list(st);
		int n = list ? config_setting_length(st) : 1;
		p->statuses = calloc((size_t)n + 1, sizeof(*p->statuses));
		for (int i = 0; p->statuses && i < n; i++) {
			const config_setting_t *el = list ? config_setting_get_elem(st, (unsigned)i) : st;
			t = config_setting_type(el);
			if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
				PROBLEM(c, el, "probe '%s': status must be an HTTP status code or a list of them, not %s",
					p->name ? p->name : "?", type_name(el));
				break;
			}
			long long code = config_setting_get_int64(el);
			if (code < 100 || code > 599) {
				PROBLEM(c, el, "probe '%s': status %lld is not an HTTP status code (100..599)",
					p->name ? p->name : "?", code);
				break;
			}
			p->statuses[p->n_statuses++] = (long)code;
		}
		if (list && n == 0)
			PROBLEM(c, st, "probe '%s': empty status list", p->name ? p->name : "?");
	}
	compile_regex(c, g, "body", p);
	get_duration(c, g, "max_latency", false, &p->max_latency_ms);
	if (get_duration(c, g, "timeout", false, &p->timeout_ms) == -ENOENT)
		p->timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
}

static void load_tcp(struct ctx *c, const config_setting_t *g, struct probe *p)
{
	static const char *const keys[] = { "address", "timeout", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	if (get_string(c, g, "address", true, &p->address) == 0) {
		char host[256];
		uint16_t port;
		if (host_port_split(p->address, host, sizeof(host), &port) || port == 0)
			PROBLEM(c, config_setting_get_member(g, "address"),
				"probe '%s': address \"%s\" must be HOST:PORT or [V6]:PORT", p->name ? p->name : "?",
				p->address);
	}
	if (get_duration(c, g, "timeout", false, &p->timeout_ms) == -ENOENT)
		p->timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
}

static void load_command(struct ctx *c, const config_setting_t *g, struct probe *p)
{
	static const char *const keys[] = { "run", "exit_code", "stdout", "timeout", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	if (get_string(c, g, "run", true, &p->run) == 0 && !p->run[0])
		PROBLEM(c, config_setting_get_member(g, "run"), "'run' must not be empty");
	long long v;
	if (get_integer(c, g, "exit_code", 0, 255, &v) == 0)
		p->exit_code = (int)v;
	compile_regex(c, g, "stdout", p);
	if (get_duration(c, g, "timeout", false, &p->timeout_ms) == -ENOENT)
		p->timeout_ms = DEFAULT_COMMAND_TIMEOUT_MS;
	else if (p->timeout_ms == 0)
		PROBLEM(c, config_setting_get_member(g, "timeout"), "a timeout of 0 would never let the command run");
}

/* A tolerance value: integer or float. */
static bool get_number(struct ctx *c, const config_setting_t *g, const char *key, const char *probe, double *out)
{
	const config_setting_t *m = config_setting_get_member(g, key);
	if (!m)
		return false;
	int t = config_setting_type(m);
	if (t == CONFIG_TYPE_FLOAT) {
		*out = config_setting_get_float(m);
	} else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		*out = (double)config_setting_get_int64(m);
	} else {
		PROBLEM(c, m, "probe '%s': %s must be a number, not %s", probe, key, type_name(m));
		return false;
	}
	return true;
}

static void load_prometheus(struct ctx *c, const config_setting_t *g, struct probe *p)
{
	static const char *const keys[] = { "url", "query", "below", "above", "equals", "within", "timeout", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	const char *name = p->name ? p->name : "?";
	if (get_string(c, g, "url", true, &p->prom_url) == 0 && strncmp(p->prom_url, "http://", 7) != 0 &&
	    strncmp(p->prom_url, "https://", 8) != 0)
		PROBLEM(c, config_setting_get_member(g, "url"),
			"probe '%s': url \"%s\" must start with http:// or https:// (the Prometheus server, e.g. "
			"\"http://10.77.0.1:9090\")", name, p->prom_url);
	if (get_string(c, g, "query", true, &p->query) == 0 && !p->query[0])
		PROBLEM(c, config_setting_get_member(g, "query"), "probe '%s': the query is empty", name);
	p->has_below = get_number(c, g, "below", name, &p->below);
	p->has_above = get_number(c, g, "above", name, &p->above);
	p->has_equals = get_number(c, g, "equals", name, &p->equals);
	bool has_within = get_number(c, g, "within", name, &p->within);
	if (p->has_equals && (p->has_below || p->has_above))
		PROBLEM(c, config_setting_get_member(g, "equals"),
			"probe '%s': give equals (with an optional within) or below/above, not both", name);
	else if (!p->has_equals && !p->has_below && !p->has_above && config_setting_get_member(g, "query"))
		PROBLEM(c, g, "probe '%s': no tolerance: give below, above, both, or equals (with within)", name);
	if (config_setting_get_member(g, "within") && !config_setting_get_member(g, "equals"))
		PROBLEM(c, config_setting_get_member(g, "within"), "probe '%s': within only goes with equals", name);
	else if (has_within && p->within < 0)
		PROBLEM(c, config_setting_get_member(g, "within"), "probe '%s': within = %g is negative", name, p->within);
	if (p->has_below && p->has_above && p->above >= p->below)
		PROBLEM(c, config_setting_get_member(g, "below"),
			"probe '%s': above = %g and below = %g leave no value that passes", name, p->above, p->below);
	if (get_duration(c, g, "timeout", false, &p->timeout_ms) == -ENOENT)
		p->timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
}

enum probe_place { PLACE_STEADY_STATE, PLACE_ABORT };

static void load_probe(struct ctx *c, const config_setting_t *ps, struct probe *p, struct probe *earlier,
		       size_t n_earlier, enum probe_place place)
{
	static const char *const steady_keys[] = { "name", "http", "tcp", "command", "prometheus", "expect", NULL };
	static const char *const abort_keys[] = { "name", "http", "tcp", "command", "prometheus", "every", NULL };
	if (!expect_group(c, ps))
		return;
	check_keys(c, ps, place == PLACE_ABORT ? abort_keys : steady_keys);
	if (place == PLACE_ABORT) {
		if (get_duration(c, ps, "every", true, &p->every_ms) == 0 && p->every_ms < 100)
			PROBLEM(c, config_setting_get_member(ps, "every"),
				"abort condition: every must be at least 100ms");
	} else {
		char *expect = NULL;
		if (get_string(c, ps, "expect", false, &expect) == 0) {
			if (strcmp(expect, "deviate") == 0)
				p->expect = EXPECT_DEVIATE;
			else if (strcmp(expect, "ok") != 0)
				PROBLEM(c, config_setting_get_member(ps, "expect"),
					"expect = \"%s\": expected \"ok\" (default) or \"deviate\"", expect);
		}
		free(expect);
	}
	if (get_string(c, ps, "name", true, &p->name) == 0) {
		if (!p->name[0])
			PROBLEM(c, ps, "probe name must not be empty");
		for (size_t i = 0; i < n_earlier; i++)
			if (earlier[i].name && strcmp(earlier[i].name, p->name) == 0)
				PROBLEM(c, ps, "duplicate probe name \"%s\"", p->name);
	}
	const config_setting_t *http = config_setting_get_member(ps, "http");
	const config_setting_t *tcp = config_setting_get_member(ps, "tcp");
	const config_setting_t *cmd = config_setting_get_member(ps, "command");
	const config_setting_t *prom = config_setting_get_member(ps, "prometheus");
	int kinds = !!http + !!tcp + !!cmd + !!prom;
	if (kinds != 1) {
		PROBLEM(c, ps, "probe '%s': give exactly one of http, tcp, command, prometheus (found %d)",
			p->name ? p->name : "?", kinds);
		return;
	}
	if (prom) {
		p->type = PROBE_PROMETHEUS;
		load_prometheus(c, prom, p);
		return;
	}
	if (http) {
		p->type = PROBE_HTTP;
		load_http(c, http, p);
	} else if (tcp) {
		p->type = PROBE_TCP;
		load_tcp(c, tcp, p);
	} else {
		p->type = PROBE_COMMAND;
		load_command(c, cmd, p);
	}
}

static void load_steady_state(struct ctx *c, const config_setting_t *g, struct experiment *e)
{
	static const char *const keys[] = { "probes", "sample_every", "recovery_window", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	if (get_duration(c, g, "sample_every", false, &e->sample_every_ms) == 0 && e->sample_every_ms < 100) {
		PROBLEM(c, config_setting_get_member(g, "sample_every"), "sample_every must be at least 100ms");
		e->sample_every_ms = DEFAULT_SAMPLE_EVERY_MS;
	}
	get_duration(c, g, "recovery_window", false, &e->recovery_window_ms);
	const config_setting_t *list = member(c, g, "probes", true);
	if (!list)
		return;
	if (!config_setting_is_list(list)) {
		PROBLEM(c, list, "'steady_state.probes' must be a list ( {...}, ... ), not %s", type_name(list));
		return;
	}
	int n = config_setting_length(list);
	e->probes = calloc((size_t)n + 1, sizeof(*e->probes));
	if (!e->probes)
		return;
	for (int i = 0; i < n; i++) {
		load_probe(c, config_setting_get_elem(list, (unsigned)i), &e->probes[i], e->probes, (size_t)i,
			   PLACE_STEADY_STATE);
		e->n_probes++;
	}
}

static void load_aborts(struct ctx *c, const config_setting_t *list, struct experiment *e)
{
	if (!config_setting_is_list(list)) {
		PROBLEM(c, list, "'abort_conditions' must be a list ( {...}, ... ), not %s", type_name(list));
		return;
	}
	int n = config_setting_length(list);
	e->aborts = calloc((size_t)n + 1, sizeof(*e->aborts));
	if (!e->aborts)
		return;
	for (int i = 0; i < n; i++) {
		load_probe(c, config_setting_get_elem(list, (unsigned)i), &e->aborts[i], e->aborts, (size_t)i, PLACE_ABORT);
		e->n_aborts++;
	}
}

static void load_rollbacks(struct ctx *c, const config_setting_t *list, struct experiment *e)
{
	if (!config_setting_is_list(list)) {
		PROBLEM(c, list, "'rollbacks' must be a list ( {...}, ... ), not %s", type_name(list));
		return;
	}
	int n = config_setting_length(list);
	e->rollbacks = calloc((size_t)n + 1, sizeof(*e->rollbacks));
	if (!e->rollbacks)
		return;
	static const char *const keys[] = { "name", "command", NULL };
	for (int i = 0; i < n; i++) {
		const config_setting_t *rs = config_setting_get_elem(list, (unsigned)i);
		struct probe *p = &e->rollbacks[e->n_rollbacks++];
		p->type = PROBE_COMMAND;
		if (!expect_group(c, rs))
			continue;
		check_keys(c, rs, keys);
		if (get_string(c, rs, "name", false, &p->name) == -ENOENT) {
			if (asprintf(&p->name, "rollback %d", i + 1) < 0)
				p->name = NULL;
		}
		const config_setting_t *cmd = member(c, rs, "command", true);
		if (cmd)
			load_command(c, cmd, p);
	}
}

/* ------------------------------------------------------------------ method */

static void free_step(struct step *s)
{
	free(s->file);
	free(s->kind);
	json_object_put(s->params);
	json_object_put(s->params_full);
	json_object_put(s->params_b);
	free(s->probes);
}

static void validate_params(struct ctx *c, const config_setting_t *ss, struct step *s,
			    const struct fault_kind *kind)
{
	const config_setting_t *ps = config_setting_get_member(ss, "params");
	if (ps && !expect_group(c, ps))
		return;
	s->params = ps ? setting_to_json(ps) : json_object_new_object();
	if (!s->params)
		return;
	void *spec = NULL;
	struct fault_error err = { 0 };
	int r = kind->parse(s->params, &spec, &err);
	if (r) {
		const config_setting_t *where = ps ? params_setting_for_key(ps, err.key) : ss;
		if (err.key[0])
			PROBLEM(c, where, "%s params: %s: %s", kind->name, err.key, err.msg[0] ? err.msg : strerror(-r));
		else
			PROBLEM(c, where, "%s params: %s", kind->name, err.msg[0] ? err.msg : strerror(-r));
		return;
	}
	if (kind->spec_to_json)
		s->params_full = kind->spec_to_json(spec);
	if (kind->spec_free)
		kind->spec_free(spec);
}

static void load_fault_step(struct ctx *c, const config_setting_t *ss, struct step *s, struct experiment *e)
{
	static const char *const keys[] = { "fault", "target", "duration", "params", NULL };
	check_keys(c, ss, keys);
	s->type = STEP_FAULT;
	s->target = SIZE_MAX;
	if (get_string(c, ss, "fault", true, &s->kind) == 0) {
		const struct fault_kind *kind = fault_kind_find(s->kind);
		if (!kind) {
			char list[256] = "";
			size_t used = 0;
			const struct fault_kind *const *all = fault_kinds();
			for (size_t i = 0; all[i] && used < sizeof(list); i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
							 all[i]->name);
			PROBLEM(c, config_setting_get_member(ss, "fault"), "unknown fault kind \"%s\" (known: %s)",
				s->kind, list);
		} else {
			validate_params(c, ss, s, kind);
		}
	}
	char *target = NULL;
	if (get_string(c, ss, "target", true, &target) == 0) {
		for (size_t i = 0; i < e->n_targets; i++)
			if (e->targets[i].name && strcmp(e->targets[i].name, target) == 0)
				s->target = i;
		if (s->target == SIZE_MAX)
			PROBLEM(c, config_setting_get_member(ss, "target"),
				"target \"%s\" is not defined in 'targets'", target);
	}
	free(target);
	if (get_duration(c, ss, "duration", true, &s->duration_ms) == 0 && s->duration_ms == 0)
		PROBLEM(c, config_setting_get_member(ss, "duration"), "a fault needs a duration above 0");
}

static size_t target_index(const struct experiment *e, const char *name)
{
	for (size_t i = 0; i < e->n_targets; i++)
		if (e->targets[i].name && strcmp(e->targets[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

/* {direction = "both"; match = { peers = [every address of `other`'s hosts] }} */
static struct json_object *partition_params(const struct experiment *e, const struct target *other)
{
	struct json_object *params = json_object_new_object();
	struct json_object *match = json_object_new_object();
	struct json_object *peers = json_object_new_array();
	if (!params || !match || !peers) {
		json_object_put(params);
		json_object_put(match);
		json_object_put(peers);
		return NULL;
	}
	for (size_t i = 0; i < other->n_chosen; i++) {
		const struct host *h = &e->inv.hosts[other->chosen[i]];
		for (size_t j = 0; j < h->n_addresses; j++)
			json_object_array_add(peers, json_object_new_string(h->addresses[j]));
	}
	json_object_object_add(match, "peers", peers);
	json_object_object_add(params, "direction", json_object_new_string("both"));
	json_object_object_add(params, "match", match);
	return params;
}

static void load_partition_step(struct ctx *c, const config_setting_t *ss, struct step *s, struct experiment *e)
{
	static const char *const keys[] = { "partition", "duration", NULL };
	check_keys(c, ss, keys);
	s->type = STEP_PARTITION;
	s->target = s->target_b = SIZE_MAX;
	s->kind = strdup("blackhole");
	if (get_duration(c, ss, "duration", true, &s->duration_ms) == 0 && s->duration_ms == 0)
		PROBLEM(c, config_setting_get_member(ss, "duration"), "a partition needs a duration above 0");
	const config_setting_t *ps = config_setting_get_member(ss, "partition");
	if ((!config_setting_is_array(ps) && !config_setting_is_list(ps)) || config_setting_length(ps) != 2) {
		PROBLEM(c, ps, "'partition' must name two targets, [\"side_a\", \"side_b\"]");
		return;
	}
	size_t *sides[2] = { &s->target, &s->target_b };
	for (unsigned i = 0; i < 2; i++) {
		const config_setting_t *el = config_setting_get_elem(ps, i);
		const char *name = config_setting_get_string(el);
		if (!name) {
			PROBLEM(c, el, "partition sides must be target names (strings), not %s", type_name(el));
			continue;
		}
		*sides[i] = target_index(e, name);
		if (*sides[i] == SIZE_MAX)
			PROBLEM(c, el, "target \"%s\" is not defined in 'targets'", name);
	}
	if (s->target == SIZE_MAX || s->target_b == SIZE_MAX)
		return;
	const struct target *a = &e->targets[s->target], *b = &e->targets[s->target_b];
	if (s->target == s->target_b) {
		PROBLEM(c, ps, "partition: both sides are target '%s'", a->name);
		return;
	}
	if (!a->chosen || !b->chosen)
		return; /* not resolved (no inventory, or the target has its own problem) */
	for (size_t i = 0; i < a->n_chosen; i++)
		for (size_t j = 0; j < b->n_chosen; j++)
			if (a->chosen[i] == b->chosen[j])
				PROBLEM(c, ps, "partition: host %s is on both sides ('%s' and '%s')",
					e->inv.hosts[a->chosen[i]].name, a->name, b->name);
	const struct target *both[2] = { a, b };
	bool addressless = false;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < both[k]->n_chosen; i++) {
			const struct host *h = &e->inv.hosts[both[k]->chosen[i]];
			if (h->n_addresses == 0) {
				addressless = true;
				PROBLEM(c, ps, "partition: host %s has no addresses (give addresses = [...] in the "
					"inventory; its agent \"%s\" is no IP address)", h->name, h->agent);
			}
		}
	if (addressless)
		return;
	s->params = partition_params(e, b);
	s->params_b = partition_params(e, a);
	/* the agent's own parser judges the built params, as it would on apply */
	const struct fault_kind *kind = fault_kind_find("blackhole");
	struct json_object *each[2] = { s->params, s->params_b };
	for (int k = 0; kind && k < 2; k++) {
		void *spec = NULL;
		struct fault_error err = { 0 };
		if (!each[k])
			continue;
		if (kind->parse(each[k], &spec, &err)) {
			PROBLEM(c, ps, "partition: the blackhole it builds is refused: %s: %s", err.key, err.msg);
			continue;
		}
		if (k == 0 && kind->spec_to_json)
			s->params_full = kind->spec_to_json(spec);
		if (kind->spec_free)
			kind->spec_free(spec);
	}
}

static void load_check_step(struct ctx *c, const config_setting_t *ss, struct step *s, struct experiment *e)
{
	static const char *const keys[] = { "check", NULL };
	check_keys(c, ss, keys);
	s->type = STEP_CHECK;
	const config_setting_t *cs = config_setting_get_member(ss, "check");
	bool single = config_setting_type(cs) == CONFIG_TYPE_STRING;
	if (!single && !config_setting_is_array(cs) && !config_setting_is_list(cs)) {
		PROBLEM(c, cs, "'check' must be a probe name or a list of them, not %s", type_name(cs));
		return;
	}
	int n = single ? 1 : config_setting_length(cs);
	if (n == 0)
		PROBLEM(c, cs, "'check' names no probe");
	s->probes = calloc((size_t)n + 1, sizeof(*s->probes));
	if (!s->probes)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *el = single ? cs : config_setting_get_elem(cs, (unsigned)i);
		const char *name = config_setting_get_string(el);
		if (!name) {
			PROBLEM(c, el, "'check' entries must be probe names (strings), not %s", type_name(el));
			continue;
		}
		size_t found = SIZE_MAX;
		for (size_t j = 0; j < e->n_probes; j++)
			if (e->probes[j].name && strcmp(e->probes[j].name, name) == 0)
				found = j;
		if (found == SIZE_MAX)
			PROBLEM(c, el, "check names probe \"%s\", which steady_state.probes does not define", name);
		else
			s->probes[s->n_probes++] = found;
	}
}

static void load_method(struct ctx *c, const config_setting_t *list, struct experiment *e)
{
	if (!config_setting_is_list(list)) {
		PROBLEM(c, list, "'method' must be a list ( {...}, ... ), not %s", type_name(list));
		return;
	}
	int n = config_setting_length(list);
	e->steps = calloc((size_t)n + 1, sizeof(*e->steps));
	if (!e->steps)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *ss = config_setting_get_elem(list, (unsigned)i);
		struct step *s = &e->steps[e->n_steps++];
		char file[PATH_MAX];
		setting_file(c, ss, file, sizeof(file));
		s->file = strdup(file);
		s->line = config_setting_source_line(ss);
		s->type = STEP_WAIT;
		if (!expect_group(c, ss))
			continue;
		bool f = config_setting_get_member(ss, "fault");
		bool w = config_setting_get_member(ss, "wait");
		bool k = config_setting_get_member(ss, "check");
		bool pt = config_setting_get_member(ss, "partition");
		if (f + w + k + pt != 1) {
			PROBLEM(c, ss, "method step %d: give exactly one of 'fault', 'partition', 'wait', 'check'", i + 1);
			continue;
		}
		if (pt) {
			load_partition_step(c, ss, s, e);
		} else if (f) {
			load_fault_step(c, ss, s, e);
		} else if (w) {
			static const char *const keys[] = { "wait", NULL };
			check_keys(c, ss, keys);
			s->type = STEP_WAIT;
			get_duration(c, ss, "wait", true, &s->wait_ms);
		} else {
			load_check_step(c, ss, s, e);
		}
	}
}

/* matrix = { domains = ( { name; select; }, ... ); fault; duration; params; recovery_wait; } */
static void load_matrix(struct ctx *c, const config_setting_t *g, struct experiment *e, bool have_inv)
{
	static const char *const keys[] = { "domains", "fault", "duration", "params", "recovery_wait", NULL };
	static const char *const domain_keys[] = { "name", "select", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	e->is_matrix = true;
	get_duration(c, g, "recovery_wait", false, &e->recovery_wait_ms);
	struct step proto = { .type = STEP_FAULT, .target = 0 };
	const struct fault_kind *kind = NULL;
	if (get_string(c, g, "fault", true, &proto.kind) == 0) {
		kind = fault_kind_find(proto.kind);
		if (!kind)
			PROBLEM(c, config_setting_get_member(g, "fault"), "unknown fault kind \"%s\"", proto.kind);
	}
	if (get_duration(c, g, "duration", true, &proto.duration_ms) == 0 && proto.duration_ms == 0)
		PROBLEM(c, config_setting_get_member(g, "duration"), "a fault needs a duration above 0");
	if (kind)
		validate_params(c, g, &proto, kind);
	const config_setting_t *list = member(c, g, "domains", true);
	if (list && !config_setting_is_list(list)) {
		PROBLEM(c, list, "'matrix.domains' must be a list ( { name = \"dc1\"; select = \"dc = dc1\"; }, ... ), not %s",
			type_name(list));
		list = NULL;
	}
	int n = list ? config_setting_length(list) : 0;
	if (list && n == 0)
		PROBLEM(c, list, "'matrix.domains' is empty");
	e->targets = calloc((size_t)n + 1, sizeof(*e->targets));
	e->steps = calloc((size_t)n + 1, sizeof(*e->steps));
	if (!e->targets || !e->steps) {
		free_step(&proto);
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *ds = config_setting_get_elem(list, (unsigned)i);
		struct target *t = &e->targets[e->n_targets++];
		struct step *s = &e->steps[e->n_steps++];
		char file[PATH_MAX];
		setting_file(c, ds, file, sizeof(file));
		*s = proto;
		s->file = strdup(file);
		s->line = config_setting_source_line(ds);
		s->kind = proto.kind ? strdup(proto.kind) : NULL;
		s->params = proto.params ? json_object_get(proto.params) : NULL;
		s->params_full = proto.params_full ? json_object_get(proto.params_full) : NULL;
		if (!expect_group(c, ds))
			continue;
		check_keys(c, ds, domain_keys);
		if (get_string(c, ds, "name", true, &t->name) == 0) {
			for (int j = 0; j < i; j++)
				if (e->targets[j].name && strcmp(e->targets[j].name, t->name) == 0)
					PROBLEM(c, ds, "duplicate domain name \"%s\"", t->name);
		}
		if (get_string(c, ds, "select", true, &t->select_text))
			continue;
		char err[400];
		if (selector_parse(t->select_text, &t->sel, err, sizeof(err))) {
			PROBLEM(c, config_setting_get_member(ds, "select"), "domain '%s': %s", t->name ? t->name : "?", err);
			continue;
		}
		if (have_inv && t->name)
			resolve_target(c, ds, t, &e->inv);
	}
	free_step(&proto);
}

void matrix_domain_view(const struct experiment *e, size_t i, struct experiment *view)
{
	*view = *e;
	view->is_matrix = false;
	view->targets = &e->targets[i];
	view->n_targets = 1;
	view->steps = &e->steps[i];
	view->n_steps = 1;
	view->total_ms = e->steps[i].duration_ms;
}

static void plan_offsets(struct experiment *e)
{
	uint64_t t = 0, end = 0;
	for (size_t i = 0; i < e->n_steps; i++) {
		struct step *s = &e->steps[i];
		s->offset_ms = t;
		if (s->type == STEP_WAIT)
			t += s->wait_ms;
		else if ((s->type == STEP_FAULT || s->type == STEP_PARTITION) && t + s->duration_ms > end)
			end = t + s->duration_ms;
	}
	e->total_ms = t > end ? t : end;
}

static void load_safety(struct ctx *c, const config_setting_t *g, struct experiment *e)
{
	static const char *const keys[] = { "max_hosts", "max_duration", "lease_ttl", NULL };
	if (!expect_group(c, g))
		return;
	check_keys(c, g, keys);
	long long v;
	if (get_integer(c, g, "max_hosts", 1, INT_MAX, &v) == 0)
		e->safety.max_hosts = (size_t)v;
	get_duration(c, g, "max_duration", false, &e->safety.max_duration_ms);
	uint64_t ttl;
	if (get_duration(c, g, "lease_ttl", false, &ttl) == 0) {
		if (ttl < 1000)
			PROBLEM(c, config_setting_get_member(g, "lease_ttl"),
				"lease_ttl must be at least 1s (it is renewed every ttl/3)");
		else
			e->safety.lease_ttl_ms = ttl;
	}
}

static void check_safety(struct ctx *c, const config_t *cfg, struct experiment *e)
{
	const config_setting_t *root = config_root_setting(cfg);
	const config_setting_t *safety = config_setting_get_member(root, "safety");
	const config_setting_t *method = config_setting_get_member(root, "method");
	if (e->safety.max_hosts) {
		for (size_t i = 0; i < e->n_steps; i++) {
			const struct step *s = &e->steps[i];
			if ((s->type != STEP_FAULT && s->type != STEP_PARTITION) || s->target == SIZE_MAX)
				continue;
			/* matrix steps each have their own domain */
			const struct target *t = &e->targets[e->is_matrix ? i : s->target];
			size_t hosts = t->n_chosen;
			if (s->type == STEP_PARTITION && s->target_b != SIZE_MAX)
				hosts += e->targets[s->target_b].n_chosen;
			if (hosts > e->safety.max_hosts)
				diags_add(c->d, s->file, s->line,
					  "step %zu targets %zu hosts ('%s'), more than safety.max_hosts = %zu", i + 1,
					  hosts, t->name, e->safety.max_hosts);
		}
	}
	if (e->safety.max_duration_ms && e->total_ms > e->safety.max_duration_ms) {
		char a[32], b[32];
		PROBLEM(c, method ? method : safety, "the method lasts %s, more than safety.max_duration = %s",
			duration_format(e->total_ms, a, sizeof(a)),
			duration_format(e->safety.max_duration_ms, b, sizeof(b)));
	}
}

/* ------------------------------------------------------------------ experiment */

void experiment_free(struct experiment *e)
{
	free(e->file);
	free(e->title);
	free(e->description);
	for (size_t i = 0; i < e->n_tags; i++)
		free(e->tags[i]);
	free(e->tags);
	inventory_free(&e->inv);
	free(e->inventory_source);
	for (size_t i = 0; i < e->n_targets; i++)
		free_target(&e->targets[i]);
	free(e->targets);
	for (size_t i = 0; i < e->n_probes; i++)
		free_probe(&e->probes[i]);
	free(e->probes);
	for (size_t i = 0; i < e->n_steps; i++)
		free_step(&e->steps[i]);
	free(e->steps);
	for (size_t i = 0; i < e->n_rollbacks; i++)
		free_probe(&e->rollbacks[i]);
	free(e->rollbacks);
	for (size_t i = 0; i < e->n_aborts; i++)
		free_probe(&e->aborts[i]);
	free(e->aborts);
	memset(e, 0, sizeof(*e));
}

static void load_tags(struct ctx *c, const config_setting_t *ts, struct experiment *e)
{
	if (!config_setting_is_array(ts) && !config_setting_is_list(ts)) {
		PROBLEM(c, ts, "'tags' must be an array of strings [\"a\", \"b\"], not %s", type_name(ts));
		return;
	}
	int n = config_setting_length(ts);
	e->tags = calloc((size_t)n + 1, sizeof(*e->tags));
	for (int i = 0; e->tags && i < n; i++) {
		const config_setting_t *el = config_setting_get_elem(ts, (unsigned)i);
		const char *v = config_setting_get_string(el);
		if (!v) {
			PROBLEM(c, el, "tags must be strings, not %s", type_name(el));
			continue;
		}
		e->tags[e->n_tags++] = strdup(v);
	}
}

int experiment_load(const char *path, const char *inventory_path, struct experiment *out,
		    struct diags *d)
{
	struct experiment e = { 0 };
	size_t before = d->count;
	e.safety.lease_ttl_ms = DEFAULT_LEASE_TTL_MS;
	e.sample_every_ms = DEFAULT_SAMPLE_EVERY_MS;
	e.recovery_window_ms = DEFAULT_RECOVERY_WINDOW_MS;
	e.file = strdup(path);
	config_t cfg;
	int r = read_config(&cfg, path, d);
	if (r) {
		config_destroy(&cfg);
		experiment_free(&e);
		return r == -ENOMEM ? r : -EINVAL;
	}
	struct ctx c = { .d = d, .file = path, .include_dir = file_dir(path) };
	const config_setting_t *root = config_root_setting(&cfg);
	static const char *const keys[] = { "title", "description", "tags", "inventory", "targets",
					    "steady_state", "method", "rollbacks", "safety", "abort_conditions", "matrix",
					    NULL };
	check_keys(&c, root, keys);

	if (get_string(&c, root, "title", true, &e.title) == 0 && !e.title[0])
		PROBLEM(&c, config_setting_get_member(root, "title"), "title must not be empty");
	get_string(&c, root, "description", false, &e.description);
	const config_setting_t *tags = config_setting_get_member(root, "tags");
	if (tags)
		load_tags(&c, tags, &e);

	bool have_inv = false;
	if (inventory_path) {
		size_t mark = d->count;
		have_inv = inventory_load(inventory_path, &e.inv, d) == 0 && d->count == mark;
		e.inventory_source = strdup(inventory_path);
	} else {
		const config_setting_t *inv = config_setting_get_member(root, "inventory");
		if (inv && config_setting_type(inv) == CONFIG_TYPE_STRING) {
			/* a directory of inventory files, relative to this file */
			char *dir = resolve_path(&c, inv, config_setting_get_string(inv));
			size_t mark = d->count;
			if (dir && !is_directory(dir))
				PROBLEM(&c, inv, "inventory = \"%s\": %s is not a directory (write inventory = {...} or "
					"@include a file)", config_setting_get_string(inv), dir);
			else if (dir)
				inventory_load(dir, &e.inv, d);
			have_inv = dir && d->count == mark;
			e.inventory_source = dir;
		} else if (inv) {
			size_t mark = d->count;
			load_inventory_group(&c, inv, &e.inv);
			have_inv = d->count == mark;
			char src[PATH_MAX];
			setting_file(&c, inv, src, sizeof(src));
			e.inventory_source = strdup(src);
		}
	}

	const config_setting_t *targets = config_setting_get_member(root, "targets");
	if (targets) {
		if (!inventory_path && !config_setting_get_member(root, "inventory"))
			e.inventory_missing = true;
		load_targets(&c, targets, &e, have_inv);
	}
	const config_setting_t *ss = config_setting_get_member(root, "steady_state");
	if (ss)
		load_steady_state(&c, ss, &e);
	const config_setting_t *matrix = config_setting_get_member(root, "matrix");
	const config_setting_t *method = config_setting_get_member(root, "method");
	if (matrix && method)
		PROBLEM(&c, method, "a matrix file has no method: 'matrix' runs one outage per domain");
	else if (matrix && targets)
		PROBLEM(&c, targets, "a matrix file has no targets: its domains are the targets");
	else if (matrix)
		load_matrix(&c, matrix, &e, have_inv);
	else if ((method = member(&c, root, "method", true)))
		load_method(&c, method, &e);
	if (matrix && !inventory_path && !config_setting_get_member(root, "inventory"))
		e.inventory_missing = true;
	const config_setting_t *aborts = config_setting_get_member(root, "abort_conditions");
	if (aborts)
		load_aborts(&c, aborts, &e);
	const config_setting_t *rb = config_setting_get_member(root, "rollbacks");
	if (rb)
		load_rollbacks(&c, rb, &e);
	const config_setting_t *safety = config_setting_get_member(root, "safety");
	if (safety)
		load_safety(&c, safety, &e);
	plan_offsets(&e);
	check_safety(&c, &cfg, &e);

	config_destroy(&cfg);
	free(c.include_dir);
	if (d->count > before) {
		experiment_free(&e);
		return -EINVAL;
	}
	*out = e;
	return 0;
}
