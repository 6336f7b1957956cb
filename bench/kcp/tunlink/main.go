//go:build linux

// Command tunlink is a user-space netem for kernels without one: it joins
// two network namespaces through TUN devices and carries every IP packet
// between them after a fixed delay, dropping a seeded random fraction, so
// that TCP (the kernel's) and KCP cross the same lossy, delayed link.
//
// The devices must exist, with addresses and up, before it starts (see
// bench/kcp/run.sh):
//
//	ip netns exec A ip tuntap add dev wt0 mode tun   (and the same in B)
//	tunlink -a A -b B -dev wt0 -loss 0.05 -delay 10ms -for 10m
//
// It runs until SIGINT/SIGTERM or -for has passed.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	nsA := flag.String("a", "", "first network namespace (a name under /var/run/netns)")
	nsB := flag.String("b", "", "second network namespace")
	dev := flag.String("dev", "wt0", "TUN device name in both namespaces")
	loss := flag.Float64("loss", 0, "probability that a packet is dropped, each way")
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay")
	seed := flag.Uint64("seed", 1, "seed of the drops")
	limit := flag.Duration("for", 10*time.Minute, "stop after this long")
	flag.Parse()
	fa, err := openTun(*nsA, *dev)
	if err != nil {
		fail(err)
	}
	fb, err := openTun(*nsB, *dev)
	if err != nil {
		fail(err)
	}
	var dropped, carried atomic.Uint64
	go forward(fa, fb, *loss, *delay, *seed, &dropped, &carried)
	go forward(fb, fa, *loss, *delay, *seed+1, &dropped, &carried)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-time.After(*limit):
	}
	fmt.Fprintf(os.Stderr, "tunlink: carried %d, dropped %d\n", carried.Load(), dropped.Load())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tunlink:", err)
	os.Exit(1)
}

// openTun attaches to TUN device dev inside namespace ns. The file
// descriptor stays bound to that namespace's device after the thread
// returns to its own namespace.
func openTun(ns, dev string) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(self)
	target, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return -1, fmt.Errorf("setns %s: %w", ns, err)
	}
	defer unix.Setns(self, unix.CLONE_NEWNET)
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR, 0)
	if err != nil {
		return -1, err
	}
	var ifr [unix.IFNAMSIZ + 64]byte
	copy(ifr[:], dev)
	*(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF %s in %s: %w", dev, ns, errno)
	}
	return fd, nil
}

type packet struct {
	due time.Time
	b   []byte
}

// forward carries packets from one device to the other: a reader that drops
// and timestamps, and a writer that releases each packet at its due time
// (the delay is fixed, so the line is FIFO).
func forward(from, to int, loss float64, delay time.Duration, seed uint64, dropped, carried *atomic.Uint64) {
	line := make(chan packet, 65536)
	go func() {
		for p := range line {
			if d := time.Until(p.due); d > 0 {
				time.Sleep(d)
			}
			unix.Write(to, p.b)
			carried.Add(1)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15))
	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(from, buf)
		if err != nil {
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			return
		}
		if rng.Float64() < loss {
			dropped.Add(1)
			continue
		}
		select {
		case line <- packet{due: time.Now().Add(delay), b: append([]byte(nil), buf[:n]...)}:
		default:
			dropped.Add(1) // the line is full: a queue overflow, as on a router
		}
	}
}
