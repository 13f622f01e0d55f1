package html

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/emu"
)

// FuzzFirmwareRecords: a firmware run's or an injection's record, however
// damaged (hand-edited, cut, written by another version), makes a page or
// an error, never a panic. The seeds are records `stackscope run --deepest`
// and `stackscope inject` wrote (testdata/records), shown beside the
// example firmware's analysis.
func FuzzFirmwareRecords(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "records", "*.json"))
	if len(seeds) == 0 {
		f.Fatal("no seed records in testdata/records")
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Damaged records the seeds are far from: a stop "exit" without its
	// status, a verdict CONTAINED without its fault, a stack's peak
	// without a size.
	f.Add([]byte(`{"kind": "firmware-run", "stop": {"kind": "exit", "exit_status": null}, "stacks": [{"name": "main", "peak": 8, "static_bound": 4}]}`))
	f.Add([]byte(`{"kind": "firmware-injection", "verdict": "CONTAINED", "fault": null, "writes": [{"backtrace": []}], "stack_top": 0, "stack_limit": 16}`))
	res, err := analysis.Run("../../../examples/firmware/firmware.elf", analysis.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var run emu.Result
		var inj emu.Injection
		in := Input{Analysis: res, RunFile: "run.json", InjectFile: "inject.json"}
		if json.Unmarshal(data, &run) == nil {
			in.FirmwareRun = &run
		}
		if json.Unmarshal(data, &inj) == nil {
			in.Injection = &inj
		}
		if err := Write(io.Discard, in); err != nil {
			t.Fatal(err)
		}
	})
}
