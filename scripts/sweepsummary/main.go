// Command sweepsummary reads `stackscope analyze --format json` of one
// program on stdin and prints one line for scripts/sweep-programs.sh:
// whether main was found and is on the deepest path of the first entry,
// that path's first three steps, at_least, the number of reasons and of
// distinct reason functions, and whether a path goes through ld.so's
// _dl_audit_* hooks. (A Go program, not jq: the tests need no jq.)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type entry struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	AtLeast int64    `json:"at_least"`
	Path    []string `json:"path"`
	Reasons []struct {
		Function string `json:"function"`
	} `json:"reasons"`
}

func main() {
	var res struct {
		Functions []struct {
			Name string `json:"name"`
		} `json:"functions"`
		Entries []entry `json:"entries"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&res); err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	found := "no"
	for _, f := range res.Functions {
		if f.Name == "main" {
			found = "yes"
		}
	}
	// The deepest of the entries (main and _start): the one a person
	// reads first.
	var deep *entry
	for i := range res.Entries {
		if deep == nil || res.Entries[i].AtLeast > deep.AtLeast {
			deep = &res.Entries[i]
		}
	}
	if deep == nil {
		fmt.Printf("main=%s no entries\n", found)
		return
	}
	onPath, audit := "no", "no"
	for _, e := range res.Entries {
		for _, p := range e.Path {
			if strings.HasPrefix(p, "_dl_audit_") {
				audit = "yes"
			}
		}
	}
	for _, p := range deep.Path {
		if p == "main" {
			onPath = "yes"
		}
	}
	steps := deep.Path
	if len(steps) > 3 {
		steps = steps[:3]
	}
	funcs := map[string]bool{}
	for _, r := range deep.Reasons {
		funcs[r.Function] = true
	}
	first := "-"
	if len(res.Entries) > 0 {
		first = res.Entries[0].Name
	}
	fmt.Printf("main=%s first=%s on-path=%s audit=%s at_least=%d reasons=%d functions=%d path=%s\n",
		found, first, onPath, audit, deep.AtLeast, len(deep.Reasons), len(funcs), strings.Join(steps, " -> "))
}
