/* Later boots: `apply = every-boot | when-changed`.
 *
 * every-boot (the default, for fleets): every boot boots the system the
 * user-data names, fetching what is missing; what an operator changed by
 * hand (nixos-rebuild) is reverted at the next boot.
 * when-changed: the user-data is applied once per instance and document.
 * After a successful application the boot mode records, on the target disk,
 * the instance-id and the SHA-256 of the provisioning document (the raw
 * user-data, or the tag's value); a later boot of the same instance with the
 * same document does not apply it again but boots what the system profile
 * names now (the provisioned system, or what the operator switched to since).
 * A new instance (a launch from a snapshot of this disk) or new user-data is
 * applied again.  amazon-init's every-boot re-application was its users'
 * most common complaint (nixpkgs#41826).
 *
 * Pure: parsing and formatting the record, hashing, the decision.  The
 * boot mode reads and writes the file (APPLIED_STATE_DIR/APPLIED_STATE_NAME
 * inside the root). */
#ifndef IP_BOOT_APPLIED_H
#define IP_BOOT_APPLIED_H

#include <stddef.h>
#include <stdint.h>

#include "nix/store_path.h"
#include "util/error.h"

#define APPLIED_STATE_DIR "var/lib/initrd-provision"
#define APPLIED_STATE_NAME "applied"
#define APPLIED_STATE_SIZE_MAX 4096
#define APPLIED_INSTANCE_ID_MAX 64     /* EC2: "i-" + 17 hex digits */
#define APPLIED_SHA256_HEX_LEN 64

enum apply_policy { APPLY_EVERY_BOOT, APPLY_WHEN_CHANGED };

const char *apply_policy_name(enum apply_policy policy);

/* The record of the last application. */
struct applied_state {
	char instance_id[APPLIED_INSTANCE_ID_MAX];
	char document_sha256[APPLIED_SHA256_HEX_LEN + 1];
	char system[NIX_STORE_PATH_MAX];
};

/* `instance-id = …`, `document-sha256 = …`, `system = …` (nix.conf syntax,
 * every key required, nothing else).  -EINVAL with "line N: …" in err. */
int applied_state_parse(const char *buf, size_t len, struct applied_state *out, struct ip_error *err);

/* The file's text.  -ENOSPC when out is too small. */
int applied_state_format(const struct applied_state *state, char *out, size_t out_size);

/* Lowercase hex SHA-256 of the document. */
void applied_document_sha256(const void *doc, size_t len, char out[APPLIED_SHA256_HEX_LEN + 1]);

enum apply_verdict {
	APPLY_VERDICT_APPLY,      /* boot what the document names */
	APPLY_VERDICT_UNCHANGED,  /* when-changed, same instance and document: boot the profile */
};

/* Why the verdict is what it is, for the console and the report. */
enum apply_reason {
	APPLY_REASON_EVERY_BOOT,
	APPLY_REASON_NO_RECORD,         /* first application on this disk (or unreadable record) */
	APPLY_REASON_NO_INSTANCE_ID,    /* IMDS gave none: apply, as every-boot would */
	APPLY_REASON_NEW_INSTANCE,
	APPLY_REASON_DOCUMENT_CHANGED,
	APPLY_REASON_UNCHANGED,
};

const char *apply_reason_name(enum apply_reason reason);

/* previous: the record on the disk, NULL when there is none (or it could
 * not be read).  instance_id: "" when IMDS did not give one. */
enum apply_verdict apply_decide(enum apply_policy policy, const struct applied_state *previous,
				const char *instance_id, const char *document_sha256, enum apply_reason *reason);

#endif
