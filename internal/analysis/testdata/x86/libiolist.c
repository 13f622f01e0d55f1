/* The FILE jump tables exit's flush can call (TestLibioListWalk).
   Plain, the program writes with write(2) and exits: the streams on
   _IO_list_all are the standard ones, and _IO_flush_all_lockp's call
   through their tables reaches no function of vfprintf's helper table or
   of the string streams' tables. With -DWIDE it opens a file, writes to
   it with fprintf, makes stdout wide (fwide) and writes to it with
   wprintf: the wide file table is then a linked stream's.
   gcc -O2 -Wl,-z,now [-DWIDE] libiolist.c */
#include <stdlib.h>
#include <unistd.h>
#ifdef WIDE
#include <stdio.h>
#include <wchar.h>
#endif

int main(int argc, char **argv) {
	(void)argv;
#ifdef WIDE
	FILE *f = fopen("/dev/null", "w");
	if (f != NULL)
		fprintf(f, "%d\n", argc);
	fwide(stdout, 1);
	wprintf(L"%d\n", argc);
#endif
	static const char msg[] = "hi\n";
	write(1, msg, sizeof msg - 1);
	exit(argc > 5);
}
