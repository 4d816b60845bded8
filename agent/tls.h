/* TLS material for the remote listener and the client-certificate check. */
#pragma once
#include "agent/config.h"
#include "agent/request.h"

#include <gnutls/gnutls.h>
#include <stddef.h>

struct tls_material {
	char *ca, *cert, *key;   /* PEM texts, NUL-terminated */
};

/* Reads the three PEM files named in cfg; err gets "FILE: reason" on failure. */
int tls_material_load(const struct agent_config *cfg, struct tls_material *out, char *err, size_t err_len);
void tls_material_release(struct tls_material *m);

/* The client must have presented a certificate that chains to the configured CA.
 * 0 if so; else -EACCES and err = 403 client_certificate_required / _invalid. */
int tls_check_client(gnutls_session_t session, struct api_error *err);
