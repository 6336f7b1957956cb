package cluster

import "strings"

// Subjects. Every subject starts with the deployment's prefix
// (Config.Prefix), so deployments sharing a NATS server never hear each
// other. The rest is one of:
//
//	<prefix>.pub.<channel>      a publication (or a join/leave event without a tracker)
//	<prefix>.user.<user>        a direct message to every connection of a user
//	<prefix>.node.<node>        a node's heartbeats, presence deltas and goodbye
//	<prefix>.sync.<node>        a request for a node's presence snapshot
//	<prefix>.inbox.<node>.<inc> where a node's snapshots are sent back
//
// Channel names and user IDs are escaped into one subject token (token).
const (
	kindPub   = "pub"
	kindUser  = "user"
	kindNode  = "node"
	kindSync  = "sync"
	kindInbox = "inbox"
)

// subjects are a Node's subjects, built once from the prefix.
type subjects struct {
	pub, user, node, sync, inbox string // "<prefix>.pub." and so on, ending with '.'
}

func newSubjects(prefix string) subjects {
	return subjects{
		pub:   prefix + "." + kindPub + ".",
		user:  prefix + "." + kindUser + ".",
		node:  prefix + "." + kindNode + ".",
		sync:  prefix + "." + kindSync + ".",
		inbox: prefix + "." + kindInbox + ".",
	}
}

// tokenSafe are the bytes that stand for themselves in a subject token:
// the characters of a channel name (package channels' grammar) except '.',
// which separates NATS tokens. Everything else is written %XX, '%' itself
// included, so the mapping is reversible and a token never holds '.', '*',
// '>' or white space, which NATS gives a meaning.
var tokenSafe [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		tokenSafe[c], tokenSafe[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		tokenSafe[c] = true
	}
	for _, c := range "_-/=@+:" {
		tokenSafe[c] = true
	}
}

const hexDigits = "0123456789ABCDEF"

// appendToken appends s escaped as one subject token. An empty s becomes
// "%", which no escaping produces, so the token is never empty.
func appendToken(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '%')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenSafe[c] {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// token returns s escaped as one subject token.
func token(s string) string { return string(appendToken(make([]byte, 0, len(s)+8), s)) }

// prefixProblem reports what is wrong with a subject prefix, or "": it must
// be one or more tokens of letters, digits, '_' and '-', separated by '.'.
func prefixProblem(p string) string {
	if p == "" {
		return "is empty"
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return "has an empty token (a leading, trailing or double '.')"
		}
		if r := nameProblem(tok); r != "" {
			return r
		}
	}
	return ""
}

// nameProblem reports what is wrong with a node name (also a prefix's
// token), or "": 1 to 64 letters, digits, '_' and '-'.
func nameProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > maxNodeName {
		return "is longer than 64 bytes"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "has " + quoteByte(c) + ": want letters, digits, '_' and '-'"
		}
	}
	return ""
}

const maxNodeName = 64

func quoteByte(c byte) string {
	if c >= ' ' && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + string([]byte{hexDigits[c>>4], hexDigits[c&15]})
}
