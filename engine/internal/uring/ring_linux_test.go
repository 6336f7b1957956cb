package uring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newRing creates a ring for a test on a locked thread (SetupSingleIssuer
// binds the ring to the thread that created it).
func newRing(t *testing.T, o Options) *Ring {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, err := New(o)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func sqe(t *testing.T, r *Ring) *SQE {
	t.Helper()
	s := r.GetSQE()
	if s == nil {
		t.Fatal("submission queue full")
	}
	return s
}

// reap waits until n CQEs are there and returns them.
func reap(t *testing.T, r *Ring, n int) []CQE {
	t.Helper()
	var got []CQE
	buf := make([]CQE, 16)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		if err := r.Wait(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		k := r.Reap(buf)
		got = append(got, buf[:k]...)
		if time.Now().After(deadline) {
			t.Fatalf("got %d CQEs, want %d: %+v", len(got), n, got)
		}
	}
	return got
}

// reap1 waits for exactly one CQE.
func reap1(t *testing.T, r *Ring) CQE {
	t.Helper()
	got := reap(t, r, 1)
	if len(got) != 1 {
		t.Fatalf("got %d CQEs, want 1: %+v", len(got), got)
	}
	return got[0]
}

// noCQE asserts that nothing completes within d.
func noCQE(t *testing.T, r *Ring, d time.Duration) {
	t.Helper()
	if err := r.Wait(d); err != nil {
		t.Fatal(err)
	}
	var buf [4]CQE
	if n := r.Reap(buf[:]); n > 0 {
		t.Fatalf("unexpected CQEs: %+v", buf[:n])
	}
}

func TestSetupFlags(t *testing.T) {
	var uts unix.Utsname
	unix.Uname(&uts)
	release := unix.ByteSliceToString(uts.Release[:])
	var major, minor int
	fmt.Sscanf(release, "%d.%d", &major, &minor)
	modern := major > 6 || major == 6 && minor >= 1 // DEFER_TASKRUN
	for _, tc := range []struct {
		name string
		want uint32 // flags asked for
		keep uint32 // flags that must remain on Linux 6.1+
	}{
		{"default", DefaultFlags, DefaultFlags},
		// TASKRUN_FLAG without COOP_TASKRUN or DEFER_TASKRUN is EINVAL:
		// New must drop it and keep the rest.
		{"invalid combination dropped", SetupTaskrunFlag | SetupSubmitAll, SetupSubmitAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, Options{Entries: 8, Flags: tc.want})
			if r.Flags()&^tc.want != 0 || modern && r.Flags() != tc.keep {
				t.Fatalf("Flags = %#x, want %#x (kernel %s)", r.Flags(), tc.keep, release)
			}
			if r.Features()&FeatExtArg == 0 {
				t.Fatal("kernel lacks IORING_FEAT_EXT_ARG")
			}
		})
	}
}

func TestNopRoundTrip(t *testing.T) {
	r := newRing(t, Options{Entries: 4})
	if r.SQEntries() != 4 || r.CQEntries() != 16 {
		t.Fatalf("sizes %d/%d, want 4/16", r.SQEntries(), r.CQEntries())
	}
	// Several times round the ring, so the indexes wrap.
	for round := range 5 {
		for i := range 4 {
			s := sqe(t, r)
			s.PrepNop()
			s.UserData = uint64(round*10 + i)
		}
		if r.GetSQE() != nil {
			t.Fatal("GetSQE past the queue size")
		}
		if err := r.SubmitAndGet(); err != nil {
			t.Fatal(err)
		}
		if r.Pending() != 0 {
			t.Fatalf("Pending = %d after submit", r.Pending())
		}
		got := reap(t, r, 4)
		for i, c := range got {
			if c.UserData != uint64(round*10+i) || c.Res != 0 {
				t.Fatalf("round %d CQE %d = %+v", round, i, c)
			}
		}
	}
}

func TestProbe(t *testing.T) {
	r := newRing(t, Options{Entries: 4})
	p, err := r.Probe()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []uint8{OpNop, OpAccept, OpRecv, OpSend, OpSendmsg, OpSplice, OpClose, OpTimeout, OpAsyncCancel, OpPollAdd, OpMsgRing} {
		if !p.Supports(op) {
			t.Errorf("opcode %d reported unsupported", op)
		}
	}
	if p.Supports(250) {
		t.Error("opcode 250 reported supported")
	}
}

func TestMultishotRecv(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	a, b := socketpair(t)
	br, err := r.NewBufRing(1, 8, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	s := sqe(t, r)
	s.PrepRecvMultishot(a, br.Group())
	s.UserData = 7
	if err := r.SubmitAndGet(); err != nil {
		t.Fatal(err)
	}
	noCQE(t, r, 10*time.Millisecond) // nothing to read: armed, no CQE
	for i, msg := range []string{"hello", "multishot", "world"} {
		unix.Write(b, []byte(msg))
		c := reap1(t, r)
		if c.UserData != 7 || !c.More() {
			t.Fatalf("msg %d: CQE %+v, want user data 7 with CQEFMore", i, c)
		}
		bid, p, recycle := br.Bytes(&c)
		if _, ok := c.BufferID(); !ok || !recycle || string(p) != msg {
			t.Fatalf("msg %d: buffer %d %q recycle=%v, want %q", i, bid, p, recycle, msg)
		}
		br.Recycle(bid)
	}
	unix.Shutdown(b, unix.SHUT_WR)
	c := reap1(t, r)
	if c.Res != 0 || c.More() {
		t.Fatalf("EOF CQE %+v, want Res 0 without CQEFMore", c)
	}
}

func TestBufRingRecycling(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	a, b := socketpair(t)
	br, err := r.NewBufRing(2, 2, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	arm := func() {
		s := sqe(t, r)
		s.PrepRecvMultishot(a, br.Group())
		s.UserData = 1
	}
	arm()
	var held []uint16
	seen := map[uint16]bool{}
	for i := range 2 {
		unix.Write(b, bytes.Repeat([]byte{byte('a' + i)}, 16))
		c := reap1(t, r)
		bid, p, _ := br.Bytes(&c)
		if len(p) != 16 || p[0] != byte('a'+i) {
			t.Fatalf("read %d: %q", i, p)
		}
		held = append(held, bid)
		seen[bid] = true
	}
	if len(seen) != 2 {
		t.Fatalf("buffers %v: want two different ones", held)
	}
	// Both buffers are held: the next data ends the request with ENOBUFS.
	unix.Write(b, []byte("third"))
	c := reap1(t, r)
	if c.Err() != syscall.ENOBUFS || c.More() {
		t.Fatalf("CQE %+v, want -ENOBUFS without CQEFMore", c)
	}
	// Give one back and re-arm: the waiting data arrives in it.
	br.Recycle(held[0])
	arm()
	c = reap1(t, r)
	bid, p, _ := br.Bytes(&c)
	if string(p) != "third" || bid != held[0] {
		t.Fatalf("after recycling: buffer %d %q, want buffer %d \"third\"", bid, p, held[0])
	}
	// Many more rounds through the two buffers.
	br.Recycle(held[1])
	for i := range 50 {
		unix.Write(b, []byte{byte(i)})
		c := reap1(t, r)
		bid, p, _ := br.Bytes(&c)
		if len(p) != 1 || p[0] != byte(i) {
			t.Fatalf("round %d: %v", i, p)
		}
		br.Recycle(bid)
	}
}

func TestBufRingIncremental(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	a, b := socketpair(t)
	br, err := r.NewBufRing(3, 1, 64, true)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if !br.Incremental() {
		t.Skip("kernel without incremental buffer rings (6.12)")
	}
	arm := func() {
		s := sqe(t, r)
		s.PrepRecvMultishot(a, br.Group())
	}
	arm()
	var all []byte // bytes of the current buffer
	for i := range 6 {
		msg := bytes.Repeat([]byte{byte('0' + i)}, 10+i) // 10+11+...+15 = 75 > 64: the buffer runs out
		unix.Write(b, msg)
		want := msg
		for len(want) > 0 {
			for _, c := range reap(t, r, 1) {
				if c.Err() == syscall.ENOBUFS {
					// The one buffer was finished and is not back yet.
					arm()
					continue
				}
				bid, p, recycle := br.Bytes(&c)
				if !bytes.Equal(p, want[:len(p)]) {
					t.Fatalf("msg %d: got %q, want a prefix of %q", i, p, want)
				}
				all = append(all, p...)
				want = want[len(p):]
				if recycle {
					if len(all) != 64 {
						t.Fatalf("buffer finished after %d bytes, want 64", len(all))
					}
					all = all[:0]
					br.Recycle(bid)
				} else if !c.More() {
					t.Fatalf("CQE %+v ended the receive", c)
				}
			}
		}
	}
	if len(all) != 75-64 {
		t.Fatalf("%d bytes in the second fill of the buffer, want 11", len(all))
	}
}

func TestSendAndSendmsg(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	a, b := socketpair(t)
	msg := []byte("one send")
	s := sqe(t, r)
	s.PrepSend(a, msg, unix.MSG_NOSIGNAL)
	s.UserData = 1
	parts := [][]byte{[]byte("gathered "), []byte("from "), []byte("three")}
	iov := make([]unix.Iovec, len(parts))
	for i, p := range parts {
		iov[i].Base = &p[0]
		iov[i].SetLen(len(p))
	}
	hdr := &unix.Msghdr{Iov: &iov[0]}
	hdr.SetIovlen(len(iov))
	s = sqe(t, r)
	s.PrepSendmsg(a, hdr, unix.MSG_NOSIGNAL)
	s.UserData = 2
	got := reap(t, r, 2)
	want := map[uint64]int32{1: 8, 2: int32(len("gathered from three"))}
	for _, c := range got {
		if c.Res != want[c.UserData] {
			t.Fatalf("CQE %+v, want Res %d", c, want[c.UserData])
		}
	}
	buf := make([]byte, 64)
	n, _ := unix.Read(b, buf)
	if string(buf[:n]) != "one sendgathered from three" {
		// Two sends may arrive in two reads.
		m, _ := unix.Read(b, buf[n:])
		n += m
	}
	if string(buf[:n]) != "one sendgathered from three" {
		t.Fatalf("peer read %q", buf[:n])
	}
	runtime.KeepAlive(parts)
	runtime.KeepAlive(hdr)
}

func TestSpliceFileToSocket(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	a, b := socketpair(t)
	content := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	path := t.TempDir() + "/f"
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	const off, n = 100, 5000
	s := sqe(t, r)
	s.PrepSplice(int(f.Fd()), off, p[1], NoOffset, n, 0)
	s.Flags |= SQEIOLink
	s.UserData = 1
	s = sqe(t, r)
	s.PrepSplice(p[0], NoOffset, a, NoOffset, n, 0)
	s.UserData = 2
	for _, c := range reap(t, r, 2) {
		if c.Res != n {
			t.Fatalf("splice CQE %+v, want %d bytes", c, n)
		}
	}
	got := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(got) < n {
		k, err := unix.Read(b, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:k]...)
	}
	if !bytes.Equal(got, content[off:off+n]) {
		t.Fatal("spliced bytes differ from the file's")
	}
}

func TestTimeouts(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	// A timeout request fires after its time.
	ts := unix.NsecToTimespec(int64(20 * time.Millisecond))
	start := time.Now()
	s := sqe(t, r)
	s.PrepTimeout(&ts, 0, false)
	s.UserData = 9
	c := reap1(t, r)
	if c.UserData != 9 || c.Err() != syscall.ETIME {
		t.Fatalf("CQE %+v, want -ETIME", c)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("timeout fired after %v", d)
	}
	// Wait itself returns after its timeout with nothing ready.
	start = time.Now()
	if err := r.Wait(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Wait(30ms) returned after %v", d)
	}
	// A linked timeout cancels a receive that gets nothing.
	a, _ := socketpair(t)
	buf := make([]byte, 8)
	s = sqe(t, r)
	s.PrepRecv(a, buf, 0)
	s.Flags |= SQEIOLink
	s.UserData = 1
	lts := unix.NsecToTimespec(int64(10 * time.Millisecond))
	s = sqe(t, r)
	s.PrepLinkTimeout(&lts)
	s.UserData = 2
	for _, c := range reap(t, r, 2) {
		want := map[uint64]error{1: syscall.ECANCELED, 2: syscall.ETIME}[c.UserData]
		if c.Err() != want {
			t.Fatalf("CQE %+v, want %v", c, want)
		}
	}
	runtime.KeepAlive(buf)
}

func TestCancel(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	a, _ := socketpair(t)
	br, err := r.NewBufRing(4, 4, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	s := sqe(t, r)
	s.PrepRecvMultishot(a, br.Group())
	s.UserData = 100
	if err := r.SubmitAndGet(); err != nil {
		t.Fatal(err)
	}
	s = sqe(t, r)
	s.PrepCancel(100, 0)
	s.UserData = 200
	got := reap(t, r, 2)
	for _, c := range got {
		switch c.UserData {
		case 100:
			if c.Err() != syscall.ECANCELED || c.More() {
				t.Fatalf("cancelled recv CQE %+v, want -ECANCELED without CQEFMore", c)
			}
		case 200:
			if c.Res != 0 {
				t.Fatalf("cancel CQE %+v, want 0", c)
			}
		}
	}
	// Nothing left to cancel.
	s = sqe(t, r)
	s.PrepCancel(100, 0)
	s.UserData = 300
	if c := reap1(t, r); c.Err() != syscall.ENOENT {
		t.Fatalf("cancel of nothing: %+v, want -ENOENT", c)
	}
	// By descriptor, all of them: two receives, and the result counts them.
	buf := make([]byte, 8)
	for i := range 2 {
		s = sqe(t, r)
		s.PrepRecv(a, buf, 0)
		s.UserData = uint64(400 + i)
	}
	s = sqe(t, r)
	s.PrepCancelFd(a, CancelAll)
	s.UserData = 500
	for _, c := range reap(t, r, 3) {
		want := map[uint64]int32{400: -int32(syscall.ECANCELED), 401: -int32(syscall.ECANCELED), 500: 2}[c.UserData]
		if c.Res != want {
			t.Fatalf("CQE %+v, want Res %d", c, want)
		}
	}
	runtime.KeepAlive(buf)
}

func TestEventfdSignal(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.RegisterEventfd(efd); err != nil {
		t.Fatal(err)
	}
	a, b := socketpair(t)
	buf := make([]byte, 16)
	s := sqe(t, r)
	s.PrepRecv(a, buf, 0)
	s.UserData = 1
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	drain(efd)
	readable := func() bool {
		fds := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 200)
		return n == 1
	}
	// Disabled: data arriving does not signal.
	r.SetEventfdEnabled(false)
	unix.Write(b, []byte("x"))
	if readable() {
		t.Fatal("eventfd signalled while disabled")
	}
	reap(t, r, 1)
	// Enabled: it does, with the completion still to be run by Wait or
	// SubmitAndGet (DEFER_TASKRUN).
	r.SetEventfdEnabled(true)
	s = sqe(t, r)
	s.PrepRecv(a, buf, 0)
	s.UserData = 2
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	drain(efd)
	unix.Write(b, []byte("y"))
	if !readable() {
		t.Fatal("eventfd not signalled by incoming data")
	}
	if c := reap1(t, r); c.UserData != 2 || c.Res != 1 {
		t.Fatalf("CQE %+v", c)
	}
	runtime.KeepAlive(buf)
}

func drain(efd int) {
	var b [8]byte
	unix.Read(efd, b[:])
}

func TestMsgRing(t *testing.T) {
	r1 := newRing(t, Options{Entries: 4})
	r2 := newRing(t, Options{Entries: 4})
	s := sqe(t, r1)
	s.PrepMsgRing(r2.Fd(), 1234, 0xfeed)
	s.UserData = 5
	if c := reap1(t, r1); c.UserData != 5 || c.Res != 0 {
		t.Fatalf("sender CQE %+v", c)
	}
	if c := reap1(t, r2); c.UserData != 0xfeed || c.Res != 1234 {
		t.Fatalf("receiver CQE %+v, want user data 0xfeed and res 1234", c)
	}
}

func TestDisabledRingEnabledByAnotherThread(t *testing.T) {
	r := newRing(t, Options{Entries: 4, Disabled: true})
	if r.Flags()&SetupSingleIssuer == 0 {
		t.Skip("no SINGLE_ISSUER")
	}
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := r.Enable(); err != nil {
			done <- err
			return
		}
		s := r.GetSQE()
		s.PrepNop()
		done <- r.SubmitAndGet()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// This thread is not the issuer any more.
	s := sqe(t, r)
	s.PrepNop()
	err := r.SubmitAndGet()
	var ee *EnterError
	if !errors.As(err, &ee) || ee.Err != syscall.EEXIST {
		t.Fatalf("submit from another thread: %v, want EEXIST", err)
	}
}

func TestLayout(t *testing.T) {
	if unsafe.Sizeof(SQE{}) != 64 || unsafe.Sizeof(CQE{}) != 16 {
		t.Fatal("SQE/CQE sizes differ from the kernel's")
	}
	if unsafe.Offsetof(SQE{}.UserData) != 32 || unsafe.Offsetof(SQE{}.BufIndex) != 40 || unsafe.Offsetof(SQE{}.FdIn) != 44 {
		t.Fatal("SQE field offsets differ from the kernel's")
	}
}
