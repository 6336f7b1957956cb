package cluster

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"wharf/channels"
)

var ctlSamples = []ctlMsg{
	{typ: ctlHello, node: "a", inc: 1, seq: 0, deadAfter: 3 * time.Second, started: 1700000000000, conns: -1},
	{typ: ctlAlive, node: "node-2", inc: 1<<63 + 5, seq: 99, deadAfter: 1500 * time.Millisecond, started: 1, conns: 12345},
	{typ: ctlDelta, node: "a", inc: 7, seq: 3, entries: []entry{{"room:lobby", "42", 2}, {"room:a.b", "7", 0}}},
	{typ: ctlDelta, node: "a", inc: 7, seq: 4, entries: []entry{}},
	{typ: ctlBye, node: "a", inc: 7, seq: 4},
	{typ: ctlSync, node: "b", inc: 8, target: 1<<60 + 3},
	{typ: ctlSnapshot, node: "a", inc: 7, seq: 4, part: 2, last: true, entries: []entry{{"room:x", "1", 1}}},
	{typ: ctlSnapshot, node: "a", inc: 7, seq: 4, part: 0, entries: []entry{}},
}

func TestCtlRoundTrip(t *testing.T) {
	for _, c := range ctlSamples {
		t.Run(c.typ.String(), func(t *testing.T) {
			b := c.appendBinary(nil)
			var got ctlMsg
			if err := got.parse(b); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip = %+v, want %+v", got, c)
			}
			for i := range b { // every truncation fails
				if err := new(ctlMsg).parse(b[:i]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("parse of %d of %d bytes: %v", i, len(b), err)
				}
			}
			if err := new(ctlMsg).parse(append(b, 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse with a trailing byte: %v", err)
			}
		})
	}
}

func TestCtlRefuses(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{name: "empty", b: nil},
		{name: "version", b: []byte{2, byte(ctlBye), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0}},
		{name: "type 0", b: []byte{wireVersion, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0}},
		{name: "unknown type", b: []byte{wireVersion, byte(numCtlTypes), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0}},
		{name: "snapshot last flag 2", b: []byte{wireVersion, byte(ctlSnapshot), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0}},
		{name: "entry count beyond the bytes", b: []byte{wireVersion, byte(ctlDelta), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 100}},
		{name: "conns beyond int32", b: append([]byte{wireVersion, byte(ctlDelta), 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 'c', 1, 'u'}, 0x80, 0x80, 0x80, 0x80, 0x10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := new(ctlMsg).parse(tt.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzCtl(f *testing.F) {
	for _, c := range ctlSamples {
		f.Add(c.appendBinary(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c ctlMsg
		if c.parse(b) != nil {
			return
		}
		// What parses re-encodes to the same bytes, and parses the same.
		again := c.appendBinary(nil)
		var d ctlMsg
		if err := d.parse(again); err != nil || !reflect.DeepEqual(c, d) {
			t.Fatalf("re-encoding %+v: %v, %+v", c, err, d)
		}
	})
}

func TestEnvelope(t *testing.T) {
	m := channels.Message{Kind: channels.KindPublication, Channel: "room:a.b", From: "42", Offset: 7, Epoch: "abc", Time: 1700000000000, Data: []byte(`{"t":1}`)}
	b := appendEnvelope(nil, 0xfeedface, 1700000000000123, &m)
	if len(b) > envelopeSize(&m) {
		t.Fatalf("envelope of %d bytes, envelopeSize says %d", len(b), envelopeSize(&m))
	}
	var got channels.Message
	inc, sent, err := parseEnvelope(b, &got)
	if err != nil || inc != 0xfeedface || sent != 1700000000000123 || !reflect.DeepEqual(got, m) {
		t.Fatalf("parseEnvelope = %#x, %d, %+v, %v", inc, sent, got, err)
	}
	for i := range b {
		if _, _, err := parseEnvelope(b[:i], new(channels.Message)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("parse of %d of %d bytes: %v", i, len(b), err)
		}
	}
}

func FuzzEnvelope(f *testing.F) {
	m := channels.Message{Kind: channels.KindDirect, User: "7", Data: []byte(`"x"`)}
	f.Add(appendEnvelope(nil, 1, 2, &m))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m channels.Message
		inc, sent, err := parseEnvelope(b, &m)
		if err != nil {
			return
		}
		var n channels.Message
		if inc2, sent2, err := parseEnvelope(appendEnvelope(nil, inc, sent, &m), &n); err != nil || inc2 != inc || sent2 != sent || !reflect.DeepEqual(m, n) {
			t.Fatalf("re-encoding %+v: %v", m, err)
		}
	})
}
