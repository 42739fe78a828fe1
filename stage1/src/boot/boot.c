/* The boot mode's flow.  Each phase is a function that returns 0 or records
 * the failure (phase + one line) and returns negative; boot_run() applies the
 * failure policy in exactly one place (finish()). */
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
#include "aws/session.h"
#include "boot/sysroot.h"
#include "cache/fetch.h"
#include "imds/imds.h"
#include "net/net.h"
#include "nix/narinfo.h"
#include "nix/store_path.h"
#include "store/profile.h"
#include "userdata/userdata.h"
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

struct boot_run {
	const struct boot_options *o;
	struct boot_config config;
	struct boot_cmdline cmdline;
	int root_fd;
	double t_start;

	char builtin[NIX_STORE_PATH_MAX];
	char target[NIX_STORE_PATH_MAX];   /* "" until decided */
	const char *source;                /* user-data, tag, cmdline, none */
	const char *outcome;               /* see the README's report fields */
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

	const char *kernel_status;         /* match, mismatch, unknown */
	char kernel_action[96];
	char profile_link[PROFILE_LINK_MAX];

	/* Substituters and keys in effect (config, maybe replaced/extended by user-data). */
	const char *substituters[CONFIG_LIST_MAX];
	size_t n_substituters;
	struct trusted_key keys[2 * CONFIG_LIST_MAX];
	size_t n_keys;
	struct userdata_result *user_data; /* heap: 16 KiB each */
	struct userdata_result *tag;
	struct imds_client *imds;          /* kept for S3 credentials and region */
	bool tag_ok;                       /* tag holds a parsed, valid value */
	bool user_data_ok;                 /* user_data names a system */

	/* Later boots (boot/applied.h). */
	char user_data_sha256[APPLIED_SHA256_HEX_LEN + 1];
	char tag_sha256[APPLIED_SHA256_HEX_LEN + 1];
	char instance_id[APPLIED_INSTANCE_ID_MAX];
	enum apply_verdict apply_verdict;
	enum apply_reason apply_reason;
	bool apply_decided;
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(struct boot_run *run, enum boot_phase phase, const struct ip_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records the (first) failure.  Returns -1 so phases can `return fail(...)`. */
static int fail_with(struct boot_run *run, enum boot_phase phase, const struct ip_error *err, const char *what)
{
	if (run->failed)
		return -1;
	run->failed = true;
	run->failed_phase = phase;
	char line[2 * IP_ERROR_MSG_MAX + 2];
	snprintf(line, sizeof(line), "%s%s%s", what, what[0] && err ? ": " : "", err ? ip_error_str(err) : "");
	/* Cut at the buffer size: the console line stays one line. */
	memcpy(run->failure, line, sizeof(run->failure) - 1);
	run->failure[sizeof(run->failure) - 1] = '\0';
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
	if (file_read_all(run->o->cmdline_path, CMDLINE_FILE_MAX, &buf, &len, &err) < 0) {
		log_warn("cannot read the kernel command line (%s); going on without it", ip_error_str(&err));
		return;
	}
	if (boot_cmdline_parse(buf, len, &run->cmdline, &err) < 0)
		log_warn("%s; ignoring the kernel command line", ip_error_str(&err));
	free(buf);
}

static int read_config(struct boot_run *run)
{
	struct ip_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	if (file_read_all(run->o->config_path, CONFIG_SIZE_MAX, &buf, &len, &err) < 0)
		return fail(run, PHASE_CONFIG, &err, "reading the configuration");
	int r = boot_config_parse(buf, len, &run->config, &err);
	free(buf);
	if (r < 0)
		return fail(run, PHASE_CONFIG, &err, "%s", run->o->config_path);
	return 0;
}

/* The built-in system: the config's, else the closure init= points into
 * (the NixOS module cannot write the toplevel into its own initrd). */
static int find_builtin(struct boot_run *run)
{
	struct ip_error err = { 0 };
	if (run->config.builtin_system[0]) {
		snprintf(run->builtin, sizeof(run->builtin), "%s", run->config.builtin_system);
		return 0;
	}
	if (!run->cmdline.init[0])
		return fail(run, PHASE_CONFIG, NULL,
			    "no builtin-system in %s and no init= on the kernel command line",
			    run->o->config_path);
	if (sysroot_closure_of_init(run->root_fd, run->cmdline.init, run->builtin, sizeof(run->builtin), &err) < 0)
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
	if (run->o->no_network) {
		log_info("network: left as it is (--no-network)");
		return 0;
	}
	const char *names[CONFIG_LIST_MAX];
	for (size_t i = 0; i < run->config.n_interfaces; i++)
		names[i] = run->config.interfaces[i];
	struct net_config cfg;
	net_config_defaults(&cfg);
	cfg.interfaces = run->config.n_interfaces ? names : NULL;
	cfg.n_interfaces = run->config.n_interfaces;
	cfg.timeout_ms = run->config.dhcp_timeout * 1000u;
	cfg.family = run->config.network_family;
	cfg.timeout6_ms = run->config.ipv6_timeout * 1000u;
	cfg.resolv_conf = run->o->resolv_conf;
	cfg.on_link_up = on_link_up;

	struct ip_error err = { 0 };
	if (net_up(&cfg, &run->net, &err) < 0)
		return fail_with(run, PHASE_NETWORK, &err, "");
	run->net_configured = net_needs_release(&run->net);
	char addr[INET6_ADDRSTRLEN];
	if (run->net.ipv4_up) {
		inet_ntop(AF_INET, &run->net.lease.address, addr, sizeof(addr));
		log_info("lease on %s: %s/%u in %llu ms after link up", run->net.ifname, addr,
			 (unsigned)run->net.lease.prefixlen, (unsigned long long)run->net.lease_ms);
	}
	if (run->net.ipv6_up) {
		inet_ntop(AF_INET6, &run->net.lease6.address, addr, sizeof(addr));
		log_info("IPv6 on %s: %s/128 in %llu ms after link up (valid %u s; stage 2 must renew)",
			 run->net.ifname6, addr, (unsigned long long)run->net.lease6_ms,
			 run->net.lease6.valid_lft);
	}
	if (run->net.ipv4_error[0])
		log_warn("IPv4 not up, going on with IPv6: %s", run->net.ipv4_error);
	if (run->net.ipv6_error[0])
		log_warn("IPv6 not up, going on with IPv4: %s", run->net.ipv6_error);
	return 0;
}

static void release_network(struct boot_run *run)
{
	if (!run->net_configured || run->config.keep_network)
		return;
	struct ip_error err = { 0 };
	if (net_release(&run->net, &err) < 0)
		log_warn("flushing the network before stage 2: %s", ip_error_str(&err));
	run->net_configured = false;
}

/* Reads user-data (and the tag when user-data does not name a system) and
 * picks the target.  No provisioning document is not a failure. */
static int read_instance_data(struct boot_run *run, struct imds_client *imds)
{
	struct ip_error err = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	struct userdata_policy policy = {
		.allow_substituters = run->config.allow_user_data_substituters,
		.allow_keys = run->config.allow_user_data_keys,
	};
	double t0 = now_seconds();
	bool have_user_data = false, user_data_malformed = false;

	run->imds_gets++;
	int r = imds_user_data(imds, &buf, &len, &err);
	if (r == -ENOENT) {
		log_info("IMDS: no user-data");
	} else if (r < 0) {
		run->t_imds = now_seconds() - t0;
		return fail(run, PHASE_IMDS, &err, "reading user-data");
	} else {
		log_info("IMDS: user-data read (%zu bytes)", len);
		applied_document_sha256(buf, len, run->user_data_sha256);
		ip_error_clear(&err);
		r = userdata_parse(buf, len, &policy, run->user_data, &err);
		if (r < 0) {
			/* Malformed: the built-in system boots; one clear line, no tag lookup. */
			user_data_malformed = true;
			fail(run, PHASE_USER_DATA, &err, "user-data");
		} else if (run->user_data->kind == USERDATA_NOT_OURS) {
			log_info("user-data is not ours (%s); leaving it to stage 2", run->user_data->reason);
		} else {
			have_user_data = true;
			run->user_data_ok = true;
		}
		for (size_t i = 0; i < run->user_data->n_warnings; i++)
			log_warn("user-data: %s", run->user_data->warnings[i]);
	}
	free(buf);

	if (!have_user_data && !user_data_malformed && run->config.system_tag[0]) {
		char *value = NULL;
		ip_error_clear(&err);
		run->imds_gets++;
		r = imds_tag(imds, run->config.system_tag, &value, &err);
		if (r == 0) {
			ip_error_clear(&err);
			applied_document_sha256(value, strlen(value), run->tag_sha256);
			if (userdata_parse_tag(value, strlen(value), run->tag, &err) < 0)
				fail(run, PHASE_USER_DATA, &err, "instance tag %s", run->config.system_tag);
			else
				run->tag_ok = run->tag->kind == USERDATA_OK;
		} else if (r != -ENOENT) {
			log_warn("IMDS: reading instance tag %s: %s", run->config.system_tag, ip_error_str(&err));
		}
		free(value);
	}
	run->t_imds = now_seconds() - t0;
	run->imds_requests = imds_request_count(imds);
	if (run->failed)
		return -1;

	const struct userdata_result *chosen =
		userdata_choose(have_user_data ? run->user_data : NULL,
				run->tag_ok ? run->tag : NULL);
	if (!chosen) {
		run->source = "none";
		return 0;
	}
	/* The report's and console's word for it (README "Report"). */
	run->source = chosen->source == USERDATA_SOURCE_TAG ? "tag" : "user-data";
	snprintf(run->target, sizeof(run->target), "%s", chosen->system);
	return 0;
}

/* ---- the closure ---------------------------------------------------------- */

static int collect_trust(struct boot_run *run)
{
	struct ip_error err = { 0 };
	const struct userdata_result *ud =
		run->user_data_ok && !strcmp(run->source, "user-data") ? run->user_data : NULL;

	/* User-data's substituters replace the image's; its keys add to them
	 * (both only when the image allows it: userdata_parse enforced that). */
	if (ud && ud->n_substituters) {
		for (size_t i = 0; i < ud->n_substituters; i++)
			run->substituters[run->n_substituters++] = ud->substituters[i];
	} else {
		for (size_t i = 0; i < run->config.n_substituters; i++)
			run->substituters[run->n_substituters++] = run->config.substituters[i];
	}
	for (size_t i = 0; i < run->config.n_trusted_public_keys; i++) {
		if (trusted_key_parse(run->config.trusted_public_keys[i], &run->keys[run->n_keys], &err) < 0)
			return fail(run, PHASE_CONFIG, &err, "trusted-public-keys");
		run->n_keys++;
	}
	for (size_t i = 0; ud && i < ud->n_keys; i++) {
		if (trusted_key_parse(ud->keys[i], &run->keys[run->n_keys], &err) < 0)
			return fail(run, PHASE_USER_DATA, &err, "trusted-public-keys");
		run->n_keys++;
	}
	if (run->n_substituters == 0)
		return fail(run, PHASE_FETCH, NULL,
			    "no substituters to fetch %s from; set substituters in the image's configuration",
			    run->target);
	return 0;
}

static void on_fetch_progress(void *ctx, const struct fetch_progress *p)
{
	struct boot_run *run = ctx;
	double now = now_seconds();
	if (!run->announced_resolution) {
		run->announced_resolution = true;
		log_info("closure resolved: %zu paths to fetch, %.1f MiB", p->paths_total,
			 (double)p->bytes_total / 1048576.0);
	}
	if (now - run->last_progress < PROGRESS_INTERVAL_S)
		return;
	run->last_progress = now;
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
		.root = run->o->sysroot,
		.store_path = run->target,
		.substituters = run->substituters,
		.n_substituters = run->n_substituters,
		.keys = run->keys,
		.n_keys = run->n_keys,
		.connections = run->config.connections,
		.jobs = run->config.jobs,
		.retries = -1,
		.deadline_ms = run->config.fetch_deadline * 1000u,
		.deadline_setting = "fetch-deadline",
		.decoder_memory = (uint64_t)run->config.decoder_memory * 1024 * 1024,
		.ca_bundle = run->config.ca_bundle,
		.progress = on_fetch_progress,
		.warn = on_fetch_warning,
		.cb_ctx = run,
	};
	struct ip_error err = { 0 };
	/* The image's list of the paths it placed, read inside the root. */
	char builtin_closure[SYSROOT_PATH_MAX], builtin_closure_file[SYSROOT_PATH_MAX + 64];
	if (run->config.builtin_closure[0]) {
		if (sysroot_resolve(run->root_fd, run->config.builtin_closure, builtin_closure,
				    sizeof(builtin_closure), &err) < 0) {
			log_warn("builtin-closure %s: %s; the image's paths will be hashed instead",
				 run->config.builtin_closure, ip_error_str(&err));
			ip_error_clear(&err);
		} else {
			snprintf(builtin_closure_file, sizeof(builtin_closure_file), "%s%s", run->o->sysroot,
				 builtin_closure);
			fo.builtin_closure = builtin_closure_file;
		}
	}
	/* S3: the instance role's credentials and the region, from the same IMDS. */
	struct aws_session aws;
	struct aws_session_config ac = {
		.imds = run->imds,
		.imds_endpoint = run->imds ? NULL : run->config.imds_endpoint,
		.imds_budget_ms = run->config.imds_timeout * 1000u,
		.region = run->config.aws_region,
		.need_region = aws_any_s3_without_region(run->substituters, run->n_substituters),
	};
	if (aws_session_open(&ac, &aws, &err) < 0)
		return fail_with(run, PHASE_FETCH, &err, "AWS credentials");
	if (aws.region_from_imds)
		log_info("S3 region from IMDS: %s", aws.region);
	fo.aws_credentials = aws.credentials;
	fo.aws_region = aws.region;
	/* The plain S3 endpoints are IPv4 only. */
	fo.s3_dualstack = net_only_ipv6(&run->net);
	for (size_t i = 0; fo.s3_dualstack && i < run->n_substituters; i++)
		if (strncmp(run->substituters[i], "s3://", 5) == 0) {
			log_info("only IPv6 is up: s3:// substituters without endpoint= use the dual-stack host "
				 "s3.dualstack.REGION.amazonaws.com");
			break;
		}
	log_info("fetching %s from %zu substituter(s)", run->target, run->n_substituters);
	run->fetch_ran = true;
	run->last_progress = now_seconds();
	int r = fetch_closure(&fo, &run->fetch, &err);
	aws_session_close(&aws);
	if (r < 0)
		return fail_with(run, PHASE_FETCH, &err, "");
	log_info("closure verified and registered: %zu paths (%zu fetched, %zu present: %zu vouched for, %zu hashed), "
		 "%.1f MiB downloaded in %.1f s",
		 run->fetch.paths_total, run->fetch.paths_fetched, run->fetch.paths_present, run->fetch.paths_vouched,
		 run->fetch.paths_checked, (double)run->fetch.download_bytes / 1048576.0, run->fetch.t_total);
	return 0;
}

/* The target must be a system stage 1 can hand over to. */
static int check_target_is_a_system(struct boot_run *run)
{
	char init[NIX_STORE_PATH_MAX + 8], prepare_root[NIX_STORE_PATH_MAX + 16];
	char systemd[NIX_STORE_PATH_MAX + 32];
	struct stat st;
	snprintf(init, sizeof(init), "%s/init", run->target + 1);
	if (fstatat(run->root_fd, init, &st, 0) < 0 || !S_ISREG(st.st_mode))
		return fail(run, PHASE_HANDOFF, NULL,
			    "%s has no init: it is not a NixOS system (the user-data must name a system's toplevel)",
			    run->target);
	/* nixpkgs top-level.nix: with system.nixos-init.enable, init is a copy
	 * of systemd and there is no prepare-root, so neither stage 1 here can
	 * activate it (the stage-1 glue refuses it as well).  Refused before the
	 * profile names it. */
	snprintf(prepare_root, sizeof(prepare_root), "%s/prepare-root", run->target + 1);
	if (fstatat(run->root_fd, prepare_root, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(init, sizeof(init), "%s/init", run->target);
	snprintf(systemd, sizeof(systemd), "%s/systemd/lib/systemd/systemd", run->target);
	if (sysroot_same_contents(run->root_fd, init, systemd, NULL) == 1)
		return fail(run, PHASE_HANDOFF, NULL,
			    "%s starts systemd directly and has no prepare-root (built with system.nixos-init.enable?): "
			    "no stage 1 here can activate it; build it without nixos-init",
			    run->target);
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
	return sysroot_resolve(run->root_fd, path, out, out_size, NULL);
}

static int read_small_file_in_root(struct boot_run *run, const char *path, char *out, size_t out_size)
{
	int fd = openat(run->root_fd, path + 1, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, out, out_size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

static void do_kexec(struct boot_run *run, const char *target_kernel);

static int check_kernel(struct boot_run *run)
{
	char builtin_kernel[SYSROOT_PATH_MAX], target_kernel[SYSROOT_PATH_MAX];
	if (resolve_kernel(run, run->builtin, run->config.builtin_kernel, builtin_kernel, sizeof(builtin_kernel)) < 0 ||
	    resolve_kernel(run, run->target, NULL, target_kernel, sizeof(target_kernel)) < 0) {
		run->kernel_status = "unknown";
		log_warn("kernel: cannot tell whether %s/kernel matches the running kernel; going on", run->target);
		return 0;
	}
	if (strcmp(builtin_kernel, target_kernel) == 0) {
		run->kernel_status = "match";
		return 0;
	}
	run->kernel_status = "mismatch";
	log_warn("KERNEL MISMATCH: %s boots kernel %s, but this initrd belongs to %s; stage 2 would load "
		 "kernel modules that do not fit the running kernel (kernel-mismatch = %s)",
		 run->target, target_kernel, builtin_kernel, kernel_mismatch_name(run->config.kernel_mismatch));
	switch (run->config.kernel_mismatch) {
	case KERNEL_MISMATCH_CONTINUE:
		snprintf(run->kernel_action, sizeof(run->kernel_action), "continue");
		return 0;
	case KERNEL_MISMATCH_FAIL:
		snprintf(run->kernel_action, sizeof(run->kernel_action), "fail");
		return fail(run, PHASE_KERNEL, NULL, "%s needs kernel %s, not the running one (kernel-mismatch = fail)",
			    run->target, target_kernel);
	case KERNEL_MISMATCH_KEXEC:
		do_kexec(run, target_kernel);
		return 0; /* only reached when kexec did not happen: carry on */
	}
	return 0;
}

static void write_report(struct boot_run *run);

/* Loads the target's kernel and reboots into it.  Returns only when that
 * failed, having recorded why: the boot then continues as with `continue`. */
static void do_kexec(struct boot_run *run, const char *target_kernel)
{
	struct ip_error err = { 0 };
	char params_path[SYSROOT_PATH_MAX], params[CMDLINE_MAX], initrd[SYSROOT_PATH_MAX], cmdline[CMDLINE_MAX];
	char kernel_file[SYSROOT_PATH_MAX + 64], initrd_file[SYSROOT_PATH_MAX + 64];
	const char *outcome = run->outcome;

	snprintf(params_path, sizeof(params_path), "%s/kernel-params", run->target);
	if (read_small_file_in_root(run, params_path, params, sizeof(params)) < 0)
		params[0] = '\0';
	snprintf(initrd, sizeof(initrd), "%s/initrd", run->target);
	char initrd_resolved[SYSROOT_PATH_MAX];
	if (sysroot_resolve(run->root_fd, initrd, initrd_resolved, sizeof(initrd_resolved), &err) < 0 ||
	    boot_cmdline_for_kexec(params, run->target, &run->cmdline, cmdline, sizeof(cmdline), &err) < 0)
		goto failed;
	snprintf(kernel_file, sizeof(kernel_file), "%s%s", run->o->sysroot, target_kernel);
	snprintf(initrd_file, sizeof(initrd_file), "%s%s", run->o->sysroot, initrd_resolved);
	/* --no-power walks the same path as a kexec whose reboot failed: it
	 * says what it would load, and the boot goes on on this kernel. */
	if (run->o->no_power)
		log_info("kexec (not done: --no-power): %s with %s, command line: %s", kernel_file, initrd_file, cmdline);
	else if (kexec_load_files(kernel_file, initrd_file, cmdline, &err) < 0)
		goto failed;
	log_info("kexec: rebooting into %s (command line: %s)", target_kernel, cmdline);
	snprintf(run->kernel_action, sizeof(run->kernel_action), "kexec");
	run->outcome = "kexec";
	release_network(run);
	write_report(run);
	if (run->o->no_power)
		ip_fail(&err, -ECANCELED, "not rebooting (--no-power)");
	else
		kexec_reboot(&err);
	/* Still here: this boot goes on, and its report must say how it ends. */
	run->outcome = outcome;
failed:
	/* A failed kexec never blocks the boot: continue, loudly. */
	snprintf(run->kernel_action, sizeof(run->kernel_action), "continue (kexec failed)");
	snprintf(run->notice, sizeof(run->notice), "kexec failed: %s; booting %s on the running kernel",
		 ip_error_str(&err), run->target);
	log_warn("%s", run->notice);
}

/* ---- hand-off and report -------------------------------------------------- */

static int write_file_atomically(int dir_fd, const char *name, const char *text, struct ip_error *err)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return ip_fail(err, -errno, "creating %s: %s", name, strerror(errno));
	int r = fs_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dir_fd, tmp, 0);
		return ip_fail(err, r, "writing %s: %s", name, strerror(-r));
	}
	return 0;
}

static int open_run_dir(struct boot_run *run, struct ip_error *err)
{
	return fs_mkdir_p_at(AT_FDCWD, run->o->run_dir, 0755, err);
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
	snprintf(run->handed_off, sizeof(run->handed_off), "%s", system);
	log_info("hand-off: stage 2 is %s/init", system);
	return 0;
}

/* The hand-off of a successful run; a failure here is a failure of the run. */
static int hand_off_or_fail(struct boot_run *run, const char *system)
{
	struct ip_error err = { 0 };
	if (hand_off(run, system, &err) < 0)
		return fail(run, PHASE_HANDOFF, &err, "%s", run->o->run_dir);
	return 0;
}

static void write_report(struct boot_run *run)
{
	struct json_writer w;
	json_init(&w);
	json_begin_object(&w, NULL);
	json_string(&w, "outcome", run->outcome);
	json_string(&w, "source", run->source);
	json_string(&w, "system", run->handed_off[0] ? run->handed_off : NULL);
	json_string(&w, "target", run->target[0] ? run->target : NULL);
	json_string(&w, "builtin_system", run->builtin[0] ? run->builtin : NULL);
	if (run->failed) {
		json_begin_object(&w, "failure");
		json_string(&w, "phase", phase_names[run->failed_phase]);
		json_string(&w, "reason", run->failure);
		json_string(&w, "policy", on_failure_name(run->config.on_failure));
		json_end_object(&w);
	}
	json_string(&w, "notice", run->notice[0] ? run->notice : NULL);
	json_begin_object(&w, "kernel");
	json_string(&w, "status", run->kernel_status);
	json_string(&w, "policy", kernel_mismatch_name(run->config.kernel_mismatch));
	json_string(&w, "action", run->kernel_action[0] ? run->kernel_action : NULL);
	json_end_object(&w);
	json_begin_object(&w, "network");
	json_string(&w, "interface", run->net.ifname[0] ? run->net.ifname : NULL);
	json_uint(&w, "dhcp_discovers", run->net.dhcp_discovers);
	json_uint(&w, "dhcp_naks", run->net.dhcp_naks);
	json_bool(&w, "kept", run->config.keep_network);
	json_end_object(&w);
	json_uint(&w, "paths_closure", run->fetch.paths_total);
	json_uint(&w, "paths_present", run->fetch.paths_present);
	json_uint(&w, "paths_fetched", run->fetch.paths_fetched);
	json_uint(&w, "bytes_fetched", run->fetch.download_bytes);
	json_uint(&w, "nar_bytes_fetched", run->fetch.nar_bytes);
	json_string(&w, "profile_link", run->profile_link[0] ? run->profile_link : NULL);
	json_begin_object(&w, "apply");
	json_string(&w, "policy", apply_policy_name(run->config.apply));
	json_string(&w, "decision", !run->apply_decided ? NULL
				    : run->apply_verdict == APPLY_VERDICT_APPLY ? "apply"
										: "unchanged");
	json_string(&w, "reason", run->apply_decided ? apply_reason_name(run->apply_reason) : NULL);
	json_end_object(&w);
	json_begin_object(&w, "timings");
	json_double(&w, "link", (double)run->net.link_up_ms / 1000.0, 3);
	json_double(&w, "lease", (double)run->net.lease_ms / 1000.0, 3);
	json_double(&w, "imds", run->t_imds, 3);
	json_double(&w, "resolve", run->fetch.t_resolve, 3);
	json_double(&w, "download", run->fetch.t_download, 3);
	json_double(&w, "unpack", run->fetch.t_unpack_cpu, 3);
	json_double(&w, "register", run->fetch.t_register, 3);
	json_double(&w, "fetch", run->fetch.t_total, 3);
	json_double(&w, "total", now_seconds() - run->t_start, 3);
	json_end_object(&w);
	/* One token request plus our GETs is a run without retries. */
	unsigned imds_retries = run->imds_requests > run->imds_gets + 1 ? run->imds_requests - run->imds_gets - 1 : 0;
	unsigned dhcp_retries = run->net.dhcp_discovers > 1 ? run->net.dhcp_discovers - 1 : 0;
	json_uint(&w, "retries", imds_retries + dhcp_retries + run->fetch.http_retries + run->fetch.nar_retries +
				      run->fetch.content_retries);
	json_begin_object(&w, "retry_details");
	json_uint(&w, "imds", imds_retries);
	json_uint(&w, "dhcp", dhcp_retries);
	json_uint(&w, "http", run->fetch.http_retries);
	json_uint(&w, "nar", run->fetch.nar_retries);
	json_uint(&w, "content", run->fetch.content_retries);
	json_uint(&w, "stalls", run->fetch.stalls);
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
		dir_fd = run->root_fd >= 0 ? fs_mkdir_p_at(run->root_fd, "var/log/initrd-provision", 0755, &err) : -EBADF;
		if (dir_fd >= 0) {
			if (write_file_atomically(dir_fd, "report.json", with_newline, &err) < 0)
				log_warn("report copy on the root: %s", ip_error_str(&err));
			close(dir_fd);
		}
		free(with_newline);
	}
	json_free(&w);
}

/* ---- the failure policy: the one place it is applied ----------------------- */

static int finish(struct boot_run *run)
{
	if (!run->failed) {
		release_network(run);
		write_report(run);
		return 0;
	}
	enum on_failure policy = run->config.on_failure;
	if (policy == ON_FAILURE_FALLBACK || !run->builtin[0]) {
		if (run->builtin[0]) {
			log_banner("FAILED %s: %s; booting built-in system %s", phase_names[run->failed_phase], run->failure,
				  run->builtin);
			run->outcome = "fallback";
			struct ip_error err = { 0 };
			if (hand_off(run, run->builtin, &err) < 0)
				log_banner("FAILED hand-off: %s; stage 1 goes on with init= as given", ip_error_str(&err));
		} else {
			log_banner("FAILED %s: %s; no built-in system known, leaving stage 1 to boot init= as given",
				  phase_names[run->failed_phase], run->failure);
			run->outcome = "failed";
		}
		release_network(run);
		write_report(run);
		return 0;
	}
	const char *action = policy == ON_FAILURE_HALT ? "powering off" : "rebooting";
	log_banner("FAILED %s: %s; %s (on-failure = %s)", phase_names[run->failed_phase], run->failure, action,
		  on_failure_name(policy));
	run->outcome = policy == ON_FAILURE_HALT ? "halt" : "reboot";
	release_network(run);
	write_report(run);
	sync();
	if (run->o->no_power) {
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
	snprintf(path, sizeof(path), "%s/%s/%s", run->o->sysroot, APPLIED_STATE_DIR, APPLIED_STATE_NAME);
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
	const char *sha = !strcmp(run->source, "tag") ? run->tag_sha256 : run->user_data_sha256;
	struct applied_state previous = { 0 };
	bool have_previous = false;
	if (run->config.apply == APPLY_WHEN_CHANGED) {
		struct ip_error err = { 0 };
		uint8_t *id = NULL;
		size_t len = 0;
		run->imds_gets++;
		if (imds_get(run->imds, "/latest/meta-data/instance-id", &id, &len, &err) == 0 && len > 0 &&
		    len < sizeof(run->instance_id) && strlen((char *)id) == len && !strpbrk((char *)id, " \t\r\n"))
			memcpy(run->instance_id, id, len + 1);
		else
			log_warn("apply: no usable instance-id from IMDS (%s); applying the user-data",
				 err.code ? ip_error_str(&err) : "unexpected value");
		free(id);
		have_previous = run->instance_id[0] && read_applied_record(run, &previous) == 0;
	}
	run->apply_decided = true;
	run->apply_verdict = apply_decide(run->config.apply, have_previous ? &previous : NULL, run->instance_id,
					  sha, &run->apply_reason);
	if (run->apply_verdict == APPLY_VERDICT_APPLY) {
		if (run->config.apply == APPLY_WHEN_CHANGED)
			log_info("apply = when-changed: applying (%s)", apply_reason_name(run->apply_reason));
		return;
	}
	struct ip_error err = { 0 };
	char profile[NIX_STORE_PATH_MAX];
	if (sysroot_closure_of_init(run->root_fd, "/nix/var/nix/profiles/system/init", profile, sizeof(profile),
				    &err) < 0) {
		log_warn("apply = when-changed: the user-data is unchanged, but the system profile names no system "
			 "(%s); booting the built-in system %s", ip_error_str(&err), run->builtin);
		snprintf(run->target, sizeof(run->target), "%s", run->builtin);
		return;
	}
	log_info("apply = when-changed: user-data unchanged since it was applied on %s (%s); booting the system "
		 "profile's %s",
		 run->instance_id, previous.system, profile);
	snprintf(run->target, sizeof(run->target), "%s", profile);
}

/* After a hand-off to what the document named: remember it (when-changed). */
static void record_applied(struct boot_run *run)
{
	if (!run->apply_decided || run->config.apply != APPLY_WHEN_CHANGED ||
	    run->apply_verdict != APPLY_VERDICT_APPLY || !run->instance_id[0])
		return;
	struct applied_state state = { 0 };
	char text[APPLIED_STATE_SIZE_MAX];
	struct ip_error err = { 0 };
	snprintf(state.instance_id, sizeof(state.instance_id), "%s", run->instance_id);
	snprintf(state.document_sha256, sizeof(state.document_sha256), "%s",
		 !strcmp(run->source, "tag") ? run->tag_sha256 : run->user_data_sha256);
	snprintf(state.system, sizeof(state.system), "%s", run->target);
	int dir_fd = applied_state_format(&state, text, sizeof(text)) < 0
			     ? -ENOSPC
			     : fs_mkdir_p_at(run->root_fd, APPLIED_STATE_DIR, 0755, &err);
	if (dir_fd < 0 || write_file_atomically(dir_fd, APPLIED_STATE_NAME, text, &err) < 0)
		log_warn("apply: cannot record the applied user-data in /%s/%s: %s; the next boot applies it again",
			 APPLIED_STATE_DIR, APPLIED_STATE_NAME, ip_error_str(&err));
	if (dir_fd >= 0)
		close(dir_fd);
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
	if (run->cmdline.system_override[0]) {
		if (nix_store_path_check(run->cmdline.system_override, strlen(run->cmdline.system_override), &err) < 0)
			return fail(run, PHASE_CONFIG, &err, "initrd_provision.system=");
		/* Checked above: a store path fits run->target. */
		memcpy(run->target, run->cmdline.system_override, strlen(run->cmdline.system_override) + 1);
		run->source = "cmdline";
		log_info("decision: source: cmdline, system %s", run->target);
		if (strcmp(run->target, run->builtin) != 0 && bring_up_network(run) < 0)
			return -1;
	} else {
		if (bring_up_network(run) < 0)
			return -1;
		struct imds_config ic = {
			.endpoint = run->config.imds_endpoint,
			.budget_ms = run->config.imds_timeout * 1000u,
			.allow_v1 = run->config.imds_allow_v1,
		};
		if (imds_client_new(&ic, &run->imds, &err) < 0)
			return fail_with(run, PHASE_IMDS, &err, "");
		if (read_instance_data(run, run->imds) < 0)
			return -1;
		if (!run->target[0]) {
			log_info("decision: source: none (no system named in user-data or tags); booting the built-in system %s",
				 run->builtin);
			run->outcome = "builtin";
			return hand_off_or_fail(run, run->builtin);
		}
		log_info("decision: source: %s, system %s", run->source, run->target);
		decide_apply(run);
	}
	bool unchanged = run->apply_decided && run->apply_verdict == APPLY_VERDICT_UNCHANGED;

	if (strcmp(run->target, run->builtin) == 0) {
		/* E.g. the second boot after a kexec: init= already names the target. */
		log_info("%s is the built-in system: nothing to fetch", run->target);
		run->outcome = "builtin";
		run->kernel_status = "match";
		if (hand_off_or_fail(run, run->builtin) < 0)
			return -1;
		record_applied(run);
		return 0;
	}
	if (unchanged) {
		/* The profile's system is on this disk already (it booted before,
		 * or the operator built it here): nothing to fetch or re-point. */
		if (check_target_is_a_system(run) < 0)
			return -1;
		run->outcome = "unchanged";
	} else {
		if (fetch_target(run) < 0 || check_target_is_a_system(run) < 0)
			return -1;
		if (profile_set_system(run->root_fd, run->target, true, run->profile_link, &err) < 0)
			return fail(run, PHASE_HANDOFF, &err, "setting the system profile");
		run->outcome = "provisioned";
	}
	if (check_kernel(run) < 0)
		return -1;
	if (hand_off_or_fail(run, run->target) < 0)
		return -1;
	record_applied(run);
	return 0;
}

int boot_run(const struct boot_options *opts)
{
	struct boot_run *run = calloc(1, sizeof(*run));
	if (!run) {
		log_banner("FAILED config: out of memory; stage 1 goes on with init= as given");
		return 0;
	}
	run->o = opts;
	run->root_fd = -1;
	run->t_start = now_seconds();
	run->source = "none";
	run->outcome = "failed";
	run->kernel_status = "unknown";
	boot_config_defaults(&run->config);
	run->user_data = calloc(1, sizeof(*run->user_data));
	run->tag = calloc(1, sizeof(*run->tag));
	int status = 0;

	read_cmdline(run);
	if (run->cmdline.provision_off) {
		log_info("disabled on the kernel command line (initrd_provision=off)");
		goto out;
	}
	if (!run->user_data || !run->tag) {
		fail(run, PHASE_CONFIG, NULL, "out of memory");
		status = finish(run);
		goto out;
	}
	run->root_fd = open(opts->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->root_fd < 0) {
		struct ip_error err = { 0 };
		ip_fail(&err, -errno, "%s: %s", opts->sysroot, strerror(errno));
		fail(run, PHASE_CONFIG, &err, "opening the root file system");
	}
	if (!run->failed) {
		/* A broken configuration still falls back to the built-in system,
		 * found from init= on the command line with the defaults. */
		if (read_config(run) < 0)
			boot_config_defaults(&run->config);
		if (find_builtin(run) == 0 && !run->failed)
			decide_and_provision(run);
	}
	status = finish(run);
out:
	if (run->root_fd >= 0)
		close(run->root_fd);
	if (run->imds)
		imds_client_free(run->imds);
	free(run->user_data);
	free(run->tag);
	free(run);
	return status;
}
