package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"

	"wharf/endpoint"
)

// TOML returns c as a TOML document that Parse and Load read back to an
// equal Config: every key, defaults included, tables in the order of the
// package documentation. wharfd -print-config prints it. The document
// includes secrets (database.url, kcp.key, jwt.hmac_secret, push.keys) as
// they are. TOML fails only for
// a string that is not valid UTF-8, which TOML cannot represent. It does
// not validate c.
func (c Config) TOML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# wharfd configuration, defaults included.\n")
	if err := writeFields(&b, reflect.ValueOf(&c).Elem(), schema.top); err != nil {
		return nil, err
	}
	for _, t := range schema.tables {
		b.WriteString("\n[" + t.name + "]\n")
		if err := writeFields(&b, reflect.ValueOf(&c).Elem(), t.fields); err != nil {
			return nil, err
		}
		// Arrays of tables come after the table's keys, each element a
		// [[table.key]] block.
		for _, f := range t.fields {
			if f.kind != kindTables {
				continue
			}
			list := f.value(&c)
			for i := range list.Len() {
				b.WriteString("\n[[" + f.key + "]]\n")
				if err := writeFields(&b, list.Index(i), f.elem); err != nil {
					return nil, err
				}
			}
		}
	}
	return b.Bytes(), nil
}

// writeFields writes one "key = value" line per field of v (the Config,
// or an element of a list of tables), values aligned. Lists of tables are
// the caller's to write.
func writeFields(b *bytes.Buffer, v reflect.Value, fields []*field) error {
	width := 0
	for _, f := range fields {
		width = max(width, len(f.name))
	}
	for _, f := range fields {
		if f.kind == kindTables && v.FieldByIndex(f.index).Len() > 0 {
			continue // [[blocks]], after the table
		}
		b.WriteString(f.name)
		for range width - len(f.name) {
			b.WriteByte(' ')
		}
		b.WriteString(" = ")
		if err := writeValue(b, f, v.FieldByIndex(f.index)); err != nil {
			return err
		}
		b.WriteByte('\n')
	}
	return nil
}

func writeValue(b *bytes.Buffer, f *field, v reflect.Value) error {
	switch f.kind {
	case kindBool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case kindInt:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case kindString:
		return writeString(b, f, v.String())
	case kindStrings:
		b.WriteByte('[')
		for i, s := range v.Interface().([]string) {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeString(b, f, s); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case kindAddrs:
		b.WriteByte('[')
		for i, a := range v.Interface().([]endpoint.Addr) {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeString(b, f, a.String()); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case kindDuration:
		return writeString(b, f, Duration(v.Int()).String())
	case kindSize:
		s := Size(v.Int())
		if str := s.String(); str == strconv.FormatInt(int64(s), 10) {
			b.WriteString(str) // plain bytes: an integer
		} else {
			return writeString(b, f, str)
		}
	case kindTables:
		b.WriteString("[]") // an empty list; elements are [[blocks]]
	case kindProcesses:
		p := Processes(v.Int())
		if p == ProcessesAuto {
			return writeString(b, f, "auto")
		}
		b.WriteString(p.String())
	}
	return nil
}

// writeString writes s as a TOML basic string.
func writeString(b *bytes.Buffer, f *field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("config: %s: value is not valid UTF-8", f.key)
	}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return nil
}
