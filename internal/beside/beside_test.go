package beside

import (
	"testing"
	"time"
)

// TestWaitRaisesPanic: a result is handed over, and a panic of the work
// run beside is raised by Wait, on the goroutine that waits.
func TestWaitRaisesPanic(t *testing.T) {
	if got := Start(func() int { return 42 }).Wait(); got != 42 {
		t.Errorf("result %d, want 42", got)
	}
	r := Start(func() int { panic("beside") })
	defer func() {
		if p := recover(); p != "beside" {
			t.Errorf("recovered %v, want the goroutine's panic", p)
		}
	}()
	r.Wait()
	t.Errorf("Wait returned after the goroutine panicked")
}

// TestFinished: false while the work runs, true once it ended.
func TestFinished(t *testing.T) {
	release := make(chan struct{})
	r := Start(func() int { <-release; return 1 })
	if r.Finished() {
		t.Errorf("finished before the work ended")
	}
	close(release)
	r.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !r.Finished() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !r.Finished() {
		t.Errorf("not finished after Wait returned")
	}
}
