package report

import (
	"bufio"
	"encoding/json"
	"io"
	"reflect"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
)

// The analyze JSON document, written a piece at a time. encoding/json
// builds a whole document in memory before it writes a byte, and then
// indents it into a second buffer: libLLVM-15's document (36,687 entries,
// each with its reasons) took over 24 GB that way. streamAnalyses writes
// the same bytes as json.Encoder with SetIndent("", "  "), marshalling one
// top-level key, and one element of a top-level list, at a time; the
// indentation of each piece is MarshalIndent's with the prefix of its
// depth. A Result field this writer does not know how to place (no json
// tag, an embedded struct, a tag option other than omitempty) makes it
// fall back to the encoder, so that a field added to the model later can
// never be dropped or spelled differently here.

// jsonField is one key of a struct as encoding/json writes it.
type jsonField struct {
	index     int
	name      string
	omitEmpty bool
}

// resultFields are analysis.Result's keys in encoding/json's order, and
// whether every field could be placed (else the encoder writes the
// document).
var resultFields, resultFieldsOK = structFields(reflect.TypeFor[analysis.Result]())

// structFields lists t's keys: exported fields with a json tag naming
// them, in declaration order, "-" skipped. ok is false for anything else
// (an untagged or embedded field, a ",string" or unknown option, a key
// "kind" that the document's own kind would hide).
func structFields(t reflect.Type) (fields []jsonField, ok bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			if f.Anonymous {
				return nil, false
			}
			continue
		}
		tag, tagged := f.Tag.Lookup("json")
		if tag == "-" {
			continue
		}
		if !tagged || f.Anonymous {
			return nil, false
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "kind" || (opts != "" && opts != "omitempty") {
			return nil, false
		}
		fields = append(fields, jsonField{index: i, name: name, omitEmpty: opts == "omitempty"})
	}
	return fields, true
}

// isEmptyJSON is encoding/json's test for omitempty.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// streamAnalyses writes results as AnalyzeJSON's encoder would: an object
// for one, an array for several, and a newline.
func streamAnalyses(w io.Writer, results []*analysis.Result) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if len(results) == 1 {
		if err := streamAnalysis(bw, results[0], ""); err != nil {
			return err
		}
	} else {
		bw.WriteString("[\n")
		for i, r := range results {
			bw.WriteString("  ")
			if err := streamAnalysis(bw, r, "  "); err != nil {
				return err
			}
			if i < len(results)-1 {
				bw.WriteString(",")
			}
			bw.WriteString("\n")
		}
		bw.WriteString("]")
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// streamAnalysis writes one kinded result as an object whose closing
// brace is at prefix's depth (its first line is the caller's).
func streamAnalysis(w *bufio.Writer, r *analysis.Result, prefix string) error {
	inner := prefix + "  "
	w.WriteString("{\n")
	w.WriteString(inner + `"kind": `)
	if err := writeIndented(w, KindAnalyze, inner); err != nil {
		return err
	}
	v := reflect.ValueOf(r).Elem()
	for _, f := range resultFields {
		fv := v.Field(f.index)
		if f.omitEmpty && isEmptyJSON(fv) {
			continue
		}
		w.WriteString(",\n" + inner)
		if err := writeIndented(w, f.name, inner); err != nil {
			return err
		}
		w.WriteString(": ")
		if fv.Kind() == reflect.Slice && fv.Len() > 0 && fv.Type().Elem().Kind() != reflect.Uint8 {
			if err := streamList(w, fv, inner); err != nil {
				return err
			}
			continue
		}
		// Addr: the field as the encoder sees it, addressable (a
		// pointer-receiver MarshalJSON applies), which Interface alone
		// would copy away.
		if err := writeIndented(w, fv.Addr().Interface(), inner); err != nil {
			return err
		}
	}
	w.WriteString("\n" + prefix + "}")
	return nil
}

// streamList writes a non-empty list one element at a time, its closing
// bracket at prefix's depth.
func streamList(w *bufio.Writer, list reflect.Value, prefix string) error {
	inner := prefix + "  "
	w.WriteString("[\n")
	for i := 0; i < list.Len(); i++ {
		w.WriteString(inner)
		if err := writeIndented(w, list.Index(i).Addr().Interface(), inner); err != nil {
			return err
		}
		if i < list.Len()-1 {
			w.WriteString(",")
		}
		w.WriteString("\n")
	}
	w.WriteString(prefix + "]")
	return nil
}

// writeIndented writes v as json.MarshalIndent does at prefix's depth.
func writeIndented(w *bufio.Writer, v any, prefix string) error {
	b, err := json.MarshalIndent(v, prefix, "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
