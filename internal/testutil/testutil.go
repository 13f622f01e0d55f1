// Package testutil holds helpers shared by the tests: finding the external
// tools (gcc, arm-none-eabi-gcc, objdump) that fixtures are built with, and
// compiling fixtures into a test's temporary directory.
package testutil

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireTool returns the path of an external tool the test needs. When it is
// missing the test is skipped with a message naming it, unless
// STACKSCOPE_REQUIRE_TOOLS=1 (set by the README's test command and CI), where
// a missing tool fails the test: CI must never pass by skipping.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("required tool %s is not installed (run ./scripts/test.sh, which installs it)", name)
	}
	t.Skipf("SKIPPED: %s is not installed; ./scripts/test.sh installs it", name)
	return ""
}

// Run runs a command in dir and fails the test with its output when it fails.
func Run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
