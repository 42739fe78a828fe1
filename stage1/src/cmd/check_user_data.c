/* initrd-provision check-user-data: validates a user-data document offline
 * and prints what the initrd would do with it (README "User-data").
 * Exit codes: 0 the initrd would boot the named system, or the document is
 * not ours (the built-in system would boot); 1 malformed; 2 usage. */
#include "cmd/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userdata/userdata.h"

/* Reads at most this much: anything longer is over the limit anyway, and the
 * message still names a size. */
#define CHECK_READ_MAX (1024 * 1024)

static void print_help(void)
{
	printf("Usage: initrd-provision check-user-data [OPTIONS] FILE|-\n"
	       "\n"
	       "Validates EC2 user-data offline and prints what the initrd would do with it.\n"
	       "\n"
	       "  --allow-user-data-substituters  honour 'substituters' (as the image setting)\n"
	       "  --allow-user-data-keys          honour 'trusted-public-keys' (as the image setting)\n"
	       "  --tag VALUE                     also consider this value of the nixos-system\n"
	       "                                  instance tag (user-data wins when both are set)\n"
	       "  -h, --help                      this text\n"
	       "\n"
	       "Exit codes: 0 a system would boot, or the user-data is not ours (the built-in\n"
	       "system would boot); 1 malformed; 2 usage.\n");
}

/* Reads the whole file (or stdin for "-") into a malloc'd buffer. */
static int read_input(const char *path, uint8_t **out, size_t *out_len, struct ip_error *err)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ip_fail(err, -errno, "cannot open %s: %s", path, strerror(errno));
	int r = 0;
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		r = ip_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap > CHECK_READ_MAX)
				break;
			uint8_t *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				r = ip_fail(err, -ENOMEM, "out of memory");
				goto out;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = ip_fail(err, -errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
out:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}

static void print_list(const char *const *items, size_t n)
{
	fputc('[', stdout);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", items[i]);
	fputc(']', stdout);
}

static void print_plan(const struct userdata_result *r)
{
	printf("would boot %s from ", r->system);
	if (r->n_substituters) {
		printf("substituters ");
		print_list(r->substituters, r->n_substituters);
	} else {
		printf("the image's substituters");
	}
	printf(" trusting ");
	if (r->n_keys) {
		printf("keys ");
		print_list(r->keys, r->n_keys);
		printf(" and the image's keys");
	} else {
		printf("the image's keys");
	}
	printf("\nsource: %s", userdata_source_name(r->source));
	if (r->source == USERDATA_SOURCE_USER_DATA)
		printf(" (%s%s)", r->format == USERDATA_FORMAT_DOCUMENT ? "nix.conf-style document"
									: "bare store path",
		       r->gzipped ? ", gzip-compressed" : "");
	else
		printf(" (%s)", USERDATA_DEFAULT_TAG);
	printf("\n");
	for (size_t i = 0; i < r->n_warnings; i++)
		printf("warning: %s\n", r->warnings[i]);
}

int cmd_check_user_data(int argc, char **argv)
{
	static const struct option options[] = {
		{ "allow-user-data-substituters", no_argument, NULL, 's' },
		{ "allow-user-data-keys", no_argument, NULL, 'k' },
		{ "tag", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct userdata_policy policy = { 0 };
	const char *tag = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's': policy.allow_substituters = true; break;
		case 'k': policy.allow_keys = true; break;
		case 't': tag = optarg; break;
		case 'h': print_help(); return EXIT_OK;
		default:
			return cmd_usage_error(argv[0], "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(argv[0], "no FILE given (use - for standard input)");
	if (optind + 1 < argc)
		return cmd_usage_error(argv[0], "one FILE only");

	struct ip_error err = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_input(argv[optind], &buf, &len, &err);
	if (r < 0) {
		fprintf(stderr, "initrd-provision: %s: %s\n", argv[0], ip_error_str(&err));
		return EXIT_FAILURE_RUN;
	}
	/* Each result holds 16 KiB of text: not on the stack. */
	struct userdata_result *ud = malloc(sizeof(*ud));
	struct userdata_result *tr = tag ? malloc(sizeof(*tr)) : NULL;
	int rc = EXIT_FAILURE_RUN;
	if (!ud || (tag && !tr)) {
		fprintf(stderr, "initrd-provision: %s: out of memory\n", argv[0]);
		goto out;
	}
	r = userdata_parse(buf, len, &policy, ud, &err);
	if (r < 0) {
		printf("error: %s; the built-in system would boot\n", ip_error_str(&err));
		goto out;
	}
	if (ud->kind == USERDATA_NOT_OURS)
		printf("not ours: %s", ud->reason);
	if (tag) {
		struct ip_error tag_err = { 0 };
		if (userdata_parse_tag(tag, strlen(tag), tr, &tag_err) < 0) {
			if (ud->kind == USERDATA_NOT_OURS)
				printf("\n");
			printf("error: %s; the built-in system would boot\n", ip_error_str(&tag_err));
			goto out;
		}
	}
	const struct userdata_result *chosen = userdata_choose(ud, tr);
	if (!chosen) {
		printf("; the built-in system would boot\n");
		rc = EXIT_OK;
		goto out;
	}
	if (ud->kind == USERDATA_NOT_OURS)
		printf("\n");
	print_plan(chosen);
	if (chosen == ud && tr && tr->kind == USERDATA_OK)
		printf("note: the %s tag is ignored: user-data wins\n", USERDATA_DEFAULT_TAG);
	rc = EXIT_OK;
out:
	free(buf);
	free(ud);
	free(tr);
	return rc;
}
