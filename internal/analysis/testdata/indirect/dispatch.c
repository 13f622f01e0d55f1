/* Two dispatch tables whose handlers have different prototypes. The call in
 * run_small goes through a pointer of type small_fn: it can only reach the
 * small handlers, though the big ones (other prototype) have far deeper
 * frames. */

typedef int (*small_fn)(int, char *);
typedef long (*big_fn)(long);

struct small_op { const char *name; small_fn fn; };
struct big_op { const char *name; big_fn fn; };

__attribute__((noinline)) int small_a(int a, char *s) { volatile char buf[64]; buf[a & 63] = s[0]; return buf[(a * 3) & 63]; }
__attribute__((noinline)) int small_b(int a, char *s) { volatile char buf[512]; buf[a & 511] = s[0]; return buf[(a * 5) & 511] + 1; }
__attribute__((noinline)) long big_a(long x) { volatile char buf[4096]; buf[x & 4095] = 1; return buf[(x * 7) & 4095]; }
__attribute__((noinline)) long big_b(long x) { volatile char buf[16384]; buf[x & 16383] = 1; return buf[(x * 3) & 16383]; }

struct small_op small_ops[] = {{"a", small_a}, {"b", small_b}};
struct big_op big_ops[] = {{"x", big_a}, {"y", big_b}};

__attribute__((noinline)) int run_small(int i, char *s) { return small_ops[i & 1].fn(i, s) + 1; }
__attribute__((noinline)) long run_big(int i, long v) { return big_ops[i & 1].fn(v) * 2; }

int main(int argc, char **argv)
{
    int r = run_small(argc, argv[0]) + run_small(argc + 1, argv[0]);
    if (argc > 2)
        r += (int)run_big(argc, 3);
    return r & 1;
}
