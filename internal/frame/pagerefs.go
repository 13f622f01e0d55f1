package frame

import "github.com/stackscope/stackscope/internal/isa"

// pageRefs adds to Refs the addresses the code builds in two instructions,
// a page and an offset into it (AArch64: adrp x0, page; add x0, x0, #lo12),
// for a decoder that says its code does so: no single instruction holds
// such an address, so the decoder cannot give it as Ref. A GNU ifunc
// resolver returns its implementations' addresses this way (glibc's
// memset and memcpy on AArch64), and the call graph reads them from Refs.
func (w *walker) pageRefs() {
	if d, ok := w.in.Decoder.(interface{ PageAddressing() bool }); !ok || !d.PageAddressing() {
		return
	}
	var s *slicer
	for i := range w.insts {
		in := &w.insts[i]
		if in.failed() || in.eff.DefKind != isa.DefAddImm || in.eff.DefSrc < 0 || in.eff.DefSrc == in.eff.DefReg && in.eff.SetsFP {
			continue
		}
		if s == nil {
			s = w.newSlicer()
		}
		budget := maxSlice
		if v := s.reg(in.off, in.eff.DefSrc, &budget); v.Kind == ValueConst && !v.Indexed {
			w.fr.Refs = append(w.fr.Refs, uint64(v.Off+in.eff.DefValue))
		}
	}
}
