package xstate

// cpuid executes CPUID with EAX=leaf and ECX=sub (cpuid_amd64.s).
// golang.org/x/sys/cpu reads CPUID for its feature flags but exports
// neither the instruction nor leaf 0xD's sizes, and no maintained module
// gives the sizes glibc derives from them, hence these few lines.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// Read returns this CPU's sizes (see Sizes).
func Read() Sizes { return compute(cpuid) }
