#include "boot/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/download.h"
#include "cache/http.h"
#include "cache/origin.h"
#include "imds/imds.h"
#include "nix/narinfo.h"
#include "userdata/userdata.h"
#include "util/kvconf.h"

enum setting_type { T_BOOL, T_UINT, T_STRING, T_STORE_PATH, T_URL_LIST, T_KEY_LIST,
		    T_IFNAME_LIST, T_ON_FAILURE, T_KERNEL_MISMATCH, T_IMDS_ENDPOINT, T_FAMILY, T_APPLY };

struct setting {
	const char *key;
	enum setting_type type;
	size_t offset;      /* of the field in struct boot_config */
	size_t size;        /* of one string element */
	size_t count_offset; /* lists: of the size_t count */
	unsigned max;       /* T_UINT: largest value accepted */
};

#define FIELD(f) offsetof(struct boot_config, f), sizeof(((struct boot_config *)0)->f)
#define LIST(f, n) offsetof(struct boot_config, f), sizeof(((struct boot_config *)0)->f[0]), \
	offsetof(struct boot_config, n)

/* The one table of settings (README "Configuration file" mirrors it). */
static const struct setting settings[] = {
	{ "builtin-system", T_STORE_PATH, FIELD(builtin_system), 0, 0 },
	{ "builtin-kernel", T_STRING, FIELD(builtin_kernel), 0, 0 },
	{ "builtin-closure", T_STRING, FIELD(builtin_closure), 0, 0 },
	{ "substituters", T_URL_LIST, LIST(substituters, n_substituters), 0 },
	{ "trusted-public-keys", T_KEY_LIST, LIST(trusted_public_keys, n_trusted_public_keys), 0 },
	{ "allow-user-data-substituters", T_BOOL, FIELD(allow_user_data_substituters), 0, 0 },
	{ "allow-user-data-keys", T_BOOL, FIELD(allow_user_data_keys), 0, 0 },
	{ "imds-endpoint", T_IMDS_ENDPOINT, FIELD(imds_endpoint), 0, 0 },
	{ "imds-timeout", T_UINT, FIELD(imds_timeout), 0, CONFIG_TIMEOUT_MAX_S },
	{ "imds-allow-v1", T_BOOL, FIELD(imds_allow_v1), 0, 0 },
	{ "system-tag", T_STRING, FIELD(system_tag), 0, 0 },
	{ "on-failure", T_ON_FAILURE, FIELD(on_failure), 0, 0 },
	{ "kernel-mismatch", T_KERNEL_MISMATCH, FIELD(kernel_mismatch), 0, 0 },
	{ "keep-network", T_BOOL, FIELD(keep_network), 0, 0 },
	{ "interfaces", T_IFNAME_LIST, LIST(interfaces, n_interfaces), 0 },
	{ "dhcp-timeout", T_UINT, FIELD(dhcp_timeout), 0, CONFIG_TIMEOUT_MAX_S },
	{ "network-family", T_FAMILY, FIELD(network_family), 0, 0 },
	{ "ipv6-timeout", T_UINT, FIELD(ipv6_timeout), 0, CONFIG_TIMEOUT_MAX_S },
	{ "ca-bundle", T_STRING, FIELD(ca_bundle), 0, 0 },
	{ "connections", T_UINT, FIELD(connections), 0, CONFIG_CONNECTIONS_MAX },
	{ "jobs", T_UINT, FIELD(jobs), 0, CONFIG_JOBS_MAX },
	{ "fetch-deadline", T_UINT, FIELD(fetch_deadline), 0, CONFIG_FETCH_DEADLINE_MAX_S },
	{ "decoder-memory", T_UINT, FIELD(decoder_memory), 0, CONFIG_DECODER_MEMORY_MAX_MIB },
	{ "aws-region", T_STRING, FIELD(aws_region), 0, 0 },
	{ "apply", T_APPLY, FIELD(apply), 0, 0 },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

void boot_config_defaults(struct boot_config *config)
{
	memset(config, 0, sizeof(*config));
	snprintf(config->imds_endpoint, sizeof(config->imds_endpoint), "%s", IMDS_ENDPOINT_AUTO);
	config->imds_timeout = IMDS_DEFAULT_BUDGET_MS / 1000;
	snprintf(config->system_tag, sizeof(config->system_tag), "%s", USERDATA_DEFAULT_TAG);
	config->on_failure = ON_FAILURE_FALLBACK;
	config->kernel_mismatch = KERNEL_MISMATCH_KEXEC;
	config->dhcp_timeout = NET_DEFAULT_TIMEOUT_MS / 1000;
	config->network_family = NET_FAMILY_DUAL;
	config->ipv6_timeout = NET_DEFAULT_TIMEOUT_MS / 1000;
	snprintf(config->ca_bundle, sizeof(config->ca_bundle), "%s", HTTP_DEFAULT_CA_BUNDLE);
	config->connections = HTTP_DEFAULT_CONNECTIONS;
	config->apply = APPLY_EVERY_BOOT;
	config->fetch_deadline = CONFIG_DEFAULT_FETCH_DEADLINE_S;
	config->decoder_memory = DOWNLOAD_DEFAULT_DECODER_MEMORY / (1024 * 1024);
}

const char *on_failure_name(enum on_failure policy)
{
	static const char *const names[] = { "fallback", "halt", "reboot" };
	return names[policy];
}

const char *kernel_mismatch_name(enum kernel_mismatch policy)
{
	static const char *const names[] = { "kexec", "continue", "fail" };
	return names[policy];
}

static bool value_is(const char *value, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(value, word, len) == 0;
}

static int store_string(char *dst, size_t size, const char *value, size_t len, unsigned line,
			const char *key, struct ip_error *err)
{
	if (len >= size)
		return kvconf_fail(err, line, -EINVAL, "%s: value too long (%zu bytes, at most %zu)", key, len,
				   size - 1);
	memcpy(dst, value, len);
	dst[len] = '\0';
	return 0;
}

/* Parses and stores one word of a list or a single value, by type. */
static int store_word(const struct setting *s, char *dst, const char *word, size_t len, unsigned line,
		      struct ip_error *err)
{
	int r = store_string(dst, s->size, word, len, line, s->key, err);
	if (r < 0)
		return r;
	switch (s->type) {
	case T_URL_LIST: {
		struct ip_error url_err = { 0 };
		if (substituter_url_check(dst, len, &url_err) < 0)
			return kvconf_fail(err, line, -EINVAL, "%s: %s", s->key, ip_error_str(&url_err));
		return 0;
	}
	case T_KEY_LIST: {
		struct trusted_key key;
		struct ip_error key_err = { 0 };
		if (trusted_key_parse(dst, &key, &key_err) < 0)
			return kvconf_fail(err, line, -EINVAL, "%s: %s", s->key, ip_error_str(&key_err));
		return 0;
	}
	case T_STORE_PATH: {
		struct ip_error path_err = { 0 };
		if (len > 0 && nix_store_path_check(dst, len, &path_err) < 0)
			return kvconf_fail(err, line, -EINVAL, "%s: %s", s->key, ip_error_str(&path_err));
		return 0;
	}
	default:
		return 0;
	}
}

struct parse_state {
	struct boot_config *config;
	bool seen[N_SETTINGS];
};

static int apply_entry(const struct kvconf_entry *e, void *ctx, struct ip_error *err)
{
	struct parse_state *st = ctx;
	const struct setting *s = NULL;
	size_t index;
	for (index = 0; index < N_SETTINGS; index++) {
		if (kvconf_key_is(e, settings[index].key)) {
			s = &settings[index];
			break;
		}
	}
	if (!s)
		return kvconf_fail(err, e->line, -EINVAL, "unknown setting '%.*s'", (int)e->key_len, e->key);
	if (st->seen[index])
		return kvconf_fail(err, e->line, -EINVAL, "'%s' is set twice", s->key);
	st->seen[index] = true;

	char *field = (char *)st->config + s->offset;
	switch (s->type) {
	case T_BOOL:
		if (value_is(e->value, e->value_len, "true"))
			*(bool *)field = true;
		else if (value_is(e->value, e->value_len, "false"))
			*(bool *)field = false;
		else
			return kvconf_fail(err, e->line, -EINVAL, "%s: expected true or false, not '%.*s'", s->key,
					   (int)e->value_len, e->value);
		return 0;
	case T_UINT: {
		char digits[16];
		char *end;
		if (e->value_len == 0 || e->value_len >= sizeof(digits))
			goto bad_number;
		/* the value is not NUL-terminated: check the terminated copy */
		memcpy(digits, e->value, e->value_len);
		digits[e->value_len] = '\0';
		if (strspn(digits, "0123456789") < e->value_len)
			goto bad_number;
		unsigned long v = strtoul(digits, &end, 10);
		if (v > s->max)
			goto bad_number;
		*(unsigned *)field = (unsigned)v;
		return 0;
bad_number:
		return kvconf_fail(err, e->line, -EINVAL, "%s: expected a whole number from 0 to %u, not '%.*s'",
				   s->key, s->max, (int)e->value_len, e->value);
	}
	case T_ON_FAILURE:
	case T_KERNEL_MISMATCH:
	case T_APPLY: {
		/* In the order of each enum. */
		static const char *const failure_words[] = { "fallback", "halt", "reboot", NULL };
		static const char *const mismatch_words[] = { "kexec", "continue", "fail", NULL };
		static const char *const apply_words[] = { "every-boot", "when-changed", NULL };
		const char *const *words = s->type == T_ON_FAILURE	? failure_words
					   : s->type == T_KERNEL_MISMATCH ? mismatch_words
									  : apply_words;
		int n;
		for (n = 0; words[n]; n++) {
			if (value_is(e->value, e->value_len, words[n])) {
				*(int *)field = n;
				return 0;
			}
		}
		char expected[96] = "";
		for (int i = 0; i < n; i++)
			snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s",
				 i == 0 ? "" : i == n - 1 ? " or " : ", ", words[i]);
		return kvconf_fail(err, e->line, -EINVAL, "%s: expected %s, not '%.*s'", s->key, expected,
				   (int)e->value_len, e->value);
	}
	case T_IMDS_ENDPOINT:
		/* "auto" or an http:// URL (IMDS speaks plain HTTP only). */
		if (value_is(e->value, e->value_len, "auto") ||
		    (e->value_len > 7 && memcmp(e->value, "http://", 7) == 0))
			return store_string(field, s->size, e->value, e->value_len, e->line, s->key, err);
		return kvconf_fail(err, e->line, -EINVAL, "%s: expected auto or an http:// URL, not '%.*s'",
				   s->key, (int)e->value_len, e->value);
	case T_FAMILY: {
		char word[8];
		if (e->value_len < sizeof(word)) {
			memcpy(word, e->value, e->value_len);
			word[e->value_len] = '\0';
			if (net_family_parse(word, (enum net_family *)field) == 0)
				return 0;
		}
		return kvconf_fail(err, e->line, -EINVAL, "%s: expected ipv4, ipv6 or dual, not '%.*s'",
				   s->key, (int)e->value_len, e->value);
	}
	case T_STRING:
	case T_STORE_PATH:
		return store_word(s, field, e->value, e->value_len, e->line, err);
	case T_URL_LIST:
	case T_KEY_LIST:
	case T_IFNAME_LIST: {
		size_t *count = (size_t *)((char *)st->config + s->count_offset);
		size_t pos = 0, wlen;
		const char *word;
		*count = 0;
		while (kvconf_next_word(e->value, e->value_len, &pos, &word, &wlen)) {
			if (*count == CONFIG_LIST_MAX)
				return kvconf_fail(err, e->line, -EINVAL, "%s: more than %d entries", s->key,
						   CONFIG_LIST_MAX);
			int r = store_word(s, field + *count * s->size, word, wlen, e->line, err);
			if (r < 0)
				return r;
			(*count)++;
		}
		return 0;
	}
	}
	return 0;
}

int boot_config_parse(const char *buf, size_t len, struct boot_config *config, struct ip_error *err)
{
	struct parse_state st = { .config = config };
	struct kvconf_limits limits = { .size_max = CONFIG_SIZE_MAX };
	int r = kvconf_parse(buf, len, &limits, apply_entry, &st, NULL, err);
	return r < 0 ? r : 0;
}
