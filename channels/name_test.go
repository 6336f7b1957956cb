package channels

import (
	"errors"
	"strings"
	"testing"
)

var nameTests = []struct {
	in        string
	namespace string
	local     string
	reason    string // substring of the NameError's reason; "" if valid
}{
	{in: "general", local: "general"},
	{in: "room:lobby", namespace: "room", local: "lobby"},
	{in: "user:42", namespace: "user", local: "42"},
	{in: "game-3:match_7.red/team=a@eu+1", namespace: "game-3", local: "match_7.red/team=a@eu+1"},
	{in: "a:b", namespace: "a", local: "b"},
	{in: "MixedCase", local: "MixedCase"},
	{in: strings.Repeat("x", MaxNameLen), local: strings.Repeat("x", MaxNameLen)},
	{in: strings.Repeat("n", MaxNamespaceLen) + ":x", namespace: strings.Repeat("n", MaxNamespaceLen), local: "x"},

	{in: "", reason: "empty"},
	{in: strings.Repeat("x", MaxNameLen+1), reason: "longer than 128 bytes"},
	{in: "room:", reason: "empty name after ':'"},
	{in: ":lobby", reason: "empty namespace"},
	{in: "a:b:c", reason: "more than one ':'"},
	{in: "room lobby", reason: "character ' ' at byte 4"},
	{in: "room:lob*by", reason: "character '*' at byte 8"},
	{in: "room:>", reason: "character '>'"},
	{in: "room:\x00", reason: `character '\x00'`},
	{in: "room:é", reason: "not allowed"},
	{in: "Room:lobby", reason: "namespace must start with a lower-case letter"},
	{in: "1room:lobby", reason: "namespace must start with a lower-case letter"},
	{in: "ro.om:lobby", reason: "'.' not allowed in a namespace"},
	{in: strings.Repeat("n", MaxNamespaceLen+1) + ":x", reason: "namespace longer than 32 bytes"},
}

func TestParseName(t *testing.T) {
	for _, tt := range nameTests {
		n, err := ParseName(tt.in)
		if tt.reason != "" {
			var ne *NameError
			if !errors.As(err, &ne) || !errors.Is(err, ErrInvalidName) || !strings.Contains(ne.Reason, tt.reason) {
				t.Errorf("ParseName(%q) = %v, want a NameError with %q", tt.in, err, tt.reason)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseName(%q): %v", tt.in, err)
			continue
		}
		if n.String() != tt.in || n.Namespace() != tt.namespace || n.Local() != tt.local {
			t.Errorf("ParseName(%q) = %q, %q, %q; want %q, %q", tt.in, n, n.Namespace(), n.Local(), tt.namespace, tt.local)
		}
	}
}

func TestNameErrorDoesNotEchoHugeInput(t *testing.T) {
	_, err := ParseName(strings.Repeat("y", 10000))
	if len(err.Error()) > 300 {
		t.Fatalf("error is %d bytes long", len(err.Error()))
	}
}

func TestParseNameAllocatesNothing(t *testing.T) {
	s := "room:lobby-42"
	if n := testing.AllocsPerRun(1000, func() { ParseName(s) }); n != 0 {
		t.Fatalf("ParseName allocates %v times", n)
	}
}

func TestUserChannel(t *testing.T) {
	n, err := UserChannel("user", "42")
	if err != nil || n.String() != "user:42" || n.Local() != "42" {
		t.Fatalf("UserChannel = %v, %v", n, err)
	}
	if _, err := UserChannel("user", "a b"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("UserChannel with a space: %v", err)
	}
}

func FuzzParseName(f *testing.F) {
	for _, tt := range nameTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %v is not ErrInvalidName", err)
			}
			return
		}
		// A valid name round-trips and splits into its parts.
		if n.String() != s || len(s) > MaxNameLen || n.Local() == "" {
			t.Fatalf("ParseName(%q) = %q (local %q)", s, n, n.Local())
		}
		want := n.Local()
		if n.Namespace() != "" {
			want = n.Namespace() + ":" + n.Local()
		}
		if want != s || strings.ContainsAny(n.Local(), ": *>") {
			t.Fatalf("ParseName(%q) splits into %q and %q", s, n.Namespace(), n.Local())
		}
	})
}
