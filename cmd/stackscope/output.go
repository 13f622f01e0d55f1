package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
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
