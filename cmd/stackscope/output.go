package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// outputFlags are the same two flags on every command: --format (text and
// json everywhere, sarif, html and dot where they apply) and -o FILE, which
// writes the report to FILE instead of the command's usual stream.
type outputFlags struct {
	format  string
	output  string
	formats []string // the formats this command writes, the default first
}

func (o *outputFlags) register(f *pflag.FlagSet, formats []string, help string) {
	o.formats = formats
	f.StringVar(&o.format, "format", formats[0], help)
	f.StringVarP(&o.output, "output", "o", "", "write the report to `FILE` instead of "+o.defaultStream())
}

func (o *outputFlags) defaultStream() string { return "standard output" }

// check rejects a format the command does not write, and an output file
// name that starts with "-" (exit 2).
func (o *outputFlags) check() error {
	if err := checkOutputName("-o", o.output); err != nil {
		return err
	}
	for _, f := range o.formats {
		if o.format == f {
			return nil
		}
	}
	return usageErrorf("unknown --format %q (%s)", o.format, orList(o.formats))
}

// checkOutputName refuses an output file name that starts with "-": it is
// almost always a flag that lost its value ("-o --format json"), and "-"
// is not standard output here. ./-name still writes such a file.
func checkOutputName(flag, name string) error {
	if strings.HasPrefix(name, "-") {
		return usageErrorf("%s %s: an output file name may not start with \"-\" (a flag missing its value?); write ./%s for such a file", flag, name, name)
	}
	return nil
}

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// emit renders the report and writes it to -o FILE, or else to def. The
// report is rendered in full first, so a failed command never leaves a
// half-written or empty file behind.
func (o *outputFlags) emit(def io.Writer, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	if o.output == "" {
		if _, err := def.Write(buf.Bytes()); err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		return nil
	}
	if err := os.WriteFile(o.output, buf.Bytes(), 0o644); err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("-o %s: %v", o.output, pathless(err))}
	}
	return nil
}

// emitBytes writes a report already rendered to -o FILE, or else to def
// (emit, without copying it).
func (o *outputFlags) emitBytes(def io.Writer, data []byte) error {
	if o.output == "" {
		if _, err := def.Write(data); err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		return nil
	}
	if err := os.WriteFile(o.output, data, 0o644); err != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("-o %s: %v", o.output, pathless(err))}
	}
	return nil
}

// stream is emit for a report too large to hold whole: it is written as
// it is rendered, through a buffer, to def, or to a new file beside -o
// FILE that replaces FILE only once the report is complete (so a failed
// command still leaves no half-written file behind; on def, what was
// written before the failure stays).
func (o *outputFlags) stream(def io.Writer, render func(io.Writer) error) error {
	if o.output == "" {
		bw := bufio.NewWriterSize(def, 1<<20)
		err := render(bw)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return &exitError{Code: exitUsage, Err: err}
		}
		return nil
	}
	fail := func(err error) error {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("-o %s: %v", o.output, pathless(err))}
	}
	old, err := os.Lstat(o.output)
	if err == nil && !old.Mode().IsRegular() {
		// A device, a pipe or a symbolic link: written in place, as
		// os.WriteFile would, not replaced.
		return o.emit(def, render)
	}
	dir, base := filepath.Split(o.output)
	// Created as os.WriteFile creates (0644 less the umask), or with the
	// mode of the file it replaces, which os.WriteFile keeps.
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", base, os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fail(err)
	}
	if old != nil {
		f.Chmod(old.Mode().Perm())
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = render(bw)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return &exitError{Code: exitUsage, Err: err}
	}
	err = bw.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, o.output)
	}
	if err != nil {
		os.Remove(tmp)
		return fail(err)
	}
	return nil
}

// wrote is "wrote FILE" when the report went to -o FILE, for the line that
// explains an exit status; "" when it went to the usual stream.
func wrote(o outputFlags) string {
	if o.output == "" {
		return ""
	}
	return "wrote " + o.output
}

// pathless drops the path from an *os.PathError, which the message names
// already.
func pathless(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// deprecated prints the one-line note of an old spelling that still works
// for one release.
func deprecated(old, now string) {
	fmt.Fprintf(os.Stderr, "stackscope: %s is deprecated and will be removed in the next release; use %s\n", old, now)
}
