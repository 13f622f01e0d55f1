package beside

import (
	"runtime"
	"sync/atomic"
)

// Each runs do(0) to do(n-1) on as many goroutines as there are cores,
// the calling one among them, each taking the next index when it is done
// with one, and returns when all are done. A panic in do is raised again
// on the calling goroutine, once every goroutine has stopped.
func Each(n int, do func(i int)) {
	var next atomic.Int64
	work := func() struct{} {
		for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
			do(int(i))
		}
		return struct{}{}
	}
	var others []*Result[struct{}]
	defer func() {
		for _, o := range others {
			o.Wait()
		}
	}()
	for w := 1; w < min(runtime.GOMAXPROCS(0), n); w++ {
		others = append(others, Start(work))
	}
	work()
}
