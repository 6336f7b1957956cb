package packet_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"wharf/buffer"
	"wharf/packet"
)

// TestDecoderOverElasticBuffer decodes from the real elastic buffer with
// 64-byte chunks, so headers and bodies straddle chunk boundaries and the
// buffer has to linearize them.
func TestDecoderOverElasticBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	type pkt struct {
		code uint16
		body []byte
	}
	var want []pkt
	var stream []byte
	for range 500 {
		p := pkt{code: uint16(rng.IntN(10)), body: make([]byte, rng.IntN(300))}
		for i := range p.body {
			p.body[i] = byte(rng.Uint32())
		}
		want = append(want, p)
		var err error
		if stream, err = packet.Append(stream, p.code, p.body); err != nil {
			t.Fatal(err)
		}
	}
	src := bufferSource{buffer.New(buffer.NewPool(buffer.MinChunkSize))}
	var d packet.Decoder
	got := 0
	for len(stream) > 0 {
		n := min(1+rng.IntN(200), len(stream))
		src.Write(stream[:n])
		stream = stream[n:]
		for {
			code, body, err := d.Next(src)
			if err == packet.ErrIncomplete {
				break
			}
			if err != nil {
				t.Fatalf("packet %d: %v", got, err)
			}
			if code != want[got].code || !bytes.Equal(body, want[got].body) {
				t.Fatalf("packet %d: code %d, %d bytes; want code %d, %d bytes", got, code, len(body), want[got].code, len(want[got].body))
			}
			got++
		}
	}
	if got != len(want) || src.Len() != 0 {
		t.Fatalf("decoded %d of %d packets, %d bytes left", got, len(want), src.Len())
	}
}
