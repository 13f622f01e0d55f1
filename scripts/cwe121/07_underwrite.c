/* CWE121/124 style: writes before the start of a stack array. */
#include <stdio.h>
void CWE121_underwrite_bad(int start) {
	int unrelated[16] = {0};
	int buf[16];
	for (int i = start; i < 16; i++) buf[i] = i;
	printf("%d %d\n", buf[0], unrelated[3]);
}
int main(int argc, char **argv) { (void)argv; CWE121_underwrite_bad(-4 - argc); return 0; }
