package trace

import (
	"debug/elf"
	"strings"
)

// The environment `run` gives the program is the user's, byte for byte:
// a debugging tool must not change what the program does, and a program
// can read its environment (`env` prints it; glibc reads GLIBC_TUNABLES,
// and a tunable would also change how glibc behaves). Stackscope used to
// add glibc.pthread.stack_cache_size=0 so that a new thread never got a
// dirty cached stack; it now clears the leftover of a reused glibc stack
// at the new thread's clone event instead (stackreuse_linux.go).
//
// The one exception is an AddressSanitizer program: LeakSanitizer's check
// at exit ptrace-attaches the program's threads, which fails under a
// tracer and would turn every clean run into exit status 1, so such a
// program gets detect_leaks=0 in ASAN_OPTIONS (unless the user chose).

// ProgramEnv is the environment Run starts the program at path with, for
// the environment env the user gave.
func ProgramEnv(path string, env []string) []string {
	if !usesASan(path) {
		return env
	}
	return withoutLeakCheck(env)
}

// usesASan: the ELF file at path is built with AddressSanitizer (it needs
// libasan or clang's ASan runtime, or holds __asan_init, linked statically).
// A script, or anything that is not an ELF file, is not.
func usesASan(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if libs, err := f.ImportedLibraries(); err == nil {
		for _, l := range libs {
			if strings.HasPrefix(l, "libasan.") || strings.Contains(l, "clang_rt.asan") {
				return true
			}
		}
	}
	for _, syms := range []func() ([]elf.Symbol, error){f.DynamicSymbols, f.Symbols} {
		s, err := syms()
		if err != nil {
			continue
		}
		for _, sym := range s {
			if sym.Name == "__asan_init" {
				return true
			}
		}
	}
	return false
}

// withoutLeakCheck appends detect_leaks=0 to ASAN_OPTIONS (unless the user
// chose), in a copy of env.
func withoutLeakCheck(env []string) []string {
	out := append([]string(nil), env...)
	for i, e := range out {
		if v, ok := strings.CutPrefix(e, "ASAN_OPTIONS="); ok {
			if strings.Contains(v, "detect_leaks") {
				return out
			}
			if v != "" {
				v += ":"
			}
			out[i] = "ASAN_OPTIONS=" + v + "detect_leaks=0"
			return out
		}
	}
	return append(out, "ASAN_OPTIONS=detect_leaks=0")
}

// userTunables is the GLIBC_TUNABLES the user set (the last one, if the
// environment has several), or "" when none: recorded in the run, never
// changed.
func userTunables(env []string) string {
	v := ""
	for _, e := range env {
		if t, ok := strings.CutPrefix(e, "GLIBC_TUNABLES="); ok {
			v = t
		}
	}
	return v
}
