#include "cmd/commands.h"

#include <stdio.h>

int cmd_net(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "initrd-provision: %s: not implemented yet\n", argv[0]);
	return EXIT_FAILURE_RUN;
}
