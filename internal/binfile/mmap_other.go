//go:build !unix

package binfile

import "os"

// mapFile is not available here; sections are read into memory instead.
func mapFile(r *os.File) []byte { return nil }

func unmapFile(data []byte) {}

// mapNames is not available here: names are copied instead.
func mapNames(r *os.File, off, size int64) string { return "" }
