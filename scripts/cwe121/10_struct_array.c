/* CWE121 style: an index from input writes past an array of structs. */
#include <stdio.h>
#include <stdlib.h>
struct rec { int id; char tag[12]; };
void CWE121_struct_array_bad(int idx) {
	struct rec recs[4];
	for (int i = 0; i <= idx; i++) { recs[i].id = i; recs[i].tag[0] = 'x'; }
	printf("%d %c\n", recs[idx % 4].id, recs[idx % 4].tag[0]);
}
int main(int argc, char **argv) { (void)argv; CWE121_struct_array_bad(5 + argc); return 0; }
