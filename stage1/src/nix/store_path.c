/* Store path syntax, as src/libstore/path.cc checks it. */
#include "nix/store_path.h"

#include <stdio.h>
#include <string.h>

#include "nix/hash.h"
#include "util/text.h"

#define STORE_PREFIX NIX_STORE_DIR "/"
#define STORE_PREFIX_LEN (sizeof(STORE_PREFIX) - 1)

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.' || c == '_' || c == '?' || c == '=';
}

int nix_store_basename_check(const char *basename, size_t len, struct ip_error *err)
{
	char q[96];
	if (len < NIX_STORE_HASH_LEN + 2 || basename[NIX_STORE_HASH_LEN] != '-') {
		text_quote(basename, len, q, sizeof(q));
		return ip_fail(err, -EINVAL,
			       "store path name \"%s\" is not <32 base-32 characters>-<name>", q);
	}
	for (size_t i = 0; i < NIX_STORE_HASH_LEN; i++) {
		if (!nix_base32_valid_char(basename[i])) {
			text_quote(basename, len, q, sizeof(q));
			return ip_fail(err, -EINVAL,
				       "store path name \"%s\": character %zu of the hash is not base-32",
				       q, i + 1);
		}
	}
	const char *name = basename + NIX_STORE_HASH_LEN + 1;
	size_t n = len - NIX_STORE_HASH_LEN - 1;
	text_quote(basename, len, q, sizeof(q));
	if (n > NIX_STORE_NAME_MAX)
		return ip_fail(err, -EINVAL, "store path name \"%s\": name longer than %d characters",
			       q, NIX_STORE_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!name_char_ok(name[i]))
			return ip_fail(err, -EINVAL,
				       "store path name \"%s\": character %zu of the name is not one of "
				       "A-Z a-z 0-9 + - . _ ? =",
				       q, i + 1);
	}
	/* Newer Nix refuses these; nothing legitimate is named like that. */
	if ((n == 1 && name[0] == '.') || (n == 2 && memcmp(name, "..", 2) == 0) ||
	    (n >= 2 && memcmp(name, ".-", 2) == 0) || (n >= 3 && memcmp(name, "..-", 3) == 0))
		return ip_fail(err, -EINVAL,
			       "store path name \"%s\": name is \".\" or \"..\" or starts with \".-\" or \"..-\"",
			       q);
	return 0;
}

int nix_store_path_check(const char *path, size_t len, struct ip_error *err)
{
	if (len < STORE_PREFIX_LEN || memcmp(path, STORE_PREFIX, STORE_PREFIX_LEN) != 0) {
		char q[96];
		text_quote(path, len, q, sizeof(q));
		return ip_fail(err, -EINVAL, "store path \"%s\" is not in %s", q, NIX_STORE_DIR);
	}
	return nix_store_basename_check(path + STORE_PREFIX_LEN, len - STORE_PREFIX_LEN, err);
}

const char *nix_store_path_basename(const char *path)
{
	return path + STORE_PREFIX_LEN;
}
