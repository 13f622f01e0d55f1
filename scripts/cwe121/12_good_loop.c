/* CWE121 style good case: the loop stays inside the array. */
#include <stdio.h>
void CWE121_int_loop_good(int n) {
	int buf[10];
	for (int i = 0; i < n && i < 10; i++) buf[i] = i;
	printf("%d\n", buf[0]);
}
int main(int argc, char **argv) { (void)argv; CWE121_int_loop_good(15 + argc); return 0; }
