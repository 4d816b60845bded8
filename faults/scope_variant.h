/* The scoped builds of the network families' BPF objects (see faults/meson.build): the same
 * source compiled with -DCHAOSKIT_SCOPE, with the same skeleton name and layout as the plain
 * build, so a skeleton opened here is loaded, used and destroyed with the plain header's
 * functions. A loader opens this build only for a fault with a scope: its CO-RE relocations
 * make libbpf parse the kernel's BTF at every load, which the plain build never does.
 * Each function takes the plain build's sizeof(skeleton) and sizeof(rodata) and fails with
 * errno EPROTO if the scoped build differs (it cannot, unless the builds diverge). */
#pragma once
#include <stddef.h>

struct packet_bpf;
struct dns_bpf;
struct delayline_bpf;

struct packet_bpf *packet_bpf_open_scoped(size_t skel_size, size_t rodata_size);
struct dns_bpf *dns_bpf_open_scoped(size_t skel_size, size_t rodata_size);
struct delayline_bpf *delayline_bpf_open_scoped(size_t skel_size, size_t rodata_size);
