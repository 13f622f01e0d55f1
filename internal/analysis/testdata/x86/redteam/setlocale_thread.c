/* setlocale from a thread routine only. */
#include <locale.h>
#include <wchar.h>
#include <stdio.h>
#include <pthread.h>
static void *worker(void *p) { setlocale(LC_ALL, ""); return p; }
int main(void) {
	pthread_t t; pthread_create(&t, 0, worker, 0); pthread_join(t, 0);
	fputws(L"h\xe9llo\n", stdout);
	return 0;
}
