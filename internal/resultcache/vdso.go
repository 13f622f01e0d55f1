package resultcache

import "github.com/stackscope/stackscope/internal/vdso"

// runningVDSO names the running kernel's vDSO (its release and the hash of
// its image) for the key: the analysis of a Linux x86-64 program walks
// that image where glibc calls into it (callgraph's linkVDSO), so a report
// made on another kernel may differ. A variable for the test.
var runningVDSO = vdso.Identity
