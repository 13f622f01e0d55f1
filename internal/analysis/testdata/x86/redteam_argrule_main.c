/* The driver of redteam_argrule.S: argv[1] the string, argv[2] which. */
#include <stdio.h>
#include <stdlib.h>
void rule_rbp_push(const char *), rule_rbp_reg(const char *), rule_counter(const char *);
int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";
	switch (argc > 2 ? atoi(argv[2]) : 0) {
	case 0: rule_rbp_push(s); break;
	case 1: rule_rbp_reg(s); break;
	case 2: rule_counter(s); break;
	}
	puts("ok");
	return 0;
}
