package packet

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// specExamples are the worked examples of SPEC.md. Each appears there
// after a "<!-- dump: name -->" marker as prose naming the CRC and the body
// and then a hex dump in a fenced block; TestSpecDumps checks all three
// against Encode so the document cannot go stale.
var specExamples = []struct {
	name string
	code uint16
	body string
}{
	{name: "ping", code: CodePing, body: ""},
	{name: "login", code: 6, body: `{"username":"alice","password":"correct horse"}`},
	{name: "login-reply", code: 6, body: `{"ok":true,"user_id":1,"token":"3q2-7w"}`},
	{name: "error", code: CodeError, body: `{"code":42,"error":"unknown code"}`},
}

func TestSpecDumps(t *testing.T) {
	doc, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range specExamples {
		t.Run(ex.name, func(t *testing.T) {
			pkt, err := Encode(ex.code, []byte(ex.body))
			if err != nil {
				t.Fatal(err)
			}
			section, dump, err := findDump(string(doc), ex.name)
			if err != nil {
				t.Fatalf("%v; the dump should read:\n%s", err, hexDump(pkt))
			}
			got, err := parseDump(dump)
			if err != nil {
				t.Fatalf("%v; the dump should read:\n%s", err, hexDump(pkt))
			}
			if !bytes.Equal(got, pkt) {
				t.Fatalf("SPEC.md's dump is stale; it should read:\n%s", hexDump(pkt))
			}
			crc := fmt.Sprintf("0x%08x", Checksum([]byte(ex.body)))
			if !strings.Contains(section, crc) {
				t.Errorf("the text before the dump does not give the CRC %s", crc)
			}
			if ex.body != "" && !strings.Contains(section, ex.body) {
				t.Errorf("the text before the dump does not show the body %s", ex.body)
			}
		})
	}
}

// findDump returns the text from the example's marker to the end of the
// first fenced block after it, and that block's contents.
func findDump(doc, name string) (section, dump string, err error) {
	marker := "<!-- dump: " + name + " -->"
	i := strings.Index(doc, marker)
	if i < 0 {
		return "", "", fmt.Errorf("no %q in SPEC.md", marker)
	}
	rest := doc[i+len(marker):]
	open := strings.Index(rest, "\n```")
	if open < 0 {
		return "", "", fmt.Errorf("no fenced block after %q", marker)
	}
	body := rest[open+4:]
	body = body[strings.IndexByte(body, '\n')+1:] // skip the info string
	end := strings.Index(body, "```")
	if end < 0 {
		return "", "", fmt.Errorf("unterminated block after %q", marker)
	}
	return rest[:open], body[:end], nil
}

// parseDump reads the hexdump -C style format written by hexDump: an
// offset, up to 16 hex bytes, and an ASCII column between bars.
func parseDump(dump string) ([]byte, error) {
	var out []byte
	for _, line := range strings.Split(dump, "\n") {
		if bar := strings.IndexByte(line, '|'); bar >= 0 {
			line = line[:bar]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		off, err := strconv.ParseUint(fields[0], 16, 32)
		if err != nil || int(off) != len(out) {
			return nil, fmt.Errorf("line %q: offset %q, want %04x", line, fields[0], len(out))
		}
		for _, f := range fields[1:] {
			b, err := strconv.ParseUint(f, 16, 8)
			if err != nil || len(f) != 2 {
				return nil, fmt.Errorf("line %q: bad byte %q", line, f)
			}
			out = append(out, byte(b))
		}
	}
	return out, nil
}

// hexDump formats p like hexdump -C with a four-digit offset.
func hexDump(p []byte) string {
	var b strings.Builder
	for off := 0; off < len(p); off += 16 {
		row := p[off:min(off+16, len(p))]
		fmt.Fprintf(&b, "%04x  ", off)
		for i := range 16 {
			switch {
			case i < len(row):
				fmt.Fprintf(&b, "%02x ", row[i])
			default:
				b.WriteString("   ")
			}
			if i == 7 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(" |")
		for _, c := range row {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteString("|\n")
	}
	return b.String()
}

// TestSpecDumpParser makes sure the checker itself rejects a wrong dump.
func TestSpecDumpParser(t *testing.T) {
	pkt, _ := Encode(6, []byte("hello, wire format"))
	tests := []struct {
		name string
		dump string
		ok   bool
	}{
		{name: "round trip", dump: hexDump(pkt), ok: true},
		{name: "bad offset", dump: strings.Replace(hexDump(pkt), "0010", "0011", 1)},
		{name: "bad byte", dump: strings.Replace(hexDump(pkt), "00 1a", "00 zz", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDump(tt.dump)
			if ok := err == nil && bytes.Equal(got, pkt); ok != tt.ok {
				t.Fatalf("parse ok = %v (err %v), want %v\n%s", ok, err, tt.ok, tt.dump)
			}
		})
	}
}
