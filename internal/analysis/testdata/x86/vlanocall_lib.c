/* The callees of vlanocall.c, in a file of their own. */
int pick(int x) { return x * 3 + 1; }
void use(void *p, int n) { ((char *)p)[0] = (char)n; }
