#include "agent/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int read_text_file(const char *path, char **out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size > 1024 * 1024) {
		fclose(f);
		snprintf(err, err_len, "%s: not a PEM file of reasonable size", path);
		return -EINVAL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[n] = '\0';
	if (!strstr(buf, "-----BEGIN ")) {
		free(buf);
		snprintf(err, err_len, "%s: not a PEM file", path);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

int tls_material_load(const struct agent_config *cfg, struct tls_material *out, char *err, size_t err_len)
{
	struct tls_material m = { 0 };
	int r = read_text_file(cfg->tls_ca, &m.ca, err, err_len);
	if (r == 0)
		r = read_text_file(cfg->tls_cert, &m.cert, err, err_len);
	if (r == 0)
		r = read_text_file(cfg->tls_key, &m.key, err, err_len);
	if (r < 0) {
		tls_material_release(&m);
		return r;
	}
	*out = m;
	return 0;
}

void tls_material_release(struct tls_material *m)
{
	/* the key is secret: do not leave it in freed memory */
	if (m->key)
		explicit_bzero(m->key, strlen(m->key));
	free(m->ca);
	free(m->cert);
	free(m->key);
	memset(m, 0, sizeof(*m));
}

int tls_check_client(gnutls_session_t session, struct api_error *err)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = session ? gnutls_certificate_get_peers(session, &n) : NULL;
	if (!certs || n == 0) {
		api_error_set(err, 403, "client_certificate_required", NULL,
			      "this port needs a client certificate signed by the agent's CA");
		return -EACCES;
	}
	unsigned status = 0;
	int r = gnutls_certificate_verify_peers2(session, &status);
	if (r < 0 || status != 0) {
		gnutls_datum_t text = { NULL, 0 };
		if (r >= 0)
			gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
		api_error_set(err, 403, "client_certificate_invalid", NULL, "client certificate rejected: %s",
			      r < 0 ? gnutls_strerror(r) : text.data ? (const char *)text.data : "not trusted");
		gnutls_free(text.data);
		return -EACCES;
	}
	return 0;
}
