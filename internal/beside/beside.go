// Package beside runs a computation on a goroutine of its own, beside the
// one that will need its result, and hands that goroutine the result or,
// when the computation panicked, the panic: the analysis recovers a panic
// on its own goroutine and turns it into one line about the input, which a
// panic on another goroutine would bypass, ending the process.
package beside

// Result is a computation under way on a goroutine of its own.
type Result[T any] struct {
	done  chan struct{}
	out   T
	fault any // run's panic, raised again by Wait
}

// Start runs run on a goroutine of its own.
func Start[T any](run func() T) *Result[T] {
	r := &Result[T]{done: make(chan struct{})}
	go func() {
		defer func() {
			r.fault = recover()
			close(r.done)
		}()
		r.out = run()
	}()
	return r
}

// Wait returns the result once it is made, or raises run's panic on the
// goroutine that waits.
func (r *Result[T]) Wait() T {
	<-r.done
	if r.fault != nil {
		panic(r.fault)
	}
	return r.out
}

// Finished says whether the result is made (Wait would not wait).
func (r *Result[T]) Finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}
