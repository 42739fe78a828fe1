/* EC2 user-data that names the NixOS system to boot (README "User-data").
 * Pure: parses bytes already fetched from IMDS (or read from a file by
 * `check-user-data`); no I/O, no logging.
 *
 * Forms that are ours:
 *   - a bare store path, `/nix/store/<hash>-<name>`, with white space and
 *     `#` comment lines around it allowed;
 *   - a nix.conf-style document (util/kvconf.h syntax) with the keys
 *     `system` (required), `substituters`, `trusted-public-keys`;
 *   - either of them gzip-compressed (magic 1f 8b).
 *
 * How a document is sorted (the order matters for ambiguous input):
 *   1. more than USERDATA_SIZE_MAX bytes (before or after gunzip), a broken
 *      gzip stream -> MALFORMED (but see 3: an oversized gzip whose first
 *      16 KiB are clearly someone else's is NOT_OURS);
 *   2. empty, `#!...` (a script), `#cloud-config` and the other cloud-init
 *      markers (`#cloud-*`, `#include`, `#part-handler`, `#upstart-job`),
 *      `Content-Type:` (MIME multi-part) -> NOT_OURS;
 *   3. otherwise the first line that is not blank and not a comment decides:
 *      it starts with `/nix/store/` -> the bare store path form;
 *      it has the shape `word = ...` -> the document form;
 *      anything else (a Nix expression, a script without #!, binary data,
 *      only comments) -> NOT_OURS;
 *   4. a document that claimed to be ours by 3 and then breaks a rule
 *      (unknown key, duplicate key, missing `system`, a value that is not a
 *      valid store path / URL / key, NUL bytes, a line that is not
 *      `key = value`, text after the bare store path) -> MALFORMED, with
 *      the line.  So `foo = bar` is MALFORMED (unknown key), while
 *      `{ config, pkgs, ... }:` is NOT_OURS.
 *
 * Policy: substituters and keys from user-data are honoured only when the
 * image allows it; when it does not, the result carries them in no list and
 * says so in a warning (the document is still OK).  Honoured substituters
 * REPLACE the image's list (they are tried in the document's order);
 * honoured keys are trusted IN ADDITION to the image's keys.
 *
 * The instance tag source (`nixos-system` by default) may hold only a bare
 * store path.  userdata_choose() decides between the two sources.
 */
#ifndef IP_USERDATA_USERDATA_H
#define IP_USERDATA_USERDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nix/store_path.h"
#include "util/error.h"

#define USERDATA_SIZE_MAX 16384          /* EC2's own limit; also after gunzip */
#define USERDATA_SUBSTITUTERS_MAX 16
#define USERDATA_KEYS_MAX 16
#define USERDATA_URL_MAX 1024
#define USERDATA_KEY_TEXT_MAX 256        /* one "name:base64" public key */
#define USERDATA_WARNINGS_MAX 4
#define USERDATA_LINE_MAX 240            /* warnings and reasons */
#define USERDATA_DEFAULT_TAG "nixos-system"

enum userdata_kind {
	USERDATA_OK,        /* names a system: see system[] */
	USERDATA_NOT_OURS,  /* someone else's user-data: reason[] says whose */
	USERDATA_MALFORMED, /* ours but broken: the error says what and where */
};

enum userdata_format {
	USERDATA_FORMAT_NONE,
	USERDATA_FORMAT_STORE_PATH,
	USERDATA_FORMAT_DOCUMENT,
};

enum userdata_source {
	USERDATA_SOURCE_USER_DATA,
	USERDATA_SOURCE_TAG,
};

/* What the image's configuration allows user-data to change (both off by
 * default: whoever can change user-data must not make the machine trust a
 * new key unless the image owner said so). */
struct userdata_policy {
	bool allow_substituters; /* allow-user-data-substituters */
	bool allow_keys;         /* allow-user-data-keys */
};

struct userdata_result {
	enum userdata_kind kind;
	enum userdata_source source;
	enum userdata_format format;
	bool gzipped;
	char system[NIX_STORE_PATH_MAX];   /* OK: the store path to boot */
	/* Honoured substituters and keys, in document order; empty means "the
	 * image's own".  The strings live in text[]. */
	size_t n_substituters;
	const char *substituters[USERDATA_SUBSTITUTERS_MAX];
	size_t n_keys;
	const char *keys[USERDATA_KEYS_MAX];
	bool substituters_ignored;         /* present but not allowed */
	bool keys_ignored;
	size_t n_warnings;
	char warnings[USERDATA_WARNINGS_MAX][USERDATA_LINE_MAX];
	char reason[USERDATA_LINE_MAX];    /* NOT_OURS: one line */
	unsigned error_line;               /* MALFORMED: 1-based, 0 = whole document */
	char text[USERDATA_SIZE_MAX + 1];  /* storage for the strings above */
};

/* Sorts and parses user-data.  Returns 0 when out->kind is OK or NOT_OURS;
 * a negative errno when it is MALFORMED (-EINVAL, -E2BIG, -EBADMSG for bad
 * gzip, -ENOMEM if zlib could not allocate), with err naming the problem,
 * "line N: ..." when it has a line.  policy may be NULL (all off). */
int userdata_parse(const uint8_t *buf, size_t len, const struct userdata_policy *policy,
		   struct userdata_result *out, struct ip_error *err);

/* Parses the value of the instance tag: a bare store path, white space
 * around it allowed.  Empty -> NOT_OURS ("tag is empty"); anything else that
 * is not a valid store path -> MALFORMED (negative errno, err). */
int userdata_parse_tag(const char *value, size_t len, struct userdata_result *out,
		       struct ip_error *err);

/* Which source names the system: user-data when it is OK; the tag when
 * user-data is absent (NULL) or NOT_OURS and the tag is OK.  MALFORMED
 * user-data wins too (returns NULL: the built-in system boots rather than
 * a system the user-data author did not mean).  NULL: boot the built-in. */
const struct userdata_result *userdata_choose(const struct userdata_result *user_data,
					      const struct userdata_result *tag);

const char *userdata_kind_name(enum userdata_kind kind);
const char *userdata_source_name(enum userdata_source source);

#endif
