package binfile

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// LibrarySearch finds shared libraries named by DT_NEEDED the way the
// dynamic linker would, closely enough for analysis: extra directories
// first (--lib-path), then DT_RUNPATH, then the directories of
// /etc/ld.so.conf, then the system defaults.
type LibrarySearch struct {
	Extra []string
	dirs  []string
}

var defaultLibDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
}

// Find returns the path of library name for a file with the given run path,
// or "" when it cannot be found.
func (s *LibrarySearch) Find(name string, runPath []string, origin string) string {
	if strings.Contains(name, "/") {
		if fileExists(name) {
			return name
		}
		return ""
	}
	if s.dirs == nil {
		s.dirs = append(readLdSoConf("/etc/ld.so.conf", 0), defaultLibDirs...)
	}
	var dirs []string
	dirs = append(dirs, s.Extra...)
	for _, d := range runPath {
		dirs = append(dirs, strings.ReplaceAll(d, "$ORIGIN", origin))
	}
	dirs = append(dirs, s.dirs...)
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// readLdSoConf reads the directories of an ld.so.conf file and its includes.
func readLdSoConf(path string, depth int) []string {
	if depth > 4 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "include "); ok {
			pattern := strings.TrimSpace(rest)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				dirs = append(dirs, readLdSoConf(m, depth+1)...)
			}
			continue
		}
		dirs = append(dirs, line)
	}
	return dirs
}
