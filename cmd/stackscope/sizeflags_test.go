package main

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackscope/stackscope/internal/size"
)

// TestSizeFlags walks every command's flags: each flag marked as a size
// takes "4KiB" as 4096 bytes and refuses "4KB" with internal/size's error
// (so it parses through the one parser); the known size flags are marked;
// and a flag whose name or help looks like a size but is not marked fails
// the test, so a new size flag cannot bypass the parser unnoticed.
func TestSizeFlags(t *testing.T) {
	want := map[string]bool{"analyze --budget": true, "report --budget": true, "diff --max-growth": true, "minstack --limit": true, "inject --stack": true}
	sizeName := regexp.MustCompile(`(?i)budget|limit|growth|size|bytes`)
	sizeHelp := regexp.MustCompile(`\bSIZE\b|\bbytes\b`)
	var marked []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			name := c.Name() + " --" + f.Name
			if _, ok := f.Annotations[size.Annotation]; !ok {
				if want[name] || (sizeName.MatchString(f.Name) || sizeHelp.MatchString(f.Usage)) && f.Value.Type() != "bool" {
					t.Errorf("%s (%s: %q) is not marked as a size", name, f.Value.Type(), f.Usage)
				}
				return
			}
			marked = append(marked, name)
			err := f.Value.Set("4KiB")
			got := f.Value.String()
			if _, ok := f.Value.(growthFlag); ok {
				// Kept as written; what it means is parseGrowth's reading.
				th, _ := parseGrowth(got)
				got = fmt.Sprint(th.Bytes)
			}
			if err != nil || got != "4096" {
				t.Errorf("%s 4KiB: %q, %v; want 4096", name, got, err)
			}
			var se *size.Error
			if err := f.Value.Set("4KB"); !errors.As(err, &se) {
				t.Errorf("%s 4KB: %v; want internal/size's error", name, err)
			}
			if err := f.Value.Set("-1"); err == nil {
				t.Errorf("%s -1 accepted", name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand())
	sort.Strings(marked)
	for name := range want {
		if !strings.Contains(strings.Join(marked, "\n"), name) {
			t.Errorf("%s missing from the marked size flags %v", name, marked)
		}
	}
	t.Logf("size flags: %v", marked)
}
