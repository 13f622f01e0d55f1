/* Types, prototypes and register variables for dwtypes' tests: a
   dispatch table of function pointers, a struct reached through a
   register parameter, K&R and variadic functions, inlined copies whose
   parameters take their types from an abstract origin. */
#include <stdarg.h>
#include <stdio.h>

struct ops {
	int (*open)(const char *path, int flags);
	long (*read)(int fd, void *buf, unsigned long n);
	void (*close)(int fd);
	struct { double d; float f; } nested;
};

static int my_open(const char *path, int flags) { return path[0] + flags; }
static long my_read(int fd, void *buf, unsigned long n) { return fd + (long)n + (buf != 0); }
static void my_close(int fd) { printf("%d\n", fd); }

struct ops table[2] = {{my_open, my_read, my_close, {1.0, 2.0f}}, {my_open, my_read, my_close, {3.0, 4.0f}}};
struct ops *current = &table[0];
static double weights[4] = {1, 2, 3, 4};

#ifdef __cplusplus
struct base { virtual int f(int x) { return x; } static int count; };
int base::count = 1;
int knr(int a, char *b) { base o; return a + b[0] + o.f(a) + base::count; }
#else
int knr(a, b) int a; char *b; { return a + b[0]; }
#endif

int sum(int n, ...) {
	va_list ap;
	int s = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		s += va_arg(ap, int);
	va_end(ap);
	return s;
}

static inline int twice(struct ops *o, int fd) {
	return (int)o->read(fd, 0, 2) + (int)o->read(fd, 0, 3);
}

__attribute__((noinline)) int use(struct ops *o, int fd) {
	static int calls;
	calls++;
	int r = twice(o, fd) + o->open("x", fd);
	o->close(r);
	return r + twice(o, r) + calls;
}

int main(int argc, char **argv) {
	return use(current, argc) + knr(argc, argv[0]) + sum(2, argc, 3) + (int)weights[argc & 3];
}
