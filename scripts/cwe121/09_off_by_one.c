/* CWE121 style: the classic off-by-one, one char past char[10]. */
#include <stdio.h>
void CWE121_off_by_one_bad(int n) {
	char buf[10];
	for (int i = 0; i <= n; i++) buf[i] = 'A';
	printf("%c\n", buf[0]);
}
int main(int argc, char **argv) { (void)argv; CWE121_off_by_one_bad(9 + argc); return 0; }
