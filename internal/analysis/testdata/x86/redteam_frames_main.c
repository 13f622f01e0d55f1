/* The driver of redteam_frames.S: argv[1] the string, argv[2] which. */
#include <stdio.h>
#include <stdlib.h>
void ctr_alias(const char *), ctr_alias_call(const char *), ctr_xchg(const char *), slot_alias(const char *), ctr_push(const char *), ctr_callee(const char *);
int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	switch (argc > 2 ? atoi(argv[2]) : 0) {
	case 0: ctr_alias(s); break;
	case 1: ctr_alias_call(s); break;
	case 2: ctr_xchg(s); break;
	case 3: slot_alias(s); break;
	case 4: ctr_push(s); break;
	case 5: ctr_callee(s); break;
	}
	puts("ok");
	return 0;
}
