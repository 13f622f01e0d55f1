/* Frames of many shapes, for comparison with gcc -fstack-usage. */
#include <string.h>

struct big { char bytes[300]; int n; };

int leaf_small(int a) { return a * 3 + 1; }

int leaf_array(int a)
{
    int v[8];
    for (int i = 0; i < 8; i++)
        v[i] = a + i;
    return v[a & 7];
}

__attribute__((noinline)) void fill(char *p, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (char)i;
}

int medium(int n)
{
    char buf[200];
    fill(buf, n < 200 ? n : 200);
    return buf[n & 127];
}

int large(int n)
{
    char buf[5000];
    fill(buf, n < 5000 ? n : 5000);
    return buf[n % 5000] + medium(n);
}

int huge(int n)
{
    char buf[70000];
    fill(buf, n < 70000 ? n : 70000);
    return buf[n % 70000];
}

struct big make_big(int n)
{
    struct big b;
    memset(&b, n, sizeof b);
    b.n = n;
    return b;
}

int use_big(int n)
{
    struct big b = make_big(n);
    return b.bytes[n & 255] + b.n;
}

int many_args(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j)
{
    return a + b + c + d + e + f + g + h + i + j;
}

int call_many(int x)
{
    return many_args(x, x + 1, x + 2, x + 3, x + 4, x + 5, x + 6, x + 7, x + 8, x + 9) + 1;
}

double floats(double *v, int n)
{
    double tmp[16];
    for (int i = 0; i < 16; i++)
        tmp[i] = i < n ? v[i] * 2.0 : 0.0;
    double s = 0;
    for (int i = 0; i < 16; i++)
        s += tmp[i];
    return s;
}

int aligned_local(int n)
{
    int __attribute__((aligned(64))) v[16];
    fill((char *)v, n < 64 ? n : 64);
    return v[n & 15];
}

int switchy(int k, int x)
{
    switch (k) {
    case 0: return x + 1;
    case 1: return medium(x);
    case 2: return x * 7;
    case 3: return leaf_array(x);
    case 4: return x - 9;
    case 5: return large(x);
    case 6: return x ^ 3;
    case 7: return x << 2;
    default: return 0;
    }
}

int main(int argc, char **argv)
{
    (void)argv;
    double d[4] = {1, 2, 3, 4};
    return leaf_small(argc) + leaf_array(argc) + large(argc) + huge(argc) + use_big(argc) +
           call_many(argc) + (int)floats(d, argc) + aligned_local(argc) + switchy(argc, argc);
}
