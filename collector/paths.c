#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char proc_root[NL_PATH_MAX] = "/proc";
static char sys_root[NL_PATH_MAX] = "/sys";

static int set_root(char *dst, const char *src)
{
	size_t n;

	if (!src || !*src)
		return -EINVAL;
	n = strlen(src);
	if (n >= NL_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	/* "/proc/" and "/proc" must build the same paths */
	while (n > 1 && dst[n - 1] == '/')
		dst[--n] = '\0';
	return 0;
}

int nl_paths_set(const char *procfs, const char *sysfs)
{
	int rc = 0;

	if (procfs)
		rc = set_root(proc_root, procfs);
	if (rc == 0 && sysfs)
		rc = set_root(sys_root, sysfs);
	return rc;
}

const char *nl_paths_procfs(void)
{
	return proc_root;
}

const char *nl_paths_sysfs(void)
{
	return sys_root;
}

static int vbuild(char *buf, size_t len, const char *root, const char *fmt,
		  va_list ap)
{
	int n = snprintf(buf, len, "%s/", root);
	int m;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int nl_path_proc(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbuild(buf, len, proc_root, fmt, ap);
	va_end(ap);
	return rc;
}

int nl_path_sys(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbuild(buf, len, sys_root, fmt, ap);
	va_end(ap);
	return rc;
}

ssize_t nl_read_file(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		ssize_t r = read(fd, buf + got, len - 1 - got);

		if (r < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			buf[got] = '\0';
			return -err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

ssize_t nl_read_file_alloc(const char *path, char **buf, size_t *cap)
{
	return nl_read_file_alloc_max(path, buf, cap, NL_READ_MAX, NULL);
}

ssize_t nl_read_file_alloc_max(const char *path, char **buf, size_t *cap, size_t max,
			       bool *capped)
{
	size_t got = 0;
	ssize_t rc;
	int fd;

	if (capped)
		*capped = false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (!*buf || got + 1 >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 16384;
			char *nb;

			/* room for max bytes, one more to see there are more,
			 * and the NUL */
			if (ncap > max + 2)
				ncap = max + 2;
			if (*buf && ncap <= *cap)
				ncap = *cap;
			nb = *buf && ncap == *cap ? *buf : realloc(*buf, ncap);
			if (!nb) {
				rc = -ENOMEM;
				goto cleanup;
			}
			*buf = nb;
			*cap = ncap;
		}
		if (got > max)
			break;
		r = read(fd, *buf + got, *cap - 1 - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > max) {
		char *nl;

		if (!capped) {
			rc = -EFBIG;
			goto cleanup;
		}
		*capped = true;
		(*buf)[max] = '\0';
		nl = strrchr(*buf, '\n');
		got = nl ? (size_t)(nl - *buf) + 1 : 0;
	}
	(*buf)[got] = '\0';
	rc = (ssize_t)got;
cleanup:
	close(fd);
	return rc;
}

/* First line of a file as a number, signed or not. */
static int read_num(const char *path, bool is_signed, uint64_t *u, int64_t *i)
{
	char buf[64], *end;
	ssize_t n = nl_read_file(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	errno = 0;
	if (is_signed)
		*i = strtoll(buf, &end, 10);
	else
		*u = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int nl_read_u64(const char *path, uint64_t *out)
{
	return read_num(path, false, out, NULL);
}

int nl_read_s64(const char *path, int64_t *out)
{
	return read_num(path, true, NULL, out);
}

DIR *nl_opendir(const char *path)
{
	return opendir(path);
}

char *nl_rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' ||
			 s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}
