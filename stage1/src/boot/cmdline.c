#include "boot/cmdline.h"

#include <stdio.h>
#include <string.h>

/* Copies value into dst (size n); -EINVAL when it does not fit. */
static int copy_value(char *dst, size_t n, const char *value, size_t len, const char *key,
		      struct ip_error *err)
{
	if (len >= n)
		return ip_fail(err, -EINVAL, "kernel command line: value of %s is too long (%zu bytes, at most %zu)",
			       key, len, n - 1);
	memcpy(dst, value, len);
	dst[len] = '\0';
	return 0;
}

static bool word_is(const char *word, size_t len, const char *key)
{
	size_t klen = strlen(key);
	return len == klen && memcmp(word, key, klen) == 0;
}

static bool value_means_off(const char *value, size_t len)
{
	return word_is(value, len, "off") || word_is(value, len, "0") || word_is(value, len, "no") ||
	       word_is(value, len, "false");
}

static int handle_word(struct boot_cmdline *out, char *word, size_t len, struct ip_error *err)
{
	char *eq = memchr(word, '=', len);
	if (!eq)
		return 0;
	size_t klen = (size_t)(eq - word);
	const char *value = eq + 1;
	size_t vlen = len - klen - 1;
	/* The kernel strips the quotes around a value ("console=\"ttyS0\"" is rare,
	 * but init="..." happens); quotes inside a word only group. */
	if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
		value++;
		vlen -= 2;
	}

	if (word_is(word, klen, "initrd_provision")) {
		out->provision_off = value_means_off(value, vlen);
		return 0;
	}
	if (word_is(word, klen, "initrd_provision.system"))
		return copy_value(out->system_override, sizeof(out->system_override), value, vlen,
				  "initrd_provision.system", err);
	if (word_is(word, klen, "init"))
		return copy_value(out->init, sizeof(out->init), value, vlen, "init", err);
	if (word_is(word, klen, "console")) {
		if (out->n_consoles == CMDLINE_MAX_CONSOLES)
			return 0; /* the kernel itself uses only the first few */
		int r = copy_value(out->consoles[out->n_consoles], sizeof(out->consoles[0]), value, vlen,
				   "console", err);
		if (r < 0)
			return r;
		out->n_consoles++;
	}
	return 0;
}

int boot_cmdline_parse(const char *buf, size_t len, struct boot_cmdline *out, struct ip_error *err)
{
	memset(out, 0, sizeof(*out));
	if (len > CMDLINE_MAX)
		return ip_fail(err, -EINVAL, "kernel command line is too long (%zu bytes, at most %d)", len,
			       CMDLINE_MAX);
	char word[CMDLINE_MAX + 1];
	size_t i = 0;
	while (i < len) {
		while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\0'))
			i++;
		size_t wlen = 0;
		bool in_quotes = false;
		while (i < len && buf[i] != '\0' &&
		       (in_quotes || (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n'))) {
			if (buf[i] == '"')
				in_quotes = !in_quotes;
			word[wlen++] = buf[i++];
		}
		if (wlen == 0)
			continue;
		int r = handle_word(out, word, wlen, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int boot_cmdline_for_kexec(const char *kernel_params, const char *system_path,
			   const struct boot_cmdline *current, char *out, size_t out_size,
			   struct ip_error *err)
{
	/* Trailing newline and spaces of the kernel-params file are dropped. */
	size_t plen = strlen(kernel_params);
	while (plen > 0 && (kernel_params[plen - 1] == '\n' || kernel_params[plen - 1] == ' '))
		plen--;

	struct boot_cmdline params;
	struct ip_error ignored = { 0 };
	bool params_name_console = boot_cmdline_parse(kernel_params, plen, &params, &ignored) == 0 &&
				   params.n_consoles > 0;

	size_t used = 0;
	int n = snprintf(out, out_size, "%.*s%sinit=%s/init", (int)plen, kernel_params, plen ? " " : "",
			 system_path);
	if (n < 0 || (size_t)n >= out_size)
		goto too_long;
	used = (size_t)n;
	if (!params_name_console) {
		for (size_t i = 0; i < current->n_consoles; i++) {
			n = snprintf(out + used, out_size - used, " console=%s", current->consoles[i]);
			if (n < 0 || (size_t)n >= out_size - used)
				goto too_long;
			used += (size_t)n;
		}
	}
	return 0;
too_long:
	return ip_fail(err, -ENAMETOOLONG, "kexec command line for %s would exceed %zu bytes", system_path,
		       out_size - 1);
}
