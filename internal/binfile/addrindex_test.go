package binfile

import (
	"math/rand/v2"
	"os"
	"testing"
)

// checkAddrIndexIsMap: the index answers what a map assigned in the
// functions' order (the last index of an address) answers, at every
// entry, next to every entry, and at addresses at random.
func checkAddrIndexIsMap(t *testing.T, name string, fns []Function, r *rand.Rand) {
	t.Helper()
	want := map[uint64]int{}
	for i := range fns {
		want[fns[i].Addr] = i
	}
	x := newAddrIndex(fns)
	ask := []uint64{0, 1, ^uint64(0)}
	for i := range fns {
		a := fns[i].Addr
		ask = append(ask, a, a-1, a+1, a^1<<40)
	}
	for range 1000 {
		ask = append(ask, r.Uint64(), r.Uint64N(1<<20))
	}
	for _, a := range ask {
		wi, wok := want[a]
		gi, gok := x.get(a)
		if gok != wok || gok && gi != wi || x.has(a) != wok {
			t.Fatalf("%s: index of %#x: %d %v, a map's %d %v", name, a, gi, gok, wi, wok)
		}
	}
}

func TestAddrIndexIsMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	checkAddrIndexIsMap(t, "none", nil, r)
	var empty addrIndex
	if _, ok := empty.get(0); ok {
		t.Fatal("the zero index holds address 0")
	}
	if _, ok := empty.get(0x1000); ok {
		t.Fatal("the zero index holds 0x1000")
	}
	for _, n := range []int{1, 2, 5, 8, 13, 100, 1000, 20000} {
		fns := make([]Function, n)
		for i := range fns {
			switch r.IntN(4) {
			case 0: // shared addresses, address 0, addresses that collide in the table
				fns[i].Addr = uint64(r.IntN(4)) << 60
			case 1:
				fns[i].Addr = uint64(r.IntN(n))
			default:
				fns[i].Addr = 0x400000 + 16*uint64(r.IntN(4*n))
			}
		}
		checkAddrIndexIsMap(t, "random", fns, r)
	}
	for _, path := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/node", "../../examples/firmware/firmware.elf"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		checkAddrIndexIsMap(t, path, f.Functions, r)
		f.Close()
	}
}

// BenchmarkAddrIndex: node's function entries looked up in a random
// order, by the index and by a map.
func BenchmarkAddrIndex(b *testing.B) {
	f, err := Open("/usr/bin/node")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	ask := make([]uint64, 0, 2*len(f.Functions))
	for i := range f.Functions {
		ask = append(ask, f.Functions[i].Addr, f.Functions[i].Addr+1)
	}
	r.Shuffle(len(ask), func(i, j int) { ask[i], ask[j] = ask[j], ask[i] })
	m := make(map[uint64]int, len(f.Functions))
	for i := range f.Functions {
		m[f.Functions[i].Addr] = i
	}
	x := newAddrIndex(f.Functions)
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, a := range ask {
				if i, ok := x.get(a); ok {
					n += i
				}
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, a := range ask {
				if i, ok := m[a]; ok {
					n += i
				}
			}
		}
	})
}
