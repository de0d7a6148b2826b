#ifndef NL_VERSION_H
#define NL_VERSION_H

/* The build's version (git describe), compiled into version.c only, so that
 * a new commit rebuilds one object rather than every file. */
extern const char nl_version[];

#endif
