/* VLAs in a scope of their own whose SP GCC saves in a frame slot, where
 * no callee-saved register is left for it (TestX86SPSlot):
 * `mov [rbp-N],rsp` where the scope starts, `mov rsp,[rbp-N]` where it
 * ends (at -O1 and -O2; -O0 keeps SP in a register). use() and pick()
 * are in no file of the build, so that GCC cannot see what they do. */
void use(void *p, int n);
void use8(void *p, int a, int b, int c, int d, int e, int f, int g, int h);
int pick(int);

/* A VLA in a loop body, many values live across the calls. */
int vla_loop_slot(int n, int a, int b, int c, int d, int e)
{
	int s = 0;
	for (int j = 0; j < n; j++) {
		char buf[n + j];
		use(buf, a);
		use(buf, b);
		s += buf[0] + a * b + c * d + e * j + pick(s) + pick(a + s);
		a += pick(c); b += pick(d); c += pick(e); d += pick(a); e += pick(b);
	}
	return s + a + b + c + d + e;
}

/* A VLA in a loop body, a call with three stack arguments (pushed below
 * the VLA, after `sub rsp,8`) in its scope: the saved SP is no word of
 * that call's stack-argument area, which the callee may write
 * (frame/argarea.go). */
int vla_stack_args(int n, int a, int b, int c, int d, int e)
{
	int s = 0;
	for (int j = 0; j < n; j++) {
		char buf[n + j];
		use8(buf, a, b, c, d, e, j, s, n);
		s += buf[0] + a * b + c * d + e * j + pick(s) + pick(a + s);
		a += pick(c); b += pick(d); c += pick(e); d += pick(a); e += pick(b);
	}
	return s + a + b + c + d + e;
}

/* A VLA in a nested block, calls inside the scope and after it. */
int vla_block(int n, int a, int b, int c, int d, int e)
{
	int s = pick(n);
	if (s > 2) {
		char buf[n];
		use(buf, n);
		s += buf[1] + pick(a) + pick(b) + pick(c) + pick(d) + pick(e);
		a += s; b += s; c += a; d += b; e += c;
	}
	use(&s, a + b + c + d + e);
	return s + a * b + c * d + e;
}

/* Two scopes, one inside the other, each with its VLA. */
int vla_nested(int n, int a, int b, int c, int d, int e)
{
	int s = 0;
	for (int j = 0; j < n; j++) {
		char outer[n];
		use(outer, a);
		for (int k = 0; k < j; k++) {
			char inner[k + 1];
			use(inner, b);
			s += inner[0] + pick(c) + pick(d + k);
			c += pick(e); d += pick(a);
		}
		s += outer[0] + pick(b) + pick(e);
		a += pick(s); b += pick(c); e += pick(d);
	}
	return s + a + b + c + d + e;
}

/* A VLA whose size GCC knows after inlining: the scope's SP moves by a
 * constant, and the frame is static. */
static inline __attribute__((always_inline)) int fill(int n, int a, int b, int c, int d, int e)
{
	char buf[n];
	use(buf, a);
	return buf[3] + pick(a) * pick(b) + pick(c) * pick(d) + pick(e);
}

int vla_const(int a, int b, int c, int d, int e)
{
	int s = pick(a);
	if (s > 1)
		s += fill(256, a + s, b, c, d, e) + a * b + c * d + e;
	use(&s, a + b + c + d + e);
	return s + a * b + c * d + e;
}
