/* The reasons a person reads (TestActionableReasons, TestOwnCode): a real
 * recursion through qsort's comparator (sorting a node sorts its children
 * from inside the comparison), an indirect call through a table, and a
 * printf. Compiled at test time with -fstack-usage; the tests compare the
 * proved lower bound and the --own-code number with the .su frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    int key, n, sorted;
    struct node *kids[4];
};

__attribute__((noinline)) static void sort_tree(struct node *t);

/* Only qsort calls it (through a function pointer): its big frame is on
 * no path the code names, so no proved lower bound may count it. */
__attribute__((noinline)) static int by_key(const void *a, const void *b)
{
    struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    volatile char trace[3000];
    trace[x->key & 1023] = (char)y->key;
    sort_tree(x);
    sort_tree(y);
    return x->key - y->key + trace[(y->key + 1) & 1023];
}

__attribute__((noinline)) static void sort_tree(struct node *t)
{
    volatile char scratch[96];
    scratch[t->key & 63] = 1;
    if (t->n > 1 && !t->sorted) {
        t->sorted = 1;
        qsort(t->kids, t->n, sizeof t->kids[0], by_key);
    }
    t->key += scratch[(t->key + 1) & 63];
}

__attribute__((noinline)) static int twice(int x) { volatile char b[32]; b[x & 31] = 2; return x * b[(x + 1) & 31]; }
__attribute__((noinline)) static int negate(int x) { volatile char b[48]; b[x & 47] = 3; return -x + b[(x + 2) & 47]; }
int (*ops[2])(int) = {twice, negate};

__attribute__((noinline)) static int apply(int k, int x) { return ops[k & 1](x) + 1; }

/* The deepest path of the program's own code: report -> measure -> strlen
 * (bounded in libc) and report -> printf (not bounded: its alloca). */
__attribute__((noinline)) static size_t measure(const char *s)
{
    volatile char pad[2000];
    pad[s[0] & 127] = 1;
    return strlen(s) + pad[(s[0] + 1) & 127];
}

__attribute__((noinline)) static void report(const char *name, int v)
{
    volatile char line[160];
    line[v & 127] = 1;
    printf("%s: %d %zu %d\n", name, v, measure(name), line[(v + 1) & 127]);
}

int main(int argc, char **argv)
{
    struct node leaves[4] = {{3, 0, 0, {0}}, {1, 0, 0, {0}}, {2, 0, 0, {0}}, {0, 0, 0, {0}}};
    struct node root = {9, 4, 0, {&leaves[0], &leaves[1], &leaves[2], &leaves[3]}};
    sort_tree(&root);
    report(argv[0], apply(argc, root.kids[0]->key));
    return 0;
}
