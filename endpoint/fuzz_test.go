package endpoint

import "testing"

// FuzzParse checks that whatever Parse accepts prints, with String, as an
// address Parse reads back to the same Addr, that its Network is known,
// and that a failure is an *Error naming the input.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in, tt.implied)
	}
	f.Fuzz(func(t *testing.T, s, implied string) {
		a, err := Parse(s, implied)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Input != s || e.Reason == "" {
				t.Fatalf("Parse(%q, %q): error %#v is not an *Error naming the input", s, implied, err)
			}
			return
		}
		if a.Network() == "" || a.IsZero() {
			t.Fatalf("Parse(%q, %q) = %+v: no network", s, implied, a)
		}
		str := a.String()
		b, err := Parse(str, "")
		if err != nil {
			t.Fatalf("Parse(%q, %q) = %+v, whose String %q does not parse: %v", s, implied, a, str, err)
		}
		if b != a {
			t.Fatalf("Parse(%q, %q) = %+v; Parse(%q) = %+v", s, implied, a, str, b)
		}
		if b.String() != str {
			t.Fatalf("String not stable: %q then %q", str, b.String())
		}
	})
}
