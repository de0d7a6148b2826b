/* Minimal unit-test harness. Each tests/unit/test_<module>.c defines
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   ...
 *   NL_TEST_MAIN(NL_T(test_something), NL_T(test_other))
 *
 * A test passes when none of its checks failed. The binary prints one line
 * per failed check, then "N passed, N failed" and exits non-zero on failure.
 * NL_SRCDIR is the source tree root (for fixtures). */
#ifndef NL_HARNESS_H
#define NL_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int nl_t_failed_checks;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		nl_t_failed_checks++; \
	} } while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long nl_a_ = (long long)(a), nl_b_ = (long long)(b); \
	if (nl_a_ != nl_b_) { \
		fprintf(stderr, "  FAIL %s:%d: %s == %s (%lld != %lld)\n", \
			__FILE__, __LINE__, #a, #b, nl_a_, nl_b_); \
		nl_t_failed_checks++; \
	} } while (0)

#define CHECK_EQ_U64(a, b) do { \
	unsigned long long nl_a_ = (unsigned long long)(a), nl_b_ = (unsigned long long)(b); \
	if (nl_a_ != nl_b_) { \
		fprintf(stderr, "  FAIL %s:%d: %s == %s (%llu != %llu)\n", \
			__FILE__, __LINE__, #a, #b, nl_a_, nl_b_); \
		nl_t_failed_checks++; \
	} } while (0)

#define CHECK_NEAR(a, b, eps) do { \
	double nl_a_ = (double)(a), nl_b_ = (double)(b); \
	if (!(fabs(nl_a_ - nl_b_) <= (eps))) { \
		fprintf(stderr, "  FAIL %s:%d: %s ~= %s (%g vs %g)\n", \
			__FILE__, __LINE__, #a, #b, nl_a_, nl_b_); \
		nl_t_failed_checks++; \
	} } while (0)

#define CHECK_STR(a, b) do { \
	const char *nl_a_ = (a), *nl_b_ = (b); \
	if (!nl_a_ || !nl_b_ || strcmp(nl_a_, nl_b_) != 0) { \
		fprintf(stderr, "  FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n", \
			__FILE__, __LINE__, #a, #b, nl_a_ ? nl_a_ : "(null)", \
			nl_b_ ? nl_b_ : "(null)"); \
		nl_t_failed_checks++; \
	} } while (0)

struct nl_t_case {
	const char *name;
	void (*fn)(void);
};

static inline int nl_t_run(const char *file, const struct nl_t_case *cases,
			   int n)
{
	int passed = 0, failed = 0;

	for (int i = 0; i < n; i++) {
		int before = nl_t_failed_checks;

		cases[i].fn();
		if (nl_t_failed_checks == before) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL %s: %s\n", file, cases[i].name);
		}
	}
	printf("%s: %d passed, %d failed\n", file, passed, failed);
	return failed ? 1 : 0;
}

/* Run fn in a forked child (for state that must not leak into the other
 * tests, e.g. libpfm4's LIBPFM_ENCODE_INACTIVE, which sticks for the life of
 * a process); the child's failed checks fail the calling test. */
static inline void nl_t_in_child(void (*fn)(void))
{
	int status = -1;
	pid_t child;

	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child == 0) {
		int before = nl_t_failed_checks;

		fn();
		fflush(stderr);
		_exit(nl_t_failed_checks != before);
	}
	CHECK(child > 0);
	CHECK_EQ_INT(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Write `len` bytes (len < 0: strlen) to ROOT/REL, making REL's parent
 * directories. Return 0 or -1. For the small /proc and /run trees tests
 * build on the fly. */
static inline int nl_t_put(const char *root, const char *rel, const char *data,
			   ssize_t len)
{
	char path[4096];
	FILE *f;
	size_t n = len < 0 ? strlen(data) : (size_t)len, w;

	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path))
		return -1;
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if (!(f = fopen(path, "w")))
		return -1;
	w = fwrite(data, 1, n, f);
	return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Register tests as a list:
 *   NL_TEST_MAIN(NL_T(test_a), NL_T(test_b))  */
#define NL_T(fn) { #fn, fn }
#define NL_TEST_MAIN(...) \
	int main(void) \
	{ \
		static const struct nl_t_case cases[] = { __VA_ARGS__ }; \
		return nl_t_run(__FILE__, cases, \
				(int)(sizeof(cases) / sizeof(cases[0]))); \
	}

#endif
