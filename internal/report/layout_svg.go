package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/stackscope/stackscope/internal/layout"
)

// Colours of the memory map: one per kind of item.
var svgFill = map[string]string{
	"code":       "#c6dbef",
	"rodata":     "#deebf7",
	"data":       "#fdd49e",
	"bss":        "#fdbb84",
	"heap":       "#e5e5e5",
	"stack":      "#74c476",
	"task stack": "#c7e9c0",
	"unused":     "url(#unused)",
	"other":      "#f0f0f0",
}

func svgEsc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// itemHeight grows with the logarithm of the size, so a 4-byte section and
// an 18 KB gap are both visible.
func itemHeight(size uint64) float64 {
	h := 26 + 13*math.Log2(float64(size)/64+1)
	return math.Min(h, 150)
}

type svgWriter struct{ b strings.Builder }

func (w *svgWriter) f(format string, args ...any) { fmt.Fprintf(&w.b, format, args...) }

func (w *svgWriter) text(x, y float64, size int, fill, weight, anchor, s string) {
	w.f(`<text x="%.1f" y="%.1f" font-size="%d" fill="%s" font-weight="%s" text-anchor="%s">%s</text>`+"\n", x, y, size, fill, weight, anchor, svgEsc(s))
}

// LayoutSVG draws the memory map: one address bar per region (high
// addresses at the top), its sections, the main stack with an arrow in its
// direction of growth, and what an overflow would hit, highlighted.
func LayoutSVG(r *layout.Report) string {
	const (
		top      = 118.0
		barW     = 160.0
		colGap   = 20.0
		labelW   = 270.0
		addrW    = 80.0
		width    = 1100.0
		redColor = "#c62828"
	)
	type col struct {
		reg   layout.Region
		items []item
		x     float64
		h     float64
	}
	var cols []col
	x := 20.0 + addrW
	// RAM first: that is where the stack is.
	var regs []layout.Region
	for _, want := range []bool{true, false} {
		for _, reg := range r.Regions {
			if (reg.Kind == "ram") == want {
				regs = append(regs, reg)
			}
		}
	}
	for _, reg := range regs {
		c := col{reg: reg, items: regionItems(r, reg, true), x: x}
		for _, it := range c.items {
			c.h += itemHeight(it.end - it.start)
		}
		cols = append(cols, c)
		x += barW + labelW + colGap + addrW
	}
	maxH := 0.0
	for _, c := range cols {
		maxH = math.Max(maxH, c.h)
	}
	below := 110.0 // room under the bars for the start-of-RAM marker or the first-hit box
	var footer []string
	for _, l := range footerLines(r) {
		footer = append(footer, strings.Split(wrap(l, 150, "    "), "\n")...)
	}
	height := top + 24 + maxH + below + float64(len(footer))*18 + 50
	totalW := math.Max(width, x)

	w := &svgWriter{}
	w.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n", totalW, height, totalW, height)
	w.f(`<defs>
<pattern id="unused" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="8" stroke="#d0d0d0" stroke-width="2"/></pattern>
<marker id="arrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#1b5e20"/></marker>
<marker id="redarrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="%s"/></marker>
</defs>
<rect width="100%%" height="100%%" fill="white"/>
`, redColor)

	// Title and verdict.
	badge, badgeColor := "NO VERDICT", "#757575"
	switch r.Verdict {
	case layout.Safe:
		badge, badgeColor = "SAFE", "#2e7d32"
	case layout.Unsafe:
		badge, badgeColor = "UNSAFE", redColor
	case layout.Unknown:
		badge, badgeColor = "UNKNOWN", "#ef6c00"
	}
	bw := 24 + len(badge)*16
	w.f(`<rect x="30" y="20" width="%d" height="34" rx="6" fill="%s"/>`+"\n", bw, badgeColor)
	w.text(30+float64(bw)/2, 44, 20, "white", "bold", "middle", badge)
	w.text(float64(44+bw), 44, 20, "#212121", "bold", "start", r.Binary+"  ("+r.Arch+")")
	for i, line := range strings.Split(wrap(r.VerdictReason, 130, ""), "\n") {
		w.text(30, 76+float64(i)*18, 14, "#212121", "normal", "start", line)
	}

	for _, c := range cols {
		label := strings.ToUpper(c.reg.Kind)
		if c.reg.Name != "" {
			label = c.reg.Name
		}
		w.text(c.x, top+10, 15, "#212121", "bold", "start", fmt.Sprintf("%s  %s  %s", label, span(c.reg.Start, c.reg.End), Bytes(int64(c.reg.End-c.reg.Start))))
		y := top + 24
		// Highest address at the top.
		var stackBox, firstHitBox [2]float64
		var firstHit *item
		for i := len(c.items) - 1; i >= 0; i-- {
			it := c.items[i]
			h := itemHeight(it.end - it.start)
			fill := svgFill[it.kind]
			if fill == "" {
				fill = svgFill["other"]
			}
			stroke, sw := "#616161", 1.0
			if it.hit > 0 {
				stroke, sw = redColor, 2.5
				if it.kind == "unused" {
					stroke, sw = "#ef6c00", 2
				}
			}
			if it.kind == "stack" {
				stroke, sw = "#1b5e20", 2.5
				stackBox = [2]float64{y, y + h}
			}
			if it.kind == "task stack" {
				stroke = "#2e7d32"
			}
			w.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s" stroke-width="%.1f"/>`+"\n", c.x, y, barW, h, fill, stroke, sw)
			if it.hit > 0 && it.kind != "unused" && it.kind != "heap" {
				w.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.28"/>`+"\n", c.x, y, barW, h, redColor)
				if firstHit == nil {
					f := it
					firstHit = &f
					firstHitBox = [2]float64{y, y + h}
				}
			}
			// Name inside the bar, address at its lower edge on the left.
			name := it.name
			if it.kind == "unused" {
				name = "unused"
				it.name = "unused RAM"
			}
			w.text(c.x+barW/2, y+h/2+5, 13, "#212121", "bold", "middle", name)
			w.text(c.x-6, y+h-2, 11, "#616161", "normal", "end", hex(it.start))
			// Label to the right.
			lx := c.x + barW + 12
			desc := Bytes(int64(it.end - it.start))
			switch {
			case it.kind == "stack":
				desc += ", grows down"
			case it.kind == "task stack":
				desc += " task stack, grows down into what lies below"
			case it.hit > 0 && it.kind == "unused":
				desc += ": the overflow runs through silently"
			case it.hit > 0 && it.kind == "heap" && r.Heap != nil && !r.Heap.Used:
				desc += ": empty heap reservation, run through"
			case it.hit > 0 && it.kind == "heap":
				desc += ": the heap, corrupted"
			case it.hit > 0:
				desc += fmt.Sprintf(": corrupted (%s)", it.kind)
			default:
				desc += "  " + it.kind
			}
			color := "#424242"
			if it.hit > 0 {
				color = redColor
				if it.kind == "unused" {
					color = "#e65100"
				}
			}
			if h >= 34 {
				w.text(lx, y+h/2-2, 12, color, "normal", "start", fmt.Sprintf("%s  %s", it.name, span(it.start, it.end)))
				w.text(lx, y+h/2+13, 12, color, "normal", "start", desc)
			} else {
				w.text(lx, y+h/2+4, 12, color, "normal", "start", fmt.Sprintf("%s  %s", it.name, desc))
			}
			y += h
		}
		w.text(c.x-6, top+24+6, 11, "#616161", "normal", "end", hex(c.reg.End))
		// The stack's direction of growth, and where an overflow goes.
		if stackBox[1] > 0 && r.Stack != nil {
			ax := c.x + barW - 22
			w.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#1b5e20" stroke-width="3" marker-end="url(#arrow)"/>`+"\n", ax, stackBox[0]+8, ax, stackBox[1]-6)
			w.text(ax-6, stackBox[0]+18, 11, "#1b5e20", "bold", "end", "SP starts here")
			switch {
			case firstHit != nil:
				ox := c.x + 10
				w.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3" stroke-dasharray="7,4" marker-end="url(#redarrow)"/>`+"\n", ox, stackBox[1], ox, firstHitBox[0]+math.Min(18, (firstHitBox[1]-firstHitBox[0])/2), redColor)
				w.text(ox+8, stackBox[1]-5, 12, redColor, "bold", "start", "overflow")
				if syms := firstSymbolsOf(r, firstHit); len(syms) > 0 {
					lx := c.x + barW + 12
					by := firstHitBox[1] + 6
					w.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#ffebee" stroke="%s" rx="4"/>`+"\n", lx-4, by, labelW-16, 24+16*float64(len(syms)), redColor)
					w.text(lx+2, by+16, 12, redColor, "bold", "start", "first objects the overflow hits:")
					for i, s := range syms {
						w.text(lx+2, by+32+16*float64(i), 12, redColor, "normal", "start", s)
					}
				}
			case r.Verdict == layout.Safe && c.reg.Kind == "ram":
				by := top + 24 + c.h
				w.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="34" fill="#e8f5e9" stroke="#2e7d32" stroke-dasharray="5,3"/>`+"\n", c.x, by+10, barW)
				w.text(c.x+barW/2, by+31, 12, "#1b5e20", "bold", "middle", "no RAM: fault")
				ox := c.x + 10
				w.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2e7d32" stroke-width="3" stroke-dasharray="7,4" marker-end="url(#arrow)"/>`+"\n", ox, stackBox[1], ox, by+14)
				w.text(c.x+barW+12, by+24, 12, "#1b5e20", "normal", "start", "start of RAM: the first push past the limit")
				w.text(c.x+barW+12, by+40, 12, "#1b5e20", "normal", "start", "faults (HardFault) instead of corrupting data")
			}
		}
	}

	// Facts under the picture.
	y := top + 24 + maxH + below
	prevColor := "#212121"
	for i, line := range footer {
		line = strings.SplitN(line, "\n", 2)[0]
		weight, color := "normal", "#212121"
		if i == 0 {
			weight = "bold"
		}
		if i > 0 && strings.HasPrefix(line, "    ") {
			color = prevColor
		} else if strings.Contains(line, "ENDLESS") || strings.Contains(line, "before checking SP") || strings.Contains(line, "WILL overflow") || strings.Contains(line, "overflows into") {
			color = redColor
		}
		prevColor = color
		w.text(30, y+float64(i)*18, 13, color, weight, "start", line)
	}
	// Legend.
	lx, ly := 30.0, height-26
	for _, k := range []string{"code", "rodata", "data", "bss", "heap", "stack", "task stack", "unused"} {
		w.f(`<rect x="%.1f" y="%.1f" width="16" height="12" fill="%s" stroke="#616161"/>`+"\n", lx, ly, svgFill[k])
		w.text(lx+22, ly+11, 12, "#424242", "normal", "start", k)
		lx += 30 + float64(len(k))*8
	}
	w.f(`<rect x="%.1f" y="%.1f" width="16" height="12" fill="#ffcdd2" stroke="%s" stroke-width="2"/>`+"\n", lx, ly, redColor)
	w.text(lx+22, ly+11, 12, "#424242", "normal", "start", "hit by a stack overflow")
	w.f("</svg>\n")
	return w.b.String()
}

// firstSymbolsOf names the first objects in the first data item hit.
func firstSymbolsOf(r *layout.Report, it *item) []string {
	if it.hit == 0 || it.hit > len(r.OverflowInto) {
		return nil
	}
	var out []string
	for i, s := range r.OverflowInto[it.hit-1].SymbolDetail {
		if i == 4 {
			break
		}
		out = append(out, fmt.Sprintf("%s (%s) at %s", s.Name, Bytes(int64(s.Size)), hex(s.Addr)))
	}
	return out
}

// footerLines are the facts printed under the picture.
func footerLines(r *layout.Report) []string {
	var out []string
	if st := r.Stack; st != nil {
		out = append(out, fmt.Sprintf("Main stack %s, %s, grows %s; limit from %s", span(st.Limit, st.Top), Bytes(int64(st.Size)), st.Grows, st.LimitFrom))
	} else if r.Kernel != "" {
		out = append(out, "Hosted program: stacks grow down and are guarded by the kernel (no verdict)")
	} else {
		out = append(out, "Main stack not found")
	}
	if h := r.Headroom; h != nil {
		out = append(out, "Headroom: "+headroomText(h))
	}
	for _, h := range r.FaultHandlers {
		s := h.Name + ": "
		switch {
		case h.UsesStackBeforeSPCheck:
			s += "uses the stack before checking SP (" + h.FirstStackUse.What + "): make it naked/stackless"
		case h.SPCheck != nil:
			s += "checks SP first (" + h.SPCheck.What + ")"
		default:
			s += "does not touch the stack"
		}
		if h.EndlessLoop {
			s += "; ENDLESS LOOP: locks the device up instead of resetting it"
		}
		out = append(out, s)
	}
	// RISC-V: the Cortex-M checks not made are said, so that no fault
	// handler line reads as a handler that passed.
	for _, n := range r.NotChecked {
		out = append(out, "Not checked: "+n)
	}
	for _, t := range r.TaskStacks {
		s := fmt.Sprintf("Static stack %s (%s in %s) overflows into ", t.Name, Bytes(int64(t.Size)), t.Section)
		if t.Below != nil {
			s += fmt.Sprintf("%s (%s) at %s", t.Below.Name, Bytes(int64(t.Below.Size)), hex(t.Below.Addr))
		} else {
			s += "the start of RAM"
		}
		out = append(out, s)
	}
	return out
}
