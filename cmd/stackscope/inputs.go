package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/trace"
)

// jsonKind says what stackscope JSON data is: its "kind" key, or for a
// file written before that key existed, the kind its keys show; "" when it
// is none of stackscope's.
func jsonKind(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		// Only analyze writes an array (one object per file).
		var list []json.RawMessage
		if json.Unmarshal(data, &list) != nil || len(list) == 0 {
			return ""
		}
		if k := jsonKind(list[0]); k == "analyze" {
			return k
		}
		return ""
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) != nil {
		return ""
	}
	if raw, ok := keys["kind"]; ok {
		var k string
		if json.Unmarshal(raw, &k) == nil && k != "" {
			return k
		}
	}
	has := func(names ...string) bool {
		for _, n := range names {
			if _, ok := keys[n]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("threads", "exit_status"):
		return trace.KindRun
	case has("minimum_pages"):
		return "minstack"
	case has("old", "new", "entries"):
		return "diff"
	case has("binary", "entries"):
		return "analyze"
	case has("binary", "verdict"), has("binary", "regions"):
		return "layout"
	case has("runs", "version"):
		return "sarif"
	}
	return ""
}

// kindText names a kind for a message: "a JSON report of stackscope analyze".
func kindText(kind string) string {
	switch kind {
	case "":
		return "not JSON written by stackscope"
	case "sarif":
		return "a SARIF log"
	case trace.KindRun:
		return "a run record (stackscope run --format json)"
	case kindFirmwareRun:
		return "a firmware run record (stackscope run --format json FIRMWARE.elf)"
	case kindFirmwareInjection:
		return "an injection record (stackscope inject --format json)"
	}
	return "a JSON report of stackscope " + kind
}

// executableOf identifies the program a run record is about.
func executableOf(path string) *trace.Executable {
	e := &trace.Executable{Path: path, BuildID: binfile.BuildIDOf(path)}
	if abs, err := filepath.Abs(path); err == nil {
		e.Path = abs
	}
	if st, err := os.Stat(path); err == nil {
		e.Size = st.Size()
	}
	return e
}

// otherProgram says why a record ("a run", "an injection") is not of the
// file at path ("" when it is): by build ID when both have one, else by
// path and size. A record that names no program cannot be matched, and
// says so.
func otherProgram(got *trace.Executable, what, path string) string {
	if got == nil {
		return "the record does not name the program it ran (written by an older stackscope), so it cannot be matched to " + path
	}
	want := executableOf(path)
	switch {
	case got.BuildID != "" && want.BuildID != "":
		if got.BuildID != want.BuildID {
			return fmt.Sprintf("it is %s of %s (build ID %s), not of %s (build ID %s)", what, got.Path, got.BuildID, path, want.BuildID)
		}
		return ""
	case got.Path != want.Path:
		return fmt.Sprintf("it is %s of %s, not of %s", what, got.Path, want.Path)
	case got.Size != want.Size:
		return fmt.Sprintf("it is %s of %s when it was %s; it is %s now", what, got.Path, size.Format(got.Size), size.Format(want.Size))
	}
	return ""
}
