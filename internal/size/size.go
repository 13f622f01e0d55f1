// Package size reads the sizes people write on the command line and in
// stackscope.toml: plain bytes, or K/M/G with or without "iB", in any case.
// One parser for every size flag and every configuration size.
package size

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Annotation marks a flag as a size (cobra/pflag annotation key), so a test
// can list every size flag of every command and check it parses through here.
const Annotation = "stackscope_size"

// Syntax is the accepted syntax, in one line for help and errors.
const Syntax = "bytes, or a number with K, M or G (KiB, MiB, GiB; powers of 1024; any case), e.g. 4096, 4K, 1.5MiB"

// Error is a size that does not parse: one line naming the text and why.
type Error struct {
	Text    string
	Problem string
}

func (e *Error) Error() string { return fmt.Sprintf("%q: %s", e.Text, e.Problem) }

var units = []struct {
	suffix string
	shift  uint
}{
	// Longest first, so "kib" is not read as "k" + "ib".
	{"kib", 10}, {"mib", 20}, {"gib", 30},
	{"k", 10}, {"m", 20}, {"g", 30},
	{"b", 0},
}

// Parse reads a size in bytes. K, M and G are powers of 1024 with or
// without "iB" ("4K" = "4KiB" = 4096), in any case. "KB", "MB" and "GB" are
// refused, not guessed: some read them as 1000s and some as 1024s, and a
// budget read 2.4% larger than meant hides a finding. A fraction is
// defined when it makes whole bytes ("1.5M" is 1572864, "0.5K" is 512) and
// refused when not ("1.3K" would be 1331.2 bytes). Negatives and sizes past
// math.MaxInt64 are refused; 0 is returned as 0, for the caller to judge
// (see Positive).
func Parse(text string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(text))
	bad := func(problem string) (int64, error) { return 0, &Error{text, problem} }
	if s == "" {
		return bad("empty; want " + Syntax)
	}
	if strings.HasPrefix(s, "-") {
		return bad("a size cannot be negative")
	}
	for _, si := range []string{"kb", "mb", "gb"} {
		if strings.HasSuffix(s, si) {
			u := strings.ToUpper(si[:1])
			return bad(fmt.Sprintf("%sB is ambiguous (1000 or 1024?): write %s or %siB for powers of 1024, or the number of bytes", u, u, u))
		}
	}
	shift := uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = strings.TrimSpace(n), u.shift
			break
		}
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || !digits(frac) || hasDot && frac == "" {
		return bad("not a size; want " + Syntax)
	}
	// Exact arithmetic: (whole.frac × 2^shift) must be a whole number.
	num, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return bad("not a size; want " + Syntax)
	}
	num.Lsh(num, shift)
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		return bad("not a whole number of bytes")
	}
	if !q.IsInt64() || q.Int64() > math.MaxInt64 {
		return bad("too large")
	}
	return q.Int64(), nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Positive is Parse for sizes where 0 makes no sense (a budget, a stack
// limit, a frame's size given by hand is allowed to be 0 and uses Parse).
func Positive(text string) (int64, error) {
	n, err := Parse(text)
	if err == nil && n == 0 {
		return 0, &Error{text, "must be more than 0 bytes"}
	}
	return n, err
}

// Value is a size flag: pflag.Value over an int64 that stays 0 until set.
type Value struct {
	p      *int64
	zeroOK bool
}

// Set parses through Parse (Positive unless the flag allows 0).
func (v *Value) Set(s string) error {
	parse := Positive
	if v.zeroOK {
		parse = Parse
	}
	n, err := parse(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

func (v *Value) String() string {
	if v.p == nil {
		return "0"
	}
	return fmt.Sprint(*v.p)
}

// Type names the value in --help.
func (v *Value) Type() string { return "size" }

// Var registers a size flag (0 refused when given, so 0 can mean "not set")
// and marks it with Annotation.
func Var(f *pflag.FlagSet, p *int64, name, usage string) {
	Mark(f, f.VarPF(&Value{p: p}, name, "", usage))
}

// Mark annotates a flag as a size; for flags that take a size among other
// forms (diff's --max-growth also takes a percentage) and parse it here.
func Mark(f *pflag.FlagSet, fl *pflag.Flag) {
	f.SetAnnotation(fl.Name, Annotation, []string{"true"})
}

// Bytes is a size in stackscope.toml: an integer (bytes) or a string in
// the flags' syntax ("8K", "1.5MiB"), read by Parse.
type Bytes int64

// UnmarshalTOML reads an integer or a string (BurntSushi/toml's hook).
func (b *Bytes) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return &Error{fmt.Sprint(x), "a size cannot be negative"}
		}
		*b = Bytes(x)
		return nil
	case string:
		n, err := Parse(x)
		*b = Bytes(n)
		return err
	}
	return fmt.Errorf("%v is not a size: want an integer (bytes) or a string such as \"8K\"", v)
}

// Format writes a size in the one style of every text output: bytes with
// thousands separators below 10 KiB ("3,040 B"), else KiB, MiB or GiB with
// one decimal, always written ("77.4 KiB", "8.0 MiB"; the same width of
// text for every size, so an exact multiple reads no differently from a
// near one). The decimal is rounded up, never down: a printed bound or peak
// is never below the real one ("64.0 KiB" is never 65,560 B), and a size
// that rounds up to 1024 of a unit is written in the next ("1.0 MiB", not
// "1024.0 KiB"). JSON keeps exact bytes; where a reader needs an exact
// figure the caller writes it in full (FormatKiB, or bytes).
func Format(n int64) string { return format(n, true) }

// FormatCapacity writes a stack's size, or the room left in it, in the
// same style rounded down: a capacity printed larger than it is would look
// safer than it is, as a need printed smaller would (Format rounds up).
func FormatCapacity(n int64) string { return format(n, false) }

func format(n int64, up bool) string {
	if n < 0 {
		if n == math.MinInt64 {
			return "-8.0 EiB"
		}
		return "-" + format(-n, up)
	}
	if n < 10<<10 {
		return Commas(n) + " B"
	}
	if n <= math.MaxInt64/10 {
		// (Every size a report prints: n*10 fits in 64 bits, and the exact
		// arithmetic below needs no big.Int, which was a third of the time
		// of writing libLLVM-15's text report.)
		v := uint64(n) * 10
		for i, name := range sizeNames {
			shift := uint(10 * (i + 1))
			t, r := v>>shift, v&(1<<shift-1)
			if r != 0 && up {
				t++
			}
			if t < 10240 || i == len(sizeNames)-1 {
				return fmt.Sprintf("%s.%d %s", Commas(int64(t/10)), t%10, name)
			}
		}
	}
	return formatBig(n, up)
}

var sizeNames = []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// formatBig is format for n >= 10 KiB in exact arithmetic of any size.
func formatBig(n int64, up bool) string {
	names := sizeNames
	v := new(big.Int).SetInt64(n)
	v.Mul(v, big.NewInt(10))
	for i, name := range names {
		shift := uint(10 * (i + 1))
		// tenths = ceil (floor for a capacity) of n*10 / 2^shift, exactly.
		den := new(big.Int).Lsh(big.NewInt(1), shift)
		t, r := new(big.Int).QuoRem(v, den, new(big.Int))
		if r.Sign() != 0 && up {
			t.Add(t, big.NewInt(1))
		}
		if t.Cmp(big.NewInt(10240)) < 0 || i == len(names)-1 {
			tenths := t.Int64()
			return fmt.Sprintf("%s.%d %s", Commas(tenths/10), tenths%10, name)
		}
	}
	panic("unreachable")
}

// FormatKiB writes a size that is a whole number of KiB exactly, in KiB
// ("1,324 KiB"), for figures a reader must be able to tell apart to the
// page or give back to `ulimit -s`; a size that is not whole KiB is
// written in exact bytes ("1,355,777 B").
func FormatKiB(n int64) string {
	if n%1024 != 0 {
		return Commas(n) + " B"
	}
	return Commas(n/1024) + " KiB"
}

// Commas writes n with thousands separators: 6,144.
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
