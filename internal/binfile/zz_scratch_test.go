package binfile

import (
	"os"
	"testing"
)

func BenchmarkOpenScratch(b *testing.B) {
	path := os.Getenv("OPENFILE")
	if path == "" {
		path = "/usr/bin/node"
	}
	for i := 0; i < b.N; i++ {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
