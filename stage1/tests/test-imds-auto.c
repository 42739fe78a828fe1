/* IMDS endpoint auto (imds_auto_*): IPv4 first, a transport failure moves
 * to IPv6 at once, both failing in a row backs off, an answer pins the
 * endpoint for good.  A table of event sequences. */
#include "test.h"

#include "imds/imds.h"

/* Events: 'f' transport failure, 'a' HTTP answer, 'b' backed off.  After
 * each event: the endpoint in use (0 IPv4, 1 IPv6) and, after 'f', whether
 * the next attempt goes at once ('!') or after a backoff ('.'). */
struct auto_case {
	const char *name;
	unsigned n;
	const char *events;
	const char *want;   /* per event: "0", "1", "0!" ... concatenated */
};

static const struct auto_case auto_cases[] = {
	{ "IPv4 answers", 2, "a", "0" },
	{ "IPv4 refused, IPv6 at once", 2, "fa", "1!1" },
	{ "both fail: back off, then IPv4 again", 2, "ffbf", "1!0.01!" },
	{ "pinned to IPv6: failures stay there", 2, "faff", "1!11.1." },
	{ "one endpoint: always back off", 1, "ffbf", "0.0.00." },
};

static void sequences(void)
{
	for (size_t i = 0; i < sizeof(auto_cases) / sizeof(auto_cases[0]); i++) {
		const struct auto_case *c = &auto_cases[i];
		struct imds_auto a;
		imds_auto_init(&a, c->n);
		char got[64] = "";
		size_t n = 0;
		for (const char *e = c->events; *e; e++) {
			bool at_once = false;
			if (*e == 'f')
				at_once = imds_auto_transport_failed(&a);
			else if (*e == 'a')
				imds_auto_answered(&a);
			else
				imds_auto_backed_off(&a);
			got[n++] = (char)('0' + a.current);
			if (*e == 'f')
				got[n++] = at_once ? '!' : '.';
		}
		got[n] = '\0';
		if (strcmp(got, c->want) != 0) {
			test_record_failure(__FILE__, __LINE__, "%s: got %s, want %s", c->name, got, c->want);
			return;
		}
	}
}

TEST_MAIN("imds-auto", TEST_CASE(sequences))
