//go:build !unix

package analysis

import "time"

// processCPU is not read where getrusage is not: the phases' lines then
// say 0 for the CPU.
func processCPU() time.Duration { return 0 }
