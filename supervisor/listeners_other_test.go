//go:build !linux

package supervisor

import (
	"path/filepath"
	"strings"
	"testing"
)

// Off Linux, SO_REUSEPORT does not spread connections: worker slots share
// one TCP socket (and one Unix socket), and a UDP address with more than one
// slot is refused with an error naming the platform.
func TestSocketSetSharesOffLinux(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "w.sock")
	ss := &socketSet{}
	if _, err := ss.grow([]Addr{"tcp://127.0.0.1:0", Addr(sock)}, 2); err != nil {
		t.Fatal(err)
	}
	defer ss.closeAll()
	if ss.slots[0][0] != ss.slots[1][0] {
		t.Fatal("TCP socket must be shared by all slots off Linux")
	}
	if ss.slots[0][1] != ss.slots[1][1] {
		t.Fatal("Unix socket must be shared by all slots")
	}
	retired, err := ss.grow([]Addr{"tcp://127.0.0.1:0"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(retired) != 1 {
		t.Fatalf("retired %d sockets, want 1 (the Unix socket)", len(retired))
	}
	closeSockets(retired)

	udp := &socketSet{}
	_, err = udp.grow([]Addr{"udp://127.0.0.1:0"}, 2)
	if err == nil || !strings.Contains(err.Error(), "SO_REUSEPORT") {
		udp.closeAll()
		t.Fatalf("grow(udp, 2 slots) = %v, want an error naming SO_REUSEPORT", err)
	}
}
