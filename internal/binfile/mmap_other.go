//go:build !unix

package binfile

import "os"

// mapFile is not available here; sections are read into memory instead.
func mapFile(r *os.File) []byte { return nil }

func unmapFile(data []byte) {}

// mapLasting is not available here: sections are copied instead.
func mapLasting(r *os.File, off, size int64) []byte { return nil }
