#include "version.h"

#ifndef NL_VERSION
#define NL_VERSION "unknown"
#endif

const char nl_version[] = NL_VERSION;
