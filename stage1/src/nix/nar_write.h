/* NAR (nix-archive-1) writer: the inverse of nix/nar.h's parser.  A sink
 * (the same callbacks the parser calls) that encodes the tree it is told
 * about and hands the bytes to `out` as it goes; nothing is buffered but a
 * few bytes of framing.  Pure: no I/O of its own.  Feeding it what
 * nar_parser reads from an archive writes that archive again, byte for
 * byte; store/tree_hash.c feeds it a tree on disk, like `nix-store --dump`.
 * Grammar and framing: see nix/nar.c. */
#ifndef IP_NIX_NAR_WRITE_H
#define IP_NIX_NAR_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nix/nar.h"
#include "util/error.h"

struct nar_writer {
	/* Receives the archive in order; a negative errno stops the writer. */
	int (*out)(void *ctx, const void *data, size_t len, struct ip_error *err);
	void *ctx;
	uint64_t bytes;               /* written so far */
	/* private */
	unsigned depth;               /* directories open */
	bool started, in_file, file_is_entry;
	uint64_t file_left, file_size;
};

void nar_writer_init(struct nar_writer *w,
		     int (*out)(void *ctx, const void *data, size_t len, struct ip_error *err),
		     void *ctx);

/* Pass with a struct nar_writer as the `sink` argument.  Calls out of order
 * (data beyond the announced size, an entry while a file is open, ...)
 * fail with -EINVAL. */
extern const struct nar_sink_ops nar_writer_ops;

#endif
