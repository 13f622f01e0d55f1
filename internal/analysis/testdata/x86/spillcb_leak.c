/* apply_all's loop (spillcb_lib.c, built the same way), but the address
   of s (in the frame, beside the spilled callback) goes to touch: a frame
   address leaves the function, so no slot of its frame is a proof, and
   the call keeps its assumed targets (TestSpilledCallback). */
__attribute__((noipa)) static void touch(int *p) { *p += 1; }

int apply_leak(int (*cb)(int), int n) {
	int s = 0;
	for (int i = 0; i < n; i++) {
		touch(&s);
		s += cb(i);
	}
	return s;
}
