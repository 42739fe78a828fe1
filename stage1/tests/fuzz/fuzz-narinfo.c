/* narinfo and nix-cache-info parsing on arbitrary bytes; what parses must be
 * self-consistent, fingerprint and verify must not crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nix/narinfo.h"
#include "nix/store_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "broken: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trusted_key key;
	static bool have_key;
	if (!have_key) {
		REQUIRE(trusted_key_parse("test-1:imR7BevpoeVXLRZEJ5bAjCGCubjyxy16rTKpf9qdDgg=", &key, NULL) == 0);
		have_key = true;
	}
	struct narinfo ni;
	struct ip_error err = { 0 };
	int r = narinfo_parse((const char *)data, size, &ni, &err);
	if (r == 0) {
		REQUIRE(ni.store_path && ni.url && ni.compression_name && ni.nar_size > 0);
		REQUIRE(nix_store_path_check(ni.store_path, strlen(ni.store_path), NULL) == 0);
		for (size_t i = 0; i < ni.n_references; i++)
			REQUIRE(nix_store_basename_check(ni.references[i], strlen(ni.references[i]), NULL) == 0);
		char *fp = narinfo_fingerprint(&ni);
		REQUIRE(fp && strncmp(fp, "1;/nix/store/", 13) == 0);
		free(fp);
		struct ip_error verr = { 0 };
		int v = narinfo_verify(&ni, &key, 1, &verr);
		REQUIRE(v == 0 || (v == -EPERM && verr.msg[0]));
		narinfo_free(&ni);
	} else {
		REQUIRE(r == -EBADMSG && err.msg[0] && !ni.store_path && !ni.references && !ni.sigs);
	}
	struct nix_cache_info ci;
	r = nix_cache_info_parse((const char *)data, size, &ci, NULL);
	REQUIRE(r == 0 || r == -EBADMSG);
	if (r == 0)
		REQUIRE(memchr(ci.store_dir, '\0', sizeof(ci.store_dir)));
	return 0;
}
