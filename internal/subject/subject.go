// Package subject holds the rules of wharf's NATS subjects, for package
// cluster, which builds them, and package config, which checks the names
// that go into them with file:line errors: a node name and a subject
// prefix are plain tokens, and a channel name or user ID is escaped into
// one token (Token), so that no name can be a wildcard or reach into
// another subject.
package subject

import (
	"strconv"
	"strings"
)

// MaxNodeName is the longest node name, in bytes.
const MaxNodeName = 64

// NodeNameChar reports whether c may be in a node name (and in a prefix's
// tokens): letters, digits, '_' and '-', which a NATS subject token holds
// unescaped and a log line or a metric label shows plainly.
func NodeNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// NodeNameProblem says what is wrong with a node name, or "": it must be
// 1 to MaxNodeName bytes of NodeNameChar.
func NodeNameProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > MaxNodeName {
		return "is longer than " + strconv.Itoa(MaxNodeName) + " bytes"
	}
	for i := 0; i < len(s); i++ {
		if !NodeNameChar(s[i]) {
			return "has " + quoteByte(s[i]) + " at byte " + strconv.Itoa(i) + ": want letters, digits, '_' and '-'"
		}
	}
	return ""
}

// PrefixProblem says what is wrong with a subject prefix, or "": it must
// be one or more node-name-like tokens separated by '.'.
func PrefixProblem(p string) string {
	if p == "" {
		return "is empty"
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return "has an empty token (a leading, trailing or double '.')"
		}
		if r := NodeNameProblem(tok); r != "" {
			return r
		}
	}
	return ""
}

func quoteByte(c byte) string {
	if c >= ' ' && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + string([]byte{hexDigits[c>>4], hexDigits[c&15]})
}

// tokenSafe are the bytes that stand for themselves in a Token: the
// characters of a channel name (package channels' grammar) except '.',
// which separates NATS tokens.
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

// AppendToken appends s escaped as one subject token: every byte outside
// [A-Za-z0-9_\-/=@+:] is written %XX ('%', '.', '*', '>', white space and
// non-ASCII included), so the mapping is reversible and a token never
// holds what NATS gives a meaning. An empty s becomes "%", which no
// escaping produces, so a token is never empty.
func AppendToken(dst []byte, s string) []byte {
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

// Token returns s escaped as one subject token (AppendToken).
func Token(s string) string { return string(AppendToken(make([]byte, 0, len(s)+8), s)) }
