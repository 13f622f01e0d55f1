package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stackscope/stackscope/internal/diff"
)

// DiffJSON writes the comparison as JSON.
func DiffJSON(w io.Writer, d *diff.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(kindedDiff{Kind: KindDiff, Report: d})
}

// DiffText writes the comparison for a CI log: the verdict first, then one
// line per entry with its causes, then the frames that changed.
func DiffText(w io.Writer, d *diff.Report, top int) {
	if top <= 0 {
		top = 10
	}
	fmt.Fprintf(w, "stack diff: %s -> %s\n\n", d.Old, d.New)
	entries := d.EntriesAndTotal() // firmware: the main-stack total is judged as an entry
	var grew, shrank, lost, gained, deeper, changed int
	for _, e := range d.Entries {
		switch e.Status {
		case diff.Grew:
			grew++
		case diff.Shrank:
			shrank++
		case diff.BecameUnbounded:
			lost++
		case diff.BecameBounded:
			gained++
		case diff.StillUnbounded:
			if e.Delta > 0 {
				deeper++
			}
		}
	}
	for _, e := range entries {
		if entryChanged(e) {
			changed++
		}
	}
	var verdict []string
	// Firmware: the total the stack must cover comes first.
	if t := d.MainStackTotal; t != nil && entryChanged(*t) {
		verdict = append(verdict, totalVerdict(*t))
	}
	if lost > 0 {
		verdict = append(verdict, fmt.Sprintf("%d %s lost %s bound", lost, plural(lost, "entry", "entries"), plural(lost, "its", "their")))
	}
	if grew > 0 {
		verdict = append(verdict, fmt.Sprintf("%d %s grew", grew, plural(grew, "entry", "entries")))
	}
	if shrank > 0 {
		verdict = append(verdict, fmt.Sprintf("%d %s shrank", shrank, plural(shrank, "entry", "entries")))
	}
	if deeper > 0 {
		verdict = append(verdict, fmt.Sprintf("%d %s without a bound went deeper", deeper, plural(deeper, "entry", "entries")))
	}
	if gained > 0 {
		verdict = append(verdict, fmt.Sprintf("%d %s became bounded", gained, plural(gained, "entry", "entries")))
	}
	if len(verdict) == 0 && changed == 0 {
		if n := len(d.Functions); n > 0 {
			// Changed frames off every worst path: worth a look, not a failure.
			fmt.Fprintf(w, "NO CHANGE in any entry's stack bound; %d %s changed (below)\n", n, plural(n, "frame", "frames"))
		} else {
			fmt.Fprintln(w, "NO CHANGE in any entry's stack bound")
		}
	} else if len(verdict) == 0 {
		fmt.Fprintln(w, "No entry grew")
	} else {
		fmt.Fprintln(w, strings.ToUpper(verdict[0][:1])+verdict[0][1:]+joinRest(verdict[1:]))
	}
	shown, more := 0, 0
	for _, e := range entries {
		if e.Status == diff.Same {
			continue
		}
		if line := entryDiffLine(e); line != "" {
			if shown == top {
				more++
				continue
			}
			fmt.Fprintln(w, "  "+line)
			shown++
		}
	}
	if more > 0 {
		fmt.Fprintf(w, "  ... and %d more entries (--top, or the table below)\n", more)
	}

	if changed > 0 {
		fmt.Fprintln(w)
		t := newTable("", false, true, true, false, false)
		t.row("ENTRY", "OLD", "NEW", "CHANGE", "STATUS")
		// Only the entries that changed: a shared object has hundreds.
		var unchanged []string
		for _, e := range entries {
			if !entryChanged(e) {
				unchanged = append(unchanged, e.Name)
				continue
			}
			t.row(e.Name, boundText(e.OldBound, e.OldAtLeast, e.Status == diff.Added), boundText(e.NewBound, e.NewAtLeast, e.Status == diff.Removed),
				changeText(e), e.Status)
		}
		t.write(w)
		if len(unchanged) > 0 {
			fmt.Fprintf(w, "unchanged (%d): %s\n", len(unchanged), listSome(unchanged, top))
		}
		for _, e := range entries {
			if len(e.Why) < 2 || e.Status == diff.Same {
				continue
			}
			fmt.Fprintf(w, "\n%s, why:\n", e.Name)
			for i, c := range e.Why {
				if i == top {
					fmt.Fprintf(w, "    ... and %d more (--format json)\n", len(e.Why)-i)
					break
				}
				fmt.Fprintf(w, "    %s\n", causeText(c))
			}
		}
	}

	if len(d.Functions) > 0 {
		fmt.Fprintf(w, "\nframes that changed (%d):\n", len(d.Functions))
		t := newTable("    ", true, true, true, false, false)
		t.row("OLD", "NEW", "CHANGE", "FUNCTION", "SOURCE")
		for i, f := range d.Functions {
			if i == top {
				break
			}
			t.row(frameText(f.OldFrame, f.OldKind), frameText(f.NewFrame, f.NewKind), signed(f.Delta), wasName(f.Name, f.OldName), SourceLine(f.File, f.Line))
		}
		t.write(w)
		if len(d.Functions) > top {
			fmt.Fprintf(w, "    ... and %d more (--top, --format json)\n", len(d.Functions)-top)
		}
	}
	if n := len(d.AddedFunctions); n > 0 {
		fmt.Fprintf(w, "\nnew functions (%d): %s\n", n, listSome(d.AddedFunctions, top))
	}
	if n := len(d.RemovedFunctions); n > 0 {
		fmt.Fprintf(w, "removed functions (%d): %s\n", n, listSome(d.RemovedFunctions, top))
	}
}

// entryChanged: the bound (or the depth an unbounded entry reaches) or
// the reasons for having none changed, or the entry came or went.
func entryChanged(e diff.EntryChange) bool {
	switch e.Status {
	case diff.Same:
		return false
	case diff.StillUnbounded:
		return e.Delta != 0 || len(e.NewReasons)+len(e.GoneReasons) > 0
	}
	return true
}

// totalVerdict: "main stack total grew by 216 B (+32%)".
func totalVerdict(t diff.EntryChange) string {
	switch t.Status {
	case diff.Grew, diff.Shrank:
		return fmt.Sprintf("main stack total %s by %s%s", t.Status, Bytes(abs64(t.Delta)), pct(t))
	case diff.BecameUnbounded:
		return "main stack total lost its bound"
	case diff.BecameBounded:
		return "main stack total is now bounded"
	}
	return fmt.Sprintf("main stack total (not bounded) %s", signed(t.Delta))
}

func joinRest(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// entryDiffLine is the one-line summary of an entry's change with its
// main cause: "main grew by 4,096 B (+38%): frame of parse_line 96 B ->
// 4,192 B (parse.c:12)".
func entryDiffLine(e diff.EntryChange) string {
	var s string
	switch e.Status {
	case diff.Grew, diff.Shrank:
		s = fmt.Sprintf("%s %s by %s%s", e.Name, e.Status, Bytes(abs64(e.Delta)), pct(e))
	case diff.BecameUnbounded:
		s = fmt.Sprintf("%s lost its bound (was %s, now at least %s)", e.Name, Bytes(*e.OldBound), Bytes(e.NewAtLeast))
	case diff.BecameBounded:
		s = fmt.Sprintf("%s is now bounded (%s)", e.Name, Bytes(*e.NewBound))
	case diff.Added:
		return e.Name + ": new entry, " + boundText(e.NewBound, e.NewAtLeast, false)
	case diff.Removed:
		return e.Name + ": entry removed"
	case diff.StillUnbounded:
		if !entryChanged(e) {
			return ""
		}
		s = fmt.Sprintf("%s (not bounded) reaches at least %s, was %s (%s)", e.Name, Bytes(e.NewAtLeast), Bytes(e.OldAtLeast), signed(e.Delta))
	default:
		return ""
	}
	if len(e.Why) > 0 {
		s += ": " + causeText(e.Why[0])
	}
	return s
}

// causeText: "frame of f 96 B -> 4,192 B (f.c:12)", "new on the worst
// path: g (312 B, g.c:3), called from f", "no longer on the worst path: h
// (40 B, h.c:9)", "new reason in r: recursion through r (r.c:8)".
func causeText(c diff.Cause) string {
	// The frame and the source line share one pair of parentheses.
	frameAt := func(frame int64) string {
		if src := SourceLine(c.File, c.Line); src != "" {
			return fmt.Sprintf("(%s, %s)", Bytes(frame), src)
		}
		return "(" + Bytes(frame) + ")"
	}
	var s string
	switch c.Kind {
	case "frame":
		s = fmt.Sprintf("frame of %s %s -> %s", wasName(c.Function, c.OldFunction), Bytes(*c.OldFrame), Bytes(*c.NewFrame)) + at(c.File, c.Line)
	case "joined":
		s = fmt.Sprintf("new on the worst path: %s %s", c.Function, frameAt(*c.NewFrame))
		if c.Caller != "" {
			s += ", called from " + c.Caller
		}
	case "left":
		s = fmt.Sprintf("no longer on the worst path: %s %s", c.Function, frameAt(*c.OldFrame))
	case "reason":
		return fmt.Sprintf("new reason in %s: %s", c.Function, c.Detail) + at(c.File, c.Line)
	case "resolved":
		return fmt.Sprintf("reason gone in %s: %s", c.Function, c.Detail) + at(c.File, c.Line)
	}
	if c.Detail != "" {
		s += " [" + c.Detail + "]"
	}
	return s
}

// wasName: "scale.isra.0 (was scale.constprop.0.isra.0)" when the clone
// suffix changed.
func wasName(name, old string) string {
	if old == "" || old == name {
		return name
	}
	return name + " (was " + old + ")"
}

func boundText(b *int64, atLeast int64, absent bool) string {
	switch {
	case absent:
		return "-"
	case b != nil:
		return Bytes(*b)
	default:
		return "≥ " + Bytes(atLeast)
	}
}

func changeText(e diff.EntryChange) string {
	switch e.Status {
	case diff.Same:
		return "0"
	case diff.Added, diff.Removed:
		return ""
	}
	return signed(e.Delta) + pct(e)
}

func pct(e diff.EntryChange) string {
	if e.Percent == nil || e.Delta == 0 {
		return ""
	}
	return " (" + Percent(*e.Percent) + ")"
}

// Percent writes a signed change in percent: one decimal below 10% (a
// +2.7% must not read as the +3% a limit allows), none above.
func Percent(p float64) string {
	if p > -10 && p < 10 {
		return fmt.Sprintf("%+.1f%%", p)
	}
	return fmt.Sprintf("%+.0f%%", p)
}

func signed(d int64) string {
	if d > 0 {
		return "+" + Bytes(d)
	}
	return Bytes(d)
}

func frameText(size int64, kind string) string {
	if kind != "static" {
		return kind + " ≥ " + Bytes(size)
	}
	return Bytes(size)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-n)
}
