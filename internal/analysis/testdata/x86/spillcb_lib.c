/* A library function that keeps its callback in a stack slot across a
   call, the shape glibc's __tsearch has with its comparator. Built with
   -O2 and every callee-saved register reserved (-ffixed-rbx -ffixed-rbp
   -ffixed-r12 ... -ffixed-r15), GCC has no register that survives the call
   of step, so it spills cb to the frame at entry and reloads it before
   each call of it (TestSpilledCallback checks that shape in objdump). */
__attribute__((noipa)) static int step(int i) { return i * 3 + 1; }

int apply_all(int (*cb)(int), int n) {
	int s = 0;
	for (int i = 0; i < n; i++) {
		s += step(i);
		s += cb(i);
	}
	return s;
}
