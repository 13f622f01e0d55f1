/* deep: an exported function with a 64 KiB frame it touches (dlsym_deep.c). */
#include <string.h>
int deep_sink;
void deep(void) {
	volatile char buf[65536];
	memset((char *)buf, 1, sizeof buf);
	deep_sink = buf[deep_sink & 0xffff];
}
