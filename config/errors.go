package config

import (
	"errors"
	"strconv"
	"strings"
)

// Classes of problems. Every problem Load, Parse and Validate report is an
// *Error whose Err matches exactly one of these with errors.Is; the joined
// error they return matches every class present.
var (
	// ErrSyntax: the file is not valid TOML (including duplicate keys and
	// redefined tables). Err also wraps go-toml's *toml.DecodeError, whose
	// String method shows the offending line with a marker.
	ErrSyntax = errors.New("config: syntax error")

	// ErrUnknownKey: a key or table that wharfd does not know.
	ErrUnknownKey = errors.New("config: unknown key")

	// ErrType: a value of the wrong TOML type (a string where an integer
	// belongs, a duration written without a unit, ...).
	ErrType = errors.New("config: wrong type")

	// ErrValue: a value of the right type that is malformed, out of range,
	// not one of the allowed words, or in conflict with another key.
	ErrValue = errors.New("config: invalid value")

	// ErrUnknownEnv: a WHARF_* environment variable that names no key and
	// is not on the allow-list of variables wharfd uses internally.
	ErrUnknownEnv = errors.New("config: unknown environment variable")
)

// Error is one problem in a configuration, located as precisely as its
// origin allows. Load, Parse and Validate return a single *Error or several
// joined with errors.Join; use errors.As to get the first, or the
// Unwrap() []error method of the joined error to get them all, in file order.
//
// Error() reads like a compiler message:
//
//	wharf.toml:12:1: server.idle_timeout: invalid duration "6os" (...)
//	wharf.toml:3:1: unknown key "sever" (did you mean "server"?)
//	wharf.toml:9:1: server.max_pending_total: 300 must be at least server.max_pending_per_conn (400, default)
//	server.listen[0]: "udp://:7000": scheme must be tcp, tcp4, tcp6 or unix (from WHARF_SERVER_LISTEN)
type Error struct {
	// File is the name of the configuration being checked, as given to Load
	// or Parse. It is "" for Validate, for Load without a file, and for
	// problems whose value came from the environment.
	File string

	// Line and Col are the 1-based position of the key (or, for a list
	// element, of the element) in File; Col counts bytes. Both are 0 when
	// the value did not come from the file.
	Line, Col int

	// Key is the dotted key path, e.g. "server.idle_timeout", with an index
	// for a list element ("server.listen[1]"). It is "" for syntax errors
	// and unknown environment variables.
	Key string

	// Env is the environment variable the value came from, e.g.
	// "WHARF_SERVER_IDLE_TIMEOUT", or the unknown variable itself; "" when
	// the value came from the file or a default.
	Env string

	// Default reports that the offending value is the built-in default
	// (the key is in neither the file nor the environment); Error() then
	// ends in "(default)". Only Load and Parse know this; Validate leaves
	// it false. The defaults are valid, and a conflict between two keys is
	// reported on the one that was set (its message notes that the other
	// value is the default), so in practice this is set only when a
	// default fails a check on its own.
	Default bool

	// Err describes the problem without the location. It matches one of
	// ErrSyntax, ErrUnknownKey, ErrType, ErrValue and ErrUnknownEnv, and
	// the underlying error (from strconv, time, go-toml) when there is one.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
			if e.Col > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(e.Col))
			}
		}
		b.WriteString(": ")
	}
	// Unknown keys and variables quote the name in the message itself, as
	// the name is the problem.
	named := errors.Is(e.Err, ErrUnknownKey) || errors.Is(e.Err, ErrUnknownEnv)
	if e.Key != "" && !named {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	switch {
	case named:
	case e.Env != "":
		b.WriteString(" (from ")
		b.WriteString(e.Env)
		b.WriteByte(')')
	case e.Default:
		b.WriteString(" (default)")
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// problem is the Err of an *Error: the message alone, classified by one of
// the sentinels above, optionally wrapping the error that caused it. The
// sentinel's own text is not repeated in the message.
type problem struct {
	class error
	msg   string
	cause error
}

func (p *problem) Error() string { return p.msg }

func (p *problem) Unwrap() []error {
	if p.cause == nil {
		return []error{p.class}
	}
	return []error{p.class, p.cause}
}

func typeProblem(msg string) *problem  { return &problem{class: ErrType, msg: msg} }
func valueProblem(msg string) *problem { return &problem{class: ErrValue, msg: msg} }
