package main

import (
	"debug/elf"
	"fmt"
	"os"

	"github.com/stackscope/stackscope/internal/isa/arm64"
)

func main() {
	f, _ := elf.Open(os.Args[1])
	counts := map[string]int{}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		b, _ := s.Data()
		for i := 0; i+4 <= len(b); i += 4 {
			_, err := arm64.Decoder{}.Decode(b[i:], s.Addr+uint64(i))
			if err != nil {
				counts[fmt.Sprintf("%#08x", uint32(b[i])|uint32(b[i+1])<<8|uint32(b[i+2])<<16|uint32(b[i+3])<<24)]++
				if len(os.Args) > 2 {
					fmt.Println(err)
				}
			}
		}
	}
	fmt.Println(len(counts), "distinct failing words")
	n := 0
	for k, v := range counts {
		if n < 40 {
			fmt.Println(k, v)
		}
		n++
	}
}
