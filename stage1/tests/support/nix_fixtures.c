#include "support/nix_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

char *test_read_text(const char *relpath, size_t *len)
{
	size_t n = 0;
	unsigned char *data = test_read_data(relpath, &n);
	char *text = data ? realloc(data, n + 1) : NULL;
	if (!text) {
		free(data);
		return NULL;
	}
	text[n] = '\0';
	if (len)
		*len = n;
	return text;
}

int nix_fixtures_load(struct nix_fixtures *f)
{
	memset(f, 0, sizeof(*f));
	char *tsv = test_read_text("nix/cache/paths.tsv", NULL);
	if (!tsv)
		return -1;
	char *save = NULL;
	for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind[16], a[256], b[256];
		int n = sscanf(line, "%15s %255s %255s", kind, a, b);
		struct nix_fixture_path *p = NULL;
		if (n == 2 && strcmp(kind, "top") == 0)
			snprintf(f->top.path, sizeof(f->top.path), "%.255s", a);
		else if (n == 2 && strcmp(kind, "dep") == 0)
			snprintf(f->dep.path, sizeof(f->dep.path), "%.255s", a);
		if (n == 3)
			p = strcmp(a, f->top.path) == 0 ? &f->top : strcmp(a, f->dep.path) == 0 ? &f->dep : NULL;
		if (p && strcmp(kind, "narhash") == 0)
			snprintf(p->nar_hash, sizeof(p->nar_hash), "%.79s", b);
		else if (p && strcmp(kind, "narsize") == 0)
			p->nar_size = strtoull(b, NULL, 10);
	}
	free(tsv);
	return f->top.path[0] && f->dep.path[0] && f->top.nar_size && f->dep.nar_size ? 0 : -1;
}

char *nix_fixture_narinfo(const char *store_path, size_t *len)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "nix/cache/%.32s.narinfo", store_path + strlen("/nix/store/"));
	return test_read_text(rel, len);
}
