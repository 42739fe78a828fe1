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

const char *download_verdict_name(enum download_verdict v)
{
	switch (v) {
	case DOWNLOAD_COMMIT: return "commit";
	case DOWNLOAD_RETRY_AFTER: return "retry-after";
	case DOWNLOAD_REFETCH_OTHER: return "refetch-other";
	case DOWNLOAD_FAIL: return "fail";
	}
	return "?";
}

const char *download_reason_name(enum download_reason r)
{
	switch (r) {
	case DOWNLOAD_VERIFIED: return "verified";
	case DOWNLOAD_CANCELLED: return "cancelled";
	case DOWNLOAD_DECODER_MEMORY: return "decoder-memory";
	case DOWNLOAD_CONTENT: return "content";
	case DOWNLOAD_CONTENT_FINAL: return "content-final";
	case DOWNLOAD_LOCAL: return "local";
	case DOWNLOAD_RANGE_REFUSED: return "range-refused";
	case DOWNLOAD_TRANSIENT: return "transient";
	case DOWNLOAD_GAVE_UP: return "gave-up";
	case DOWNLOAD_MISSING: return "missing";
	case DOWNLOAD_HTTP_FATAL: return "http-fatal";
	}
	return "?";
}
