package logging

import (
	"bytes"
	"errors"
	"testing"
)

// The spool format is parsed on every platform (a spool is only written on
// Linux, but the parser needs no system support).
func FuzzRecoverSpool(f *testing.F) {
	good := make([]byte, spoolSize(2, 4096))
	initSpool(good, 2, 4096)
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte(spoolMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := &output{w: new(bytes.Buffer)}
		rec, err := recoverSpool(bytes.NewReader(b), out)
		if err != nil && !errors.Is(err, errSpoolCorrupt) {
			t.Fatalf("unexpected error %v", err)
		}
		if got := int64(out.w.(*bytes.Buffer).Len()); got != rec.bytes {
			t.Fatalf("wrote %d bytes, reported %d", got, rec.bytes)
		}
	})
}
