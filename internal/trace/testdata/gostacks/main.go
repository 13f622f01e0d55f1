// gostacks starts goroutines on several OS threads and, with the argument
// "overflow", lets one goroutine recurse without end. The goroutine stack
// limit is lowered to 1 MiB (debug.SetMaxStack) so that the overflow comes
// quickly; the runtime then prints "goroutine stack exceeds 1048576-byte
// limit" and "fatal error: stack overflow" and exits with status 2.
//
// Build: go build (in a directory with a go.mod; it needs no modules).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

//go:noinline
func dive(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return dive(n+1) + int(pad[(n+1)%64])
}

func main() {
	debug.SetMaxStack(1 << 20)
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j < 2000000; j++ {
				s += j * i
			}
			fmt.Fprintln(os.Stderr, "worker", i, s)
		}(i)
	}
	wg.Wait()
	fmt.Println("workers done")
	if len(os.Args) > 1 && os.Args[1] == "overflow" {
		done := make(chan int)
		go func() { done <- dive(0) }()
		fmt.Println(<-done)
	}
}
