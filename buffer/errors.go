package buffer

import "errors"

// Errors returned by Buffer methods. Short reads are reported with the
// standard io.ErrShortBuffer and an empty buffer with io.EOF, so callers can
// keep the idioms they use with bytes.Buffer and bufio.Reader.
var (
	// ErrNegativeCount is returned by Peek, PeekSlices, Next and Discard
	// when asked for a negative number of bytes.
	ErrNegativeCount = errors.New("buffer: negative count")

	// ErrSeekBackward is returned by Seek for a position before the first
	// unread byte: consumed chunks have already gone back to the pool, so
	// the bytes there no longer exist.
	ErrSeekBackward = errors.New("buffer: seek before the first unread byte")

	// ErrSeekPastEnd is returned by Seek for a position after the last
	// buffered byte: a buffer cannot skip data it has not received yet.
	ErrSeekPastEnd = errors.New("buffer: seek past the end of the buffered data")

	// ErrWhence is returned by Seek for a whence other than io.SeekStart,
	// io.SeekCurrent and io.SeekEnd.
	ErrWhence = errors.New("buffer: invalid whence")

	// ErrUnreadByte is returned by UnreadByte when the last call that
	// changed the buffer was not a successful ReadByte.
	ErrUnreadByte = errors.New("buffer: UnreadByte: previous operation was not a successful ReadByte")

	// ErrInvalidCount is returned by ReadFrom and WriteTo when the other
	// side's Read or Write reports a count outside [0, len(p)]. The buffer
	// keeps the data it had; nothing of that call is trusted.
	ErrInvalidCount = errors.New("buffer: reader or writer returned an invalid count")

	// ErrIndexRange is the value (wrapped, with the numbers) that At panics
	// with for an index outside [0, Len()), as a slice would.
	ErrIndexRange = errors.New("buffer: index out of range")

	// ErrCommitRange is the value (wrapped, with the numbers) that Commit
	// panics with when n is negative or larger than what the last Reserve
	// handed out, including after the reservation was cancelled by another
	// call. Committing bytes that were never reserved would publish
	// garbage, so it is a programming error, like a slice out of range.
	ErrCommitRange = errors.New("buffer: Commit out of range of the last Reserve")
)
