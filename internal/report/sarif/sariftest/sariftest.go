// Package sariftest checks a SARIF log in tests: against the OASIS SARIF
// 2.1.0 JSON schema with an independent validator
// (github.com/santhosh-tekuri/jsonschema), and by go-sarif's own reader.
//
// The schema is not copied into this repository: go-sarif ships it (as the
// text of an unexported constant in pkg/report/v210/sarif/schema.go), and
// the test reads it from the module cache, where `go list -m` finds it.
package sariftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	sarifModule = "github.com/owenrumney/go-sarif/v3"
	schemaFile  = "pkg/report/v210/sarif/schema.go"
	schemaID    = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

var (
	once      sync.Once
	schema    *jsonschema.Schema
	schemaErr string
)

// Schema is the compiled SARIF 2.1.0 schema; the test fails, saying where
// it looked, when the module cache does not have it.
func Schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	once.Do(func() { schema, schemaErr = loadSchema() })
	if schema == nil {
		t.Fatalf("SARIF 2.1.0 schema: %s", schemaErr)
	}
	return schema
}

func loadSchema() (*jsonschema.Schema, string) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", sarifModule).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return nil, "go list -m " + sarifModule + " found no module directory (run go mod download)"
	}
	path := filepath.Join(dir, schemaFile)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err.Error()
	}
	text := string(src)
	i, j := strings.Index(text, "`"), strings.LastIndex(text, "`")
	if i < 0 || j <= i {
		return nil, path + " holds no schema text"
	}
	text = text[i+1 : j]
	if !strings.Contains(text, schemaID) {
		return nil, path + " is not the OASIS SARIF 2.1.0 schema (" + schemaID + ")"
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, path + ": " + err.Error()
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaID, doc); err != nil {
		return nil, err.Error()
	}
	sch, err := c.Compile(schemaID)
	if err != nil {
		return nil, err.Error()
	}
	return sch, ""
}

// Check validates a log against the schema and go-sarif's reader, and
// returns it decoded; it must be version 2.1.0 with one run.
func Check(t testing.TB, log string) *gosarif.Report {
	t.Helper()
	sch := Schema(t)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(log))
	if err != nil {
		t.Fatalf("not JSON: %v\n%.400s", err, log)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	rep, err := gosarif.FromString(log)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Fatalf("go-sarif rejects the log: %v", err)
	}
	if rep.Version != "2.1.0" || len(rep.Runs) != 1 {
		t.Fatalf("version %q, %d runs; want 2.1.0 and one run", rep.Version, len(rep.Runs))
	}
	return rep
}

// Result is one result of a log, flattened for assertions.
type Result struct {
	Rule, Level, Text string
	// File and Line are the primary physical location's artifact URI and
	// start line (0 without a region); Address the instruction address
	// (physical, or the location's "address" property), 0 when none.
	File    string
	Line    int
	Address int
	// Function is the primary location's logical location, if any.
	Function string
	Related  int
	// Fingerprint is the partial fingerprint stackscope sets.
	Fingerprint string
}

// Results flattens the results of the log's run.
func Results(rep *gosarif.Report) []Result {
	var out []Result
	for _, r := range rep.Runs[0].Results {
		f := Result{Level: r.Level, Related: len(r.RelatedLocations), Fingerprint: r.PartialFingerprints["stackscope/v1"]}
		if r.RuleID != nil {
			f.Rule = *r.RuleID
		}
		if r.Message != nil && r.Message.Text != nil {
			f.Text = *r.Message.Text
		}
		if len(r.Locations) > 0 {
			loc := r.Locations[0]
			if pl := loc.PhysicalLocation; pl != nil {
				if pl.ArtifactLocation != nil && pl.ArtifactLocation.URI != nil {
					f.File = *pl.ArtifactLocation.URI
				}
				if pl.Region != nil && pl.Region.StartLine != nil {
					f.Line = *pl.Region.StartLine
				}
				if pl.Address != nil {
					f.Address = pl.Address.AbsoluteAddress
				}
			}
			// With a source line, the address is only a property.
			if loc.Properties != nil && f.Address <= 0 {
				if a, ok := loc.Properties.Properties["address"].(string); ok {
					n, _ := strconv.ParseUint(a, 0, 64)
					f.Address = int(n)
				}
			}
			if len(loc.LogicalLocations) > 0 {
				if ll := loc.LogicalLocations[0]; ll.FullyQualifiedName != nil {
					f.Function = *ll.FullyQualifiedName
				} else if ll.Name != nil {
					f.Function = *ll.Name
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// CodeScanning checks a log against what GitHub code scanning documents
// as required of an uploaded SARIF file ("SARIF support for code
// scanning", docs.github.com): tool.driver.name; every rule with an id and
// a shortDescription; every result with a ruleId, a message.text and at
// least one location with physicalLocation.artifactLocation.uri and
// region.startLine >= 1. And stackscope's own rule on top: no two results
// share a rule and a primary location (file and line, or binary and
// address), since code scanning shows them as one place twice.
func CodeScanning(t testing.TB, rep *gosarif.Report) {
	t.Helper()
	for _, run := range rep.Runs {
		d := run.Tool.Driver
		if d == nil || d.Name == nil || *d.Name == "" {
			t.Errorf("no tool.driver.name")
			continue
		}
		for _, r := range d.Rules {
			if r.ID == nil || *r.ID == "" || r.ShortDescription == nil || r.ShortDescription.Text == nil || *r.ShortDescription.Text == "" {
				t.Errorf("rule without id or shortDescription: %+v", r)
			}
		}
		seen := map[string]bool{}
		for i, res := range run.Results {
			if res.RuleID == nil || *res.RuleID == "" || res.Message == nil || res.Message.Text == nil || *res.Message.Text == "" {
				t.Errorf("result %d without ruleId or message.text", i)
				continue
			}
			ok := false
			for _, loc := range res.Locations {
				pl := loc.PhysicalLocation
				if pl != nil && pl.ArtifactLocation != nil && pl.ArtifactLocation.URI != nil && *pl.ArtifactLocation.URI != "" &&
					pl.Region != nil && pl.Region.StartLine != nil && *pl.Region.StartLine >= 1 {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("result %d (%s) has no location with an artifact URI and a startLine >= 1", i, *res.RuleID)
				continue
			}
			pl := res.Locations[0].PhysicalLocation
			key := *res.RuleID + " " + *pl.ArtifactLocation.URI + ":" + strconv.Itoa(*pl.Region.StartLine)
			if pl.Address != nil {
				key += "@" + strconv.Itoa(pl.Address.AbsoluteAddress)
			}
			if seen[key] {
				t.Errorf("two results of one rule at one location: %s", key)
			}
			seen[key] = true
		}
	}
}
