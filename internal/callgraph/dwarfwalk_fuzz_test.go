package callgraph

import (
	"debug/dwarf"
	"reflect"
	"testing"
)

// FuzzUsersBeside: on any DWARF (the sections of a small program that
// has a gconv step, its users and an inlined one, gcc -g -O2 in DWARF 4
// and 5, mutated), the walk that reads the step's users beside the
// top-level readers (walkTopLevelUsers) gives the readers what
// walkTopLevel gives them, stops on the same error, and answers what
// readGconvUsers answers; and none of them panics or hangs.
func FuzzUsersBeside(f *testing.F) {
	f.Fuzz(func(t *testing.T, abbrev, info, str, lineStr, ranges, rnglists []byte) {
		d := fuzzDWARF(abbrev, info, str, lineStr, ranges, rnglists)
		if d == nil {
			return
		}
		want := readGconvUsers(d)
		fresh := func() (*memberAgreement, *libioTop, *gconvTop) {
			return newMemberAgreement("_IO_wide_data", "_wide_vtable"), newLibioTop(), newGconvTop()
		}
		wideA, libioA, gconvA := fresh()
		errA := walkTopLevel(d, wideA, libioA, gconvA, gconvA.steps)
		wideB, libioB, gconvB := fresh()
		users := newUsersBeside(d)
		errB := walkTopLevelUsers(d, users, wideB, libioB, gconvB, gconvB.steps)
		if !reflect.DeepEqual(errA, errB) {
			t.Fatalf("errors: %v alone, %v beside the users", errA, errB)
		}
		if !reflect.DeepEqual(wideA.offsets(), wideB.offsets()) ||
			!reflect.DeepEqual(libioA.layout(errA), libioB.layout(errB)) ||
			!reflect.DeepEqual(gconvA.structs, gconvB.structs) ||
			!reflect.DeepEqual(gconvA.vars, gconvB.vars) ||
			!reflect.DeepEqual(gconvA.steps.offsets(), gconvB.steps.offsets()) {
			t.Fatal("the top-level readers read differently beside the users")
		}
		if errB == nil {
			if got := users.result(d); !reflect.DeepEqual(got, want) {
				t.Fatalf("users beside (gave up: %v): %v, readGconvUsers: %v", users.failed, got, want)
			}
		}
	})
}

// fuzzDWARF makes the DWARF data of a fuzz input's sections, nil when
// debug/dwarf refuses them.
func fuzzDWARF(abbrev, info, str, lineStr, ranges, rnglists []byte) *dwarf.Data {
	d, err := dwarf.New(abbrev, nil, nil, info, nil, nil, ranges, str)
	if err != nil {
		return nil
	}
	if len(lineStr) > 0 {
		d.AddSection(".debug_line_str", lineStr)
	}
	if len(rnglists) > 0 {
		d.AddSection(".debug_rnglists", rnglists)
	}
	return d
}
