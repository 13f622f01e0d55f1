//go:build linux

package resultcache

import (
	"fmt"
	"io/fs"
	"syscall"
)

// identity names a file's version by what a change of its bytes always
// changes: the inode, size and modification and change times.
func identity(st fs.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d:%d:%d:%d:%d:%d", s.Dev, s.Ino, s.Size, s.Mtim.Sec, s.Mtim.Nsec, s.Ctim.Sec, s.Ctim.Nsec)
	}
	return fmt.Sprintf("%d:%d", st.Size(), st.ModTime().UnixNano())
}
