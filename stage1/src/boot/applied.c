#include "boot/applied.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/hex.h"
#include "util/kvconf.h"
#include "util/sha256.h"

const char *apply_policy_name(enum apply_policy policy)
{
	return policy == APPLY_WHEN_CHANGED ? "when-changed" : "every-boot";
}

const char *apply_reason_name(enum apply_reason reason)
{
	static const char *const names[] = {
		[APPLY_REASON_EVERY_BOOT] = "every-boot",
		[APPLY_REASON_NO_RECORD] = "not applied on this disk before",
		[APPLY_REASON_NO_INSTANCE_ID] = "no instance-id from IMDS",
		[APPLY_REASON_NEW_INSTANCE] = "new instance",
		[APPLY_REASON_DOCUMENT_CHANGED] = "user-data changed",
		[APPLY_REASON_UNCHANGED] = "unchanged since applied",
	};
	return names[reason];
}

struct parse_state {
	struct applied_state *out;
	bool seen_instance, seen_sha, seen_system;
};

static int copy_value(const struct kvconf_entry *e, char *dst, size_t size, const char *key, bool *seen,
		      struct ip_error *err)
{
	if (*seen)
		return kvconf_fail(err, e->line, -EINVAL, "'%s' is set twice", key);
	if (e->value_len == 0 || e->value_len >= size)
		return kvconf_fail(err, e->line, -EINVAL, "%s: empty or longer than %zu bytes", key, size - 1);
	memcpy(dst, e->value, e->value_len);
	dst[e->value_len] = '\0';
	*seen = true;
	return 0;
}

static int on_entry(const struct kvconf_entry *e, void *ctx, struct ip_error *err)
{
	struct parse_state *st = ctx;
	struct applied_state *s = st->out;
	if (kvconf_key_is(e, "instance-id"))
		return copy_value(e, s->instance_id, sizeof(s->instance_id), "instance-id", &st->seen_instance, err);
	if (kvconf_key_is(e, "document-sha256")) {
		int r = copy_value(e, s->document_sha256, sizeof(s->document_sha256), "document-sha256",
				   &st->seen_sha, err);
		if (r < 0)
			return r;
		if (e->value_len != APPLIED_SHA256_HEX_LEN ||
		    strspn(s->document_sha256, "0123456789abcdef") != APPLIED_SHA256_HEX_LEN)
			return kvconf_fail(err, e->line, -EINVAL, "document-sha256: not 64 lowercase hex digits");
		return 0;
	}
	if (kvconf_key_is(e, "system")) {
		int r = copy_value(e, s->system, sizeof(s->system), "system", &st->seen_system, err);
		if (r < 0)
			return r;
		struct ip_error path_err = { 0 };
		if (nix_store_path_check(s->system, e->value_len, &path_err) < 0)
			return kvconf_fail(err, e->line, -EINVAL, "system: %s", ip_error_str(&path_err));
		return 0;
	}
	return kvconf_fail(err, e->line, -EINVAL, "unknown key '%.*s'", (int)e->key_len, e->key);
}

int applied_state_parse(const char *buf, size_t len, struct applied_state *out, struct ip_error *err)
{
	struct parse_state st = { .out = out };
	struct kvconf_limits limits = { .size_max = APPLIED_STATE_SIZE_MAX };
	memset(out, 0, sizeof(*out));
	int r = kvconf_parse(buf, len, &limits, on_entry, &st, NULL, err);
	if (r < 0)
		return r;
	if (!st.seen_instance || !st.seen_sha || !st.seen_system)
		return ip_fail(err, -EINVAL, "missing %s",
			       !st.seen_instance ? "instance-id" : !st.seen_sha ? "document-sha256" : "system");
	return 0;
}

int applied_state_format(const struct applied_state *state, char *out, size_t out_size)
{
	int n = snprintf(out, out_size,
			 "# initrd-provision: the user-data applied last (apply = when-changed).\n"
			 "# Remove this file to apply the user-data again at the next boot.\n"
			 "instance-id = %s\ndocument-sha256 = %s\nsystem = %s\n",
			 state->instance_id, state->document_sha256, state->system);
	return n < 0 || (size_t)n >= out_size ? -ENOSPC : 0;
}

void applied_document_sha256(const void *doc, size_t len, char out[APPLIED_SHA256_HEX_LEN + 1])
{
	struct sha256 ctx;
	uint8_t digest[32];
	sha256_init(&ctx);
	sha256_update(&ctx, doc, len);
	sha256_final(&ctx, digest);
	hex_encode_lower(digest, sizeof(digest), out);
}

enum apply_verdict apply_decide(enum apply_policy policy, const struct applied_state *previous,
				const char *instance_id, const char *document_sha256, enum apply_reason *reason)
{
	enum apply_reason why;
	if (policy == APPLY_EVERY_BOOT)
		why = APPLY_REASON_EVERY_BOOT;
	else if (!instance_id[0])
		why = APPLY_REASON_NO_INSTANCE_ID;
	else if (!previous)
		why = APPLY_REASON_NO_RECORD;
	else if (strcmp(previous->instance_id, instance_id) != 0)
		why = APPLY_REASON_NEW_INSTANCE;
	else if (strcmp(previous->document_sha256, document_sha256) != 0)
		why = APPLY_REASON_DOCUMENT_CHANGED;
	else
		why = APPLY_REASON_UNCHANGED;
	if (reason)
		*reason = why;
	return why == APPLY_REASON_UNCHANGED ? APPLY_VERDICT_UNCHANGED : APPLY_VERDICT_APPLY;
}
