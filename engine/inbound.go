package engine

import (
	"io"

	"wharf/buffer"
)

// The inbound half of Conn on an elastic buffer, shared by the backends:
// Peek, Next and Discard with the Conn semantics for n <= 0 (everything
// buffered) and for more than is buffered (what there is, and
// io.ErrShortBuffer for Peek and Next).

func peekIn(b *buffer.Buffer, n int) ([]byte, error) {
	if n <= 0 {
		n = b.Len()
	}
	return b.Peek(n)
}

func nextIn(b *buffer.Buffer, n int) ([]byte, error) {
	if n <= 0 {
		n = b.Len()
	}
	if n > b.Len() {
		p, _ := b.Next(b.Len())
		return p, io.ErrShortBuffer
	}
	return b.Next(n)
}

func discardIn(b *buffer.Buffer, n int) (int, error) {
	if n <= 0 {
		n = b.Len()
	}
	return b.Discard(n)
}
