package buffer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// The model test and FuzzBuffer run the same programs: a byte string decoded
// into a chunk size and a sequence of operations, applied to a Buffer and to
// a bytes.Buffer (the oracle), comparing every observable result after every
// step. Small chunk sizes make nearly every operation cross chunk
// boundaries.

// opKind names one operation of a program.
type opKind byte

const (
	opWrite opKind = iota
	opWriteString
	opWriteByte
	opRead
	opReadByte
	opUnreadByte
	opNext
	opDiscard
	opPeek
	opPeekSlices
	opTruncate
	opReserveCommit
	opSlices
	opReadFrom
	opWriteTo
	opIndex
	opIndexFunc
	opAt
	opReset
	opSeek
	opTell
	opRelease
	opReserveEAGAIN
	opWriteBack // Write of a slice the buffer handed out (Next, Peek, Slices)
	numOps
)

var opNames = [...]string{
	"Write", "WriteString", "WriteByte", "Read", "ReadByte", "UnreadByte", "Next",
	"Discard", "Peek", "PeekSlices", "Truncate", "Reserve+Commit", "Slices",
	"ReadFrom", "WriteTo", "Index", "IndexFunc", "At", "Reset", "Seek", "Tell",
	"Release", "Reserve+Commit(0)", "WriteBack",
}

func (k opKind) String() string { return opNames[k%numOps] }

// op is one decoded operation. n is a count (negative for some ops, to test
// ErrNegativeCount); c selects a byte, a variant or a fraction.
type op struct {
	kind opKind
	n    int
	c    byte
}

func (o op) String() string { return fmt.Sprintf("%v(n=%d,c=%d)", o.kind, o.n, o.c) }

// programChunkSizes are the chunk sizes a program's first byte selects.
var programChunkSizes = [...]int{64, 64, 100, 128, 256, 4096}

const opBytes = 4 // kind, n low, n high/flags, c

// decodeProgram turns fuzz bytes into a chunk size and operations. Every
// input decodes to something; trailing bytes that do not fill an op are
// ignored.
func decodeProgram(data []byte) (int, []op) {
	if len(data) == 0 {
		return programChunkSizes[0], nil
	}
	cs := programChunkSizes[int(data[0])%len(programChunkSizes)]
	data = data[1:]
	ops := make([]op, 0, len(data)/opBytes)
	for ; len(data) >= opBytes; data = data[opBytes:] {
		n := int(data[1]) | int(data[2]&0x03)<<8
		if data[2]&0x80 != 0 {
			n = -1 - n%8
		}
		ops = append(ops, op{kind: opKind(data[0] % byte(numOps)), n: n, c: data[3]})
	}
	return cs, ops
}

// encodeProgram is the inverse of decodeProgram for ops with n in [-8, 1023].
func encodeProgram(chunkSize int, ops []op) []byte {
	sel := 0
	for i, cs := range programChunkSizes {
		if cs == chunkSize {
			sel = i
			break
		}
	}
	out := []byte{byte(sel)}
	for _, o := range ops {
		lo, hi := byte(o.n), byte(o.n>>8)&0x03
		if o.n < 0 {
			lo, hi = byte(-1-o.n), 0x80
		}
		out = append(out, byte(o.kind), lo, hi, o.c)
	}
	return out
}

// pools shared by all programs of one chunk size, as buffers of an engine
// share theirs: a chunk released too early shows up as corruption.
var programPools = func() map[int]*Pool {
	m := make(map[int]*Pool)
	for _, cs := range programChunkSizes {
		m[cs] = NewPool(cs)
	}
	return m
}()

// view is a slice handed out by the Buffer with a copy of what it held.
type view struct {
	what string
	got  []byte
	want []byte
}

// model runs one program.
type model struct {
	t        testing.TB
	b        *Buffer
	noise    *Buffer // shares b's pool; scribbles over any chunk b released
	o        bytes.Buffer
	off      int64 // oracle's Tell: bytes consumed since creation or Reset
	unread   bool  // UnreadByte must succeed (the last modifying op was ReadByte, no Peek since)
	mayHold  bool  // b may keep chunks for returned slices (after Next, ReadByte, Peek)
	seq      int   // generator position, so every written byte is predictable
	views    []view
	nextView []byte // result of the Next just applied
	step     int
	lastOps  []op
}

// gen returns n pattern bytes. The alphabet is small so Index finds bytes.
func (m *model) gen(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(m.seq % 97)
		m.seq++
	}
	return p
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	start := max(0, len(m.lastOps)-12)
	m.t.Fatalf("step %d, last ops %v: %s", m.step, m.lastOps[start:], fmt.Sprintf(format, args...))
}

func runProgram(t testing.TB, data []byte) {
	cs, ops := decodeProgram(data)
	m := &model{t: t, b: New(programPools[cs]), noise: New(programPools[cs])}
	defer m.b.Reset()
	for i, o := range ops {
		m.step = i
		m.lastOps = append(m.lastOps, o)
		m.nextView = nil
		modifying := m.apply(o)
		if modifying {
			m.views = m.views[:0]
			if m.nextView != nil {
				// Next is modifying, but its own result must survive
				// until the next modifying call.
				m.keep("Next", m.nextView)
			}
			m.mayHold = false
			if o.kind == opNext || o.kind == opReadByte {
				m.mayHold = true
			}
		} else {
			if o.kind == opPeek {
				m.mayHold = true
			}
			// A read-only op must leave every earlier view intact, even
			// when another buffer on the same pool grabs free chunks.
			m.noise.Write(bytes.Repeat([]byte{0xEE}, 3*cs))
			m.noise.Reset()
			m.checkViews()
		}
		m.compare(o)
	}
	m.b.Reset()
	if k := m.b.Chunks(); k != 0 {
		t.Fatalf("after Reset: Chunks() = %d, want 0", k)
	}
}

func (m *model) checkViews() {
	m.t.Helper()
	for _, v := range m.views {
		if !bytes.Equal(v.got, v.want) {
			m.fatalf("slice from %s changed before a modifying call:\n got  %v\n want %v", v.what, v.got, v.want)
		}
	}
}

func (m *model) keep(what string, p []byte) {
	m.t.Helper()
	if cap(p) != len(p) {
		m.fatalf("slice from %s has cap %d > len %d: append would write into the buffer", what, cap(p), len(p))
	}
	m.views = append(m.views, view{what: what, got: p, want: bytes.Clone(p)})
}

// compare checks the whole observable state after a step.
func (m *model) compare(o op) {
	m.t.Helper()
	b := m.b
	if b.Len() != m.o.Len() {
		m.fatalf("Len() = %d, want %d", b.Len(), m.o.Len())
	}
	if b.Tell() != m.off {
		m.fatalf("Tell() = %d, want %d", b.Tell(), m.off)
	}
	var got []byte
	for _, s := range b.Slices(nil, -1) {
		if len(s) == 0 {
			m.fatalf("Slices returned an empty slice")
		}
		got = append(got, s...)
	}
	if !bytes.Equal(got, m.o.Bytes()) {
		m.fatalf("contents differ:\n got  %v\n want %v", got, m.o.Bytes())
	}
	if err := b.check(); err != nil {
		m.fatalf("invariant: %v", err)
	}
	if b.Len() == 0 && !m.mayHold && b.Chunks() != 0 {
		m.fatalf("empty buffer holds %d chunks after %v", b.Chunks(), o)
	}
}

// apply runs o on both sides, compares the results and reports whether o
// modifies the buffer (which ends the validity of earlier views).
func (m *model) apply(o op) bool {
	m.t.Helper()
	b, or := m.b, &m.o
	n := o.n
	switch o.kind {
	case opWrite:
		p := m.gen(max(n, 0))
		if k, err := b.Write(p); k != len(p) || err != nil {
			m.fatalf("Write = %d, %v", k, err)
		}
		or.Write(p)
	case opWriteString:
		p := m.gen(max(n, 0))
		if k, err := b.WriteString(string(p)); k != len(p) || err != nil {
			m.fatalf("WriteString = %d, %v", k, err)
		}
		or.Write(p)
	case opWriteByte:
		p := m.gen(1)
		if err := b.WriteByte(p[0]); err != nil {
			m.fatalf("WriteByte: %v", err)
		}
		or.WriteByte(p[0])
	case opRead:
		p1, p2 := make([]byte, max(n, 0)), make([]byte, max(n, 0))
		k1, err1 := b.Read(p1)
		k2, err2 := or.Read(p2)
		if k1 != k2 || err1 != err2 || !bytes.Equal(p1[:k1], p2[:k2]) {
			m.fatalf("Read = %d, %v, %v; want %d, %v, %v", k1, err1, p1[:k1], k2, err2, p2[:k2])
		}
		m.off += int64(k1)
	case opReadByte:
		c1, err1 := b.ReadByte()
		c2, err2 := or.ReadByte()
		if c1 != c2 || err1 != err2 {
			m.fatalf("ReadByte = %d, %v; want %d, %v", c1, err1, c2, err2)
		}
		m.unread = err1 == nil
		if err1 == nil {
			m.off++
		}
		return true
	case opUnreadByte:
		err := b.UnreadByte()
		if m.unread {
			if err != nil {
				m.fatalf("UnreadByte after ReadByte: %v", err)
			}
			if err := or.UnreadByte(); err != nil {
				m.fatalf("oracle UnreadByte: %v", err)
			}
			m.off--
		} else if !errors.Is(err, ErrUnreadByte) {
			m.fatalf("UnreadByte without ReadByte = %v, want ErrUnreadByte", err)
		}
	case opNext:
		p, err := b.Next(n)
		if n < 0 {
			if p != nil || !errors.Is(err, ErrNegativeCount) {
				m.fatalf("Next(%d) = %v, %v", n, p, err)
			}
			break
		}
		wantErr := shortErr(n, or.Len())
		want := or.Next(n)
		if !bytes.Equal(p, want) || err != wantErr || cap(p) != len(p) {
			m.fatalf("Next(%d) = %v, %v (cap %d); want %v, %v", n, p, err, cap(p), want, wantErr)
		}
		m.off += int64(len(want))
		m.unread = false
		m.nextView = p
		return true
	case opDiscard:
		k, err := b.Discard(n)
		if n < 0 {
			if k != 0 || !errors.Is(err, ErrNegativeCount) {
				m.fatalf("Discard(%d) = %d, %v", n, k, err)
			}
			break
		}
		want := min(n, or.Len())
		if k != want || err != shortErr(n, or.Len()) {
			m.fatalf("Discard(%d) = %d, %v; want %d", n, k, err, want)
		}
		or.Next(want)
		m.off += int64(want)
	case opPeek:
		p, err := b.Peek(n)
		m.unread = false // a Peek ends the UnreadByte window, like bufio
		if n < 0 {
			if p != nil || !errors.Is(err, ErrNegativeCount) {
				m.fatalf("Peek(%d) = %v, %v", n, p, err)
			}
			return false
		}
		want := or.Bytes()[:min(n, or.Len())]
		if !bytes.Equal(p, want) || err != shortErr(n, or.Len()) || cap(p) != len(p) {
			m.fatalf("Peek(%d) = %v, %v (cap %d); want %v", n, p, err, cap(p), want)
		}
		if len(p) > 0 {
			// A second Peek of the same bytes must be zero-copy.
			q, _ := b.Peek(len(p))
			if &q[0] != &p[0] {
				m.fatalf("second Peek(%d) copied again", len(p))
			}
		}
		m.keep("Peek", p)
		return false
	case opPeekSlices:
		s, err := b.PeekSlices(n, nil)
		if n < 0 {
			if len(s) != 0 || !errors.Is(err, ErrNegativeCount) {
				m.fatalf("PeekSlices(%d) = %v, %v", n, s, err)
			}
			return false
		}
		want := or.Bytes()[:min(n, or.Len())]
		if got := bytes.Join(s, nil); !bytes.Equal(got, want) || err != shortErr(n, or.Len()) {
			m.fatalf("PeekSlices(%d) = %v, %v; want %v", n, got, err, want)
		}
		for _, p := range s {
			m.keep("PeekSlices", p)
		}
		return false
	case opTruncate:
		n = max(n, 0) % (or.Len() + 3) // beyond Len now and then
		b.Truncate(n)
		if n <= or.Len() {
			or.Truncate(n)
		}
	case opReserveCommit, opReserveEAGAIN:
		var s [][]byte
		s = b.Reserve(n, s)
		total := 0
		for _, p := range s {
			if len(p) == 0 {
				m.fatalf("Reserve(%d) returned an empty slice", n)
			}
			total += len(p)
		}
		if total < max(n, 1) {
			m.fatalf("Reserve(%d) reserved only %d bytes", n, total)
		}
		if last := len(s[len(s)-1]); total-last >= max(n, 1) {
			m.fatalf("Reserve(%d) = %d bytes: the last slice was not needed", n, total)
		}
		k := total * int(o.c) / 255
		if o.kind == opReserveEAGAIN {
			k = 0
		}
		data := m.gen(k)
		rest := data
		for _, p := range s {
			rest = rest[copy(p, rest):]
		}
		before := b.Chunks()
		b.Commit(k)
		or.Write(data)
		if k == 0 && o.kind == opReserveEAGAIN && b.Chunks() > before {
			m.fatalf("Commit(0) kept reserved chunks: %d > %d", b.Chunks(), before)
		}
	case opSlices:
		maxN := n
		if o.c%4 == 0 {
			maxN = -1
		}
		s := b.Slices(nil, maxN)
		want := or.Bytes()
		if maxN >= 0 {
			want = want[:min(maxN, len(want))]
		}
		if got := bytes.Join(s, nil); !bytes.Equal(got, want) {
			m.fatalf("Slices(%d) = %v; want %v", maxN, got, want)
		}
		for _, p := range s {
			m.keep("Slices", p)
		}
		return false
	case opReadFrom:
		data := m.gen(max(n, 0))
		errBoom := errors.New("boom")
		var r io.Reader = bytes.NewReader(data)
		wantN, wantErr := len(data), error(nil)
		switch o.c % 5 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		case 3:
			r = iotest.DataErrReader(r)
		case 4:
			cut := len(data) / 2
			r = io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(errBoom))
			wantN, wantErr = cut, errBoom
		}
		k, err := b.ReadFrom(r)
		if k != int64(wantN) || err != wantErr {
			m.fatalf("ReadFrom = %d, %v; want %d, %v", k, err, wantN, wantErr)
		}
		or.Write(data[:wantN])
	case opWriteTo:
		limit := -1
		if o.c%2 == 1 {
			limit = max(n, 0)
		}
		var w1, w2 limitWriter
		w1.limit, w2.limit = limit, limit
		k1, err1 := b.WriteTo(&w1)
		k2, err2 := or.WriteTo(&w2)
		if k1 != k2 || err1 != err2 || !bytes.Equal(w1.buf, w2.buf) {
			m.fatalf("WriteTo = %d, %v; want %d, %v", k1, err1, k2, err2)
		}
		m.off += k1
	case opIndex:
		c := o.c % 100
		if got, want := b.Index(c), bytes.IndexByte(or.Bytes(), c); got != want {
			m.fatalf("Index(%d) = %d, want %d", c, got, want)
		}
		return false
	case opIndexFunc:
		f := func(x byte) bool { return x >= o.c%100 && x < o.c%100+3 }
		if got, want := b.IndexFunc(f), bytes.IndexFunc(or.Bytes(), func(r rune) bool { return f(byte(r)) }); got != want {
			m.fatalf("IndexFunc = %d, want %d", got, want)
		}
		return false
	case opAt:
		i := n
		if o.c%8 == 0 {
			i = or.Len() + n%3 // out of range
		}
		if i < 0 || i >= or.Len() {
			if !panics(func() { b.At(i) }) {
				m.fatalf("At(%d) with Len %d did not panic", i, or.Len())
			}
			return false
		}
		i %= or.Len()
		if got, want := b.At(i), or.Bytes()[i]; got != want {
			m.fatalf("At(%d) = %d, want %d", i, got, want)
		}
		return false
	case opReset:
		b.Reset()
		or.Reset()
		m.off = 0
	case opSeek:
		m.seek(o)
	case opTell:
		return false // compare checks Tell after every step
	case opRelease:
		b.Release()
	case opWriteBack:
		if len(m.views) == 0 {
			return false
		}
		v := m.views[int(o.c)%len(m.views)]
		if k, err := b.Write(v.got); k != len(v.want) || err != nil {
			m.fatalf("Write of a %s slice = %d, %v", v.what, k, err)
		}
		or.Write(v.want)
	}
	m.unread = false
	return true
}

func (m *model) seek(o op) {
	b, or := m.b, &m.o
	whence := int(o.c % 4) // 3 is invalid
	delta := int64(max(o.n, 0)%(or.Len()+3) - 1)
	var offset, target int64
	switch whence {
	case io.SeekStart:
		offset = m.off + delta
		target = offset
	case io.SeekCurrent:
		offset = delta
		target = m.off + delta
	case io.SeekEnd:
		offset = -delta
		target = m.off + int64(or.Len()) - delta
	default:
		offset = delta
	}
	pos, err := b.Seek(offset, whence)
	var wantErr error
	switch {
	case whence == 3:
		wantErr = ErrWhence
	case target < m.off:
		wantErr = ErrSeekBackward
	case target > m.off+int64(or.Len()):
		wantErr = ErrSeekPastEnd
	}
	if err != wantErr {
		m.fatalf("Seek(%d, %d) error = %v, want %v", offset, whence, err, wantErr)
	}
	if wantErr != nil {
		if pos != m.off {
			m.fatalf("failed Seek returned %d, want Tell %d", pos, m.off)
		}
		return
	}
	if pos != target {
		m.fatalf("Seek(%d, %d) = %d, want %d", offset, whence, pos, target)
	}
	or.Next(int(target - m.off))
	m.off = target
}

func shortErr(n, length int) error {
	if n > length {
		return io.ErrShortBuffer
	}
	return nil
}

func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}

// limitWriter accepts limit bytes in total (limit < 0: everything), then
// fails; it copies what it accepts, as a socket would.
type limitWriter struct {
	buf   []byte
	limit int
}

var errWriterFull = errors.New("writer full")

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.limit < 0 {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	k := min(len(p), w.limit)
	w.buf = append(w.buf, p[:k]...)
	w.limit -= k
	if k < len(p) {
		return k, errWriterFull
	}
	return k, nil
}

// check verifies the Buffer's internal invariants.
func (b *Buffer) check() error {
	if (b.head == nil) != (b.n == 0) {
		return fmt.Errorf("head %p with n %d", b.head, b.n)
	}
	if (b.head == nil) != (b.tail == nil) {
		return fmt.Errorf("head %p, tail %p", b.head, b.tail)
	}
	if b.resv > 0 {
		return fmt.Errorf("reservation of %d outstanding between calls", b.resv)
	}
	sum := 0
	var last *chunk
	for c := b.head; c != nil; c = c.next {
		if c.r >= c.w || c.w > len(c.buf) || c.r < 0 {
			return fmt.Errorf("chunk marks r=%d w=%d len=%d", c.r, c.w, len(c.buf))
		}
		sum += c.w - c.r
		last = c
	}
	if last != b.tail {
		return fmt.Errorf("tail is not the last chunk")
	}
	if sum != b.n {
		return fmt.Errorf("chunks hold %d bytes, n = %d", sum, b.n)
	}
	return nil
}

// TestModel runs random programs against bytes.Buffer.
func TestModel(t *testing.T) {
	programs, length := 400, 400
	if testing.Short() {
		programs, length = 60, 300
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range programs {
		data := make([]byte, 1+length*opBytes)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		// Keep most counts near the chunk size so reads and writes balance
		// and buffers stay small enough to cross boundaries often.
		for j := 1; j+opBytes <= len(data); j += opBytes {
			if rng.IntN(4) != 0 {
				data[j+2] = 0
				if rng.IntN(2) == 0 {
					data[j+1] %= 130
				}
			}
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { runProgram(t, data) })
	}
}

// FuzzBuffer decodes the input into a program (see decodeProgram) and runs
// it against bytes.Buffer. Seeds are the table-test programs.
func FuzzBuffer(f *testing.F) {
	for _, p := range seedPrograms {
		f.Add(encodeProgram(p.chunkSize, p.ops))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runProgram(t, data)
	})
}

// seedPrograms are table cases written as programs: the fuzz corpus seeds,
// and also run by TestSeedPrograms.
var seedPrograms = []struct {
	name      string
	chunkSize int
	ops       []op
}{
	{"empty buffer ops", 64, []op{
		{opRead, 10, 0}, {opReadByte, 0, 0}, {opUnreadByte, 0, 0}, {opNext, 5, 0}, {opDiscard, 3, 0},
		{opPeek, 1, 0}, {opPeekSlices, 4, 0}, {opTruncate, 2, 0}, {opSlices, 3, 0}, {opWriteTo, 0, 0},
		{opIndex, 0, 0}, {opAt, 0, 8}, {opSeek, 0, 0}, {opSeek, 0, 2}, {opReset, 0, 0},
	}},
	{"exact chunk boundaries", 64, []op{
		{opWrite, 64, 0}, {opPeek, 64, 0}, {opWrite, 64, 0}, {opNext, 64, 0}, {opPeek, 64, 0},
		{opReserveCommit, 64, 255}, {opDiscard, 128, 0}, {opRelease, 0, 0},
	}},
	{"span three chunks", 64, []op{
		{opWrite, 200, 0}, {opPeek, 190, 0}, {opPeek, 190, 0}, {opAt, 150, 1}, {opIndex, 70, 0},
		{opNext, 195, 0}, {opSlices, 0, 0}, {opRead, 10, 0},
	}},
	{"n zero everywhere", 64, []op{
		{opWrite, 0, 0}, {opWrite, 10, 0}, {opRead, 0, 0}, {opNext, 0, 0}, {opDiscard, 0, 0},
		{opPeek, 0, 0}, {opPeekSlices, 0, 0}, {opTruncate, 10, 0}, {opReserveCommit, 0, 0},
		{opSlices, 0, 1},
	}},
	{"negative counts", 64, []op{
		{opWrite, 20, 0}, {opNext, -1, 0}, {opPeek, -3, 0}, {opDiscard, -8, 0}, {opPeekSlices, -2, 0},
	}},
	{"truncate beyond and within", 100, []op{
		{opWrite, 250, 0}, {opTruncate, 255, 0}, {opTruncate, 150, 0}, {opWrite, 30, 0},
		{opTruncate, 100, 0}, {opTruncate, 0, 0}, {opWrite, 5, 0},
	}},
	{"seek errors and moves", 64, []op{
		{opWrite, 150, 0}, {opSeek, 0, 0}, {opSeek, 10, 1}, {opSeek, 200, 1}, {opSeek, 40, 2},
		{opSeek, 5, 3}, {opTell, 0, 0}, {opReset, 0, 0}, {opSeek, 0, 0},
	}},
	{"read byte and unread", 64, []op{
		{opWrite, 65, 0}, {opDiscard, 63, 0}, {opReadByte, 0, 0}, {opUnreadByte, 0, 0},
		{opReadByte, 0, 0}, {opReadByte, 0, 0}, {opUnreadByte, 0, 0}, {opUnreadByte, 0, 0},
		{opReadByte, 0, 0}, {opPeek, 0, 0}, {opUnreadByte, 0, 0},
	}},
	{"reserve commit cycles", 64, []op{
		{opReserveEAGAIN, 10, 0}, {opReserveCommit, 10, 128}, {opReserveCommit, 200, 200},
		{opSlices, 100, 1}, {opDiscard, 100, 0}, {opReserveEAGAIN, 300, 0}, {opNext, 300, 0},
		{opReserveCommit, 0, 255},
	}},
	{"reader and writer variants", 64, []op{
		{opReadFrom, 300, 0}, {opReadFrom, 70, 1}, {opReadFrom, 130, 2}, {opReadFrom, 90, 3},
		{opReadFrom, 90, 4}, {opWriteTo, 100, 1}, {opWriteTo, 0, 0},
	}},
	{"peek then next keeps views", 64, []op{
		{opWrite, 100, 0}, {opPeek, 10, 0}, {opPeek, 90, 0}, {opPeekSlices, 100, 0},
		{opNext, 70, 0}, {opPeek, 30, 0}, {opIndexFunc, 0, 50},
	}},
	{"large peek uses size class", 64, []op{
		{opWrite, 1000, 0}, {opPeek, 900, 0}, {opNext, 1000, 0}, {opWrite, 10, 0},
	}},
	{"write back what the buffer handed out", 64, []op{
		{opWrite, 100, 0}, {opPeek, 70, 0}, {opPeek, 100, 0}, {opWriteBack, 0, 0},
		{opNext, 64, 0}, {opWriteBack, 0, 0}, {opWrite, 300, 0}, {opPeek, 200, 0}, {opPeek, 300, 0},
		{opWriteBack, 0, 0}, {opNext, 250, 0}, {opWriteBack, 0, 0},
	}},
}

func TestSeedPrograms(t *testing.T) {
	for _, p := range seedPrograms {
		t.Run(p.name, func(t *testing.T) {
			data := encodeProgram(p.chunkSize, p.ops)
			cs, ops := decodeProgram(data)
			if cs != p.chunkSize || fmt.Sprint(ops) != fmt.Sprint(p.ops) {
				t.Fatalf("program does not round-trip: %d %v", cs, ops)
			}
			runProgram(t, data)
		})
	}
}
