package channels

import "strconv"

// Limits of the channel name grammar.
const (
	// MaxNameLen is the longest channel name in bytes, namespace included.
	MaxNameLen = 128
	// MaxNamespaceLen is the longest namespace name in bytes.
	MaxNamespaceLen = 32
	// NamespaceSeparator separates a namespace from the rest of a name.
	NamespaceSeparator = ':'
)

// Name is a parsed, valid channel name. The zero Name is not valid; get one
// from ParseName. A Name is a small value (a string and a length): pass it
// by value and compare it with ==.
//
// The grammar:
//
//	name      = [ namespace ":" ] local
//	namespace = lower { lower | digit | "_" | "-" }     ; 1 to 32 bytes
//	local     = char { char }                           ; at least 1 byte
//	char      = "A"…"Z" | "a"…"z" | "0"…"9" | "_" | "." | "-" | "/" | "=" | "@" | "+"
//
// and the whole name is at most MaxNameLen bytes. A name without ':'
// belongs to the default namespace (""). Names are case-sensitive, contain
// no spaces or control characters, and at most one ':'. Characters that
// mean something to message brokers ('*', '>', spaces) are excluded, so
// that a cluster broker can map names to subjects; '.' is allowed (a NATS
// broker must escape it).
//
// The local part of a channel in a namespace whose rule is AccessOwner is
// the owner's user ID: "user:42" belongs to the user whose ID is "42".
type Name struct {
	s  string
	ns uint8 // bytes of namespace before ':'; 0 for the default namespace
}

// ParseName checks s against the grammar. It allocates nothing unless s is
// invalid, in which case the error is a *NameError (matching
// ErrInvalidName).
func ParseName(s string) (Name, error) {
	switch {
	case len(s) == 0:
		return Name{}, nameError(s, "empty")
	case len(s) > MaxNameLen:
		return Name{}, nameError(s, "longer than "+strconv.Itoa(MaxNameLen)+" bytes")
	}
	sep := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if nameChars[c] {
			continue
		}
		if c == NamespaceSeparator && sep < 0 {
			sep = i
			continue
		}
		if c == NamespaceSeparator {
			return Name{}, nameError(s, "more than one ':'")
		}
		return Name{}, nameError(s, "character "+strconv.QuoteRune(rune(c))+" at byte "+strconv.Itoa(i)+" not allowed")
	}
	if sep < 0 {
		return Name{s: s}, nil
	}
	if sep == len(s)-1 {
		return Name{}, nameError(s, "empty name after ':'")
	}
	if reason := namespaceProblem(s[:sep]); reason != "" {
		return Name{}, nameError(s, reason)
	}
	return Name{s: s, ns: uint8(sep)}, nil
}

// String returns the full name, namespace included.
func (n Name) String() string { return n.s }

// IsZero reports whether n is the zero Name (not a valid name).
func (n Name) IsZero() bool { return n.s == "" }

// Namespace returns the namespace ("" for the default namespace).
func (n Name) Namespace() string { return n.s[:n.ns] }

// Local returns the part after the namespace ("42" in "user:42").
func (n Name) Local() string {
	if n.ns == 0 {
		return n.s
	}
	return n.s[n.ns+1:]
}

// UserChannel returns the personal channel of user in namespace ns (the
// default configuration names it "user"): UserChannel("user", "42") is
// "user:42". It fails if the result is not a valid name.
func UserChannel(ns, user string) (Name, error) {
	return ParseName(ns + string(NamespaceSeparator) + user)
}

// namespaceProblem says what is wrong with a namespace name, or "".
func namespaceProblem(ns string) string {
	switch {
	case len(ns) == 0:
		return "empty namespace before ':'"
	case len(ns) > MaxNamespaceLen:
		return "namespace longer than " + strconv.Itoa(MaxNamespaceLen) + " bytes"
	case ns[0] < 'a' || ns[0] > 'z':
		return "namespace must start with a lower-case letter"
	}
	for i := 1; i < len(ns); i++ {
		if !namespaceChars[ns[i]] {
			return "character " + strconv.QuoteRune(rune(ns[i])) + " not allowed in a namespace"
		}
	}
	return ""
}

// validUserID reports whether id can be a user ID: non-empty, and made of
// the characters of a name's local part, so that it fits in a personal
// channel's name.
func validUserID(id string) bool {
	if id == "" || len(id) > MaxNameLen-MaxNamespaceLen-1 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !nameChars[id[i]] {
			return false
		}
	}
	return true
}

func nameError(s, reason string) error {
	if len(s) > MaxNameLen+1 {
		s = s[:MaxNameLen+1] // do not echo a huge input
	}
	return &NameError{Name: s, Reason: reason}
}

// nameChars and namespaceChars are the bytes allowed in a local name and,
// after the first letter, in a namespace.
var nameChars, namespaceChars [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		nameChars[c], namespaceChars[c] = true, true
		nameChars[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		nameChars[c], namespaceChars[c] = true, true
	}
	for _, c := range "_.-/=@+" {
		nameChars[c] = true
	}
	namespaceChars['_'], namespaceChars['-'] = true, true
}
