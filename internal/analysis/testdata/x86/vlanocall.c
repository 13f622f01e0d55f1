/* GCC's VLA scopes and the stack-argument rule (TestStackArgRuleGCC).
 * vla_nocall's scope has no call: at -Os GCC saves SP in a frame slot
 * ([rbp-N]) and loads it back before the calls that follow the scope,
 * and saves it again when the next round starts, so no value of the
 * slot that SP is loaded from was ever at a call. vla_call's scope has
 * calls, many values live across them: the saved SP sits in a slot at
 * or above SP at each call, trusted by the rule alone. pick() and use()
 * are in vlanocall_lib.c, so that GCC cannot see what they do. */
int pick(int);
void use(void *p, int n);

int vla_nocall(int n, int a, int b, int c, int d, int e)
{
	int s = 0;
	for (int j = 0; j < n; j++) {
		{
			volatile char buf[n + j];
			for (int k = 0; k < n + j; k++)
				buf[k] = (char)(k * a + b);
			s += buf[j] + buf[0] * c;
		}
		s += pick(s) + pick(a + s);
		a += pick(c); b += pick(d); c += pick(e); d += pick(a); e += pick(b);
	}
	return s + a + b + c + d + e;
}

int vla_call(int n, int a, int b, int c, int d, int e)
{
	int s = 0;
	for (int j = 0; j < n; j++) {
		char buf[n + j];
		use(buf, a);
		s += buf[0] + a * b + c * d + e * j + pick(s) + pick(a + s);
		a += pick(c); b += pick(d); c += pick(e); d += pick(a); e += pick(b);
	}
	return s + a + b + c + d + e;
}
