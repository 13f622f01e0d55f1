//go:build !unix

package main

import "os"

// profileSignals: no SIGUSR1 here; the profiles are written at the end.
var profileSignals []os.Signal
