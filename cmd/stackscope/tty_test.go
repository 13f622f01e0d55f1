package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controller, and the terminal
// a program writes to.
func openPTY(t *testing.T) (ctl, term *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ctl = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatal(err)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ctl, term
}

// TestReportOnTerminal: report with no -o and standard output on a
// (pseudo-)terminal writes no HTML to it: the page goes to stack.html in
// the current directory, and stderr says so, also in the exit-1 line. Piped,
// the page still goes to standard output.
func TestReportOnTerminal(t *testing.T) {
	fw, err := filepath.Abs("../../examples/firmware/firmware.elf")
	if err != nil {
		t.Fatal(err)
	}
	ctl, term := openPTY(t)
	defer ctl.Close()
	screen := make(chan string)
	go func() { b, _ := io.ReadAll(ctl); screen <- string(b) }() // ends with EIO once term is closed

	t.Chdir(t.TempDir())
	re, we, _ := os.Pipe()
	errc := make(chan string)
	go func() { b, _ := io.ReadAll(re); errc <- string(b) }()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = term, we
	code := runMain([]string{"report", fw})
	os.Stdout, os.Stderr = oldOut, oldErr
	term.Close()
	we.Close()
	onScreen, errOut := <-screen, <-errc

	if strings.Contains(strings.ToLower(onScreen), "<html") || strings.Contains(onScreen, "<svg") || len(onScreen) > 0 {
		t.Errorf("the terminal got %d bytes: %.200q", len(onScreen), onScreen)
	}
	page, err := os.ReadFile("stack.html")
	if err != nil || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Errorf("stack.html: %v, %d bytes", err, len(page))
	}
	// The example's placement is unsafe: exit 1, and the line says where
	// the page went.
	if code != exitFinding || !strings.Contains(errOut, "wrote stack.html (standard output is a terminal") || !strings.Contains(errOut, "exit 1: stack placement UNSAFE") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}

	// On a pipe the page is standard output, and no file is written.
	os.Remove("stack.html")
	code, out, _ := capture(t, "report", fw)
	if code != exitFinding || !strings.Contains(strings.ToLower(out), "<html") {
		t.Errorf("piped: exit %d, %d bytes on stdout", code, len(out))
	}
	if _, err := os.Stat("stack.html"); err == nil {
		t.Errorf("piped: stack.html written as well")
	}
}
