/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small test harness in the spirit of the kernel's kselftest_harness.h:
 * TEST() cases gathered in per-file arrays, EXPECT_* and ASSERT_* checks
 * that print what failed, every case in a forked child with a time limit,
 * and the one KTAP printer every mode reports through.
 */
#ifndef MEMDRIVER_TESTS_HARNESS_H
#define MEMDRIVER_TESTS_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Seconds a case may run before its process group is killed and it is
 * reported # TIMEOUT: well below a guest's own limit, so that a hang names
 * its case and the suite goes on. CASE_TIMEOUT() sets a case's own;
 * MEMDRIVER_TEST_TIMEOUT_SCALE=N multiplies both on slow (debug) guests.
 */
#define HARNESS_TIMEOUT	60

struct test_case {
	const char *name;
	void (*run)(int fd);
	/* A case with variants runs once per entry, each a result of its own. */
	void (*run_variant)(int fd, const void *variant);
	const void *variants;	/* entries that begin with a const char *name */
	size_t variant_size, nr_variants;
	unsigned int timeout;	/* seconds; 0 for HARNESS_TIMEOUT */
	/*
	 * Run by the harness once the case's process group is gone, however
	 * it ended (a failed ASSERT, a signal, its time limit): puts back
	 * what the case may have armed, as FIXTURE_TEARDOWN does.
	 */
	void (*teardown)(void);
};

/* A case gets a fresh O_RDWR fd on the device, closed when it returns. */
#define TEST(name) static void test_##name(int fd)
#define CASE(id) { .name = #id, .run = test_##id }
#define CASE_TIMEOUT(id, secs) { .name = #id, .run = test_##id, .timeout = (secs) }
#define CASE_TEARDOWN(id, fn) { .name = #id, .run = test_##id, .teardown = (fn) }

/*
 * A case run once for each entry of the table id##_variants[], of struct
 * id##_variant, which @variant points at; an entry's first member is its
 * name, reported as "case.name".
 */
#define TEST_VARIANTS(id)						\
	static void test_##id(int fd, const struct id##_variant *variant); \
	static void test_##id##_thunk(int fd, const void *v)		\
	{								\
		test_##id(fd, v);					\
	}								\
	static void test_##id(int fd, const struct id##_variant *variant)
#define CASE_VARIANTS(id) {						\
	.name = #id, .run_variant = test_##id##_thunk,		\
	.variants = id##_variants, .variant_size = sizeof(id##_variants[0]), \
	.nr_variants = ARRAY_SIZE(id##_variants) }
#define CASE_VARIANTS_TEARDOWN(id, fn) {				\
	.name = #id, .run_variant = test_##id##_thunk,		\
	.variants = id##_variants, .variant_size = sizeof(id##_variants[0]), \
	.nr_variants = ARRAY_SIZE(id##_variants), .teardown = (fn) }

/* ---- KTAP output: one printer for every mode ---- */

enum ktap_verdict { KTAP_PASS, KTAP_FAIL, KTAP_SKIP };

struct ktap {
	int n;			/* results printed so far */
	int pass, fail, skip;
};

void ktap_plan(struct ktap *k, int planned);
/* "ok N - WHAT", "not ok N - WHAT # WHY" or "ok N - WHAT # SKIP WHY". */
void ktap_result(struct ktap *k, enum ktap_verdict v, const char *why,
		 const char *fmt, ...) __attribute__
	((format(printf, 4, 5)));
/* The verdict of the checks made since case_begin(). */
void ktap_case_result(struct ktap *k, const char *fmt, ...) __attribute__
	((format(printf, 2, 3)));
/* The totals and the closing "N passed, N failed" line; the exit status. */
int ktap_end(struct ktap *k);

/* ---- The state of the case that runs ---- */

void case_begin(void);
bool case_failed(void);
void case_fail(void);
/*
 * The case cannot run because the kernel or the guest lacks something: a
 * skip, which each guest's scenario must declare (scripts/scenarios/).
 */
void skip(const char *why);
/*
 * The case does not apply to this load of the module (its parameters,
 * --fresh): "# SKIP not for this load: WHY", which no scenario declares;
 * the guest must run the case in another of its sections instead.
 */
#define SKIP_LOAD_PREFIX "not for this load: "
void skip_load(const char *why);

/*
 * Runs @n cases, each in a child of its own, and prints their KTAP lines;
 * @only "case.variant" picks one variant (NULL or anything else: all).
 */
void harness_run(struct ktap *k, const struct test_case *const *cases, int n,
		 const char *only, int (*open_fd)(void));
/* How many results @c gives under @only. */
int harness_count(const struct test_case *c, const char *only);
const char *harness_variant_name(const struct test_case *c, size_t v);
/* A "# ..." line of context in the case's output. */
void harness_log(const char *fmt, ...) __attribute__
	((format(printf, 1, 2)));
#define TH_LOG(...) harness_log(__VA_ARGS__)

/* ---- Checks: EXPECT_* go on after a failure, ASSERT_* end the case ---- */

void harness_fail(const char *file, int line, bool fatal, const char *fmt, ...)
	__attribute__
	((format(printf, 4, 5)));
void harness_memeq(const char *file, int line, bool fatal, const char *a_text,
		   const char *b_text, const void *a, const void *b, size_t len);

#define __CMP(a, op, b, fatal) do {					\
	long long __a = (long long)(a), __b = (long long)(b);		\
	if (!(__a op __b))						\
		harness_fail(__FILE__, __LINE__, fatal,			\
			     "%s " #op " %s (%lld vs %lld)",		\
			     #a, #b, __a, __b);				\
} while (0)

#define __BOOL(cond, want, fatal) do {					\
	bool __w = (want);						\
	if (!(cond) != !__w)						\
		harness_fail(__FILE__, __LINE__, fatal, "%s%s",		\
			     __w ? "" : "not ", #cond);			\
} while (0)

/* A call that must fail (return -1) with exactly this errno. */
#define __ERRNO(call, err, fatal) do {					\
	long long __r = (long long)(call);				\
	int __e = errno, __want = (err);				\
	if (__r != -1 || __e != __want)					\
		harness_fail(__FILE__, __LINE__, fatal,			\
			     "%s to fail with %s, got %lld (%s)", #call,	\
			     strerror(__want), __r,			\
			     __r == -1 ? strerror(__e) : "no error");	\
} while (0)

/* Strings: equal, or @b a prefix of @a; both printed on failure. */
#define __STR(a, b, prefix, fatal) do {					\
	const char *__a = (a), *__b = (b);				\
	bool __p = (prefix);						\
	if (__p ? strncmp(__a, __b, strlen(__b)) : strcmp(__a, __b))	\
		harness_fail(__FILE__, __LINE__, fatal,			\
			     "%s %s %s (\"%s\" vs \"%s\")", #a,		\
			     __p ? "starts with" : "==", #b, __a, __b);	\
} while (0)

#define EXPECT_EQ(a, b)		__CMP(a, ==, b, false)
#define EXPECT_NE(a, b)		__CMP(a, !=, b, false)
#define EXPECT_LT(a, b)		__CMP(a, <, b, false)
#define EXPECT_LE(a, b)		__CMP(a, <=, b, false)
#define EXPECT_GT(a, b)		__CMP(a, >, b, false)
#define EXPECT_GE(a, b)		__CMP(a, >=, b, false)
#define EXPECT_TRUE(cond)	__BOOL(cond, true, false)
#define EXPECT_FALSE(cond)	__BOOL(cond, false, false)
#define EXPECT_ERRNO(call, err)	__ERRNO(call, err, false)
#define EXPECT_STREQ(a, b)	__STR(a, b, false, false)
#define EXPECT_STRPREFIX(a, b)	__STR(a, b, true, false)
/* @len bytes equal; else the first differing offset and bytes printed. */
#define EXPECT_MEMEQ(a, b, len)						\
	harness_memeq(__FILE__, __LINE__, false, #a, #b, a, b, len)
#define ASSERT_MEMEQ(a, b, len)						\
	harness_memeq(__FILE__, __LINE__, true, #a, #b, a, b, len)

#define ASSERT_EQ(a, b)		__CMP(a, ==, b, true)
#define ASSERT_NE(a, b)		__CMP(a, !=, b, true)
#define ASSERT_STREQ(a, b)	__STR(a, b, false, true)
#define ASSERT_LT(a, b)		__CMP(a, <, b, true)
#define ASSERT_LE(a, b)		__CMP(a, <=, b, true)
#define ASSERT_GT(a, b)		__CMP(a, >, b, true)
#define ASSERT_GE(a, b)		__CMP(a, >=, b, true)
#define ASSERT_TRUE(cond)	__BOOL(cond, true, true)
#define ASSERT_FALSE(cond)	__BOOL(cond, false, true)
#define ASSERT_ERRNO(call, err)	__ERRNO(call, err, true)

/* The same for mmap() and mremap(): a pointer, MAP_FAILED on error. */
#define EXPECT_MAP_ERRNO(call, err) EXPECT_ERRNO((intptr_t)(call), err)

#endif /* MEMDRIVER_TESTS_HARNESS_H */
