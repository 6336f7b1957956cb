package subject

import (
	"os/exec"
	"strings"
	"testing"

	"wharf/channels"
)

// untoken reverses token; ok is false for what token never produces. It
// is the tests' oracle: token is injective because untoken inverts it.
func untoken(t string) (s string, ok bool) {
	if t == "%" {
		return "", true
	}
	b := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case tokenSafe[c]:
			b = append(b, c)
		case c == '%' && i+2 < len(t):
			hi, lo := unhex(t[i+1]), unhex(t[i+2])
			if hi < 0 || lo < 0 || tokenSafe[hi<<4|lo] {
				return "", false
			}
			b = append(b, byte(hi<<4|lo))
			i += 2
		default:
			return "", false
		}
	}
	return string(b), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func TestToken(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "room:lobby", want: "room:lobby"},
		{name: "dot", in: "room:a.b", want: "room:a%2Eb"},
		{name: "every name character", in: "ns:AZaz09_-/=@+", want: "ns:AZaz09_-/=@+"},
		{name: "wildcards", in: "a*b>c", want: "a%2Ab%3Ec"},
		{name: "space and percent", in: "a b%", want: "a%20b%25"},
		{name: "non-ASCII", in: "é", want: "%C3%A9"},
		{name: "empty", in: "", want: "%"},
		{name: "user ID", in: "42", want: "42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Token(tt.in)
			if got != tt.want {
				t.Fatalf("token(%q) = %q, want %q", tt.in, got, tt.want)
			}
			checkToken(t, tt.in, got)
		})
	}
}

// checkToken asserts what a subject needs of a token: one non-empty NATS
// token without wildcards or white space, that untoken maps back.
func checkToken(t *testing.T, in, tok string) {
	t.Helper()
	if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
		t.Fatalf("token(%q) = %q is not a safe subject token", in, tok)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '!' || tok[i] > '~' {
			t.Fatalf("token(%q) = %q holds byte %#x", in, tok, tok[i])
		}
	}
	if back, ok := untoken(tok); !ok || back != in {
		t.Fatalf("untoken(token(%q)) = %q, %v", in, back, ok)
	}
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"room:lobby", "room:a.b", "a*b>c", "a b%", "é", "", "%2E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkToken(t, s, Token(s))
	})
}

// TestTokenKeepsNames checks that a valid channel name needs escaping
// only for '.', so subjects stay readable in NATS tools.
func TestTokenKeepsNames(t *testing.T) {
	for _, s := range []string{"general", "room:lobby", "user:42", "ns:a/b=c@d+e-f_g"} {
		if _, err := channels.ParseName(s); err != nil {
			t.Fatal(err)
		}
		if got := Token(s); got != s {
			t.Errorf("token(%q) = %q", s, got)
		}
	}
}

// TestLeaf: the package imports nothing of wharf, so config may import it.
func TestLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "wharf" || strings.HasPrefix(p, "wharf/") {
			t.Errorf("imports %s", p)
		}
	}
}

func TestPrefixAndNodeName(t *testing.T) {
	tests := []struct {
		name, in, problem string
		node              bool // check as a node name rather than a prefix
	}{
		{name: "prefix", in: "wharf", problem: ""},
		{name: "dotted prefix", in: "acme.prod-1", problem: ""},
		{name: "empty prefix", in: "", problem: "is empty"},
		{name: "trailing dot", in: "wharf.", problem: "has an empty token (a leading, trailing or double '.')"},
		{name: "wildcard", in: "wharf.*", problem: "has '*' at byte 0: want letters, digits, '_' and '-'"},
		{name: "node", in: "node-1_a", node: true},
		{name: "node with dot", in: "a.b", node: true, problem: "has '.' at byte 1: want letters, digits, '_' and '-'"},
		{name: "node with space", in: "a b", node: true, problem: "has ' ' at byte 1: want letters, digits, '_' and '-'"},
		{name: "node with control byte", in: "a\x01", node: true, problem: "has byte 0x01 at byte 1: want letters, digits, '_' and '-'"},
		{name: "long node", in: strings.Repeat("n", 65), node: true, problem: "is longer than 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := PrefixProblem
			if tt.node {
				check = NodeNameProblem
			}
			if got := check(tt.in); got != tt.problem {
				t.Fatalf("problem(%q) = %q, want %q", tt.in, got, tt.problem)
			}
		})
	}
}
