package packet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"testing/iotest"
)

// readAll reads packets until an error that is not a checksum mismatch.
func readAll(t testing.TB, r *Reader) ([]result, error) {
	t.Helper()
	var out []result
	for {
		code, body, err := r.ReadPacket()
		if err != nil && !Fatal(err) {
			out = append(out, result{err: classify(t, err)})
			continue
		}
		if err != nil {
			return out, err
		}
		if max := r.dec.maxPacket(); len(body) > max-HeaderSize {
			t.Fatalf("body of %d bytes above MaxPacket %d", len(body), max)
		}
		out = append(out, result{code: code, body: string(body)})
	}
}

func TestReaderReaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := randomPackets(rng, 200, DefaultMaxPacket)
	stream := enc(want...)
	tests := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{name: "bytes.Reader", wrap: func(r io.Reader) io.Reader { return r }},
		{name: "one byte at a time", wrap: iotest.OneByteReader},
		{name: "half reads", wrap: iotest.HalfReader},
		{name: "data with EOF", wrap: iotest.DataErrReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.wrap(bytes.NewReader(stream)))
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Fatalf("final error %v, want io.EOF", err)
			}
			diffResults(t, got, want)
			if _, _, again := r.ReadPacket(); again != io.EOF {
				t.Fatalf("after EOF: %v", again)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	good := enc(result{code: 5, body: "hello"}, result{code: 0})
	tests := []struct {
		name    string
		r       Reader // limits only
		stream  []byte
		want    []result
		wantErr error // final, fatal error (matched with errors.Is)
	}{
		{name: "clean end", stream: good, want: []result{{code: 5, body: "hello"}, {code: 0}}, wantErr: io.EOF},
		{name: "truncated header", stream: append(bytes.Clone(good), 0, 9, 0), want: []result{{code: 5, body: "hello"}, {code: 0}}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", stream: good[:10], wantErr: io.ErrUnexpectedEOF},
		{name: "bad length", stream: append(bytes.Clone(good), 0, 7, 0, 0, 0, 0, 0, 0), want: []result{{code: 5, body: "hello"}, {code: 0}}, wantErr: ErrLength},
		{name: "above MaxPacket", r: Reader{MaxPacket: 12}, stream: good, wantErr: ErrLength},
		{
			name:   "bad crc dropped",
			stream: bytes.Join([][]byte{rawPacket(9, 5, 0, "x"), good}, nil),
			want:   []result{{err: ErrChecksum}, {code: 5, body: "hello"}, {code: 0}}, wantErr: io.EOF,
		},
		{
			name:   "too many bad packets",
			r:      Reader{MaxBadPackets: 2},
			stream: bytes.Join([][]byte{rawPacket(9, 5, 0, "x"), rawPacket(9, 5, 0, "y"), good}, nil),
			want:   []result{{err: ErrChecksum}}, wantErr: ErrTooManyBadPackets,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader} {
				r := NewReader(wrap(bytes.NewReader(tt.stream)))
				r.MaxPacket, r.MaxBadPackets = tt.r.MaxPacket, tt.r.MaxBadPackets
				got, err := readAll(t, r)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("final error %v, want %v", err, tt.wantErr)
				}
				diffResults(t, got, tt.want)
				if _, _, again := r.ReadPacket(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
			}
		})
	}
}

// TestReaderReadError checks that the Reader hands over an error from the
// underlying reader only after the packets that arrived before it.
func TestReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	stream := enc(result{code: 5, body: "before"})
	r := NewReader(io.MultiReader(bytes.NewReader(stream), iotest.ErrReader(boom)))
	code, body, err := r.ReadPacket()
	if err != nil || code != 5 || string(body) != "before" {
		t.Fatalf("got %d %q %v", code, body, err)
	}
	if _, _, err := r.ReadPacket(); err != boom {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

type countReader struct{ n int }

func (r countReader) Read(p []byte) (int, error) { return r.n, nil }

func TestReaderBadUnderlyingReader(t *testing.T) {
	tests := []struct {
		name string
		rd   io.Reader
		want error
	}{
		{name: "negative count", rd: countReader{n: -1}, want: ErrInvalidRead},
		{name: "count above len", rd: countReader{n: 1 << 20}, want: ErrInvalidRead},
		{name: "no progress", rd: countReader{n: 0}, want: io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewReader(tt.rd).ReadPacket()
			if !errors.Is(err, tt.want) || !Fatal(err) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReaderGrows reads packets up to MaxPacketLimit, larger than the
// Reader's first buffer, interleaved with small ones.
func TestReaderGrows(t *testing.T) {
	want := []result{
		{code: 1, body: "a"},
		{code: 2, body: string(bytes.Repeat([]byte{'b'}, 5000))},
		{code: 3, body: string(bytes.Repeat([]byte{'c'}, MaxPacketLimit-HeaderSize))},
		{code: 4},
		{code: 5, body: string(bytes.Repeat([]byte{'d'}, 9000))},
	}
	r := NewReader(iotest.HalfReader(bytes.NewReader(enc(want...))))
	r.MaxPacket = MaxPacketLimit
	got, err := readAll(t, r)
	if err != io.EOF {
		t.Fatal(err)
	}
	diffResults(t, got, want)
	if n := len(r.src.buf); n != 65536 {
		t.Errorf("buffer grew to %d bytes, want 65536", n)
	}
}

// TestReaderTransports runs a writer and a reader over real connections:
// net.Pipe (synchronous, unbuffered) and TCP loopback.
func TestReaderTransports(t *testing.T) {
	tests := []struct {
		name string
		pair func(t *testing.T) (net.Conn, net.Conn)
	}{
		{name: "pipe", pair: func(t *testing.T) (net.Conn, net.Conn) { return net.Pipe() }},
		{name: "tcp", pair: tcpPair},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := tt.pair(t)
			defer r.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			n := 300
			if testing.Short() {
				n = 50
			}
			want := randomPackets(rng, n, DefaultMaxPacket)
			// Several goroutines write at once: each packet goes out in one
			// Write, so packets may reorder between writers but never mix.
			const writers = 3
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					for j := i; j < len(want); j += writers {
						if err := WritePacket(w, want[j].code, []byte(want[j].body)); err != nil {
							t.Errorf("WritePacket: %v", err)
							return
						}
					}
				})
			}
			go func() {
				wg.Wait()
				w.Close()
			}()
			got, err := readAll(t, NewReader(r))
			if err != io.EOF {
				t.Fatalf("final error %v", err)
			}
			wg.Wait()
			seen := make(map[string]int)
			for _, p := range want {
				seen[fmt.Sprint(p.code, p.body)]++
			}
			for _, p := range got {
				seen[fmt.Sprint(p.code, p.body)]--
			}
			for k, v := range seen {
				if v != 0 {
					t.Fatalf("packet %.40q seen %d times too few", k, v)
				}
			}
		})
	}
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		w.Close()
		t.Fatal(a.err)
	}
	return w, a.c
}

func TestWritePacketTooLarge(t *testing.T) {
	var buf bytes.Buffer
	err := WritePacket(&buf, 1, make([]byte, MaxPacketLimit))
	if !errors.Is(err, ErrTooLarge) || buf.Len() != 0 {
		t.Fatalf("got %v, %d bytes written", err, buf.Len())
	}
	if err := WritePacket(&buf, 1, nil); err != nil || buf.Len() != HeaderSize {
		t.Fatalf("ping: %v, %d bytes", err, buf.Len())
	}
}

// TestWritePacketWriterError checks w's error comes back.
func TestWritePacketWriterError(t *testing.T) {
	boom := errors.New("broken pipe")
	if err := WritePacket(errWriter{boom}, 5, []byte("x")); err != boom {
		t.Fatalf("got %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write(p []byte) (int, error) { return 0, w.err }
