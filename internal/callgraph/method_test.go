package callgraph

import (
	"encoding/json"
	"reflect"
	"testing"
	"unsafe"
)

// TestMethodNames: every method but MethodNone has a name of its own, and
// JSON writes a method as its name (as when Method was a string).
func TestMethodNames(t *testing.T) {
	seen := map[string]Method{}
	for m := MethodNone; m < methodCount; m++ {
		name := m.String()
		if (name == "") != (m == MethodNone) {
			t.Errorf("method %d is named %q", m, name)
		}
		if old, dup := seen[name]; dup {
			t.Errorf("methods %d and %d are both named %q", old, m, name)
		}
		seen[name] = m
	}
	b, err := json.Marshal(struct{ M Method }{MethodPLT})
	if err != nil || string(b) != `{"M":"plt"}` {
		t.Errorf("json of MethodPLT: %s, %v", b, err)
	}
}

// TestEdgeHoldsNoPointer: an edge is 32 bytes and holds no pointer, so
// the collector does not scan the edge lists (with a string in each edge
// it scanned millions of them at every collection).
func TestEdgeHoldsNoPointer(t *testing.T) {
	if s := unsafe.Sizeof(Edge{}); s != 32 {
		t.Errorf("Edge is %d bytes, want 32", s)
	}
	typ := reflect.TypeFor[Edge]()
	for i := range typ.NumField() {
		switch f := typ.Field(i); f.Type.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			t.Errorf("Edge.%s is a %s: the collector scans every edge list", f.Name, f.Type)
		}
	}
}
