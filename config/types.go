package config

import (
	"encoding"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"strconv"
	"strings"
	"time"
)

var (
	_ encoding.TextMarshaler   = Duration(0)
	_ encoding.TextUnmarshaler = (*Duration)(nil)
	_ encoding.TextMarshaler   = Size(0)
	_ encoding.TextUnmarshaler = (*Size)(nil)
	_ encoding.TextMarshaler   = Processes(0)
	_ encoding.TextUnmarshaler = (*Processes)(nil)
)

// Duration is a time.Duration written in the file as a string with units,
// as time.ParseDuration reads them: "60s", "1m30s", "100ms", "168h". A bare
// TOML integer is rejected rather than guessed at (seconds? milliseconds?).
// Convert with time.Duration(d).
type Duration time.Duration

// String formats d like time.Duration but drops zero trailing units:
// "1h", "1h30m", "90s" prints as "1m30s", zero as "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText returns d.String().
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration with units, e.g. "60s" or "1m30s".
func (d *Duration) UnmarshalText(text []byte) error {
	v, p := parseDuration(string(text))
	if p != nil {
		return fmt.Errorf("config: %w", p)
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, *problem) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, &problem{
			class: ErrValue,
			msg:   fmt.Sprintf("invalid duration %q (want a number with a unit: ns, us, ms, s, m or h, e.g. \"1m30s\")", s),
			cause: err,
		}
	}
	return Duration(v), nil
}

// Size is a number of bytes. In the file it is a TOML integer (bytes) or a
// string: bytes ("512"), or a number with a unit, decimal (KB, MB, GB, TB:
// powers of 1000) or binary (KiB, MiB, GiB, TiB: powers of 1024), e.g.
// "16KiB" = 16384, "64KB" = 64000, "1.5MiB" = 1572864. Units are
// case-insensitive, a space may separate number and unit, and "B" is
// accepted for bytes. A fraction must come out as a whole number of bytes.
// Sizes are never negative.
type Size int64

var sizeUnits = []struct {
	name string
	mult int64
}{
	// Largest first: String picks the first unit that divides exactly.
	{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
	{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3},
	{"B", 1},
}

// String formats s with the largest unit that divides it exactly:
// 16384 is "16KiB", 64000 is "64KB", 2000000000000 is "2TB", 12345 is
// "12345" and 0 is "0".
func (s Size) String() string {
	if s > 0 {
		for _, u := range sizeUnits[:len(sizeUnits)-1] {
			if int64(s)%u.mult == 0 {
				return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText returns s.String().
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a size such as "512", "16KiB" or "64KB".
func (s *Size) UnmarshalText(text []byte) error {
	v, p := parseSize(string(text))
	if p != nil {
		return fmt.Errorf("config: %w", p)
	}
	*s = v
	return nil
}

func parseSize(text string) (Size, *problem) {
	bad := func(why string) (Size, *problem) {
		return 0, valueProblem(fmt.Sprintf("invalid size %q: %s", text, why))
	}
	s := strings.TrimSpace(text)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if num == "" {
		if strings.HasPrefix(s, "-") {
			return bad("sizes are not negative")
		}
		return bad(`want bytes or a number with a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. "16KiB"`)
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult = u.mult
				break
			}
		}
		if mult == 0 {
			return bad(fmt.Sprintf("unknown unit %q (want KB, MB, GB, TB, KiB, MiB, GiB or TiB)", unit))
		}
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return bad("too large")
		}
		return Size(n * mult), nil
	}
	// A fraction: exact rational arithmetic, so "1.1KB" is 1100 bytes and
	// not 1100.0000000000002.
	if strings.Count(num, ".") > 1 || num == "." {
		return bad("malformed number")
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad("malformed number")
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return bad("not a whole number of bytes")
	}
	n := r.Num()
	if !n.IsInt64() {
		return bad("too large")
	}
	return Size(n.Int64()), nil
}

// Processes is the number of worker processes: 0 (one process serves
// everything, no master), N (a master and N workers), or ProcessesAuto, one
// worker per CPU. In the file it is a TOML integer or the string "auto";
// its text form is "auto" or the decimal number.
type Processes int

// ProcessesAuto is Processes "auto": one worker per CPU, see
// Config.ResolvedProcesses.
const ProcessesAuto Processes = -1

// maxProcesses bounds the worker count: beyond it a typo (processes =
// 10000) would fork-bomb the machine rather than serve it better.
const maxProcesses = 1024

// String returns "auto" for ProcessesAuto, otherwise the number.
func (p Processes) String() string {
	if p == ProcessesAuto {
		return "auto"
	}
	return strconv.Itoa(int(p))
}

// MarshalText returns p.String().
func (p Processes) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses "auto" or a number from 0 to 1024.
func (p *Processes) UnmarshalText(text []byte) error {
	v, pr := parseProcesses(string(text))
	if pr != nil {
		return fmt.Errorf("config: %w", pr)
	}
	*p = v
	return nil
}

func parseProcesses(s string) (Processes, *problem) {
	if s == "auto" {
		return ProcessesAuto, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, &problem{class: ErrValue, msg: fmt.Sprintf(`invalid processes %q (want "auto" or a number from 0 to %d)`, s, maxProcesses), cause: err}
	}
	if n < 0 || n > maxProcesses {
		return 0, processesRange(int64(n))
	}
	return Processes(n), nil
}

func processesRange(n int64) *problem {
	return valueProblem(fmt.Sprintf(`%d is out of range (0..%d or "auto")`, n, maxProcesses))
}

// resolve returns the worker count p stands for.
func (p Processes) resolve() int {
	if p == ProcessesAuto {
		return runtime.NumCPU()
	}
	return int(p)
}
