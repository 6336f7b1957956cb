package supervisor

import (
	"net"
	"path/filepath"
	"testing"
)

// TestSocketSetSlots checks the socket plan: a reuseport socket per slot for
// TCP and UDP on one port, one shared Unix socket, sockets kept across
// growth, and only the unwanted ones retired.
func TestSocketSetSlots(t *testing.T) {
	dir := t.TempDir()
	sock := "unix://" + filepath.Join(dir, "w.sock")
	ss := &socketSet{}
	if _, err := ss.grow([]Addr{"tcp://127.0.0.1:0", "udp://127.0.0.1:0", Addr(sock)}, 2); err != nil {
		t.Fatal(err)
	}
	defer ss.closeAll()
	tcp0, tcp1 := ss.slots[0][0], ss.slots[1][0]
	if tcp0 == tcp1 || tcp0.ln.Addr().String() != tcp1.ln.Addr().String() {
		t.Fatalf("TCP slots: want two sockets on one address, got %v and %v", tcp0.ln.Addr(), tcp1.ln.Addr())
	}
	if ss.slots[0][1].pc.LocalAddr().String() != ss.slots[1][1].pc.LocalAddr().String() {
		t.Fatal("UDP slots on different ports")
	}
	if ss.slots[0][2] != ss.slots[1][2] {
		t.Fatal("Unix socket must be shared by all slots")
	}
	// A connection lands on one of the slot sockets.
	c, err := net.Dial("tcp", tcp0.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Shrink to one slot and drop UDP: slot 1's TCP socket and both UDP
	// sockets retire; slot 0's TCP socket and the Unix socket stay.
	retired, err := ss.grow([]Addr{"tcp://127.0.0.1:0", Addr(sock)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(retired) != 3 {
		t.Fatalf("retired %d sockets, want 3", len(retired))
	}
	if ss.slots[0][0] != tcp0 {
		t.Fatal("kept address got a new socket: its accept queue would be lost")
	}
	closeSockets(retired)
}
