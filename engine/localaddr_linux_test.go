package engine

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLocalAddrRacingClose closes a connection on its loop while LocalAddr
// runs on another goroutine, and gives the closed descriptor's number to
// another socket before LocalAddr asks the kernel, as the kernel does with
// the next socket opened. LocalAddr must not report that other socket's
// address: it answers with the listener's once the connection has closed.
func TestLocalAddrRacingClose(t *testing.T) {
	e, _, c := startConn(t, Config{Kind: Reactor, Loops: 1}, newTH())
	sc := c.(*conn)
	addr := e.Addrs()[0].String()
	if got := sc.LocalAddr().String(); got != addr {
		t.Fatalf("LocalAddr of an open connection = %s, want %s", got, addr)
	}

	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ofd, err := dupFd(other)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ofd)

	reused := -1
	testHookLocalAddr = func(c *conn) {
		c.l.callSync(func(l *loop) { l.closeConn(c, nil) })
		if err := unix.Dup3(ofd, c.fd, unix.O_CLOEXEC); err != nil {
			t.Errorf("dup3 onto the closed descriptor: %v", err)
			return
		}
		reused = c.fd
	}
	defer func() { testHookLocalAddr = nil }()
	got := sc.LocalAddr()
	testHookLocalAddr = nil
	if reused >= 0 {
		unix.Close(reused)
	}
	if got.String() == other.Addr().String() {
		t.Fatalf("LocalAddr = %s: the address of the socket that took the closed descriptor", got)
	}
	if want := e.Addrs()[0].String(); got.String() != want {
		t.Fatalf("LocalAddr after close = %s, want the listener's %s", got, want)
	}
}
