package report

import (
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/diff"
)

// The "kind" of every JSON document stackscope writes, its first key, so
// that a reader (report --run, diff) can tell what it was given. The run
// record's is trace.KindRun, minstack's "minstack".
const (
	KindAnalyze = "analyze"
	KindLayout  = "layout"
	KindDiff    = "diff"
)

// kindedAnalysis is one analyze result with its kind: the model's own keys
// follow unchanged (the embedded pointer's fields are promoted).
type kindedAnalysis struct {
	Kind string `json:"kind"`
	*analysis.Result
}

type kindedDiff struct {
	Kind string `json:"kind"`
	*diff.Report
}
