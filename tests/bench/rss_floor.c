/* The memory floor of any libvirt client: a process that links the same
 * libraries as numalens (libvirt, libpfm4, libmicrohttpd), initialises
 * libpfm4 and opens the read-only libvirt connection, then sleeps. bench.sh
 * prints its RSS / PSS / USS beside numalens's, so that numalens's own share
 * can be told from the shared libraries'.
 *   rss_floor URI SECONDS */
#include <libvirt/libvirt.h>
#include <microhttpd.h>
#include <perfmon/pfmlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	virConnectPtr conn;

	if (argc < 3) {
		fprintf(stderr, "usage: rss_floor URI SECONDS\n");
		return 2;
	}
	if (pfm_initialize() != PFM_SUCCESS)
		fprintf(stderr, "rss_floor: pfm_initialize failed\n");
	conn = virConnectOpenReadOnly(argv[1]);
	if (!conn) {
		fprintf(stderr, "rss_floor: cannot open %s\n", argv[1]);
		return 1;
	}
	printf("MHD %s\n", MHD_get_version());
	fflush(stdout);
	sleep((unsigned)atoi(argv[2]));
	virConnectClose(conn);
	return 0;
}
