/* The driver of redteam_argslot.S: argv[1] the string, argv[2] which. */
#include <stdio.h>
#include <stdlib.h>
void sp_arg0(const char *), sp_arg1(const char *), sp_push(const char *), sp_below(const char *), ctr_arg(const char *);
int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	switch (argc > 2 ? atoi(argv[2]) : 0) {
	case 0: sp_arg0(s); break;
	case 1: sp_arg1(s); break;
	case 2: sp_push(s); break;
	case 3: sp_below(s); break;
	case 4: ctr_arg(s); break;
	}
	puts("ok");
	return 0;
}
