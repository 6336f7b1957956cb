package h1

import (
	"bytes"
	"testing"
)

// TestScanValue puts every byte value at every offset of a value long
// enough for the eight-byte fast path and checks where the scan stops.
func TestScanValue(t *testing.T) {
	for c := 0; c < 256; c++ {
		valid := c == '\t' || c >= 0x20 && c != 0x7f
		for p := 0; p < 24; p++ {
			b := bytes.Repeat([]byte{'a'}, 24)
			b[p] = byte(c)
			want := p
			if valid {
				want = len(b)
			}
			for start := 0; start <= p; start++ {
				if got := scanValue(b, start); got != want {
					t.Fatalf("scanValue with %#x at %d from %d = %d, want %d", c, p, start, got, want)
				}
			}
		}
	}
}

func TestCharClasses(t *testing.T) {
	const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for c := 0; c < 256; c++ {
		b := byte(c)
		if got, want := isToken(b), bytes.IndexByte([]byte(tchars), b) >= 0; got != want {
			t.Errorf("isToken(%#x) = %v", c, got)
		}
		if got, want := isTarget(b), c > 0x20 && c < 0x7f && c != '#'; got != want {
			t.Errorf("isTarget(%#x) = %v", c, got)
		}
		if got, want := isHex(b), unhex(b) >= 0; got != want {
			t.Errorf("isHex(%#x) = %v", c, got)
		}
	}
}

func TestElements(t *testing.T) {
	tests := []struct {
		list string
		want []string
	}{
		{list: "", want: []string{""}},
		{list: "a", want: []string{"a"}},
		{list: " a ,\tb\t", want: []string{"a", "b"}},
		{list: "a,", want: []string{"a", ""}},
		{list: ",a", want: []string{"", "a"}},
		{list: "a,,b", want: []string{"a", "", "b"}},
	}
	for _, tt := range tests {
		var got []string
		it := elements{rest: []byte(tt.list)}
		for e, ok := it.next(); ok; e, ok = it.next() {
			got = append(got, string(e))
		}
		if len(got) != len(tt.want) {
			t.Errorf("elements(%q) = %q, want %q", tt.list, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("elements(%q) = %q, want %q", tt.list, got, tt.want)
			}
		}
	}
}
