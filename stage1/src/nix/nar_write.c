#include "nix/nar_write.h"

#include <string.h>

void nar_writer_init(struct nar_writer *w,
		     int (*out)(void *ctx, const void *data, size_t len, struct ip_error *err),
		     void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->ctx = ctx;
}

static int emit(struct nar_writer *w, const void *data, size_t len, struct ip_error *err)
{
	if (len == 0)
		return 0;
	int r = w->out(w->ctx, data, len, err);
	if (r == 0)
		w->bytes += len;
	return r;
}

static int pad(struct nar_writer *w, uint64_t len, struct ip_error *err)
{
	static const unsigned char zeros[8];
	return emit(w, zeros, (size_t)((8 - len % 8) % 8), err);
}

/* A string: its length as 8 bytes little-endian, the bytes, zeros to a
 * multiple of 8. */
static int str(struct nar_writer *w, const char *s, size_t len, struct ip_error *err)
{
	unsigned char n[8];
	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)((uint64_t)len >> (8 * i));
	int r = emit(w, n, sizeof(n), err);
	if (r == 0)
		r = emit(w, s, len, err);
	if (r == 0)
		r = pad(w, len, err);
	return r;
}

static int tokens(struct nar_writer *w, struct ip_error *err, const char *const *list)
{
	int r = 0;
	for (; *list && r == 0; list++)
		r = str(w, *list, strlen(*list), err);
	return r;
}

static int out_of_order(const char *what, struct ip_error *err)
{
	return ip_fail(err, -EINVAL, "NAR writer: %s out of order", what);
}

/* The framing before a node: the magic for the root, the entry's opening
 * for anything else. */
static int node_start(struct nar_writer *w, const char *name, struct ip_error *err)
{
	if (w->in_file)
		return out_of_order("a new node while a file is open", err);
	if (!name) {
		if (w->started)
			return out_of_order("a second root", err);
		w->started = true;
		return tokens(w, err, (const char *const[]){ "nix-archive-1", "(", "type", NULL });
	}
	if (!w->depth)
		return out_of_order("an entry outside a directory", err);
	int r = tokens(w, err, (const char *const[]){ "entry", "(", "name", NULL });
	if (r == 0)
		r = str(w, name, strlen(name), err);
	if (r == 0)
		r = tokens(w, err, (const char *const[]){ "node", "(", "type", NULL });
	return r;
}

/* ")" closing the node, and ")" closing its entry unless it is the root. */
static int node_end(struct nar_writer *w, bool is_entry, struct ip_error *err)
{
	int r = str(w, ")", 1, err);
	if (r == 0 && is_entry)
		r = str(w, ")", 1, err);
	return r;
}

static int w_directory_begin(void *sink, const char *name, struct ip_error *err)
{
	struct nar_writer *w = sink;
	int r = node_start(w, name, err);
	if (r == 0)
		r = str(w, "directory", 9, err);
	if (r == 0)
		w->depth++;
	return r;
}

static int w_directory_end(void *sink, struct ip_error *err)
{
	struct nar_writer *w = sink;
	if (!w->depth || w->in_file)
		return out_of_order("a directory end", err);
	w->depth--;
	return node_end(w, w->depth > 0, err);
}

static int w_file_begin(void *sink, const char *name, bool executable, uint64_t size,
			struct ip_error *err)
{
	struct nar_writer *w = sink;
	int r = node_start(w, name, err);
	if (r == 0)
		r = str(w, "regular", 7, err);
	if (r == 0 && executable)
		r = tokens(w, err, (const char *const[]){ "executable", "", NULL });
	if (r == 0)
		r = str(w, "contents", 8, err);
	unsigned char n[8];
	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)(size >> (8 * i));
	if (r == 0)
		r = emit(w, n, sizeof(n), err);
	if (r == 0) {
		w->in_file = true;
		w->file_is_entry = name != NULL;
		w->file_left = w->file_size = size;
	}
	return r;
}

static int w_file_data(void *sink, const void *data, size_t len, struct ip_error *err)
{
	struct nar_writer *w = sink;
	if (!w->in_file || len > w->file_left)
		return out_of_order("file data", err);
	w->file_left -= len;
	return emit(w, data, len, err);
}

static int w_file_end(void *sink, struct ip_error *err)
{
	struct nar_writer *w = sink;
	if (!w->in_file || w->file_left)
		return out_of_order("a file end", err);
	w->in_file = false;
	int r = pad(w, w->file_size, err);
	if (r == 0)
		r = node_end(w, w->file_is_entry, err);
	return r;
}

static int w_symlink(void *sink, const char *name, const char *target, struct ip_error *err)
{
	struct nar_writer *w = sink;
	int r = node_start(w, name, err);
	if (r == 0)
		r = tokens(w, err, (const char *const[]){ "symlink", "target", NULL });
	if (r == 0)
		r = str(w, target, strlen(target), err);
	if (r == 0)
		r = node_end(w, name != NULL, err);
	return r;
}

const struct nar_sink_ops nar_writer_ops = {
	.directory_begin = w_directory_begin,
	.directory_end = w_directory_end,
	.file_begin = w_file_begin,
	.file_data = w_file_data,
	.file_end = w_file_end,
	.symlink = w_symlink,
};
