package logging

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// encState appends attributes to buf in one format. It lives on the stack of
// one Handle or WithAttrs call.
type encState struct {
	buf    []byte
	json   bool
	comma  bool   // json: a member precedes, so the next one needs ','
	prefix string // text: group path of the keys written now, "a.b." or ""
}

// appendAttr appends a (after resolving LogValuers) and reports whether it
// wrote anything: empty attrs and empty groups write nothing, as in
// log/slog's own handlers.
func (s *encState) appendAttr(a slog.Attr) bool {
	// Value.Kind is a type switch; it is taken once per attribute.
	k := a.Value.Kind()
	if k == slog.KindLogValuer {
		a.Value = a.Value.Resolve()
		k = a.Value.Kind()
	}
	switch k {
	case slog.KindAny:
		if a.Key == "" && a.Value.Any() == nil {
			return false // the zero Attr
		}
	case slog.KindGroup:
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return false
		}
		if a.Key == "" { // inline the group's attrs
			wrote := false
			for _, ga := range attrs {
				if s.appendAttr(ga) {
					wrote = true
				}
			}
			return wrote
		}
		return s.appendGroup(a.Key, attrs)
	}
	s.appendKey(a.Key)
	if s.json {
		s.buf = appendJSONValue(s.buf, a.Value, k)
	} else {
		s.buf = appendTextValue(s.buf, a.Value, k)
	}
	return true
}

// appendGroup writes a named group, or nothing if all its attrs are empty.
func (s *encState) appendGroup(key string, attrs []slog.Attr) bool {
	pos, comma, prefix := len(s.buf), s.comma, s.prefix
	if s.json {
		s.appendKey(key)
		s.buf = append(s.buf, '{')
		s.comma = false
	} else {
		s.prefix = prefix + key + "." // groups inside records are rare: one allocation
	}
	wrote := false
	for _, ga := range attrs {
		if s.appendAttr(ga) {
			wrote = true
		}
	}
	s.prefix = prefix
	if !wrote {
		s.buf, s.comma = s.buf[:pos], comma
		return false
	}
	if s.json {
		s.buf = append(s.buf, '}')
		s.comma = true
	}
	return true
}

// openGroup starts a group named by WithGroup (JSON: a nested object; text:
// a key prefix).
func (s *encState) openGroup(name string) {
	if s.json {
		s.appendKey(name)
		s.buf = append(s.buf, '{')
		s.comma = false
		return
	}
	s.prefix += name + "."
}

func (s *encState) appendKey(key string) {
	if s.json {
		if s.comma {
			s.buf = append(s.buf, ',')
		}
		s.buf = appendJSONString(s.buf, key)
		s.buf = append(s.buf, ':')
		s.comma = true
		return
	}
	s.buf = append(s.buf, ' ')
	switch {
	case s.prefix == "" && !needsQuoting(key):
		s.buf = append(s.buf, key...)
	case s.prefix != "" && !needsQuoting(s.prefix) && !needsQuoting(key):
		s.buf = append(s.buf, s.prefix...)
		s.buf = append(s.buf, key...)
	default:
		s.buf = strconv.AppendQuote(s.buf, s.prefix+key)
	}
	s.buf = append(s.buf, '=')
}

// appendTextValue appends v as log/slog's TextHandler would, quoting
// strings that contain spaces, '=', '"', control or non-printing characters.
// k is v.Kind().
func appendTextValue(b []byte, v slog.Value, k slog.Kind) []byte {
	switch k {
	case slog.KindString:
		return appendTextString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return append(b, v.Duration().String()...) // String is inlined: the string stays on the stack
	case slog.KindTime:
		return v.Time().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			return append(b, "<nil>"...)
		case error:
			return appendTextString(b, x.Error())
		case encoding.TextMarshaler:
			data, err := x.MarshalText()
			if err != nil {
				return appendTextString(b, "!ERROR:"+err.Error())
			}
			return appendTextString(b, string(data))
		case []byte:
			return strconv.AppendQuote(b, string(x))
		default:
			return appendTextString(b, fmt.Sprintf("%+v", x))
		}
	}
	return appendTextString(b, v.String())
}

func appendTextString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// appendTextMessage appends the message as is (it may hold spaces, as in the
// seed's lines) unless it holds a control character or invalid UTF-8, in
// which case it is quoted so that every record stays on one line.
func appendTextMessage(b []byte, msg string) []byte {
	for i := 0; i < len(msg); {
		c := msg[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return strconv.AppendQuote(b, msg)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(msg[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return strconv.AppendQuote(b, msg)
		}
		i += size
	}
	if len(msg) > 0 && msg[0] == '"' {
		return strconv.AppendQuote(b, msg) // a message that looks quoted is quoted, so it reads back unambiguously
	}
	return append(b, msg...)
}

// needsQuoting reports whether a text value or key must be quoted: it is
// empty or holds a space, '=', '"', a control or non-printing character, or
// invalid UTF-8.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendJSONValue appends v as a JSON value, like log/slog's JSONHandler
// except that NaN and infinities are written as strings instead of failing.
// k is v.Kind().
func appendJSONValue(b []byte, v slog.Value, k slog.Kind) []byte {
	switch k {
	case slog.KindString:
		return appendJSONString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendJSONFloat(b, v.Float64())
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10) // nanoseconds, as slog
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case slog.KindAny:
		x := v.Any()
		if err, ok := x.(error); ok {
			if _, isJM := x.(json.Marshaler); !isJM {
				return appendJSONString(b, err.Error())
			}
		}
		return appendJSONMarshal(b, x)
	}
	return appendJSONString(b, v.String())
}

// appendJSONMarshal is the slow path for arbitrary values.
func appendJSONMarshal(b []byte, x any) []byte {
	var bb bytes.Buffer
	enc := json.NewEncoder(&bb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return appendJSONString(b, "!ERROR:"+err.Error())
	}
	return append(b, bytes.TrimRight(bb.Bytes(), "\n")...)
}

// appendJSONFloat formats f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Inf"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // 1e-07 -> 1e-7, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted and escaped as a JSON string. Invalid
// UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped, as encoding/json
// does; HTML characters are left alone, as slog's JSONHandler does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// itoa is strconv.FormatInt for messages built off the hot path.
func itoa(v int64) string { return strconv.FormatInt(v, 10) }
