package report

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/testutil"
)

// buildLuaShared analyses Lua (gcc -O2) linked as a shared object:
// hundreds of exported entries, many of them not bounded (the parser's
// and the collector's recursion, calls into libc), whose equal reason
// lists the analysis shares.
func buildLuaShared(t *testing.T) *analysis.Result {
	t.Helper()
	return buildLuaSharedWith(t, analysis.Options{})
}

// buildLuaSharedWith is buildLuaShared analysed with opts.
func buildLuaSharedWith(t *testing.T, opts analysis.Options) *analysis.Result {
	t.Helper()
	root := testutil.SourceTree(t, "lua5.4")
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	flags := append([]string{"-c", "-O2", "-fPIC", "-DLUA_USE_LINUX"}, testutil.LuaIncludes(t, root, dir)...)
	var objs []string
	for _, src := range testutil.LuaSources(t, root) {
		obj := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		testutil.Run(t, dir, gcc, append(flags, "-o", obj, src)...)
		objs = append(objs, obj)
	}
	lib := filepath.Join(dir, "liblua.so")
	testutil.Run(t, dir, gcc, append([]string{"-shared", "-o", lib}, append(objs, "-lm", "-ldl")...)...)
	res, err := analysis.Run(lib, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) < 100 {
		t.Fatalf("only %d entries", len(res.Entries))
	}
	return res
}

// TestAnalyzeJSONStreamed: the document written a key and an element at
// a time is byte for byte encoding/json's, for one result and for
// several, on real analyses: Lua as a shared object (every top-level
// list long, reasons and assumptions in the entries, threads empty), a
// program followed into libc, and the example Cortex-M firmware (the
// interrupts key, which omitempty drops elsewhere), with and without the
// version key.
func TestAnalyzeJSONStreamed(t *testing.T) {
	if !resultFieldsOK {
		t.Fatal("analysis.Result has a field the streaming writer cannot place: every document goes through the encoder")
	}
	lua := buildLuaShared(t)
	prog, err := analysis.Run(buildActionable(t), analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fw, err := analysis.Run(filepath.Join("..", "..", "examples", "firmware", "firmware.elf"), analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fw.Interrupts == nil {
		t.Fatal("the example firmware has no interrupts model")
	}
	withVersion := *prog
	withVersion.StackscopeVersion = "v1.2.3-test"
	for name, results := range map[string][]*analysis.Result{
		"lua":           {lua},
		"program":       {prog},
		"firmware":      {fw},
		"version":       {&withVersion},
		"several":       {prog, fw, lua},
		"several, same": {fw, fw},
	} {
		var streamed, encoded bytes.Buffer
		if err := AnalyzeJSON(&streamed, results); err != nil {
			t.Fatal(err)
		}
		if err := encodeAnalyses(&encoded, results); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(streamed.Bytes(), encoded.Bytes()) {
			a, b := streamed.Bytes(), encoded.Bytes()
			i := 0
			for i < len(a) && i < len(b) && a[i] == b[i] {
				i++
			}
			t.Errorf("%s: streamed JSON (%d bytes) differs from the encoder's (%d bytes) at byte %d: %q vs %q",
				name, len(a), len(b), i, a[max(0, i-40):min(len(a), i+40)], b[max(0, i-40):min(len(b), i+40)])
		}
	}
}

// TestStructFieldsRefuses: a field the streaming writer cannot place as
// encoding/json would makes it hand the document to the encoder.
func TestStructFieldsRefuses(t *testing.T) {
	type inner struct{ A int }
	for name, v := range map[string]any{
		"untagged": struct{ A int }{},
		"string opt": struct {
			A int `json:"a,string"`
		}{},
		"embedded": struct {
			inner `json:"inner"`
		}{},
		"kind": struct {
			K string `json:"kind"`
		}{},
		"empty name": struct {
			A int `json:",omitempty"`
		}{},
	} {
		if _, ok := structFields(reflect.TypeOf(v)); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	fields, ok := structFields(reflect.TypeOf(struct {
		A int `json:"a"`
		B int `json:"-"`
		c int
		D int `json:"d,omitempty"`
	}{}))
	if !ok || len(fields) != 2 || fields[0].name != "a" || fields[1].name != "d" || !fields[1].omitEmpty {
		t.Errorf("fields = %+v, %v", fields, ok)
	}
}

// TestReasonsMemo: on Lua's shared object, whose entries share reason
// lists, the memo writes for every entry the text that grouping its list
// afresh writes, and groups each shared list once.
func TestReasonsMemo(t *testing.T) {
	res := buildLuaShared(t)
	memo := reasonsMemo{}
	o := AnalyzeOptions{MaxReasons: 8}
	withReasons := 0
	for _, e := range res.Entries {
		if len(e.Reasons) == 0 {
			continue
		}
		withReasons++
		var got, want bytes.Buffer
		memo.write(&got, e, o)
		reasonsText(&want, e, o)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: the memo wrote\n%s\nwant\n%s", e.Name, got.String(), want.String())
		}
	}
	if len(memo) >= withReasons || len(memo) < 2 {
		t.Errorf("%d reason lists grouped for %d entries with reasons: want several lists, each shared", len(memo), withReasons)
	}
}
