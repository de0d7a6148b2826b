/* Every /proc and /sys access goes through here, rooted at --path.procfs /
 * --path.sysfs, so a fixture tree can stand in for any host. */
#ifndef NL_PATHS_H
#define NL_PATHS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NL_PATH_MAX 4096

/* Roots default to "/proc" and "/sys". The strings are copied. */
int nl_paths_set(const char *procfs, const char *sysfs);
const char *nl_paths_procfs(void);
const char *nl_paths_sysfs(void);

/* Build "<root>/<formatted rest>" into buf. Return 0 or -ENAMETOOLONG. */
int nl_path_proc(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int nl_path_sys(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Read a whole (small) file into buf, NUL-terminated, at most len-1 bytes.
 * Return the number of bytes read or -errno (-ENOENT: absent here). */
ssize_t nl_read_file(const char *path, char *buf, size_t len);
/* Same, growing *buf as needed (for numa_maps and other large files).
 * *buf may be NULL; the caller frees it. Return bytes read or -errno;
 * -EFBIG for a file over NL_READ_MAX (no /proc or /sys file numalens reads
 * comes near it: a hostile or broken one does not cost unbounded memory). */
#define NL_READ_MAX (16u << 20)
ssize_t nl_read_file_alloc(const char *path, char **buf, size_t *cap);
/* The same with a cap of `max` bytes: when the file is longer, what was
 * read up to its last complete line is kept, *capped is set and that
 * length returned (capped NULL: -EFBIG instead). */
ssize_t nl_read_file_alloc_max(const char *path, char **buf, size_t *cap, size_t max,
			       bool *capped);
/* First line of a file as an unsigned / signed integer. */
int nl_read_u64(const char *path, uint64_t *out);
int nl_read_s64(const char *path, int64_t *out);

DIR *nl_opendir(const char *path);

/* Trim trailing whitespace in place; returns s. */
char *nl_rstrip(char *s);

#endif
