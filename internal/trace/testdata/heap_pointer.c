/* A heap overflow, not a stack one: the copy's source is a stack array
 * full of 'B', the overflow runs past a heap object's name into its label
 * pointer, and the program crashes using the label. The stack holds the
 * same bytes, but in an array, not in a pointer variable: stackscope must
 * not call this a stack buffer overrun. Argument: bytes copied (16 fit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	char name[16];
	char *label;
};

__attribute__((noinline)) void show(struct node *n) { puts(n->label); }

int main(int argc, char **argv)
{
	char src[256];
	memset(src, 'B', sizeof src);
	struct node *n = malloc(sizeof *n);
	n->label = "ok";
	memcpy(n->name, src, argc > 1 ? (size_t)atoi(argv[1]) : 8);
	show(n);
	return 0;
}
