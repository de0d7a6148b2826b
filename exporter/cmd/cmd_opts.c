/* Command-line flags of the client commands (apply, place): "--name=value"
 * or "--name value". */
#include "apply_priv.h"

#include <stdio.h>
#include <string.h>

int nl_cmd_flag(const char *prog, int argc, char **argv, int *i, struct nl_cmd_flag *f)
{
	const char *a = argv[*i];

	if (strncmp(a, "--", 2) != 0) {
		fprintf(stderr, "numalens %s: unexpected argument \"%s\" (see --help)\n", prog, a);
		return 2;
	}
	a += 2;
	f->name = a;
	f->value = strchr(a, '=');
	f->len = f->value ? (size_t)(f->value - a) : strlen(a);
	if (f->value) {
		f->value++;
	} else if (*i + 1 < argc) {
		f->value = argv[++*i];
	} else {
		fprintf(stderr, "numalens %s: --%s needs a value\n", prog, a);
		return 2;
	}
	return 0;
}
