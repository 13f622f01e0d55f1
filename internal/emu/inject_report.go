package emu

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/stackscope/stackscope/internal/size"
)

// WriteJSON writes the injection.
func (r *Injection) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Headline is the report's first line: the verdict and why.
func (r *Injection) Headline() string {
	switch r.Verdict {
	case VerdictContained:
		return fmt.Sprintf("CONTAINED: the overflow was detected (%s) and the handler reached a safe end (%s)", r.Fault.Vector, r.HandlerDetail)
	case VerdictLockup:
		return "LOCKUP: the fault handler faulted again on the overflowed stack (the stackless-handler problem): " + r.HandlerDetail
	case VerdictHang:
		return "HANG: the overflow was detected, then the core sat in " + strings.TrimPrefix(r.HandlerDetail, "endless loop at ")
	case VerdictSilent:
		return fmt.Sprintf("SILENT CORRUPTION: the overflow wrote %s and the program ran on (%s)", strings.Join(r.named(), ", "), r.HandlerDetail)
	case VerdictUndetected:
		return "UNDETECTED OVERFLOW: the overflow wrote only memory no object uses, nothing noticed, and the program ran on (" + r.HandlerDetail + ")"
	}
	return "NO OVERFLOW: nothing was written below the stack limit and no fault was taken (" + r.HandlerDetail + ")"
}

// named are the corrupted objects with a name.
func (r *Injection) named() []string {
	var out []string
	for _, c := range r.Corrupted {
		if !strings.HasPrefix(c, "(") {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return r.Corrupted
	}
	return out
}

// WriteText writes the report for a person: the verdict, then the four
// questions in order.
func (r *Injection) WriteText(w io.Writer) {
	fmt.Fprintln(w, "stackscope: "+r.Headline())
	fired := fmt.Sprintf("--stack %d: the initial SP lowered to %#x", r.StackSize, r.FiredSP)
	if r.Fired == "at" {
		fired = fmt.Sprintf("--at %s: SP moved to %#x, %s above the limit, when it was entered", r.FiredAt, r.FiredSP, size.Format(AtSlack))
		if r.Restored {
			fired += "; put back when it returned"
		}
	}
	fmt.Fprintf(w, "  %s on QEMU %s (%s); main stack %#x-%#x (%s); %s\n", r.Firmware, r.Machine, r.CPU, r.StackLimit, r.StackTop,
		size.FormatCapacity(int64(r.StackTop-r.StackLimit)), fired)
	fmt.Fprintf(w, "  guard: %s: %s\n", r.Guard.Mechanism, r.Guard.Note)
	if r.Guard.Differs != "" {
		fmt.Fprintf(w, "  unlike the part: %s\n", r.Guard.Differs)
	}

	fmt.Fprintln(w, "1 written below the limit:")
	if len(r.Writes) == 0 {
		if r.Guard.Mechanism == GuardMPU || r.Guard.Mechanism == GuardMSPLIM {
			fmt.Fprintln(w, "  nothing: the guard stopped the first store")
		} else {
			fmt.Fprintln(w, "  nothing")
		}
	} else {
		first := r.Writes[0]
		fmt.Fprintf(w, "  first: %#x in %s, by %s, SP %#x\n", first.Addr, first.Object, first.Where, first.SP)
		for _, b := range first.Backtrace[1:] {
			fmt.Fprintln(w, "    "+b)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  OBJECT\tWORDS\tFIRST BY")
		count := map[string]int{}
		by := map[string]string{}
		for _, wr := range r.Writes {
			if count[wr.Object] == 0 {
				by[wr.Object] = wr.Where
			}
			count[wr.Object]++
		}
		for _, c := range r.Corrupted {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", c, count[c], by[c])
		}
		tw.Flush()
		if r.WritesTruncated {
			fmt.Fprintf(w, "  (the first %d writes; there were more)\n", len(r.Writes))
		}
	}
	fmt.Fprintln(w, "2 detected:")
	if r.Fault == nil {
		fmt.Fprintln(w, "  no: no fault handler was entered")
	} else {
		fmt.Fprintf(w, "  %s (%s entered, SP %#x): %s\n", r.Fault.Vector, r.Fault.Handler, r.Fault.SP, r.Fault.Status)
	}
	fmt.Fprintln(w, "3 then:")
	fmt.Fprintf(w, "  %s: %s\n", r.Handler, r.HandlerDetail)
	if r.LockupInstr != "" {
		fmt.Fprintf(w, "  the handler uses the stack before it checks SP: %s\n", r.LockupInstr)
	}
	fmt.Fprintln(w, "4 verdict:")
	pred := r.Predicted
	if pred == "" {
		pred = "no prediction"
	}
	fmt.Fprintf(w, "  %s; layout predicted %s\n", r.Verdict, pred)
	if r.Disagree != "" {
		fmt.Fprintln(w, "  disagreement: "+r.Disagree)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintln(w, "  warning: "+wn)
	}
}
