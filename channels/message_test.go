package channels

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

var messageSamples = []Message{
	{Kind: KindPublication, Channel: "room:1", From: "42", Offset: 5, Epoch: "k3j9", Time: 1700000000000, Data: []byte(`{"text":"hi"}`)},
	{Kind: KindPublication, Channel: "general", Time: -1, Data: []byte(`[1,2]`)},
	{Kind: KindJoin, Channel: "room:1", User: "42", Time: 1},
	{Kind: KindLeave, Channel: "room:1", User: "a\"b\\c\n\x01é\xff"},
	{Kind: KindDirect, User: "7", From: "42", Time: 3, Data: []byte(`"psst"`)},
}

func TestMessageBinaryRoundTrip(t *testing.T) {
	for _, m := range messageSamples {
		b, err := m.AppendBinary([]byte("prefix"))
		if err != nil || !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatalf("AppendBinary: %v", err)
		}
		var back Message
		if err := back.UnmarshalBinary(b[len("prefix"):]); err != nil {
			t.Fatalf("UnmarshalBinary(%v): %v", m, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip: got %+v, want %+v", back, m)
		}
		// Data is copied: the buffer may be reused.
		if len(back.Data) > 0 {
			for i := range b {
				b[i] = 0
			}
			if !bytes.Equal(back.Data, m.Data) {
				t.Fatal("Data aliases the input")
			}
		}
	}
	for _, bad := range [][]byte{nil, {binaryVersion}, {2, 1}, {binaryVersion, 9}, {binaryVersion, 1, 0, 0, 0, 0, 0, 0}, {binaryVersion, 1, 0, 0, 0, 0, 0, 0, 5, 'x'}} {
		var m Message
		if err := m.UnmarshalBinary(bad); !errors.Is(err, ErrBadMessage) {
			t.Errorf("UnmarshalBinary(%x) = %v", bad, err)
		}
	}
	// Trailing bytes are refused.
	b, _ := messageSamples[0].AppendBinary(nil)
	var m Message
	if err := m.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrBadMessage) {
		t.Errorf("trailing byte: %v", err)
	}
}

func FuzzMessageUnmarshalBinary(f *testing.F) {
	for _, m := range messageSamples {
		b, _ := m.AppendBinary(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if m.UnmarshalBinary(b) != nil {
			return
		}
		// Whatever decodes encodes back to the same bytes.
		out, _ := m.AppendBinary(nil)
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding %x gives %x", b, out)
		}
	})
}

func TestAppendJSON(t *testing.T) {
	want := []string{
		`{"channel":"room:1","offset":5,"epoch":"k3j9","from":"42","ts":1700000000000,"data":{"text":"hi"}}`,
		`{"channel":"general","ts":-1,"data":[1,2]}`,
		`{"channel":"room:1","user":"42"}`,
		`{"channel":"room:1","user":"a\"b\\c\n\u0001é\ufffd"}`,
		`{"from":"42","ts":3,"data":"psst"}`,
	}
	for i, m := range messageSamples {
		got := string(AppendJSON(nil, &m))
		if got != want[i] {
			t.Errorf("AppendJSON(%v):\n got %s\nwant %s", m.Kind, got, want[i])
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("invalid JSON: %s", got)
		}
	}
	m := messageSamples[0]
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { AppendJSON(buf[:0], &m) }); n != 0 {
		t.Fatalf("AppendJSON into a large enough buffer allocates %v times", n)
	}
}

// FuzzAppendJSONString checks the string escaping against encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n\x01é\xff", "\u2028<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s) // encoding/json also maps invalid UTF-8 to U+FFFD
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	})
}
