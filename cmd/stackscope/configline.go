package main

import (
	"fmt"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/config"
)

// configLine is the one short line that says a stackscope.toml was used,
// where it is, and whether its pinned hashes matched the code: a file
// picked up in silence from beside the binary changes the bounds without
// the reader knowing. "" when no configuration was read.
func configLine(cfg *config.Config, res *analysis.Result) string {
	if cfg == nil || cfg.Path == "" {
		return ""
	}
	type note struct{ function, hash string }
	var all []note
	for _, a := range cfg.Indirect {
		all = append(all, note{a.Function, a.Hash})
	}
	for _, a := range cfg.Recursion {
		all = append(all, note{a.Function, a.Hash})
	}
	for _, a := range cfg.Frames {
		all = append(all, note{a.Function, a.Hash})
	}
	if len(all) == 0 {
		return fmt.Sprintf("config: %s (no annotations)", cfg.Path)
	}
	// analysis drops an annotation whose hash no longer matches, with a
	// warning that starts so (analysis/config.go).
	changed := 0
	for _, w := range res.Warnings {
		if strings.HasPrefix(w, cfg.Path+": IGNORED the ") {
			changed++
		}
	}
	matched, unpinned, unchecked := 0, 0, 0
	for _, a := range all {
		switch {
		case a.hash == "":
			unpinned++
		case res.File == nil:
			unchecked++
		default:
			if _, ok := res.File.Lookup(a.function); !ok {
				unchecked++ // a library's or an external function: no code here to hash
			} else {
				matched++
			}
		}
	}
	matched -= changed
	var parts []string
	if changed > 0 {
		parts = append(parts, fmt.Sprintf("%d hash(es) CHANGED, those annotations ignored", changed))
	}
	if matched > 0 {
		parts = append(parts, fmt.Sprintf("%d hash(es) matched", matched))
	}
	if unpinned > 0 {
		parts = append(parts, fmt.Sprintf("%d not pinned by a hash", unpinned))
	}
	if unchecked > 0 {
		parts = append(parts, fmt.Sprintf("%d not checked (function not in this file)", unchecked))
	}
	return fmt.Sprintf("config: %s (%d annotation(s): %s)", cfg.Path, len(all), strings.Join(parts, ", "))
}
