package buffer

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// Benchmarks compare Buffer with bytes.Buffer and bufio on the same work.
// Run: go test -run='^$' -bench=. -benchmem -count=5 ./buffer/
// Results and the exact command live in bench/RESULTS.md.

var benchSizes = []int{64, 512, 4 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// plainReader hides bytes.Reader's WriterTo and plainWriter hides
// io.Discard's ReaderFrom, so every contestant really buffers.
type plainReader struct{ r *bytes.Reader }

func (r plainReader) Read(p []byte) (int, error) { return r.r.Read(p) }

type plainWriter struct{ n int }

func (w *plainWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// BenchmarkWriteRead: a FIFO cycle, Write one message then Read it back.
func BenchmarkWriteRead(b *testing.B) {
	for _, size := range benchSizes {
		msg, p := pat(size), make([]byte, size)
		b.Run(sizeName(size)+"/buffer", func(b *testing.B) {
			buf := New(nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Write(msg)
				buf.Read(p)
			}
		})
		b.Run(sizeName(size)+"/bytes.Buffer", func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Write(msg)
				buf.Read(p)
			}
		})
	}
}

// BenchmarkReadFrom: ingest a stream from an io.Reader and pass it on to an
// io.Writer (ReadFrom then WriteTo; bufio.Reader's WriteTo does both).
func BenchmarkReadFrom(b *testing.B) {
	for _, size := range benchSizes {
		msg := pat(size)
		b.Run(sizeName(size)+"/buffer", func(b *testing.B) {
			buf, src, dst := New(nil), bytes.NewReader(msg), &plainWriter{}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(msg)
				buf.ReadFrom(plainReader{src})
				buf.WriteTo(dst)
			}
		})
		b.Run(sizeName(size)+"/bytes.Buffer", func(b *testing.B) {
			var buf bytes.Buffer
			src, dst := bytes.NewReader(msg), &plainWriter{}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(msg)
				buf.ReadFrom(plainReader{src})
				buf.WriteTo(dst)
			}
		})
		b.Run(sizeName(size)+"/bufio.Reader", func(b *testing.B) {
			src, dst := bytes.NewReader(msg), &plainWriter{}
			br := bufio.NewReader(nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(msg)
				br.Reset(plainReader{src})
				br.WriteTo(dst)
			}
		})
	}
}

// BenchmarkWriteTo: queue an outbound message and flush it to an io.Writer.
func BenchmarkWriteTo(b *testing.B) {
	for _, size := range benchSizes {
		msg := pat(size)
		b.Run(sizeName(size)+"/buffer", func(b *testing.B) {
			buf, dst := New(nil), &plainWriter{}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Write(msg)
				buf.WriteTo(dst)
			}
		})
		b.Run(sizeName(size)+"/bytes.Buffer", func(b *testing.B) {
			var buf bytes.Buffer
			dst := &plainWriter{}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Write(msg)
				buf.WriteTo(dst)
			}
		})
		b.Run(sizeName(size)+"/bufio.Writer", func(b *testing.B) {
			dst := &plainWriter{}
			bw := bufio.NewWriter(dst)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				bw.Write(msg)
				bw.Flush()
			}
		})
	}
}

// BenchmarkReserveCommitSlices: the engine's zero-copy cycle. Reserve room,
// let "readv" fill it (a copy standing in for the kernel's), Commit, then
// hand the data to "writev" with Slices and Discard it.
func BenchmarkReserveCommitSlices(b *testing.B) {
	for _, size := range benchSizes {
		msg := pat(size)
		b.Run(sizeName(size)+"/buffer", func(b *testing.B) {
			buf := New(nil)
			iov := make([][]byte, 0, size/DefaultPool.ChunkSize()+2)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				iov = buf.Reserve(size, iov[:0])
				rest := msg
				for _, s := range iov {
					rest = rest[copy(s, rest):]
				}
				buf.Commit(size)
				iov = buf.Slices(iov[:0], -1)
				n := 0
				for _, s := range iov {
					n += len(s)
				}
				buf.Discard(n)
			}
		})
	}
}

// BenchmarkPeek: peek at a message that straddles a chunk boundary (it
// starts half its size, at most half a chunk, before the boundary), then
// consume it. Each iteration writes the data anew, so the numbers include
// one Write; "buffer-within" is the same with a message that fits in one
// chunk, the zero-copy case.
func BenchmarkPeek(b *testing.B) {
	cs := DefaultPool.ChunkSize()
	for _, size := range benchSizes {
		msg := pat(size)
		pad := make([]byte, cs-min(size, cs)/2)
		b.Run(sizeName(size)+"/buffer", func(b *testing.B) {
			buf := New(nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Write(pad)
				buf.Write(msg)
				buf.Discard(len(pad))
				buf.Peek(size)
				buf.Discard(size)
			}
		})
		if size < cs {
			b.Run(sizeName(size)+"/buffer-within", func(b *testing.B) {
				buf := New(nil)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					buf.Write(msg)
					buf.Peek(size)
					buf.Discard(size)
				}
			})
		}
		b.Run(sizeName(size)+"/bytes.Buffer", func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Write(pad)
				buf.Write(msg)
				buf.Next(len(pad))
				_ = buf.Bytes()[:size]
				buf.Next(size)
			}
		})
		b.Run(sizeName(size)+"/bufio.Reader", func(b *testing.B) {
			data := append(bytes.Clone(pad), msg...)
			src := bytes.NewReader(data)
			br := bufio.NewReaderSize(nil, max(2*size, 4096))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(data)
				br.Reset(plainReader{src})
				br.Discard(len(pad))
				br.Peek(size)
				br.Discard(size)
			}
		})
	}
}

// BenchmarkChunkSize measures the cost of the chunk size, to choose
// DefaultPool's. It models a connection's stream: records of an 8-byte
// header plus a body of msg bytes arrive through reads of one chunk each
// (Reserve(chunk), Commit), so records fall across chunk boundaries as they
// do on a socket; each record is taken out with Discard(8) and Next(body)
// (which copies when the body spans chunks) and echoed through Write,
// Slices and Discard. One op is one record.
func BenchmarkChunkSize(b *testing.B) {
	const header = 8
	for _, size := range []int{64, 512, 4 << 10, 16 << 10, 64 << 10} {
		for _, cs := range []int{1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("msg=%s/chunk=%s", sizeName(size), sizeName(cs)), func(b *testing.B) {
				pool := NewPool(cs)
				in, out := New(pool), New(pool)
				iov := make([][]byte, 0, 8)
				wire := pat(cs) // what each read returns
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					for in.Len() < header+size {
						iov = in.Reserve(cs, iov[:0])
						rest := wire
						for _, s := range iov {
							rest = rest[copy(s, rest):]
						}
						in.Commit(cs)
					}
					in.Discard(header)
					p, _ := in.Next(size)
					out.Write(p)
					iov = out.Slices(iov[:0], -1)
					n := 0
					for _, s := range iov {
						n += len(s)
					}
					out.Discard(n)
				}
			})
		}
	}
}
