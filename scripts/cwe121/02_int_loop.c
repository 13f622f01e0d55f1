/* CWE121 style: a loop writes 10 ints into data that points at int[5]... then past it. */
#include <stdio.h>
void CWE121_int_loop_bad(int n) {
	int buf[10];
	int *data = buf;
	for (int i = 0; i < n; i++) data[i] = i;
	printf("%d\n", data[0]);
}
int main(int argc, char **argv) { (void)argv; CWE121_int_loop_bad(15 + argc); return 0; }
