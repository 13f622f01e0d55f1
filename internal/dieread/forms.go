package dieread

// The attribute forms of DWARF 2-5 (DWARF 5, 7.5.6) and GNU's alternate
// references, by their codes: the ones this package and callgraph's
// entry scanner (diescan.go) decode or must recognise.
const (
	FormAddr          = 0x01
	FormBlock2        = 0x03
	FormBlock4        = 0x04
	FormData2         = 0x05
	FormData4         = 0x06
	FormData8         = 0x07
	FormString        = 0x08
	FormBlock         = 0x09
	FormBlock1        = 0x0a
	FormData1         = 0x0b
	FormFlag          = 0x0c
	FormSdata         = 0x0d
	FormStrp          = 0x0e
	FormUdata         = 0x0f
	FormRefAddr       = 0x10
	FormRef1          = 0x11
	FormRef2          = 0x12
	FormRef4          = 0x13
	FormRef8          = 0x14
	FormRefUdata      = 0x15
	FormSecOffset     = 0x17
	FormExprloc       = 0x18
	FormFlagPresent   = 0x19
	FormRefSup4       = 0x1c
	FormStrpSup       = 0x1d
	FormData16        = 0x1e
	FormLineStrp      = 0x1f
	FormRefSig8       = 0x20
	FormImplicitConst = 0x21
	FormLoclistx      = 0x22
	FormRefSup8       = 0x24
	FormGNURefAlt     = 0x1f20
	FormGNUStrpAlt    = 0x1f21
)

// IsC says whether a unit's DW_AT_language is C (C89, C, C99, C11, C17):
// its functions are at the top level, and its structs hold only members.
func IsC(lang int64) bool {
	switch lang {
	case 0x1, 0x2, 0xc, 0x1d, 0x2c:
		return true
	}
	return false
}
