/* The boot mode's flow.  Each phase is a function that returns 0 or records
 * the failure (phase + one line) and returns negative; boot_run() applies the
 * failure policy in exactly one place (finish()), which also carries out
 * every power action: halt, reboot, and the reboot into a kexec-loaded
 * kernel.  A run's state is three parts: inputs (read first, then only
 * read), the decision (which system, from where, with which trust) and the
 * results (what the report says). */
#include "boot/boot.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/applied.h"
#include "boot/cmdline.h"
#include "boot/config.h"
#include "boot/kexec.h"
#include "boot/sysroot.h"
#include "cache/fetch.h"
#include "cache/s3_session.h"
#include "imds/imds.h"
#include "net/net.h"
#include "nix/narinfo.h"
#include "nix/store_path.h"
#include "store/profile.h"
#include "userdata/userdata.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

enum boot_phase { PHASE_CONFIG, PHASE_NETWORK, PHASE_IMDS, PHASE_USER_DATA, PHASE_FETCH, PHASE_KERNEL,
		  PHASE_HANDOFF };

static const char *const phase_names[] = { "config", "network", "imds", "user-data", "fetch", "kernel",
					   "hand-off" };

#define PROGRESS_INTERVAL_S 2.0  /* a serial console at 115200 baud is slow */
#define CMDLINE_FILE_MAX 8192

/* What loading the target's kernel came to (kernel-mismatch = kexec). */
enum kexec_verdict {
	KEXEC_NONE,    /* not asked for */
	KEXEC_LOADED,  /* loaded (with --no-power: would be); finish() reboots into it */
	KEXEC_FAILED,  /* not loaded, or the reboot failed: the boot goes on on this kernel */
};

/* What a run starts from; set before the first phase, read-only after. */
struct boot_inputs {
	const struct boot_options *o;
	struct boot_config config;
	struct boot_cmdline cmdline;
	int root_fd;
	double t_start;
	char builtin[NIX_STORE_PATH_MAX];  /* the built-in system */
};

/* Which system to boot, named by whom, fetched with which trust. */
struct boot_decision {
	char target[NIX_STORE_PATH_MAX];   /* "" until decided */
	enum boot_source source;
	struct userdata_result *user_data; /* heap: 16 KiB each */
	struct userdata_result *tag;
	bool user_data_ok;                 /* user_data names a system */
	bool tag_ok;                       /* tag holds a parsed, valid value */
	/* Substituters and keys in effect (config, maybe replaced/extended by user-data). */
	const char *substituters[CONFIG_LIST_MAX];
	size_t n_substituters;
	struct trusted_key keys[2 * CONFIG_LIST_MAX];
	size_t n_keys;
	/* Later boots (boot/applied.h). */
	char user_data_sha256[APPLIED_SHA256_HEX_LEN + 1];
	char tag_sha256[APPLIED_SHA256_HEX_LEN + 1];
	char instance_id[APPLIED_INSTANCE_ID_MAX];
	enum apply_verdict apply_verdict;
	enum apply_reason apply_reason;
	bool apply_decided;
};

/* What happened: the report and finish() read these. */
struct boot_results {
	enum boot_outcome outcome;
	char handed_off[NIX_STORE_PATH_MAX];
	bool failed;
	enum boot_phase failed_phase;
	char failure[IP_ERROR_MSG_MAX];
	char notice[IP_ERROR_MSG_MAX];     /* a non-fatal note for the report */

	struct net_result net;
	bool net_configured;
	double t_imds;
	unsigned imds_requests;
	unsigned imds_gets;                /* GETs we asked for (retries are the rest) */
	struct fetch_result fetch;
	bool fetch_ran;
	double last_progress;
	bool announced_resolution;

	enum boot_kernel_status kernel_status;
	enum kexec_verdict kexec;
	char kernel_action[96];
	char profile_link[PROFILE_LINK_MAX];
};

struct boot_run {
	struct boot_inputs in;
	struct boot_decision decision;
	struct boot_results result;
	struct imds_client *imds;          /* kept for S3 credentials and region */
};

const char *boot_source_name(enum boot_source source)
{
	switch (source) {
	case BOOT_SOURCE_NONE: return "none";
	case BOOT_SOURCE_USER_DATA: return "user-data";
	case BOOT_SOURCE_TAG: return "tag";
	case BOOT_SOURCE_CMDLINE: return "cmdline";
	}
	return "?";
}

const char *boot_outcome_name(enum boot_outcome outcome)
{
	switch (outcome) {
	case BOOT_OUTCOME_FAILED: return "failed";
	case BOOT_OUTCOME_PROVISIONED: return "provisioned";
	case BOOT_OUTCOME_BUILTIN: return "builtin";
	case BOOT_OUTCOME_UNCHANGED: return "unchanged";
	case BOOT_OUTCOME_FALLBACK: return "fallback";
	case BOOT_OUTCOME_HALT: return "halt";
	case BOOT_OUTCOME_REBOOT: return "reboot";
	case BOOT_OUTCOME_KEXEC: return "kexec";
	}
	return "?";
}

const char *boot_kernel_status_name(enum boot_kernel_status status)
{
	switch (status) {
	case BOOT_KERNEL_UNKNOWN: return "unknown";
	case BOOT_KERNEL_MATCH: return "match";
	case BOOT_KERNEL_MISMATCH: return "mismatch";
	}
	return "?";
}

static int fail(struct boot_run *run, enum boot_phase phase, const struct ip_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records the (first) failure.  Returns -1 so phases can `return fail(...)`. */
static int fail_with(struct boot_run *run, enum boot_phase phase, const struct ip_error *err, const char *what)
{
	if (run->result.failed)
		return -1;
	run->result.failed = true;
	run->result.failed_phase = phase;
	char line[2 * IP_ERROR_MSG_MAX + 2];
	snprintf(line, sizeof(line), "%s%s%s", what, what[0] && err ? ": " : "", err ? ip_error_str(err) : "");
	/* Cut at the buffer size: the console line stays one line. */
	memcpy(run->result.failure, line, sizeof(run->result.failure) - 1);
	run->result.failure[sizeof(run->result.failure) - 1] = '\0';
	return -1;
}

static int fail(struct boot_run *run, enum boot_phase phase, const struct ip_error *err, const char *fmt, ...)
{
	char what[IP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail_with(run, phase, err, what);
}

/* ---- reading the inputs --------------------------------------------------- */

static void read_cmdline(struct boot_run *run)
{
	struct ip_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	if (file_read_all(run->in.o->cmdline_path, CMDLINE_FILE_MAX, &buf, &len, &err) < 0) {
		log_warn("cannot read the kernel command line (%s); going on without it", ip_error_str(&err));
		return;
	}
	if (boot_cmdline_parse(buf, len, &run->in.cmdline, &err) < 0)
		log_warn("%s; ignoring the kernel command line", ip_error_str(&err));
	free(buf);
}

static int read_config(struct boot_run *run)
{
	struct ip_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	if (file_read_all(run->in.o->config_path, CONFIG_SIZE_MAX, &buf, &len, &err) < 0)
		return fail(run, PHASE_CONFIG, &err, "reading the configuration");
	int r = boot_config_parse(buf, len, &run->in.config, &err);
	free(buf);
	if (r < 0)
		return fail(run, PHASE_CONFIG, &err, "%s", run->in.o->config_path);
	return 0;
}

/* The built-in system: the config's, else the closure init= points into
 * (the NixOS module cannot write the toplevel into its own initrd). */
static int find_builtin(struct boot_run *run)
{
	struct boot_inputs *inputs = &run->in;
	struct ip_error err = { 0 };
	if (inputs->config.builtin_system[0]) {
		snprintf(inputs->builtin, sizeof(inputs->builtin), "%s", inputs->config.builtin_system);
		return 0;
	}
	if (!inputs->cmdline.init[0])
		return fail(run, PHASE_CONFIG, NULL,
			    "no builtin-system in %s and no init= on the kernel command line",
			    inputs->o->config_path);
	if (sysroot_closure_of_init(inputs->root_fd, inputs->cmdline.init, inputs->builtin, sizeof(inputs->builtin),
				    &err) < 0)
		return fail(run, PHASE_CONFIG, &err, "finding the built-in system");
	return 0;
}

/* ---- network and IMDS ----------------------------------------------------- */

static void on_link_up(void *ctx, const char *ifname, uint64_t ms)
{
	(void)ctx;
	log_info("link %s up after %llu ms", ifname, (unsigned long long)ms);
}

static int bring_up_network(struct boot_run *run)
{
	if (run->in.o->no_network) {
		log_info("network: left as it is (--no-network)");
		return 0;
	}
	const char *names[CONFIG_LIST_MAX];
	for (size_t i = 0; i < run->in.config.n_interfaces; i++)
		names[i] = run->in.config.interfaces[i];
	struct net_config cfg;
	net_config_defaults(&cfg);
	cfg.interfaces = run->in.config.n_interfaces ? names : NULL;
	cfg.n_interfaces = run->in.config.n_interfaces;
	cfg.timeout_ms = run->in.config.dhcp_timeout * 1000u;
	cfg.family = run->in.config.network_family;
	cfg.timeout6_ms = run->in.config.ipv6_timeout * 1000u;
	cfg.resolv_conf = run->in.o->resolv_conf;
	cfg.on_link_up = on_link_up;

	struct ip_error err = { 0 };
	if (net_up(&cfg, &run->result.net, &err) < 0)
		return fail_with(run, PHASE_NETWORK, &err, "");
	run->result.net_configured = net_needs_release(&run->result.net);
	char addr[INET6_ADDRSTRLEN];
	if (run->result.net.ipv4_up) {
		inet_ntop(AF_INET, &run->result.net.lease.address, addr, sizeof(addr));
		log_info("lease on %s: %s/%u in %llu ms after link up", run->result.net.ifname, addr,
			 (unsigned)run->result.net.lease.prefixlen, (unsigned long long)run->result.net.lease_ms);
	}
	if (run->result.net.ipv6_up) {
		inet_ntop(AF_INET6, &run->result.net.lease6.address, addr, sizeof(addr));
		log_info("IPv6 on %s: %s/128 in %llu ms after link up (valid %u s; stage 2 must renew)",
			 run->result.net.ifname6, addr, (unsigned long long)run->result.net.lease6_ms,
			 run->result.net.lease6.valid_lft);
	}
	if (run->result.net.ipv4_error[0])
		log_warn("IPv4 not up, going on with IPv6: %s", run->result.net.ipv4_error);
	if (run->result.net.ipv6_error[0])
		log_warn("IPv6 not up, going on with IPv4: %s", run->result.net.ipv6_error);
	return 0;
}

static void release_network(struct boot_run *run)
{
	if (!run->result.net_configured || run->in.config.keep_network)
		return;
	struct ip_error err = { 0 };
	if (net_release(&run->result.net, &err) < 0)
		log_warn("flushing the network before stage 2: %s", ip_error_str(&err));
	run->result.net_configured = false;
}

/* Reads user-data (and the tag when user-data does not name a system) and
 * picks the target.  No provisioning document is not a failure. */
static int read_instance_data(struct boot_run *run, struct imds_client *imds)
{
	struct ip_error err = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	struct userdata_policy policy = {
		.allow_substituters = run->in.config.allow_user_data_substituters,
		.allow_keys = run->in.config.allow_user_data_keys,
	};
	double t0 = monotonic_seconds();
	bool have_user_data = false, user_data_malformed = false;

	run->result.imds_gets++;
	int r = imds_user_data(imds, &buf, &len, &err);
	if (r == -ENOENT) {
		log_info("IMDS: no user-data");
	} else if (r < 0) {
		run->result.t_imds = monotonic_seconds() - t0;
		return fail(run, PHASE_IMDS, &err, "reading user-data");
	} else {
		log_info("IMDS: user-data read (%zu bytes)", len);
		applied_document_sha256(buf, len, run->decision.user_data_sha256);
		ip_error_clear(&err);
		r = userdata_parse(buf, len, &policy, run->decision.user_data, &err);
		if (r < 0) {
			/* Malformed: the built-in system boots; one clear line, no tag lookup. */
			user_data_malformed = true;
			fail(run, PHASE_USER_DATA, &err, "user-data");
		} else if (run->decision.user_data->kind == USERDATA_NOT_OURS) {
			log_info("user-data is not ours (%s); leaving it to stage 2", run->decision.user_data->reason);
		} else {
			have_user_data = true;
			run->decision.user_data_ok = true;
		}
		for (size_t i = 0; i < run->decision.user_data->n_warnings; i++)
			log_warn("user-data: %s", run->decision.user_data->warnings[i]);
	}
	free(buf);

	if (!have_user_data && !user_data_malformed && run->in.config.system_tag[0]) {
		char *value = NULL;
		ip_error_clear(&err);
		run->result.imds_gets++;
		r = imds_tag(imds, run->in.config.system_tag, &value, &err);
		if (r == 0) {
			ip_error_clear(&err);
			applied_document_sha256(value, strlen(value), run->decision.tag_sha256);
			if (userdata_parse_tag(value, strlen(value), run->decision.tag, &err) < 0)
				fail(run, PHASE_USER_DATA, &err, "instance tag %s", run->in.config.system_tag);
			else
				run->decision.tag_ok = run->decision.tag->kind == USERDATA_OK;
		} else if (r != -ENOENT) {
			log_warn("IMDS: reading instance tag %s: %s", run->in.config.system_tag, ip_error_str(&err));
		}
		free(value);
	}
	run->result.t_imds = monotonic_seconds() - t0;
	run->result.imds_requests = imds_request_count(imds);
	if (run->result.failed)
		return -1;

	const struct userdata_result *chosen =
		userdata_choose(have_user_data ? run->decision.user_data : NULL,
				run->decision.tag_ok ? run->decision.tag : NULL);
	if (!chosen) {
		run->decision.source = BOOT_SOURCE_NONE;
		return 0;
	}
	/* The report's and console's word for it (README "Report"). */
	run->decision.source = chosen->source == USERDATA_SOURCE_TAG ? BOOT_SOURCE_TAG : BOOT_SOURCE_USER_DATA;
	snprintf(run->decision.target, sizeof(run->decision.target), "%s", chosen->system);
	return 0;
}

/* ---- the closure ---------------------------------------------------------- */

static int collect_trust(struct boot_run *run)
{
	const struct boot_inputs *inputs = &run->in;
	struct boot_decision *dec = &run->decision;
	struct ip_error err = { 0 };
	const struct userdata_result *ud =
		dec->user_data_ok && dec->source == BOOT_SOURCE_USER_DATA ? dec->user_data : NULL;

	/* User-data's substituters replace the image's; its keys add to them
	 * (both only when the image allows it: userdata_parse enforced that). */
	if (ud && ud->n_substituters) {
		for (size_t i = 0; i < ud->n_substituters; i++)
			dec->substituters[dec->n_substituters++] = ud->substituters[i];
	} else {
		for (size_t i = 0; i < inputs->config.n_substituters; i++)
			dec->substituters[dec->n_substituters++] = inputs->config.substituters[i];
	}
	for (size_t i = 0; i < inputs->config.n_trusted_public_keys; i++) {
		if (trusted_key_parse(inputs->config.trusted_public_keys[i], &dec->keys[dec->n_keys], &err) < 0)
			return fail(run, PHASE_CONFIG, &err, "trusted-public-keys");
		dec->n_keys++;
	}
	for (size_t i = 0; ud && i < ud->n_keys; i++) {
		if (trusted_key_parse(ud->keys[i], &dec->keys[dec->n_keys], &err) < 0)
			return fail(run, PHASE_USER_DATA, &err, "trusted-public-keys");
		dec->n_keys++;
	}
	if (dec->n_substituters == 0)
		return fail(run, PHASE_FETCH, NULL,
			    "no substituters to fetch %s from; set substituters in the image's configuration",
			    dec->target);
	return 0;
}

static void on_fetch_progress(void *ctx, const struct fetch_progress *p)
{
	struct boot_run *run = ctx;
	double now = monotonic_seconds();
	if (p->resolved && !run->result.announced_resolution) {
		run->result.announced_resolution = true;
		log_info("closure resolved: %zu paths to fetch, %.1f MiB", p->paths_total,
			 (double)p->bytes_total / 1048576.0);
	}
	if (now - run->result.last_progress < PROGRESS_INTERVAL_S)
		return;
	run->result.last_progress = now;
	log_info("progress: %zu/%zu paths, %.1f/%.1f MiB, %.1f MiB/s", p->paths_done, p->paths_total,
		 (double)p->bytes_done / 1048576.0, (double)p->bytes_total / 1048576.0,
		 p->seconds > 0 ? (double)p->bytes_done / 1048576.0 / p->seconds : 0.0);
}

static void on_fetch_warning(void *ctx, const char *line)
{
	(void)ctx;
	log_warn("%s", line);
}

static int fetch_target(struct boot_run *run)
{
	if (collect_trust(run) < 0)
		return -1;
	struct fetch_options fo = {
		.root = run->in.o->sysroot,
		.store_path = run->decision.target,
		.substituters = run->decision.substituters,
		.n_substituters = run->decision.n_substituters,
		.keys = run->decision.keys,
		.n_keys = run->decision.n_keys,
		.connections = run->in.config.connections,
		.jobs = run->in.config.jobs,
		.retries = -1,
		.deadline_ms = run->in.config.fetch_deadline * 1000u,
		.deadline_setting = "fetch-deadline",
		.decoder_memory = (uint64_t)run->in.config.decoder_memory * 1024 * 1024,
		.ca_bundle = run->in.config.ca_bundle,
		.progress = on_fetch_progress,
		.warn = on_fetch_warning,
		.cb_ctx = run,
	};
	struct ip_error err = { 0 };
	/* The image's list of the paths it placed, read inside the root. */
	char builtin_closure[SYSROOT_PATH_MAX], builtin_closure_file[SYSROOT_PATH_MAX + 64];
	if (run->in.config.builtin_closure[0]) {
		if (sysroot_resolve(run->in.root_fd, run->in.config.builtin_closure, builtin_closure,
				    sizeof(builtin_closure), &err) < 0) {
			log_warn("builtin-closure %s: %s; the image's paths will be hashed instead",
				 run->in.config.builtin_closure, ip_error_str(&err));
			ip_error_clear(&err);
		} else {
			snprintf(builtin_closure_file, sizeof(builtin_closure_file), "%s%s", run->in.o->sysroot,
				 builtin_closure);
			fo.builtin_closure = builtin_closure_file;
		}
	}
	/* S3: the instance role's credentials and the region, from the same IMDS. */
	struct aws_session aws;
	struct aws_session_config ac = {
		.imds = run->imds,
		.imds_endpoint = run->imds ? NULL : run->in.config.imds_endpoint,
		.imds_budget_ms = run->in.config.imds_timeout * 1000u,
		.region = run->in.config.aws_region,
		.need_region = aws_any_s3_without_region(run->decision.substituters, run->decision.n_substituters),
	};
	if (aws_session_open(&ac, &aws, &err) < 0)
		return fail_with(run, PHASE_FETCH, &err, "AWS credentials");
	if (aws.region_from_imds)
		log_info("S3 region from IMDS: %s", aws.region);
	fo.aws_credentials = aws.credentials;
	fo.aws_region = aws.region;
	/* The plain S3 endpoints are IPv4 only. */
	fo.s3_dualstack = net_only_ipv6(&run->result.net);
	for (size_t i = 0; fo.s3_dualstack && i < run->decision.n_substituters; i++)
		if (strncmp(run->decision.substituters[i], "s3://", 5) == 0) {
			log_info("only IPv6 is up: s3:// substituters without endpoint= use the dual-stack host "
				 "s3.dualstack.REGION.amazonaws.com");
			break;
		}
	log_info("fetching %s from %zu substituter(s)", run->decision.target, run->decision.n_substituters);
	run->result.fetch_ran = true;
	run->result.last_progress = monotonic_seconds();
	int r = fetch_closure(&fo, &run->result.fetch, &err);
	aws_session_close(&aws);
	if (r < 0)
		return fail_with(run, PHASE_FETCH, &err, "");
	const struct fetch_result *f = &run->result.fetch;
	log_info("closure verified and registered: %zu paths (%zu fetched, %zu present: %zu vouched for, %zu hashed), "
		 "%.1f MiB downloaded in %.1f s",
		 f->paths_total, f->paths_fetched, f->paths_present, f->paths_vouched, f->paths_checked,
		 (double)f->download_bytes / 1048576.0, f->t_total);
	return 0;
}

/* The target must be a system stage 1 can hand over to. */
static int check_target_is_a_system(struct boot_run *run)
{
	char init[NIX_STORE_PATH_MAX + 8], prepare_root[NIX_STORE_PATH_MAX + 16];
	char systemd[NIX_STORE_PATH_MAX + 32];
	struct stat st;
	snprintf(init, sizeof(init), "%s/init", run->decision.target + 1);
	if (fstatat(run->in.root_fd, init, &st, 0) < 0 || !S_ISREG(st.st_mode))
		return fail(run, PHASE_HANDOFF, NULL,
			    "%s has no init: it is not a NixOS system (the user-data must name a system's toplevel)",
			    run->decision.target);
	/* nixpkgs top-level.nix: with system.nixos-init.enable, init is a copy
	 * of systemd and there is no prepare-root, so neither stage 1 here can
	 * activate it (the stage-1 glue refuses it as well).  Refused before the
	 * profile names it. */
	snprintf(prepare_root, sizeof(prepare_root), "%s/prepare-root", run->decision.target + 1);
	if (fstatat(run->in.root_fd, prepare_root, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(init, sizeof(init), "%s/init", run->decision.target);
	snprintf(systemd, sizeof(systemd), "%s/systemd/lib/systemd/systemd", run->decision.target);
	if (sysroot_same_contents(run->in.root_fd, init, systemd, NULL) == 1)
		return fail(run, PHASE_HANDOFF, NULL,
			    "%s starts systemd directly and has no prepare-root (built with system.nixos-init.enable?): "
			    "no stage 1 here can activate it; build it without nixos-init",
			    run->decision.target);
	return 0;
}

/* ---- the kernel ------------------------------------------------------------ */

static int resolve_kernel(struct boot_run *run, const char *system, const char *explicit_kernel, char *out,
			  size_t out_size)
{
	char path[SYSROOT_PATH_MAX];
	if (explicit_kernel && explicit_kernel[0])
		snprintf(path, sizeof(path), "%s", explicit_kernel);
	else
		snprintf(path, sizeof(path), "%s/kernel", system);
	return sysroot_resolve(run->in.root_fd, path, out, out_size, NULL);
}

static int read_small_file_in_root(struct boot_run *run, const char *path, char *out, size_t out_size)
{
	char *text = NULL;
	size_t len = 0;
	int r = fs_read_file_at(run->in.root_fd, path + 1, out_size - 1, &text, &len, NULL);
	if (r < 0)
		return r;
	memcpy(out, text, len + 1);
	free(text);
	return 0;
}

static enum kexec_verdict load_target_kernel(struct boot_run *run, const char *target_kernel,
					     struct ip_error *err);
static void kexec_failed(struct boot_run *run, const struct ip_error *err);

static int check_kernel(struct boot_run *run)
{
	const struct boot_inputs *inputs = &run->in;
	char builtin_kernel[SYSROOT_PATH_MAX], target_kernel[SYSROOT_PATH_MAX];
	if (resolve_kernel(run, inputs->builtin, inputs->config.builtin_kernel, builtin_kernel,
			   sizeof(builtin_kernel)) < 0 ||
	    resolve_kernel(run, run->decision.target, NULL, target_kernel, sizeof(target_kernel)) < 0) {
		run->result.kernel_status = BOOT_KERNEL_UNKNOWN;
		log_warn("kernel: cannot tell whether %s/kernel matches the running kernel; going on", run->decision.target);
		return 0;
	}
	if (strcmp(builtin_kernel, target_kernel) == 0) {
		run->result.kernel_status = BOOT_KERNEL_MATCH;
		return 0;
	}
	run->result.kernel_status = BOOT_KERNEL_MISMATCH;
	log_warn("KERNEL MISMATCH: %s boots kernel %s, but this initrd belongs to %s; stage 2 would load "
		 "kernel modules that do not fit the running kernel (kernel-mismatch = %s)",
		 run->decision.target, target_kernel, builtin_kernel, kernel_mismatch_name(inputs->config.kernel_mismatch));
	switch (inputs->config.kernel_mismatch) {
	case KERNEL_MISMATCH_CONTINUE:
		snprintf(run->result.kernel_action, sizeof(run->result.kernel_action), "continue");
		return 0;
	case KERNEL_MISMATCH_FAIL:
		snprintf(run->result.kernel_action, sizeof(run->result.kernel_action), "fail");
		return fail(run, PHASE_KERNEL, NULL, "%s needs kernel %s, not the running one (kernel-mismatch = fail)",
			    run->decision.target, target_kernel);
	case KERNEL_MISMATCH_KEXEC: {
		struct ip_error err = { 0 };
		run->result.kexec = load_target_kernel(run, target_kernel, &err);
		if (run->result.kexec == KEXEC_FAILED)
			kexec_failed(run, &err);
		return 0;
	}
	}
	return 0;
}

/* Loads the target's kernel (--no-power: says what it would load).  Only
 * loads: finish() reboots into it, as it carries out every power action. */
static enum kexec_verdict load_target_kernel(struct boot_run *run, const char *target_kernel,
					     struct ip_error *err)
{
	char params_path[SYSROOT_PATH_MAX], params[CMDLINE_MAX], initrd[SYSROOT_PATH_MAX], cmdline[CMDLINE_MAX];
	char kernel_file[SYSROOT_PATH_MAX + 64], initrd_file[SYSROOT_PATH_MAX + 64];

	snprintf(params_path, sizeof(params_path), "%s/kernel-params", run->decision.target);
	if (read_small_file_in_root(run, params_path, params, sizeof(params)) < 0)
		params[0] = '\0';
	snprintf(initrd, sizeof(initrd), "%s/initrd", run->decision.target);
	char initrd_resolved[SYSROOT_PATH_MAX];
	if (sysroot_resolve(run->in.root_fd, initrd, initrd_resolved, sizeof(initrd_resolved), err) < 0 ||
	    boot_cmdline_for_kexec(params, run->decision.target, &run->in.cmdline, cmdline, sizeof(cmdline), err) < 0)
		return KEXEC_FAILED;
	snprintf(kernel_file, sizeof(kernel_file), "%s%s", run->in.o->sysroot, target_kernel);
	snprintf(initrd_file, sizeof(initrd_file), "%s%s", run->in.o->sysroot, initrd_resolved);
	/* --no-power walks the same path as a kexec whose reboot failed: it
	 * says what it would load, and the boot goes on on this kernel. */
	if (run->in.o->no_power)
		log_info("kexec (not done: --no-power): %s with %s, command line: %s", kernel_file, initrd_file, cmdline);
	else if (kexec_load_files(kernel_file, initrd_file, cmdline, err) < 0)
		return KEXEC_FAILED;
	log_info("kexec: rebooting into %s (command line: %s)", target_kernel, cmdline);
	return KEXEC_LOADED;
}

/* A failed kexec never blocks the boot: continue, loudly. */
static void kexec_failed(struct boot_run *run, const struct ip_error *err)
{
	snprintf(run->result.kernel_action, sizeof(run->result.kernel_action), "continue (kexec failed)");
	snprintf(run->result.notice, sizeof(run->result.notice), "kexec failed: %s; booting %s on the running kernel",
		 ip_error_str(err), run->decision.target);
	log_warn("%s", run->result.notice);
}

/* ---- hand-off and report -------------------------------------------------- */

static int write_file_atomically(int dir_fd, const char *name, const char *text, struct ip_error *err)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	return fs_replace_file_at(dir_fd, name, tmp, text, strlen(text), true, err);
}

static int open_run_dir(struct boot_run *run, struct ip_error *err)
{
	return fs_mkdir_p_at(AT_FDCWD, run->in.o->run_dir, 0755, err);
}

static int hand_off(struct boot_run *run, const char *system, struct ip_error *err)
{
	char line[NIX_STORE_PATH_MAX + 16];
	int dir_fd = open_run_dir(run, err);
	if (dir_fd < 0)
		return dir_fd;
	snprintf(line, sizeof(line), "%s\n", system);
	int r = write_file_atomically(dir_fd, "system", line, err);
	snprintf(line, sizeof(line), "%s/init\n", system);
	if (r == 0)
		r = write_file_atomically(dir_fd, "init", line, err);
	close(dir_fd);
	if (r < 0)
		return r;
	snprintf(run->result.handed_off, sizeof(run->result.handed_off), "%s", system);
	log_info("hand-off: stage 2 is %s/init", system);
	return 0;
}

/* The hand-off of a successful run; a failure here is a failure of the run. */
static int hand_off_or_fail(struct boot_run *run, const char *system)
{
	struct ip_error err = { 0 };
	if (hand_off(run, system, &err) < 0)
		return fail(run, PHASE_HANDOFF, &err, "%s", run->in.o->run_dir);
	return 0;
}

static void write_report(struct boot_run *run)
{
	const struct boot_inputs *inputs = &run->in;
	const struct boot_decision *dec = &run->decision;
	const struct boot_results *res = &run->result;
	struct json_writer w;
	json_init(&w);
	json_begin_object(&w, NULL);
	json_string(&w, "outcome", boot_outcome_name(res->outcome));
	json_string(&w, "source", boot_source_name(dec->source));
	json_string(&w, "system", res->handed_off[0] ? res->handed_off : NULL);
	json_string(&w, "target", dec->target[0] ? dec->target : NULL);
	json_string(&w, "builtin_system", inputs->builtin[0] ? inputs->builtin : NULL);
	if (res->failed) {
		json_begin_object(&w, "failure");
		json_string(&w, "phase", phase_names[res->failed_phase]);
		json_string(&w, "reason", res->failure);
		json_string(&w, "policy", on_failure_name(inputs->config.on_failure));
		json_end_object(&w);
	}
	json_string(&w, "notice", res->notice[0] ? res->notice : NULL);
	json_begin_object(&w, "kernel");
	json_string(&w, "status", boot_kernel_status_name(res->kernel_status));
	json_string(&w, "policy", kernel_mismatch_name(inputs->config.kernel_mismatch));
	json_string(&w, "action", res->kernel_action[0] ? res->kernel_action : NULL);
	json_end_object(&w);
	json_begin_object(&w, "network");
	json_string(&w, "interface", res->net.ifname[0] ? res->net.ifname : NULL);
	json_uint(&w, "dhcp_discovers", res->net.dhcp_discovers);
	json_uint(&w, "dhcp_naks", res->net.dhcp_naks);
	json_bool(&w, "kept", inputs->config.keep_network);
	json_end_object(&w);
	json_uint(&w, "paths_closure", res->fetch.paths_total);
	json_uint(&w, "paths_present", res->fetch.paths_present);
	json_uint(&w, "paths_fetched", res->fetch.paths_fetched);
	json_uint(&w, "bytes_fetched", res->fetch.download_bytes);
	json_uint(&w, "nar_bytes_fetched", res->fetch.nar_bytes);
	json_string(&w, "profile_link", res->profile_link[0] ? res->profile_link : NULL);
	json_begin_object(&w, "apply");
	json_string(&w, "policy", apply_policy_name(inputs->config.apply));
	json_string(&w, "decision", !dec->apply_decided ? NULL
				    : dec->apply_verdict == APPLY_VERDICT_APPLY ? "apply"
										: "unchanged");
	json_string(&w, "reason", dec->apply_decided ? apply_reason_name(dec->apply_reason) : NULL);
	json_end_object(&w);
	json_begin_object(&w, "timings");
	json_double(&w, "link", (double)res->net.link_up_ms / 1000.0, 3);
	json_double(&w, "lease", (double)res->net.lease_ms / 1000.0, 3);
	json_double(&w, "imds", res->t_imds, 3);
	json_double(&w, "resolve", res->fetch.t_resolve, 3);
	json_double(&w, "download", res->fetch.t_download, 3);
	json_double(&w, "unpack", res->fetch.t_unpack_cpu, 3);
	json_double(&w, "register", res->fetch.t_register, 3);
	json_double(&w, "fetch", res->fetch.t_total, 3);
	json_double(&w, "total", monotonic_seconds() - inputs->t_start, 3);
	json_end_object(&w);
	/* One token request plus our GETs is a run without retries. */
	unsigned imds_retries = res->imds_requests > res->imds_gets + 1 ? res->imds_requests - res->imds_gets - 1 : 0;
	unsigned dhcp_retries = res->net.dhcp_discovers > 1 ? res->net.dhcp_discovers - 1 : 0;
	json_uint(&w, "retries", imds_retries + dhcp_retries + res->fetch.http_retries + res->fetch.nar_retries +
				      res->fetch.content_retries);
	json_begin_object(&w, "retry_details");
	json_uint(&w, "imds", imds_retries);
	json_uint(&w, "dhcp", dhcp_retries);
	json_uint(&w, "http", res->fetch.http_retries);
	json_uint(&w, "nar", res->fetch.nar_retries);
	json_uint(&w, "content", res->fetch.content_retries);
	json_uint(&w, "stalls", res->fetch.stalls);
	json_end_object(&w);
	json_end_object(&w);

	const char *text = NULL;
	size_t len = 0;
	struct ip_error err = { 0 };
	if (json_finish(&w, &text, &len) < 0) {
		log_warn("report: could not be built");
		json_free(&w);
		return;
	}
	char *with_newline = malloc(len + 2);
	if (with_newline) {
		memcpy(with_newline, text, len);
		memcpy(with_newline + len, "\n", 2);
		int dir_fd = open_run_dir(run, &err);
		if (dir_fd < 0 || write_file_atomically(dir_fd, "report.json", with_newline, &err) < 0)
			log_warn("report: %s", ip_error_str(&err));
		if (dir_fd >= 0)
			close(dir_fd);
		/* A copy on the root for stage 2's journal and for later inspection. */
		ip_error_clear(&err);
		dir_fd = inputs->root_fd >= 0 ? fs_mkdir_p_at(inputs->root_fd, "var/log/initrd-provision", 0755, &err)
					      : -EBADF;
		if (dir_fd >= 0) {
			if (write_file_atomically(dir_fd, "report.json", with_newline, &err) < 0)
				log_warn("report copy on the root: %s", ip_error_str(&err));
			close(dir_fd);
		}
		free(with_newline);
	}
	json_free(&w);
}

/* ---- the end of a run: every power action happens here --------------------- */

static int hand_off_target(struct boot_run *run);

/* Reboots into the kernel load_target_kernel() loaded.  Returns only when
 * that did not happen: the target then boots on this kernel. */
static void reboot_into_target_kernel(struct boot_run *run)
{
	struct ip_error err = { 0 };
	enum boot_outcome outcome = run->result.outcome;
	snprintf(run->result.kernel_action, sizeof(run->result.kernel_action), "kexec");
	run->result.outcome = BOOT_OUTCOME_KEXEC;
	release_network(run);
	write_report(run);
	if (run->in.o->no_power)
		ip_fail(&err, -ECANCELED, "not rebooting (--no-power)");
	else
		kexec_reboot(&err);
	/* Still here: this boot goes on, and its report must say how it ends. */
	run->result.outcome = outcome;
	run->result.kexec = KEXEC_FAILED;
	kexec_failed(run, &err);
	hand_off_target(run); /* a failure here meets the failure policy below */
}

static int finish(struct boot_run *run)
{
	struct boot_results *res = &run->result;
	if (!res->failed && res->kexec == KEXEC_LOADED)
		reboot_into_target_kernel(run);
	if (!res->failed) {
		release_network(run);
		write_report(run);
		return 0;
	}
	enum on_failure policy = run->in.config.on_failure;
	if (policy == ON_FAILURE_FALLBACK || !run->in.builtin[0]) {
		if (run->in.builtin[0]) {
			log_banner("FAILED %s: %s; booting built-in system %s", phase_names[res->failed_phase], res->failure,
				  run->in.builtin);
			res->outcome = BOOT_OUTCOME_FALLBACK;
			struct ip_error err = { 0 };
			if (hand_off(run, run->in.builtin, &err) < 0)
				log_banner("FAILED hand-off: %s; stage 1 goes on with init= as given", ip_error_str(&err));
		} else {
			log_banner("FAILED %s: %s; no built-in system known, leaving stage 1 to boot init= as given",
				  phase_names[res->failed_phase], res->failure);
			res->outcome = BOOT_OUTCOME_FAILED;
		}
		release_network(run);
		write_report(run);
		return 0;
	}
	const char *action = policy == ON_FAILURE_HALT ? "powering off" : "rebooting";
	log_banner("FAILED %s: %s; %s (on-failure = %s)", phase_names[res->failed_phase], res->failure, action,
		  on_failure_name(policy));
	res->outcome = policy == ON_FAILURE_HALT ? BOOT_OUTCOME_HALT : BOOT_OUTCOME_REBOOT;
	release_network(run);
	write_report(run);
	sync();
	if (run->in.o->no_power) {
		log_info("%s skipped (--no-power)", action);
		return 0;
	}
	reboot(policy == ON_FAILURE_HALT ? RB_POWER_OFF : RB_AUTOBOOT);
	log_error("%s failed: %s; stage 1 goes on with the built-in system", action, strerror(errno));
	return 1;
}

/* ---- later boots: apply = every-boot | when-changed ------------------------ */

static int read_applied_record(struct boot_run *run, struct applied_state *state)
{
	struct ip_error err = { 0 };
	char path[SYSROOT_PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s/%s", run->in.o->sysroot, APPLIED_STATE_DIR, APPLIED_STATE_NAME);
	int r = file_read_all(path, APPLIED_STATE_SIZE_MAX, &buf, &len, &err);
	if (r == -ENOENT)
		return r;
	if (r == 0) {
		r = applied_state_parse(buf, len, state, &err);
		free(buf);
	}
	if (r < 0)
		log_warn("apply: ignoring /%s/%s: %s", APPLIED_STATE_DIR, APPLIED_STATE_NAME, ip_error_str(&err));
	return r;
}

/* Decides whether the document read from IMDS is applied on this boot.  When
 * it is not (when-changed, nothing changed), the target becomes what the
 * system profile names now: the system applied last or what the operator
 * switched to since.  Never fails the run: without a usable record or
 * instance-id the document is applied, as every-boot would. */
static void decide_apply(struct boot_run *run)
{
	struct boot_decision *dec = &run->decision;
	const char *sha = dec->source == BOOT_SOURCE_TAG ? dec->tag_sha256 : dec->user_data_sha256;
	struct applied_state previous = { 0 };
	bool have_previous = false;
	if (run->in.config.apply == APPLY_WHEN_CHANGED) {
		struct ip_error err = { 0 };
		uint8_t *id = NULL;
		size_t len = 0;
		run->result.imds_gets++;
		if (imds_get(run->imds, "/latest/meta-data/instance-id", &id, &len, &err) == 0 && len > 0 &&
		    len < sizeof(dec->instance_id) && strlen((char *)id) == len && !strpbrk((char *)id, " \t\r\n"))
			memcpy(dec->instance_id, id, len + 1);
		else
			log_warn("apply: no usable instance-id from IMDS (%s); applying the user-data",
				 err.code ? ip_error_str(&err) : "unexpected value");
		free(id);
		have_previous = dec->instance_id[0] && read_applied_record(run, &previous) == 0;
	}
	dec->apply_decided = true;
	dec->apply_verdict = apply_decide(run->in.config.apply, have_previous ? &previous : NULL, dec->instance_id,
					  sha, &dec->apply_reason);
	if (dec->apply_verdict == APPLY_VERDICT_APPLY) {
		if (run->in.config.apply == APPLY_WHEN_CHANGED)
			log_info("apply = when-changed: applying (%s)", apply_reason_name(dec->apply_reason));
		return;
	}
	struct ip_error err = { 0 };
	char profile[NIX_STORE_PATH_MAX];
	if (sysroot_closure_of_init(run->in.root_fd, "/nix/var/nix/profiles/system/init", profile, sizeof(profile),
				    &err) < 0) {
		log_warn("apply = when-changed: the user-data is unchanged, but the system profile names no system "
			 "(%s); booting the built-in system %s", ip_error_str(&err), run->in.builtin);
		snprintf(dec->target, sizeof(dec->target), "%s", run->in.builtin);
		return;
	}
	log_info("apply = when-changed: user-data unchanged since it was applied on %s (%s); booting the system "
		 "profile's %s",
		 dec->instance_id, previous.system, profile);
	snprintf(dec->target, sizeof(dec->target), "%s", profile);
}

/* After a hand-off to what the document named: remember it (when-changed). */
static void record_applied(struct boot_run *run)
{
	struct boot_decision *dec = &run->decision;
	if (!dec->apply_decided || run->in.config.apply != APPLY_WHEN_CHANGED ||
	    dec->apply_verdict != APPLY_VERDICT_APPLY || !dec->instance_id[0])
		return;
	struct applied_state state = { 0 };
	char text[APPLIED_STATE_SIZE_MAX];
	struct ip_error err = { 0 };
	snprintf(state.instance_id, sizeof(state.instance_id), "%s", dec->instance_id);
	snprintf(state.document_sha256, sizeof(state.document_sha256), "%s",
		 dec->source == BOOT_SOURCE_TAG ? dec->tag_sha256 : dec->user_data_sha256);
	snprintf(state.system, sizeof(state.system), "%s", dec->target);
	int dir_fd = applied_state_format(&state, text, sizeof(text)) < 0
			     ? -ENOSPC
			     : fs_mkdir_p_at(run->in.root_fd, APPLIED_STATE_DIR, 0755, &err);
	if (dir_fd < 0 || write_file_atomically(dir_fd, APPLIED_STATE_NAME, text, &err) < 0)
		log_warn("apply: cannot record the applied user-data in /%s/%s: %s; the next boot applies it again",
			 APPLIED_STATE_DIR, APPLIED_STATE_NAME, ip_error_str(&err));
	if (dir_fd >= 0)
		close(dir_fd);
}

/* The target boots on the running kernel: hand off and remember it. */
static int hand_off_target(struct boot_run *run)
{
	if (hand_off_or_fail(run, run->decision.target) < 0)
		return -1;
	record_applied(run);
	return 0;
}

/* ---- the flow ---------------------------------------------------------------- */

void boot_options_defaults(struct boot_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->sysroot = "/sysroot";
	opts->config_path = "/etc/initrd-provision.conf";
	opts->cmdline_path = "/proc/cmdline";
	opts->run_dir = "/run/initrd-provision";
	opts->resolv_conf = "/etc/resolv.conf";
}

static int decide_and_provision(struct boot_run *run)
{
	struct ip_error err = { 0 };
	if (run->in.cmdline.system_override[0]) {
		if (nix_store_path_check(run->in.cmdline.system_override, strlen(run->in.cmdline.system_override), &err) < 0)
			return fail(run, PHASE_CONFIG, &err, "initrd_provision.system=");
		/* Checked above: a store path fits run->decision.target. */
		memcpy(run->decision.target, run->in.cmdline.system_override, strlen(run->in.cmdline.system_override) + 1);
		run->decision.source = BOOT_SOURCE_CMDLINE;
		log_info("decision: source: cmdline, system %s", run->decision.target);
		if (strcmp(run->decision.target, run->in.builtin) != 0 && bring_up_network(run) < 0)
			return -1;
	} else {
		if (bring_up_network(run) < 0)
			return -1;
		struct imds_config ic = {
			.endpoint = run->in.config.imds_endpoint,
			.budget_ms = run->in.config.imds_timeout * 1000u,
			.allow_v1 = run->in.config.imds_allow_v1,
		};
		if (imds_client_new(&ic, &run->imds, &err) < 0)
			return fail_with(run, PHASE_IMDS, &err, "");
		if (read_instance_data(run, run->imds) < 0)
			return -1;
		if (!run->decision.target[0]) {
			log_info("decision: source: none (no system named in user-data or tags); booting the built-in system %s",
				 run->in.builtin);
			run->result.outcome = BOOT_OUTCOME_BUILTIN;
			return hand_off_or_fail(run, run->in.builtin);
		}
		log_info("decision: source: %s, system %s", boot_source_name(run->decision.source), run->decision.target);
		decide_apply(run);
	}
	bool unchanged = run->decision.apply_decided && run->decision.apply_verdict == APPLY_VERDICT_UNCHANGED;

	if (strcmp(run->decision.target, run->in.builtin) == 0) {
		/* E.g. the second boot after a kexec: init= already names the target. */
		log_info("%s is the built-in system: nothing to fetch", run->decision.target);
		run->result.outcome = BOOT_OUTCOME_BUILTIN;
		run->result.kernel_status = BOOT_KERNEL_MATCH;
		if (hand_off_or_fail(run, run->in.builtin) < 0)
			return -1;
		record_applied(run);
		return 0;
	}
	if (unchanged) {
		/* The profile's system is on this disk already (it booted before,
		 * or the operator built it here): nothing to fetch or re-point. */
		if (check_target_is_a_system(run) < 0)
			return -1;
		run->result.outcome = BOOT_OUTCOME_UNCHANGED;
	} else {
		if (fetch_target(run) < 0 || check_target_is_a_system(run) < 0)
			return -1;
		if (profile_set_system(run->in.root_fd, run->decision.target, true, run->result.profile_link, &err) < 0)
			return fail(run, PHASE_HANDOFF, &err, "setting the system profile");
		run->result.outcome = BOOT_OUTCOME_PROVISIONED;
	}
	if (check_kernel(run) < 0)
		return -1;
	if (run->result.kexec == KEXEC_LOADED)
		return 0; /* finish() reboots into the target's kernel */
	return hand_off_target(run);
}

int boot_run(const struct boot_options *opts)
{
	struct boot_run *run = calloc(1, sizeof(*run));
	if (!run) {
		log_banner("FAILED config: out of memory; stage 1 goes on with init= as given");
		return 0;
	}
	run->in.o = opts;
	run->in.root_fd = -1;
	run->in.t_start = monotonic_seconds();
	run->decision.source = BOOT_SOURCE_NONE;
	run->result.outcome = BOOT_OUTCOME_FAILED;
	run->result.kernel_status = BOOT_KERNEL_UNKNOWN;
	boot_config_defaults(&run->in.config);
	run->decision.user_data = calloc(1, sizeof(*run->decision.user_data));
	run->decision.tag = calloc(1, sizeof(*run->decision.tag));
	int status = 0;

	read_cmdline(run);
	if (run->in.cmdline.provision_off) {
		log_info("disabled on the kernel command line (initrd_provision=off)");
		goto out;
	}
	if (!run->decision.user_data || !run->decision.tag) {
		fail(run, PHASE_CONFIG, NULL, "out of memory");
		status = finish(run);
		goto out;
	}
	run->in.root_fd = open(opts->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->in.root_fd < 0) {
		struct ip_error err = { 0 };
		ip_fail(&err, -errno, "%s: %s", opts->sysroot, strerror(errno));
		fail(run, PHASE_CONFIG, &err, "opening the root file system");
	}
	if (!run->result.failed) {
		/* A broken configuration still falls back to the built-in system,
		 * found from init= on the command line with the defaults. */
		if (read_config(run) < 0)
			boot_config_defaults(&run->in.config);
		if (find_builtin(run) == 0 && !run->result.failed)
			decide_and_provision(run);
	}
	status = finish(run);
out:
	if (run->in.root_fd >= 0)
		close(run->in.root_fd);
	if (run->imds)
		imds_client_free(run->imds);
	free(run->decision.user_data);
	free(run->decision.tag);
	free(run);
	return status;
}
