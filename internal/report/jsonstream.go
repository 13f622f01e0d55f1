package report

import (
	"bufio"
	"bytes"
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
	p := &pieces{w: bw}
	if len(results) == 1 {
		if err := streamAnalysis(p, results[0], ""); err != nil {
			return err
		}
	} else {
		bw.WriteString("[\n")
		for i, r := range results {
			bw.WriteString("  ")
			if err := streamAnalysis(p, r, "  "); err != nil {
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
func streamAnalysis(p *pieces, r *analysis.Result, prefix string) error {
	w := p.w
	inner := prefix + "  "
	w.WriteString("{\n")
	w.WriteString(inner + `"kind": `)
	if err := p.write(KindAnalyze, inner); err != nil {
		return err
	}
	v := reflect.ValueOf(r).Elem()
	for _, f := range resultFields {
		fv := v.Field(f.index)
		if f.omitEmpty && isEmptyJSON(fv) {
			continue
		}
		w.WriteString(",\n" + inner)
		if err := p.write(f.name, inner); err != nil {
			return err
		}
		w.WriteString(": ")
		if fv.Kind() == reflect.Slice && fv.Len() > 0 && fv.Type().Elem().Kind() != reflect.Uint8 {
			if err := streamList(p, fv, inner); err != nil {
				return err
			}
			continue
		}
		// Addr: the field as the encoder sees it, addressable (a
		// pointer-receiver MarshalJSON applies), which Interface alone
		// would copy away.
		if err := p.write(fv.Addr().Interface(), inner); err != nil {
			return err
		}
	}
	w.WriteString("\n" + prefix + "}")
	return nil
}

// streamList writes a non-empty list one element at a time, its closing
// bracket at prefix's depth.
func streamList(p *pieces, list reflect.Value, prefix string) error {
	w := p.w
	inner := prefix + "  "
	w.WriteString("[\n")
	for i := 0; i < list.Len(); i++ {
		w.WriteString(inner)
		if err := p.write(list.Index(i).Addr().Interface(), inner); err != nil {
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

// pieces encodes the pieces of one document: one encoder per depth
// writing into one buffer, both reused (json.MarshalIndent makes two new
// buffers per piece: on libLLVM-15's 4.66 GB document, most of its
// allocation). An encoder with SetIndent writes what MarshalIndent
// returns, and a newline.
type pieces struct {
	w    *bufio.Writer
	buf  bytes.Buffer
	encs map[string]*json.Encoder
}

// write writes v as json.MarshalIndent(v, prefix, "  ") would.
func (p *pieces) write(v any, prefix string) error {
	enc := p.encs[prefix]
	if enc == nil {
		if p.encs == nil {
			p.encs = map[string]*json.Encoder{}
		}
		enc = json.NewEncoder(&p.buf)
		enc.SetIndent(prefix, "  ")
		p.encs[prefix] = enc
	}
	p.buf.Reset()
	if err := enc.Encode(v); err != nil {
		return err
	}
	b := p.buf.Bytes()
	_, err := p.w.Write(b[:len(b)-1]) // without Encode's newline
	return err
}
