//go:build !linux

package resultcache

import (
	"fmt"
	"io/fs"
)

// identity names a file's version by its size and modification time (no
// inode or change time to add here).
func identity(st fs.FileInfo) string {
	return fmt.Sprintf("%d:%d", st.Size(), st.ModTime().UnixNano())
}
