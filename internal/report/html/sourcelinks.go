package html

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/stackscope/stackscope/internal/report"
)

// sourceLinks turns the DWARF file names of a report into links to the
// files, when the page is made inside the source tree: a name resolves when
// it is an existing file as written, or relative to the current directory,
// or relative to its unit's compilation directory (DW_AT_comp_dir); a name
// under a compilation directory that is not on this machine (a build made
// elsewhere) is also tried relative to the current directory. A name that
// resolves to nothing stays plain text: a link that opens nothing, or the
// wrong file, is worse than none.
type sourceLinks struct {
	wd      string              // the current directory, "" if unknown
	outDir  string              // the directory of the page, "" when it goes to standard output
	compDir func(string) string // the compilation directory of a file name
	// byShort maps the name a report shows (report.SourceLine without a
	// line) to its link; "" when two files show the same name.
	byShort map[string]string
	tried   map[string]string
}

func newSourceLinks(output string, compDir func(string) string) *sourceLinks {
	sl := &sourceLinks{compDir: compDir, byShort: map[string]string{}, tried: map[string]string{}}
	sl.wd, _ = os.Getwd()
	if output != "" {
		if abs, err := filepath.Abs(output); err == nil {
			sl.outDir = filepath.Dir(abs)
		}
	}
	return sl
}

// add records the link of a DWARF file name, under the short name the page
// shows it by.
func (sl *sourceLinks) add(file string) {
	if file == "" {
		return
	}
	short := report.SourceLine(file, 0)
	href, done := sl.tried[file]
	if !done {
		href = sl.href(file)
		sl.tried[file] = href
	}
	if old, seen := sl.byShort[short]; seen && old != href {
		href = "" // ambiguous: two files shown as one name
	}
	sl.byShort[short] = href
}

// links returns the short names that have a link (for the page's data).
func (sl *sourceLinks) links() map[string]string {
	out := map[string]string{}
	for short, href := range sl.byShort {
		if href != "" {
			out[short] = href
		}
	}
	return out
}

// href is the link to file, or "" when it is not found. A page written
// inside the tree the file was found in links to it relatively (the tree
// can move, the links still work); otherwise by a file:// URL.
func (sl *sourceLinks) href(file string) string {
	path, root := sl.resolve(file)
	if path == "" {
		return ""
	}
	if sl.outDir != "" && within(root, sl.outDir) {
		if rel, err := filepath.Rel(sl.outDir, path); err == nil {
			return (&url.URL{Path: filepath.ToSlash(rel)}).String()
		}
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// resolve finds file on this machine: its absolute path, and the root of
// the tree it was found in (the current or the compilation directory).
func (sl *sourceLinks) resolve(file string) (path, root string) {
	dir := ""
	if sl.compDir != nil {
		dir = sl.compDir(file)
	}
	if filepath.IsAbs(file) {
		if isFile(file) {
			if dir != "" && within(dir, file) {
				return file, dir
			}
			return file, filepath.Dir(file)
		}
		// Built elsewhere: the part below the compilation directory,
		// in the current directory.
		if dir != "" && sl.wd != "" && within(dir, file) {
			if rel, err := filepath.Rel(dir, file); err == nil {
				if p := filepath.Join(sl.wd, rel); isFile(p) {
					return p, sl.wd
				}
			}
		}
		return "", ""
	}
	if sl.wd != "" {
		if p := filepath.Join(sl.wd, file); isFile(p) {
			return p, sl.wd
		}
	}
	if filepath.IsAbs(dir) {
		if p := filepath.Join(dir, file); isFile(p) {
			return p, dir
		}
	}
	return "", ""
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
