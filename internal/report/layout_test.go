package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/layout"
)

// sampleLayout is an unsafe layout: a stack directly above .bss.
func sampleLayout() *layout.Report {
	b := int64(-12)
	pc := -1.2
	total := int64(1036)
	return &layout.Report{
		Binary: "fw.elf", Arch: "thumb", Verdict: layout.Unsafe,
		VerdictReason: "an overflow of the main stack corrupts .bss (ticks first)",
		Regions: []layout.Region{
			{Kind: "flash", Start: 0x08000000, End: 0x08000100, Sections: []layout.Section{{Name: ".text", Addr: 0x08000000, Size: 0x100, Flags: "rx", Kind: "code"}}},
			{Kind: "ram", Start: 0x20000000, End: 0x20000410, Sections: []layout.Section{{Name: ".bss", Addr: 0x20000000, Size: 0x10, Flags: "rw", Kind: "bss"}}},
		},
		Segments: []layout.Segment{},
		Stack:    &layout.Stack{Top: 0x20000410, Limit: 0x20000010, Size: 0x400, Grows: "down", LimitFound: true},
		OverflowInto: []layout.Hit{{Section: ".bss", Kind: "bss", Start: 0x20000000, End: 0x20000010, Size: 16,
			Symbols:      []string{"ticks", "fault_count", "timer_count"},
			SymbolDetail: []layout.Symbol{{Name: "ticks", Addr: 0x2000000c, Size: 4}, {Name: "fault_count", Addr: 0x20000008, Size: 4}, {Name: "timer_count", Addr: 0x20000004, Size: 4}}}},
		Headroom:      &layout.Headroom{StackSize: 1024, Total: &total, Bytes: &b, Percent: &pc},
		FaultHandlers: []layout.FaultHandler{{Name: "HardFault_Handler", Vectors: []string{"HardFault"}, UsesStackBeforeSPCheck: true, FirstStackUse: &layout.Instr{Addr: 0x08000040, What: "push of 8 B"}}},
		EndlessLoops:  []layout.FaultHandler{},
		TaskStacks:    []layout.TaskStack{},
	}
}

func TestLayoutJSONContract(t *testing.T) {
	var buf bytes.Buffer
	if err := LayoutJSON(&buf, sampleLayout()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Stack *struct {
			Top, Limit, Size *uint64
			Grows            string
		} `json:"stack"`
		Verdict      *string `json:"verdict"`
		OverflowInto []struct {
			Section string   `json:"section"`
			Symbols []string `json:"symbols"`
		} `json:"overflow_into"`
		Headroom      *int64           `json:"headroom"`
		FaultHandlers []map[string]any `json:"fault_handlers"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Stack == nil || doc.Stack.Top == nil || *doc.Stack.Size != 1024 || doc.Stack.Grows != "down" {
		t.Errorf("stack: %s", buf.String())
	}
	if doc.Verdict == nil || *doc.Verdict != "unsafe" || doc.Headroom == nil || *doc.Headroom != -12 {
		t.Errorf("verdict/headroom: %s", buf.String())
	}
	if len(doc.OverflowInto) != 1 || doc.OverflowInto[0].Section != ".bss" || strings.Join(doc.OverflowInto[0].Symbols, ",") != "ticks,fault_count,timer_count" {
		t.Errorf("overflow_into: %+v", doc.OverflowInto)
	}
	if len(doc.FaultHandlers) != 1 || doc.FaultHandlers[0]["name"] != "HardFault_Handler" ||
		doc.FaultHandlers[0]["uses_stack_before_sp_check"] != true || doc.FaultHandlers[0]["endless_loop"] != false {
		t.Errorf("fault_handlers: %+v", doc.FaultHandlers)
	}
	// No verdict is null, an unknown headroom is null.
	r := sampleLayout()
	r.Verdict, r.Headroom.Bytes = "", nil
	buf.Reset()
	LayoutJSON(&buf, r)
	if !strings.Contains(buf.String(), `"verdict": null`) || !strings.Contains(buf.String(), `"headroom": null`) {
		t.Errorf("nulls: %s", buf.String())
	}
}

func TestLayoutText(t *testing.T) {
	var buf bytes.Buffer
	LayoutText(&buf, sampleLayout())
	out := buf.String()
	for _, want := range []string{
		"fw.elf: UNSAFE: ",
		"the first 12 B past the stack limit hold ticks (4 B), fault_count (4 B), timer_count (4 B) in .bss",
		"NEGATIVE: the stack WILL overflow by 12 B",
		"place at start of RAM_region { block CSTACK };",
		"USES THE STACK before checking SP (push of 8 B at 0x08000040)",
		"__attribute__((naked))",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(out, "fw.elf: UNSAFE") {
		t.Errorf("verdict is not first:\n%s", out)
	}
}

func TestLayoutSVG(t *testing.T) {
	for _, r := range []*layout.Report{sampleLayout(), {Binary: "p", Arch: "x86-64", Kernel: "guarded"}} {
		svg := LayoutSVG(r)
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
		}
	}
	svg := LayoutSVG(sampleLayout())
	for _, want := range []string{"UNSAFE", "main stack", "marker-end", "ticks (4 B) at 0x2000000c", "overflow"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}
