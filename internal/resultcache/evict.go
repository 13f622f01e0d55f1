package resultcache

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// stampName is the file under the cache base whose modification time is
// the last eviction: a sweep walks every entry, so it runs at most daily.
const stampName = "last-eviction"

// Evict removes, under base (os.UserCacheDir()/stackscope), the report and
// library entries of every version of stackscope not used (read or
// written; Get and libcache touch what they read) for maxAge, temporary
// files a killed writer left (older than an hour), and the directories
// that leaves empty. It does nothing when it ran less than a day ago.
// Errors are ignored: another process may be removing the same files.
func Evict(base string, maxAge time.Duration, now time.Time) {
	if base == "" {
		return
	}
	stamp := filepath.Join(base, stampName)
	if st, err := os.Stat(stamp); err == nil && now.Sub(st.ModTime()) < 24*time.Hour && !st.ModTime().After(now) {
		return
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return
	}
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		return
	}
	os.Chtimes(stamp, now, now)
	tops, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, top := range tops {
		if !top.IsDir() || !(strings.HasPrefix(top.Name(), "results-v") || strings.HasPrefix(top.Name(), "libs-v")) {
			continue // only what stackscope writes
		}
		root := filepath.Join(base, top.Name())
		var dirs []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				dirs = append(dirs, p)
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			age := now.Sub(info.ModTime())
			if strings.Contains(d.Name(), ".tmp") && age > time.Hour || age > maxAge {
				os.Remove(p)
			}
			return nil
		})
		// Deepest first; Remove fails, as it should, on a directory that
		// still holds entries.
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
}
