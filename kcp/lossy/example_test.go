package lossy_test

import (
	"fmt"
	"net"
	"time"

	"wharf/kcp/lossy"
)

func ExampleWrap() {
	a, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	b, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer b.Close()
	bad := lossy.Wrap(a, lossy.Config{Loss: 1}) // a black hole
	defer bad.Close()
	bad.WriteTo([]byte("hello"), b.LocalAddr())
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err := b.ReadFrom(make([]byte, 16))
	fmt.Println(err != nil, bad.Stats().Dropped)
	// Output: true 1
}
