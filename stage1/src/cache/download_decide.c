#include "cache/download_decide.h"

#include <errno.h>

static struct download_decision verdict(enum download_verdict v, enum download_reason why)
{
	return (struct download_decision){ .verdict = v, .reason = why };
}

struct download_decision download_decide(const struct job_outcome *o)
{
	if (o->cancelled)
		return verdict(DOWNLOAD_FAIL, DOWNLOAD_CANCELLED);
	switch (o->stage_error) {
	case 0:
		break;
	case -E2BIG:
		return verdict(DOWNLOAD_RETRY_AFTER, DOWNLOAD_DECODER_MEMORY);
	case -EBADMSG:
		/* worth one more download, from another cache if one has it */
		if (o->content_failures == 0)
			return verdict(DOWNLOAD_REFETCH_OTHER, DOWNLOAD_CONTENT);
		return verdict(DOWNLOAD_FAIL, DOWNLOAD_CONTENT_FINAL);
	case -ENOTSUP:
		return verdict(DOWNLOAD_FAIL, DOWNLOAD_CONTENT_FINAL);
	default:
		return verdict(DOWNLOAD_FAIL, DOWNLOAD_LOCAL);
	}
	if (o->http == HTTP_OK)
		return verdict(DOWNLOAD_COMMIT, DOWNLOAD_VERIFIED);
	if (o->range_refused)
		return verdict(DOWNLOAD_RETRY_AFTER, DOWNLOAD_RANGE_REFUSED);
	switch (o->http) {
	case HTTP_TRANSIENT:
		if (o->retry_delay_ms < 0)
			return verdict(DOWNLOAD_FAIL, DOWNLOAD_GAVE_UP);
		struct download_decision d = verdict(DOWNLOAD_RETRY_AFTER, DOWNLOAD_TRANSIENT);
		d.delay_ms = (unsigned)o->retry_delay_ms;
		d.resume = o->can_resume;
		return d;
	case HTTP_NOT_FOUND:
		return verdict(DOWNLOAD_REFETCH_OTHER, DOWNLOAD_MISSING);
	default:
		return verdict(DOWNLOAD_FAIL, DOWNLOAD_HTTP_FATAL);
	}
}

static const char *const verdict_names[] = {
	[DOWNLOAD_COMMIT] = "commit",
	[DOWNLOAD_RETRY_AFTER] = "retry-after",
	[DOWNLOAD_REFETCH_OTHER] = "refetch-other",
	[DOWNLOAD_FAIL] = "fail",
};

static const char *const reason_names[] = {
	[DOWNLOAD_VERIFIED] = "verified",
	[DOWNLOAD_CANCELLED] = "cancelled",
	[DOWNLOAD_DECODER_MEMORY] = "decoder-memory",
	[DOWNLOAD_CONTENT] = "content",
	[DOWNLOAD_CONTENT_FINAL] = "content-final",
	[DOWNLOAD_LOCAL] = "local",
	[DOWNLOAD_RANGE_REFUSED] = "range-refused",
	[DOWNLOAD_TRANSIENT] = "transient",
	[DOWNLOAD_GAVE_UP] = "gave-up",
	[DOWNLOAD_MISSING] = "missing",
	[DOWNLOAD_HTTP_FATAL] = "http-fatal",
};

static const char *name_in(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "?";
}

const char *download_verdict_name(enum download_verdict v)
{
	return name_in(verdict_names, sizeof(verdict_names) / sizeof(verdict_names[0]), v);
}

const char *download_reason_name(enum download_reason r)
{
	return name_in(reason_names, sizeof(reason_names) / sizeof(reason_names[0]), r);
}
