/* TestRedTeamFilteesCounted: built as the filter library (libfilt.so,
 * -Wl,--auxiliary=libaux1.so -Wl,--auxiliary=libaux2.so) and as both
 * auxiliary filtees; with -DMAIN, the program that needs libfilt.so. */
#ifdef MAIN
int filt(void);
int main(void) { return filt() == 2 ? 0 : 1; }
#else
int filt(void) { return 2; }
#endif
