package buffer_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"wharf/buffer"
)

// A connection keeps one Buffer per direction. Write copies application
// data in; Next hands complete frames out without copying.
func ExampleNew() {
	b := buffer.New(nil) // DefaultPool
	b.WriteString("hello, ")
	b.Write([]byte("world"))
	fmt.Println(b.Len(), b.Chunks())

	p, _ := b.Next(5)
	fmt.Printf("%s|", p)
	rest, err := b.Next(100) // more than Len: everything, and io.ErrShortBuffer
	fmt.Printf("%s| %v\n", rest, err)

	b.Release() // done with p and rest: an idle buffer holds no chunk
	fmt.Println(b.Len(), b.Chunks(), b.Tell())
	// Output:
	// 12 1
	// hello|, world| short buffer
	// 0 0 12
}

// Embedded by value, as the engine does, a Buffer is initialised with Init.
func ExampleBuffer_Init() {
	type conn struct {
		in, out buffer.Buffer
	}
	pool := buffer.NewPool(16 << 10)
	var c conn
	c.in.Init(pool)
	c.out.Init(pool)
	c.out.WriteString("queued")
	fmt.Println(c.out.Len(), c.in.Len())
	// Output: 6 0
}

// The inbound path: Reserve hands out room for a readv, Commit publishes
// what the read returned, and frames come out with Peek and Next.
func ExampleBuffer_Reserve() {
	b := buffer.New(buffer.NewPool(64))
	sock := strings.NewReader("\x00\x05hello\x00\x03bye\x00\x07part") // length-prefixed frames

	var iov [][]byte
	for {
		iov = b.Reserve(64, iov[:0])
		n := readv(sock, iov) // the engine calls readv(2) on the socket here
		b.Commit(n)           // Commit(0) on EAGAIN or EOF returns the fresh chunks
		if n == 0 {
			break
		}
		for {
			hdr, err := b.Peek(2)
			if err != nil {
				break
			}
			size := int(binary.BigEndian.Uint16(hdr))
			if b.Len() < 2+size {
				break // partial frame: wait for more data
			}
			b.Discard(2)
			frame, _ := b.Next(size)
			fmt.Printf("frame %q\n", frame)
		}
	}
	fmt.Println("left over:", b.Len())
	// Output:
	// frame "hello"
	// frame "bye"
	// left over: 6
}

// readv stands in for the system call: it fills the slices in order.
func readv(r io.Reader, iov [][]byte) int {
	n := 0
	for _, p := range iov {
		k, _ := io.ReadFull(r, p)
		n += k
		if k < len(p) {
			break
		}
	}
	return n
}

// The outbound path: Slices exposes the backlog for a writev, Discard drops
// what the socket accepted.
func ExampleBuffer_Slices() {
	b := buffer.New(buffer.NewPool(64))
	b.Write(bytes.Repeat([]byte("x"), 100))
	b.WriteString("!")

	iov := b.Slices(nil, -1)
	fmt.Println("iovecs:", len(iov), len(iov[0]), len(iov[1]))

	written := 70 // what writev(2) returned
	b.Discard(written)
	fmt.Println("backlog:", b.Len(), "chunks:", b.Chunks())

	b.WriteTo(os.Stdout) // or, without writev, any io.Writer
	fmt.Println()
	fmt.Println("backlog:", b.Len(), "chunks:", b.Chunks())
	// Output:
	// iovecs: 2 64 37
	// backlog: 31 chunks: 1
	// xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!
	// backlog: 0 chunks: 0
}

// Peek returns contiguous bytes even when they straddle chunks; the copy is
// made once, so peeking again is free.
func ExampleBuffer_Peek() {
	b := buffer.New(buffer.NewPool(64))
	b.Write(bytes.Repeat([]byte("a"), 60))
	b.WriteString("0123456789") // crosses the first chunk boundary
	b.Discard(60)

	p, _ := b.Peek(10) // copied once into one block
	q, _ := b.Peek(10) // zero-copy now
	fmt.Printf("%s %v\n", p, &p[0] == &q[0])

	_, err := b.Peek(11)
	fmt.Println(err == io.ErrShortBuffer)
	// Output:
	// 0123456789 true
	// true
}

// Index and At inspect unread data in place, e.g. to find a line end.
func ExampleBuffer_Index() {
	b := buffer.New(nil)
	b.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
	if i := b.Index('\n'); i >= 0 {
		line, _ := b.Next(i + 1)
		fmt.Printf("%q %c\n", line, b.At(0))
	}
	// Output: "GET / HTTP/1.1\r\n" H
}

// Tell and Seek count in stream offsets; Seek only moves forward.
func ExampleBuffer_Seek() {
	b := buffer.New(nil)
	b.WriteString("header|body")
	b.Seek(7, io.SeekStart)
	fmt.Println(b.Tell(), b.Len())
	_, err := b.Seek(0, io.SeekStart)
	fmt.Println(err)
	// Output:
	// 7 4
	// buffer: seek before the first unread byte
}

// A Pool is shared by many buffers; its chunk size is fixed.
func ExampleNewPool() {
	p := buffer.NewPool(8 << 10)
	a, b := buffer.New(p), buffer.New(p)
	a.WriteString("one")
	b.ReadFrom(strings.NewReader("two"))
	fmt.Println(p.ChunkSize(), a.Len()+b.Len())
	// Output: 8192 6
}

// Next consumes and returns contiguous bytes; its result stays valid until
// the next modifying call, so it can be handed on without a copy.
func ExampleBuffer_Next() {
	in, out := buffer.New(nil), buffer.New(nil)
	in.WriteString("ping\npong\n")
	for {
		i := in.Index('\n')
		if i < 0 {
			break
		}
		line, _ := in.Next(i + 1)
		out.Write(line) // echo: the one copy into the outbound buffer
	}
	in.Release()
	fmt.Printf("%q %d %d\n", contentsOf(out), in.Len(), in.Chunks())
	// Output: "ping\npong\n" 0 0
}

func contentsOf(b *buffer.Buffer) []byte { return bytes.Join(b.Slices(nil, -1), nil) }

// PeekSlices views bytes across chunks without copying them.
func ExampleBuffer_PeekSlices() {
	b := buffer.New(buffer.NewPool(64))
	b.Write(bytes.Repeat([]byte("-"), 62))
	b.WriteString("abcd")
	b.Discard(62)
	s, _ := b.PeekSlices(4, nil)
	fmt.Printf("%d %q %q\n", len(s), s[0], s[1])
	// Output: 2 "ab" "cd"
}

// Truncate drops the end of the unread data, e.g. a reply that must not be
// sent after all.
func ExampleBuffer_Truncate() {
	b := buffer.New(nil)
	b.WriteString("keep|drop")
	b.Truncate(4)
	b.Truncate(100) // beyond Len: nothing happens
	fmt.Printf("%q\n", contentsOf(b))
	// Output: "keep"
}

// ReadFrom and WriteTo move whole streams through the chunks.
func ExampleBuffer_ReadFrom() {
	b := buffer.New(nil)
	b.ReadFrom(strings.NewReader("streamed "))
	b.WriteString("data\n")
	b.WriteTo(os.Stdout)
	fmt.Println(b.Len(), b.Chunks())
	// Output:
	// streamed data
	// 0 0
}

// Release hands back chunks kept alive for Next's result once the caller is
// done with it.
func ExampleBuffer_Release() {
	b := buffer.New(nil)
	b.WriteString("request")
	req, _ := b.Next(b.Len())
	fmt.Println(string(req), b.Chunks()) // the drained chunk backs req
	b.Release()
	fmt.Println(b.Chunks())
	// Output:
	// request 1
	// 0
}

// Reading a byte at a time, with one byte of push-back.
func ExampleBuffer_UnreadByte() {
	b := buffer.New(nil)
	b.WriteString("42;")
	c, _ := b.ReadByte()
	b.UnreadByte()
	fmt.Println(string(c), b.Len(), b.UnreadByte())
	// Output: 4 3 buffer: UnreadByte: previous operation was not a successful ReadByte
}
