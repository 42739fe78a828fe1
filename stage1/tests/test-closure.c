/* The closure table and the order of the registration file. */
#include <stdio.h>
#include <stdlib.h>

#include "cache/closure.h"
#include "test.h"

static const char *const names[] = {
	"00000000000000000000000000000000-root",
	"11111111111111111111111111111111-a",
	"22222222222222222222222222222222-b",
	"33333333333333333333333333333333-c",
	"44444444444444444444444444444444-self",
};

static void set_refs(struct closure *c, size_t k, const char *const *refs, size_t n)
{
	struct closure_path *p = &c->paths[k];
	p->ref_names = calloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		p->ref_names[i] = strdup(refs[i]);
	p->n_refs = n;
}

/* root -> a, b; a -> c; b -> c, self; self -> self (a diamond plus a
 * self-reference, like real closures have). */
static void build(struct closure *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < 5; i++)
		closure_add(c, names[i], i ? 0 : CLOSURE_NONE, NULL);
	c->root = 0;
	const char *r0[] = { names[2], names[1] };
	const char *r1[] = { names[3] };
	const char *r2[] = { names[4], names[3], names[2] };
	const char *r4[] = { names[4] };
	set_refs(c, 0, r0, 2);
	set_refs(c, 1, r1, 1);
	set_refs(c, 2, r2, 3);
	set_refs(c, 3, NULL, 0);
	set_refs(c, 4, r4, 1);
}

static void table(void)
{
	struct closure c = { 0 };
	size_t k = 99;
	CHECK(closure_find(&c, names[0]) == CLOSURE_NONE);
	/* enough paths to make the index grow a few times */
	char name[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "%032d-p", i);
		CHECK_INT(closure_add(&c, name, CLOSURE_NONE, &k), ==, 0);
		CHECK_INT(k, ==, (size_t)i);
	}
	CHECK_INT(closure_add(&c, "00000000000000000000000000000500-p", 3, &k), ==, 0);
	CHECK_INT(k, ==, 500);
	CHECK_INT(c.n, ==, 1000);
	CHECK_INT(closure_find(&c, "00000000000000000000000000000999-p"), ==, 999);
	CHECK(closure_find(&c, "00000000000000000000000000001000-p") == CLOSURE_NONE);
	closure_free(&c);
}

static void references_before_referrers(void)
{
	struct closure c;
	build(&c);
	CHECK_INT(closure_link(&c, NULL), ==, 0);
	size_t order[5];
	CHECK_INT(closure_topo_order(&c, order), ==, 5);
	size_t pos[5];
	for (size_t i = 0; i < 5; i++)
		pos[order[i]] = i;
	for (size_t k = 0; k < 5; k++)
		for (size_t j = 0; j < c.paths[k].n_refs; j++)
			if (c.paths[k].refs[j] != k)
				CHECK(pos[c.paths[k].refs[j]] < pos[k]);
	/* deterministic: references visited in name order */
	CHECK_INT(order[0], ==, 3); /* c */
	CHECK_INT(order[1], ==, 1); /* a */
	CHECK_INT(order[2], ==, 4); /* self */
	CHECK_INT(order[3], ==, 2); /* b */
	CHECK_INT(order[4], ==, 0); /* root */
	closure_free(&c);
}

static void missing_reference_is_named(void)
{
	struct closure c;
	build(&c);
	free(c.paths[3].ref_names);
	const char *bad[] = { "55555555555555555555555555555555-gone" };
	set_refs(&c, 3, bad, 1);
	struct ip_error err = { 0 };
	CHECK_INT(closure_link(&c, &err), ==, -EBADMSG);
	CHECK_CONTAINS(err.msg, "/nix/store/33333333333333333333333333333333-c refers to "
				"/nix/store/55555555555555555555555555555555-gone");
	closure_free(&c);
}

static void long_chain_without_recursion(void)
{
	/* 20,000 paths each referring to the next: a recursive walk would need a
	 * deep C stack; the iterative one must not care */
	struct closure c = { 0 };
	char name[64], next[64];
	const size_t n = 20000;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%032zu-p", i);
		closure_add(&c, name, CLOSURE_NONE, NULL);
	}
	for (size_t i = 0; i + 1 < n; i++) {
		snprintf(next, sizeof(next), "%032zu-p", i + 1);
		const char *r[] = { next };
		set_refs(&c, i, r, 1);
	}
	set_refs(&c, n - 1, NULL, 0);
	CHECK_INT(closure_link(&c, NULL), ==, 0);
	size_t *order = malloc(n * sizeof(*order));
	CHECK_INT(closure_topo_order(&c, order), ==, n);
	CHECK_INT(order[0], ==, n - 1);
	CHECK_INT(order[n - 1], ==, 0);
	free(order);
	closure_free(&c);
}

TEST_MAIN("closure",
	  TEST_CASE(table),
	  TEST_CASE(references_before_referrers),
	  TEST_CASE(missing_reference_is_named),
	  TEST_CASE(long_chain_without_recursion))
