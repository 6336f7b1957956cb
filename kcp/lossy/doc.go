// Package lossy wraps a net.PacketConn in a bad network: datagrams it sends
// are dropped, duplicated, held back (so that later ones overtake them) and
// delayed, each with a seeded pseudo-random choice, so a test or benchmark
// can replay the same losses. It is the lossy path of the kcp package's
// tests and of bench/kcp; the kernel's network stack stays the reference
// (see the kernel rows of bench/RESULTS.md, section kcp).
//
// Only the sending side is impaired: wrap both ends to impair both
// directions. With Loss 0.15 on both ends a request and its reply each
// cross with probability 0.85, as on a link with 15% loss each way.
//
//	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
//	bad := lossy.Wrap(pc, lossy.Config{Loss: 0.05, Reorder: 0.1, Duplicate: 0.01, Seed: 1})
//	defer bad.Close()
//
// # Goroutines
//
// A Conn is safe for concurrent use. Delayed datagrams are sent by one
// goroutine per Conn, started by Wrap and stopped by Close; Close drops what
// is still delayed and closes the wrapped PacketConn.
package lossy
