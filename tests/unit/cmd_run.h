/* Running a client command (nl_cmd_apply, nl_cmd_place) in a unit test:
 * its exit status and what it wrote to stdout and stderr, read back. Include
 * after harness.h. */
#ifndef NL_TEST_CMD_RUN_H
#define NL_TEST_CMD_RUN_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct cmd_run {
	int rc;
	char out[16384], err[4096];
};

static inline void cmd_slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* cmd(argc, argv) with argv = { name, args..., NULL }. */
static inline void cmd_run(struct cmd_run *r, int (*cmd)(int, char **), const char *name,
			   const char *const *args)
{
	char *argv[16];
	int argc = 0, so, se;
	FILE *fo = tmpfile(), *fe = tmpfile();

	argv[argc++] = (char *)name;
	for (; *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	CHECK(fo && fe);
	if (!fo || !fe) {
		if (fo)
			fclose(fo);
		if (fe)
			fclose(fe);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	so = dup(STDOUT_FILENO);
	se = dup(STDERR_FILENO);
	dup2(fileno(fo), STDOUT_FILENO);
	dup2(fileno(fe), STDERR_FILENO);
	r->rc = cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, STDOUT_FILENO);
	dup2(se, STDERR_FILENO);
	close(so);
	close(se);
	cmd_slurp(fo, r->out, sizeof(r->out));
	cmd_slurp(fe, r->err, sizeof(r->err));
}

/* The exit status is rc, and stdout / stderr hold out / err (NULL: any). */
static inline void cmd_expect(const struct cmd_run *r, int rc, const char *out, const char *err)
{
	bool ok = r->rc == rc && (!out || strstr(r->out, out)) && (!err || strstr(r->err, err));

	if (!ok)
		fprintf(stderr, "  exit %d (wanted %d)\n  stdout: %s\n  stderr: %s\n", r->rc, rc,
			r->out, r->err);
	CHECK(ok);
}

#endif
