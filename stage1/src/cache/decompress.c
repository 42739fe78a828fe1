#include "cache/decompress.h"

/* brotli's prototypes declare their buffers as VLA parameters
 * (BROTLI_ARRAY_PARAM); the static build sees its headers without
 * -isystem, where -Wvla would refuse them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvla"
#include <brotli/decode.h>
#pragma GCC diagnostic pop
#include <bzlib.h>
#include <errno.h>
#include <lz4frame.h>
#include <lzma.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct decompressor {
	enum nix_compression method;
	bool in_stream;      /* inside a stream/frame/member (not at a boundary) */
	bool any_stream;     /* at least one stream started */
	union {
		ZSTD_DStream *zstd;
		lzma_stream xz;      /* xz, lzip */
		z_stream gz;
		bz_stream bz;
		BrotliDecoderState *br;
		LZ4F_dctx *lz4;
	} u;
	uint64_t br_held;    /* bytes libbrotli holds (br_alloc) */
	bool lib_init;
	unsigned char *out;  /* DECOMPRESS_OUT_CHUNK */
	uint64_t memlimit;   /* all of it: library state + out */
	uint64_t needed;     /* after -E2BIG */
};

/* The library's share of a decoder's limit. */
static uint64_t xz_memlimit(const struct decompressor *d)
{
	uint64_t lib = d->memlimit > DECOMPRESS_FIXED_MEMORY ? d->memlimit - DECOMPRESS_FIXED_MEMORY : 1;
	return lib < DECOMPRESS_XZ_MEMLIMIT ? lib : DECOMPRESS_XZ_MEMLIMIT;
}

static bool is_lzma_family(enum nix_compression m)
{
	return m == NIX_COMPRESSION_XZ || m == NIX_COMPRESSION_LZIP;
}

/* liblzma's decoder for the container of d->method, under the limit. */
static lzma_ret lzma_family_init(struct decompressor *d)
{
	switch (d->method) {
	case NIX_COMPRESSION_LZIP:
		/* lzip's multi-member files, as `lzip -d` reads them */
		return lzma_lzip_decoder(&d->u.xz, xz_memlimit(d), LZMA_CONCATENATED);
	default:
		return lzma_stream_decoder(&d->u.xz, xz_memlimit(d), LZMA_CONCATENATED);
	}
}

/* libbrotli's allocations, counted against the decoder's limit: brotli has
 * no limit of its own, and a stream names its window (up to 16 MiB).  A
 * refused allocation fails the stream (-E2BIG, see feed_br). */
struct br_block {
	uint64_t size;
	max_align_t align[];
};

static void *br_alloc(void *opaque, size_t size)
{
	struct decompressor *d = opaque;
	uint64_t lib = d->memlimit > DECOMPRESS_FIXED_MEMORY ? d->memlimit - DECOMPRESS_FIXED_MEMORY : 0;
	if (size > lib || d->br_held + size > lib)
		return NULL;
	struct br_block *b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->size = size;
	d->br_held += size;
	return b->align;
}

static void br_free(void *opaque, void *p)
{
	struct decompressor *d = opaque;
	if (!p)
		return;
	struct br_block *b = (struct br_block *)((char *)p - offsetof(struct br_block, align));
	d->br_held -= b->size;
	free(b);
}

static int zstd_window_log(const struct decompressor *d)
{
	uint64_t room = d->memlimit > DECOMPRESS_FIXED_MEMORY + DECOMPRESS_ZSTD_OVERHEAD
				? d->memlimit - DECOMPRESS_FIXED_MEMORY - DECOMPRESS_ZSTD_OVERHEAD : 0;
	int log = 10; /* ZSTD_WINDOWLOG_ABSOLUTEMIN */
	while (log < DECOMPRESS_ZSTD_WINDOW_LOG_MAX && (1ull << (log + 1)) <= room)
		log++;
	return log;
}

static uint64_t zstd_memory_for(int window_log)
{
	return (1ull << window_log) + DECOMPRESS_ZSTD_OVERHEAD + DECOMPRESS_FIXED_MEMORY;
}

uint64_t decompress_max_input(enum nix_compression method, uint64_t nar_size)
{
	if (method == NIX_COMPRESSION_NONE)
		return nar_size;
	return nar_size + nar_size / 64 + DECOMPRESS_INPUT_SLACK;
}

const char *decompressor_name(enum nix_compression method)
{
	switch (method) {
	case NIX_COMPRESSION_NONE: return "none";
	case NIX_COMPRESSION_XZ: return "xz";
	case NIX_COMPRESSION_ZSTD: return "zstd";
	case NIX_COMPRESSION_BZIP2: return "bzip2";
	case NIX_COMPRESSION_GZIP: return "gzip";
	case NIX_COMPRESSION_BR: return "br";
	case NIX_COMPRESSION_LZIP: return "lzip";
	case NIX_COMPRESSION_LZ4: return "lz4";
	case NIX_COMPRESSION_UNSUPPORTED: break;
	}
	return "unsupported";
}

static int lib_init(struct decompressor *d, struct ip_error *err)
{
	switch (d->method) {
	case NIX_COMPRESSION_ZSTD:
		d->u.zstd = ZSTD_createDStream();
		if (!d->u.zstd)
			return ip_fail(err, -ENOMEM, "zstd: out of memory");
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->u.zstd, ZSTD_d_windowLogMax,
							zstd_window_log(d))))
			return ip_fail(err, -EINVAL, "zstd: cannot bound the window size");
		break;
	case NIX_COMPRESSION_XZ:
	case NIX_COMPRESSION_LZIP: {
		lzma_stream init = LZMA_STREAM_INIT;
		d->u.xz = init;
		if (lzma_family_init(d) != LZMA_OK)
			return ip_fail(err, -ENOMEM, "%s: cannot create a decoder", decompressor_name(d->method));
		break;
	}
	case NIX_COMPRESSION_BR:
		d->br_held = 0;
		d->u.br = BrotliDecoderCreateInstance(br_alloc, br_free, d);
		if (!d->u.br)
			return ip_fail(err, -ENOMEM, "br: cannot create a decoder");
		break;
	case NIX_COMPRESSION_LZ4:
		if (LZ4F_isError(LZ4F_createDecompressionContext(&d->u.lz4, LZ4F_VERSION)))
			return ip_fail(err, -ENOMEM, "lz4: cannot create a decoder");
		break;
	case NIX_COMPRESSION_GZIP:
		memset(&d->u.gz, 0, sizeof(d->u.gz));
		/* 15 + 16: gzip wrapper only (what Nix writes). */
		if (inflateInit2(&d->u.gz, 15 + 16) != Z_OK)
			return ip_fail(err, -ENOMEM, "gzip: cannot create a decoder");
		break;
	case NIX_COMPRESSION_BZIP2:
		memset(&d->u.bz, 0, sizeof(d->u.bz));
		if (BZ2_bzDecompressInit(&d->u.bz, 0, 0) != BZ_OK)
			return ip_fail(err, -ENOMEM, "bzip2: cannot create a decoder");
		break;
	default:
		break;
	}
	d->lib_init = true;
	return 0;
}

static void lib_end(struct decompressor *d)
{
	if (!d->lib_init)
		return;
	switch (d->method) {
	case NIX_COMPRESSION_ZSTD: ZSTD_freeDStream(d->u.zstd); break;
	case NIX_COMPRESSION_XZ:
	case NIX_COMPRESSION_LZIP: lzma_end(&d->u.xz); break;
	case NIX_COMPRESSION_GZIP: inflateEnd(&d->u.gz); break;
	case NIX_COMPRESSION_BZIP2: BZ2_bzDecompressEnd(&d->u.bz); break;
	case NIX_COMPRESSION_BR: BrotliDecoderDestroyInstance(d->u.br); break;
	case NIX_COMPRESSION_LZ4: LZ4F_freeDecompressionContext(d->u.lz4); break;
	default: break;
	}
	d->lib_init = false;
}

/* -ENOTSUP (err names `name`) unless this module decodes `method`. */
static int check_supported(enum nix_compression method, const char *name, struct ip_error *err)
{
	if (method == NIX_COMPRESSION_UNSUPPORTED || method < NIX_COMPRESSION_NONE ||
	    method > NIX_COMPRESSION_UNSUPPORTED)
		return ip_fail(err, -ENOTSUP,
			       "compression '%s' is not supported (supported: " DECOMPRESS_SUPPORTED_NAMES ")",
			       name ? name : "?");
	return 0;
}

int decompressor_new(enum nix_compression method, const char *name, struct decompressor **out,
		     struct ip_error *err)
{
	int r = check_supported(method, name, err);
	if (r < 0)
		return r;
	struct decompressor *d = calloc(1, sizeof(*d));
	if (!d)
		return ip_fail(err, -ENOMEM, "out of memory");
	d->method = method;
	d->memlimit = DECOMPRESS_XZ_MEMLIMIT + DECOMPRESS_FIXED_MEMORY;
	if (method != NIX_COMPRESSION_NONE) {
		d->out = malloc(DECOMPRESS_OUT_CHUNK);
		r = d->out ? lib_init(d, err) : ip_fail(err, -ENOMEM, "out of memory");
		if (r < 0) {
			decompressor_free(d);
			return r;
		}
	}
	*out = d;
	return 0;
}

int decompressor_reuse(struct decompressor *d, enum nix_compression method, const char *name,
		       struct ip_error *err)
{
	int r = check_supported(method, name, err);
	if (r < 0)
		return r;
	d->in_stream = d->any_stream = false;
	d->needed = 0;
	if (d->lib_init && d->method == method) {
		/* Same method: keep the library's buffers (a zstd window, an xz
		 * dictionary), only forget the stream. */
		switch (method) {
		case NIX_COMPRESSION_ZSTD:
			if (!ZSTD_isError(ZSTD_DCtx_reset(d->u.zstd, ZSTD_reset_session_only)))
				return 0;
			break;
		case NIX_COMPRESSION_XZ:
		case NIX_COMPRESSION_LZIP:
			/* liblzma reuses the coder's memory when re-initialised */
			if (lzma_family_init(d) == LZMA_OK)
				return 0;
			break;
		case NIX_COMPRESSION_LZ4:
			LZ4F_resetDecompressionContext(d->u.lz4);
			return 0;
		case NIX_COMPRESSION_GZIP:
			if (inflateReset(&d->u.gz) == Z_OK)
				return 0;
			break;
		default:
			break;
		}
	}
	lib_end(d);
	d->method = method;
	if (method == NIX_COMPRESSION_NONE)
		return 0;
	if (!d->out && !(d->out = malloc(DECOMPRESS_OUT_CHUNK)))
		return ip_fail(err, -ENOMEM, "out of memory");
	return lib_init(d, err);
}

void decompressor_set_memlimit(struct decompressor *d, uint64_t bytes)
{
	d->memlimit = bytes;
	d->needed = 0;
	if (!d->lib_init)
		return;
	switch (d->method) {
	case NIX_COMPRESSION_XZ:
	case NIX_COMPRESSION_LZIP:
		/* refused only below what the coder holds now: start afresh */
		if (lzma_memlimit_set(&d->u.xz, xz_memlimit(d)) != LZMA_OK) {
			lzma_end(&d->u.xz);
			lzma_stream init = LZMA_STREAM_INIT;
			d->u.xz = init;
			if (lzma_family_init(d) != LZMA_OK)
				d->lib_init = false; /* the next feed fails; reuse starts over */
		}
		break;
	case NIX_COMPRESSION_ZSTD:
		/* between frames (after new/reuse) the parameter can be set */
		ZSTD_DCtx_setParameter(d->u.zstd, ZSTD_d_windowLogMax, zstd_window_log(d));
		break;
	default:
		break;
	}
}

uint64_t decompressor_memory_needed(const struct decompressor *d)
{
	return d->needed;
}

void decompressor_free(struct decompressor *d)
{
	if (!d)
		return;
	lib_end(d);
	free(d->out);
	free(d);
}

static int feed_zstd(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		     void *ctx, struct ip_error *err)
{
	ZSTD_inBuffer in = { data, len, 0 };
	for (;;) {
		ZSTD_outBuffer ob = { d->out, DECOMPRESS_OUT_CHUNK, 0 };
		size_t ret = ZSTD_decompressStream(d->u.zstd, &ob, &in);
		if (ZSTD_isError(ret) && ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge &&
		    zstd_window_log(d) < DECOMPRESS_ZSTD_WINDOW_LOG_MAX) {
			/* libzstd does not say how large: the largest we allow */
			d->needed = zstd_memory_for(DECOMPRESS_ZSTD_WINDOW_LOG_MAX);
			return ip_fail(err, -E2BIG, "zstd: the window needs more than the %llu MiB allowed",
				       (unsigned long long)(d->memlimit >> 20));
		}
		if (ZSTD_isError(ret))
			return ip_fail(err, -EBADMSG, "zstd: %s", ZSTD_getErrorName(ret));
		d->any_stream = true;
		d->in_stream = ret != 0; /* 0: a frame just ended */
		if (ob.pos > 0) {
			int r = out(ctx, d->out, ob.pos, err);
			if (r < 0)
				return r;
		}
		/* done when the input is used up and the decoder had room to spare
		 * (a full output buffer may hide more output for the same input) */
		if (in.pos == in.size && ob.pos < ob.size)
			return 0;
	}
}

static int feed_xz(struct decompressor *d, const void *data, size_t len, lzma_action action,
		   decompress_out_fn out, void *ctx, struct ip_error *err)
{
	lzma_stream *s = &d->u.xz;
	const char *name = decompressor_name(d->method);
	s->next_in = data;
	s->avail_in = len;
	for (;;) {
		s->next_out = d->out;
		s->avail_out = DECOMPRESS_OUT_CHUNK;
		lzma_ret ret = lzma_code(s, action);
		size_t produced = DECOMPRESS_OUT_CHUNK - s->avail_out;
		if (produced > 0) {
			int r = out(ctx, d->out, produced, err);
			if (r < 0)
				return r;
		}
		if (ret == LZMA_STREAM_END) {
			d->any_stream = true;
			d->in_stream = false;
			if (s->avail_in > 0)
				return ip_fail(err, -EBADMSG, "%s: data after the end of the stream", name);
			return 0;
		}
		if (ret == LZMA_MEMLIMIT_ERROR && xz_memlimit(d) < DECOMPRESS_XZ_MEMLIMIT) {
			/* after this error liblzma reports what the block needs */
			uint64_t lib = lzma_memusage(s);
			d->needed = lib <= DECOMPRESS_XZ_MEMLIMIT ? lib + DECOMPRESS_FIXED_MEMORY : 0;
			return ip_fail(err, -E2BIG, "%s: needs %llu MiB of memory, more than the %llu MiB allowed", name,
				       (unsigned long long)((lib + (1 << 20) - 1) >> 20),
				       (unsigned long long)(d->memlimit >> 20));
		}
		if (ret != LZMA_OK) {
			const char *what = ret == LZMA_MEMLIMIT_ERROR ? "needs more memory than allowed"
					   : ret == LZMA_FORMAT_ERROR ? "not in this format"
					   : ret == LZMA_BUF_ERROR    ? "truncated"
								      : "corrupt data";
			return ip_fail(err, -EBADMSG, "%s: %s", name, what);
		}
		d->any_stream = true;
		d->in_stream = true;
		if (s->avail_in == 0 && s->avail_out > 0)
			return action == LZMA_FINISH ? ip_fail(err, -EBADMSG, "%s: truncated", name) : 0;
	}
}

static int feed_gzip(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		     void *ctx, struct ip_error *err)
{
	z_stream *z = &d->u.gz;
	z->next_in = (Bytef *)data;
	z->avail_in = (uInt)len;
	while (z->avail_in > 0) {
		if (!d->in_stream && d->any_stream) {
			/* another gzip member follows */
			if (inflateReset(z) != Z_OK)
				return ip_fail(err, -EBADMSG, "gzip: cannot reset");
		}
		d->in_stream = true;
		d->any_stream = true;
		z->next_out = d->out;
		z->avail_out = DECOMPRESS_OUT_CHUNK;
		int ret = inflate(z, Z_NO_FLUSH);
		size_t produced = DECOMPRESS_OUT_CHUNK - z->avail_out;
		if (produced > 0) {
			int r = out(ctx, d->out, produced, err);
			if (r < 0)
				return r;
		}
		if (ret == Z_STREAM_END) {
			d->in_stream = false;
			continue;
		}
		if (ret != Z_OK && !(ret == Z_BUF_ERROR && produced == 0 && z->avail_in == 0))
			return ip_fail(err, -EBADMSG, "gzip: %s", z->msg ? z->msg : "corrupt data");
		if (z->avail_in == 0 && z->avail_out > 0)
			break;
	}
	return 0;
}

static int feed_bzip2(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		      void *ctx, struct ip_error *err)
{
	bz_stream *b = &d->u.bz;
	b->next_in = (char *)data;
	b->avail_in = (unsigned)len;
	while (b->avail_in > 0) {
		if (!d->in_stream && d->any_stream) {
			/* a concatenated stream (pbzip2) */
			BZ2_bzDecompressEnd(b);
			char *next_in = b->next_in;
			unsigned avail_in = b->avail_in;
			memset(b, 0, sizeof(*b));
			if (BZ2_bzDecompressInit(b, 0, 0) != BZ_OK)
				return ip_fail(err, -ENOMEM, "bzip2: cannot create a decoder");
			b->next_in = next_in;
			b->avail_in = avail_in;
		}
		d->in_stream = true;
		d->any_stream = true;
		b->next_out = (char *)d->out;
		b->avail_out = DECOMPRESS_OUT_CHUNK;
		int ret = BZ2_bzDecompress(b);
		size_t produced = DECOMPRESS_OUT_CHUNK - b->avail_out;
		if (produced > 0) {
			int r = out(ctx, d->out, produced, err);
			if (r < 0)
				return r;
		}
		if (ret == BZ_STREAM_END) {
			d->in_stream = false;
			continue;
		}
		if (ret != BZ_OK)
			return ip_fail(err, -EBADMSG, "bzip2: %s",
				       ret == BZ_DATA_ERROR_MAGIC ? "not bzip2 data" : "corrupt data");
		if (b->avail_in == 0 && b->avail_out > 0)
			break;
	}
	return 0;
}

static int feed_br(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		   void *ctx, struct ip_error *err)
{
	const uint8_t *next_in = data;
	size_t avail_in = len;
	if (d->any_stream && !d->in_stream)
		return ip_fail(err, -EBADMSG, "br: data after the end of the stream");
	d->any_stream = true;
	d->in_stream = true;
	for (;;) {
		uint8_t *next_out = d->out;
		size_t avail_out = DECOMPRESS_OUT_CHUNK;
		BrotliDecoderResult ret = BrotliDecoderDecompressStream(d->u.br, &avail_in, &next_in,
									&avail_out, &next_out, NULL);
		size_t produced = DECOMPRESS_OUT_CHUNK - avail_out;
		if (produced > 0) {
			int r = out(ctx, d->out, produced, err);
			if (r < 0)
				return r;
		}
		if (ret == BROTLI_DECODER_RESULT_ERROR) {
			BrotliDecoderErrorCode code = BrotliDecoderGetErrorCode(d->u.br);
			/* the ring buffer, block type trees, context map: what
			 * br_alloc refused */
			if (code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
			    code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES) {
				d->needed = d->memlimit < DECOMPRESS_BR_MEMORY_MAX + DECOMPRESS_FIXED_MEMORY
						    ? DECOMPRESS_BR_MEMORY_MAX + DECOMPRESS_FIXED_MEMORY : 0;
				return ip_fail(err, -E2BIG, "br: the window needs more than the %llu MiB allowed",
					       (unsigned long long)(d->memlimit >> 20));
			}
			return ip_fail(err, -EBADMSG, "br: %s", BrotliDecoderErrorString(code));
		}
		if (ret == BROTLI_DECODER_RESULT_SUCCESS) {
			d->in_stream = false;
			if (avail_in > 0)
				return ip_fail(err, -EBADMSG, "br: data after the end of the stream");
			return 0;
		}
		if (ret == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
			return 0; /* it took all the input */
		/* NEEDS_MORE_OUTPUT: another round */
	}
}

static int feed_lz4(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		    void *ctx, struct ip_error *err)
{
	/* a frame's blocks are at most 4 MiB: the decoder's memory is bounded
	 * by a constant, which the limit must cover */
	if (d->memlimit < DECOMPRESS_LZ4_MEMORY + DECOMPRESS_FIXED_MEMORY) {
		d->needed = DECOMPRESS_LZ4_MEMORY + DECOMPRESS_FIXED_MEMORY;
		return ip_fail(err, -E2BIG, "lz4: needs %u MiB of memory, more than the %llu MiB allowed",
			       (DECOMPRESS_LZ4_MEMORY + DECOMPRESS_FIXED_MEMORY) >> 20,
			       (unsigned long long)(d->memlimit >> 20));
	}
	const unsigned char *in = data;
	size_t left = len;
	while (left > 0 || d->in_stream) {
		size_t in_size = left, out_size = DECOMPRESS_OUT_CHUNK;
		size_t hint = LZ4F_decompress(d->u.lz4, d->out, &out_size, in, &in_size, NULL);
		if (LZ4F_isError(hint))
			return ip_fail(err, -EBADMSG, "lz4: %s", LZ4F_getErrorName(hint));
		in += in_size;
		left -= in_size;
		if (in_size > 0 || out_size > 0)
			d->any_stream = true;
		/* 0: a frame just ended (another may follow) */
		d->in_stream = hint != 0;
		if (out_size > 0) {
			int r = out(ctx, d->out, out_size, err);
			if (r < 0)
				return r;
		}
		/* done when the input is used up and the output had room */
		if (left == 0 && out_size < DECOMPRESS_OUT_CHUNK)
			return 0;
	}
	return 0;
}

int decompressor_feed(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		      void *ctx, struct ip_error *err)
{
	if (len == 0)
		return 0;
	switch (d->method) {
	case NIX_COMPRESSION_NONE:
		d->any_stream = true;
		for (size_t off = 0; off < len; off += DECOMPRESS_OUT_CHUNK) {
			size_t n = len - off < DECOMPRESS_OUT_CHUNK ? len - off : DECOMPRESS_OUT_CHUNK;
			int r = out(ctx, (const unsigned char *)data + off, n, err);
			if (r < 0)
				return r;
		}
		return 0;
	case NIX_COMPRESSION_ZSTD:
		return feed_zstd(d, data, len, out, ctx, err);
	case NIX_COMPRESSION_XZ:
	case NIX_COMPRESSION_LZIP:
		if (d->any_stream && !d->in_stream)
			return ip_fail(err, -EBADMSG, "%s: data after the end of the stream",
				       decompressor_name(d->method));
		return feed_xz(d, data, len, LZMA_RUN, out, ctx, err);
	case NIX_COMPRESSION_BR:
		return feed_br(d, data, len, out, ctx, err);
	case NIX_COMPRESSION_LZ4:
		return feed_lz4(d, data, len, out, ctx, err);
	case NIX_COMPRESSION_GZIP:
		return feed_gzip(d, data, len, out, ctx, err);
	case NIX_COMPRESSION_BZIP2:
		return feed_bzip2(d, data, len, out, ctx, err);
	default:
		return ip_fail(err, -ENOTSUP, "unsupported compression");
	}
}

int decompressor_finish(struct decompressor *d, decompress_out_fn out, void *ctx,
			struct ip_error *err)
{
	const char *name = decompressor_name(d->method);
	if (d->method == NIX_COMPRESSION_NONE)
		return 0;
	if (is_lzma_family(d->method) && d->any_stream && d->in_stream) {
		/* LZMA_CONCATENATED: the decoder only knows the input ended when told */
		int r = feed_xz(d, NULL, 0, LZMA_FINISH, out, ctx, err);
		if (r < 0)
			return r;
	}
	if (!d->any_stream)
		return ip_fail(err, -EBADMSG, "%s: no compressed data", name);
	if (d->in_stream)
		return ip_fail(err, -EBADMSG, "%s: compressed data is truncated", name);
	return 0;
}
