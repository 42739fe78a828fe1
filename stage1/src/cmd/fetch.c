/* initrd-provision fetch: the closure engine on the command line. */
#include "cmd/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot/config.h"
#include "cache/fetch.h"
#include "cache/s3_session.h"
#include "nix/narinfo.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/log.h"
#include "util/progress.h"

#define MAX_KEYS 32

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: initrd-provision fetch --root DIR --substituter URL [--substituter URL...]\n"
		"         --trusted-public-key NAME:KEY [...] [OPTIONS] STOREPATH\n"
		"\n"
		"Makes DIR/nix/store hold the closure of STOREPATH, fetched from Nix binary caches\n"
		"(signatures and hashes checked), and writes DIR/nix-path-registration for\n"
		"`nix-store --load-db`.  Paths already in DIR/nix/store are not fetched again.\n"
		"\n"
		"Options:\n"
		"  --root DIR                  target root (the store is DIR/nix/store)\n"
		"  --substituter URL           s3://BUCKET[/PREFIX][?region=R&...], https://, http://\n"
		"                              or file:// cache; repeat to add more, tried in order\n"
		"  --trusted-public-key K      NAME:BASE64 ed25519 key; repeatable\n"
		"  --no-check-sigs             accept paths without a trusted signature (tests only)\n"
		"  --set-profile               point DIR/nix/var/nix/profiles/system at STOREPATH\n"
		"  --builtin-closure FILE      paths already in DIR that the image vouches for\n"
		"                              (closureInfo's registration or store-paths)\n"
		"  --report FILE               write a JSON report of the run\n"
		"  --connections N             HTTP connections at most (default 25)\n"
		"  --jobs N                    unpacking threads (default: number of CPUs)\n"
		"  --stall-timeout S           abort and retry a transfer receiving nothing for S\n"
		"                              seconds (default 30)\n"
		"  --connect-timeout S         connection timeout in seconds (default 10)\n"
		"  --min-rate B                abort and retry a transfer averaging less than B\n"
		"                              bytes/s over a --stall-timeout window (default 4096)\n"
		"  --deadline S                give up when the whole fetch is not done after S\n"
		"                              seconds (default: none)\n"
		"  --decoder-memory MIB        what all decompressors together may use (default\n"
		"                              128); NARs that need more than a share are\n"
		"                              decoded one at a time\n"
		"  --retries N                 extra attempts per request (default 4); the\n"
		"                              attempts double while the cache throttles\n"
		"  --ca-bundle PATH            CA certificates for https (default\n"
		"                              /etc/ssl/certs/ca-certificates.crt)\n"
		"  --no-sync                   do not syncfs/fsync (faster; unsafe on power loss)\n"
		"  --verbose, --quiet          more output (debug), or only errors and warnings\n"
		"  --curl-verbose              curl's own trace on stderr (secret headers redacted)\n"
		"  --help                      this text\n"
		"\n"
		"S3 caches (s3://):\n"
		"  --aws-credentials FILE      access-key-id, secret-access-key[, session-token]\n"
		"                              (else the environment, else the instance role)\n"
		"  --aws-region R              region for s3:// URLs without ?region= (else IMDS,\n"
		"                              else us-east-1)\n"
		"  --imds-endpoint URL         IMDS for the instance role and region (default\n"
		"                              http://169.254.169.254)\n"
		"\n"
		"Exit codes: 0 done, 1 the fetch failed (the message says why), 2 usage error.\n");
}

enum {
	OPT_ROOT = 256, OPT_SUBSTITUTER, OPT_KEY, OPT_NO_CHECK_SIGS, OPT_SET_PROFILE, OPT_REPORT,
	OPT_CONNECTIONS, OPT_JOBS, OPT_STALL, OPT_CONNECT, OPT_RETRIES, OPT_CA, OPT_NO_SYNC,
	OPT_VERBOSE, OPT_QUIET, OPT_HELP, OPT_CURL_VERBOSE, OPT_AWS_CREDENTIALS, OPT_AWS_REGION,
	OPT_IMDS_ENDPOINT, OPT_MIN_RATE, OPT_DEADLINE, OPT_DECODER_MEMORY, OPT_BUILTIN_CLOSURE,
};

static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return false;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The options that take a number, and the numbers each accepts; where the
 * configuration file has the same setting, its limit. */
struct number_option {
	int opt;
	unsigned long min, max;
	const char *unit;             /* after the range in the usage error */
};
static const struct number_option number_options[] = {
	{ OPT_CONNECTIONS, 1, CONFIG_CONNECTIONS_MAX, "" },
	{ OPT_JOBS, 1, CONFIG_JOBS_MAX, "" },
	{ OPT_STALL, 1, 3600, " seconds" },
	{ OPT_CONNECT, 1, 600, " seconds" },
	{ OPT_MIN_RATE, 1, 1ul << 30, " bytes/s" },
	{ OPT_DEADLINE, 1, CONFIG_FETCH_DEADLINE_MAX_S, " seconds" },
	{ OPT_DECODER_MEMORY, 16, CONFIG_DECODER_MEMORY_MAX_MIB, " MiB" },
	{ OPT_RETRIES, 0, 20, "" },
};

static const struct number_option *number_option(int opt)
{
	for (size_t i = 0; i < sizeof(number_options) / sizeof(number_options[0]); i++)
		if (number_options[i].opt == opt)
			return &number_options[i];
	return NULL;
}

struct console {
	bool tty, quiet, line_shown;
	double last_print;
};

static void clear_line(struct console *con)
{
	if (con->tty && con->line_shown) {
		fputs("\r\033[K", stderr);
		con->line_shown = false;
	}
}

static void on_progress(void *ctx, const struct fetch_progress *p)
{
	struct console *con = ctx;
	if (con->quiet || p->paths_total == 0)
		return;
	double now = monotonic_seconds();
	/* a terminal gets one line updated in place; a log at most a line a
	 * second, and none for a run shorter than that (the summary says it) */
	if (!con->tty && (p->seconds < 1.0 || now - con->last_print < 1.0))
		return;
	con->last_print = now;
	char line[160];
	progress_format(line, sizeof(line), p->paths_done, p->paths_total, p->bytes_done,
			p->bytes_total, p->seconds);
	if (con->tty) {
		fprintf(stderr, "\r\033[K%s", line);
		con->line_shown = true;
	} else {
		fprintf(stderr, "initrd-provision: %s\n", line);
	}
	fflush(stderr);
}

static void on_warn(void *ctx, const char *line)
{
	struct console *con = ctx;
	clear_line(con);
	log_warn("%s", line);
}

static int write_report(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	int r = 0;
	while (len > 0) {
		ssize_t k = write(fd, text, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		text += k;
		len -= (size_t)k;
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int cmd_fetch(int argc, char **argv)
{
	static const struct option options[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "substituter", required_argument, NULL, OPT_SUBSTITUTER },
		{ "trusted-public-key", required_argument, NULL, OPT_KEY },
		{ "no-check-sigs", no_argument, NULL, OPT_NO_CHECK_SIGS },
		{ "set-profile", no_argument, NULL, OPT_SET_PROFILE },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "connections", required_argument, NULL, OPT_CONNECTIONS },
		{ "jobs", required_argument, NULL, OPT_JOBS },
		{ "stall-timeout", required_argument, NULL, OPT_STALL },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "ca-bundle", required_argument, NULL, OPT_CA },
		{ "no-sync", no_argument, NULL, OPT_NO_SYNC },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "curl-verbose", no_argument, NULL, OPT_CURL_VERBOSE },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "aws-credentials", required_argument, NULL, OPT_AWS_CREDENTIALS },
		{ "aws-region", required_argument, NULL, OPT_AWS_REGION },
		{ "imds-endpoint", required_argument, NULL, OPT_IMDS_ENDPOINT },
		{ "min-rate", required_argument, NULL, OPT_MIN_RATE },
		{ "deadline", required_argument, NULL, OPT_DEADLINE },
		{ "decoder-memory", required_argument, NULL, OPT_DECODER_MEMORY },
		{ "builtin-closure", required_argument, NULL, OPT_BUILTIN_CLOSURE },
		{ NULL, 0, NULL, 0 },
	};
	const char *subs[FETCH_MAX_SUBSTITUTERS];
	struct trusted_key keys[MAX_KEYS];
	struct fetch_options o = { .retries = -1, .substituters = subs, .keys = keys };
	const char *report = NULL;
	const char *aws_credentials_file = NULL, *aws_region = NULL, *imds_endpoint = NULL;
	struct console con = { .tty = isatty(STDERR_FILENO) == 1 };
	unsigned long v = 0;
	int opt, option_index = 0;

	while ((opt = getopt_long(argc, argv, "", options, &option_index)) != -1) {
		const struct number_option *num = number_option(opt);
		if (num && !parse_uint(optarg, num->min, num->max, &v))
			return cmd_usage_error("fetch", "--%s wants %lu to %lu%s, not '%s'",
					       options[option_index].name, num->min, num->max, num->unit,
					       optarg);
		switch (opt) {
		case OPT_ROOT:
			o.root = optarg;
			break;
		case OPT_SUBSTITUTER:
			if (o.n_substituters == FETCH_MAX_SUBSTITUTERS)
				return cmd_usage_error("fetch", "at most %d substituters",
						       FETCH_MAX_SUBSTITUTERS);
			subs[o.n_substituters++] = optarg;
			break;
		case OPT_KEY: {
			struct ip_error e = { 0 };
			if (o.n_keys == MAX_KEYS)
				return cmd_usage_error("fetch", "at most %d trusted keys", MAX_KEYS);
			if (trusted_key_parse(optarg, &keys[o.n_keys], &e) < 0)
				return cmd_usage_error("fetch", "bad --trusted-public-key '%s': %s", optarg,
						       ip_error_str(&e));
			o.n_keys++;
			break;
		}
		case OPT_NO_CHECK_SIGS:
			o.no_check_sigs = true;
			break;
		case OPT_SET_PROFILE:
			o.set_profile = true;
			break;
		case OPT_REPORT:
			report = optarg;
			break;
		case OPT_CONNECTIONS:
			o.connections = (unsigned)v;
			break;
		case OPT_JOBS:
			o.jobs = (unsigned)v;
			break;
		case OPT_STALL:
			o.stall_timeout_ms = (unsigned)v * 1000;
			break;
		case OPT_CONNECT:
			o.connect_timeout_ms = (unsigned)v * 1000;
			break;
		case OPT_MIN_RATE:
			o.min_rate = (unsigned)v;
			break;
		case OPT_DEADLINE:
			o.deadline_ms = (unsigned)v * 1000;
			o.deadline_setting = "--deadline";
			break;
		case OPT_DECODER_MEMORY:
			o.decoder_memory = (uint64_t)v * 1024 * 1024;
			break;
		case OPT_RETRIES:
			o.retries = (int)v;
			break;
		case OPT_CA:
			o.ca_bundle = optarg;
			break;
		case OPT_NO_SYNC:
			o.no_sync = true;
			break;
		case OPT_VERBOSE:
			log_set_level(LOG_DEBUG);
			break;
		case OPT_CURL_VERBOSE:
			o.curl_verbose = true;
			break;
		case OPT_QUIET:
			con.quiet = true;
			log_set_level(LOG_WARN);
			break;
		case OPT_HELP:
			print_help(stdout);
			return EXIT_OK;
		case OPT_AWS_CREDENTIALS:
			aws_credentials_file = optarg;
			break;
		case OPT_AWS_REGION:
			aws_region = optarg;
			break;
		case OPT_IMDS_ENDPOINT:
			imds_endpoint = optarg;
			break;
		case OPT_BUILTIN_CLOSURE:
			o.builtin_closure = optarg;
			break;
		default:
			return cmd_usage_error("fetch", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error("fetch", optind == argc ? "no store path given"
							     : "exactly one store path, please");
	o.store_path = argv[optind];
	o.progress = on_progress;
	o.warn = on_warn;
	o.cb_ctx = &con;

#ifdef __GLIBC__
	/* Decoder windows (2-8 MiB) and transfer rings come and go with every
	 * NAR: with a fixed threshold glibc maps them fresh and returns them
	 * on free, so RSS follows what is live (and only the touched part of a
	 * small NAR's window counts), instead of its dynamic threshold keeping
	 * them in the heap for good.  (musl already works this way.) */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	struct ip_error err = { 0 };
	if (fetch_check_options(&o, &err) < 0)
		return cmd_usage_error("fetch", "%s", ip_error_str(&err));
	if (o.no_check_sigs)
		log_warn("SIGNATURE CHECKING IS OFF (--no-check-sigs): whoever controls the cache or "
			 "the network decides what ends up in %s/nix/store", o.root);

	/* S3: credentials and region, set up once (cache/s3_session.h). */
	struct aws_credentials explicit_creds;
	memset(&explicit_creds, 0, sizeof(explicit_creds));
	if (aws_credentials_file) {
		char *text = NULL;
		size_t len = 0;
		if (file_read_all(aws_credentials_file, 16384, &text, &len, &err) < 0 ||
		    aws_credentials_file_parse(text, len, &explicit_creds, &err) < 0) {
			free(text);
			return cmd_usage_error("fetch", "--aws-credentials %s: %s", aws_credentials_file,
					       ip_error_str(&err));
		}
		free(text);
	}
	struct aws_session aws;
	struct aws_session_config ac = {
		.imds_endpoint = imds_endpoint,
		.explicit_credentials = aws_credentials_file ? &explicit_creds : NULL,
		.region = aws_region,
		.need_region = aws_any_s3_without_region(o.substituters, o.n_substituters),
	};
	int sr = aws_session_open(&ac, &aws, &err);
	aws_credentials_wipe(&explicit_creds);
	if (sr < 0)
		return cmd_usage_error("fetch", "%s", ip_error_str(&err));
	o.aws_credentials = aws.credentials;
	o.aws_region = aws.region;

	struct fetch_result res;
	int r = fetch_closure(&o, &res, &err);
	aws_session_close(&aws);
	clear_line(&con);
	if (report) {
		char *json = NULL;
		int rr = fetch_report_json(&o, &res, r < 0 ? &err : NULL, &json);
		if (rr == 0)
			rr = write_report(report, json);
		free(json);
		if (rr < 0)
			log_warn("could not write the report %s: %s", report, strerror(-rr));
	}
	if (r < 0) {
		fprintf(stderr, "initrd-provision: fetch: %s\n", ip_error_str(&err));
		return EXIT_FAILURE_RUN;
	}
	if (!con.quiet) {
		char line[300];
		progress_format_summary(line, sizeof(line), res.paths_total, res.paths_fetched,
					res.paths_present, res.download_bytes, res.nar_bytes, res.t_total);
		log_info("%s", line);
		if (res.profile_link[0])
			log_info("profile: %s/nix/var/nix/profiles/system -> %s", o.root, res.profile_link);
	}
	return EXIT_OK;
}
