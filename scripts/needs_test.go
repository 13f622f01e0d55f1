package scripts

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// notInstalled are tools the tests name that test.sh does not install on
// purpose: Go runs the tests, and the Rust test skips without rustc
// (Debian's rustc is too old and large to pull in; see runtimes_test.go).
var notInstalled = map[string]bool{"go": true, "rustc": true}

// TestEveryToolIsInstalled: every external tool a test asks for by name is
// in test.sh's list of what it installs, so that the README's test command
// passes on a fresh machine (a tool found here only because someone
// installed it by hand once made it fail there).
func TestEveryToolIsInstalled(t *testing.T) {
	script, err := os.ReadFile("test.sh")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([^\s:#"]+):[a-z0-9.+-]+$`).FindAllStringSubmatch(string(script), -1) {
		listed[m[1]] = true
	}
	asked := regexp.MustCompile(`(?:RequireTool\(t, |LookPath\()"([^"]+)"`)
	root := ".."
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range asked.FindAllStringSubmatch(string(src), -1) {
			if tool := m[1]; !listed[tool] && !notInstalled[tool] {
				t.Errorf("%s asks for %s, which scripts/test.sh does not install", path, tool)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) < 10 {
		t.Fatalf("read only %d tools from test.sh's list: the pattern no longer matches it", len(listed))
	}
}
