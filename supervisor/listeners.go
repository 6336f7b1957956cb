package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"wharf/endpoint"
)

// Addr is one listen address in package endpoint's syntax, as the config
// writes it: "tcp://:7000", "tcp4://…", "tcp6://…", "unix:///path",
// "udp://:7001", "udp4://…", "udp6://…"; tls:// and kcp:// open the TCP and
// UDP sockets they run on. A bare "host:port" is TCP. The master keys its
// sockets by the string, so the same address must be written the same way
// in Spec.Listen and in Env.Listener and Env.PacketConn.
type Addr string

// listenSchemes are the schemes the master opens sockets for.
var listenSchemes = endpoint.Schemes{"tcp", "tcp4", "tcp6", "unix", "udp", "udp4", "udp6", "tls", "kcp"}

// parse splits an Addr into a net network and address.
func (a Addr) parse() (network, address string, err error) {
	e, err := listenSchemes.Parse(string(a))
	if err != nil {
		return "", "", fmt.Errorf("supervisor: listen: %w", err)
	}
	return e.Network(), e.Address(), nil
}

func isPacket(network string) bool { return strings.HasPrefix(network, "udp") }

// socket is one listening socket: a stream listener or a packet conn.
type socket struct {
	addr Addr
	ln   net.Listener
	pc   net.PacketConn
}

func (s *socket) file() (*os.File, error) {
	if s.ln != nil {
		return s.ln.(interface{ File() (*os.File, error) }).File()
	}
	return s.pc.(interface{ File() (*os.File, error) }).File()
}

func (s *socket) close() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.pc != nil {
		s.pc.Close()
	}
}

// socketSet holds the master's sockets: for every address, one socket per
// worker slot. TCP and UDP sockets of different slots share the address with
// SO_REUSEPORT, so the kernel spreads connections (and, for UDP, keeps each
// peer on one slot); a Unix socket, and off Linux a TCP one, is one socket
// shared by all slots (see sharedSocket). The
// master never closes a slot's socket while it serves, so a worker that dies
// or is replaced never drops connections waiting in its accept queue: they
// wait for the slot's next worker.
type socketSet struct {
	addrs []Addr
	slots [][]*socket // slots[i][j]: slot i, address j
}

// sharedSocket reports whether every slot serves one shared socket of
// network instead of a socket of its own: Unix sockets always, and TCP where
// SO_REUSEPORT does not spread connections over sockets (off Linux), where
// the workers take turns accepting from the one socket instead.
func sharedSocket(network string) bool {
	return network == "unix" || (!reusePortBalances && !isPacket(network))
}

// listen opens one socket for a; bound is the address to use for the other
// slots (the first slot's actual address, which resolves port 0).
func listenOne(a Addr, bound string) (*socket, string, error) {
	network, address, err := a.parse()
	if err != nil {
		return nil, "", err
	}
	if bound != "" {
		address = bound
	}
	lc := reusePortConfig()
	s := &socket{addr: a}
	if isPacket(network) {
		s.pc, err = lc.ListenPacket(context.Background(), network, address)
		if err == nil {
			bound = s.pc.LocalAddr().String()
		}
	} else {
		if network == "unix" {
			removeStaleUnixSocket(address)
		}
		s.ln, err = lc.Listen(context.Background(), network, address)
		if err == nil {
			bound = s.ln.Addr().String()
			if ul, ok := s.ln.(*net.UnixListener); ok {
				ul.SetUnlinkOnClose(false) // the master removes it when it exits
			}
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("supervisor: listen %s: %w", a, err)
	}
	return s, bound, nil
}

// checkUnclaimed fails with an *AddrInUseError when another socket holds
// a's TCP or UDP address: it binds a probe without SO_REUSEPORT, which the
// kernel refuses next to any socket bound there (SO_REUSEADDR, which Go
// sets on TCP listeners, still lets it pass over connections in
// TIME_WAIT). Port 0 and Unix sockets need no probe.
func checkUnclaimed(network string, a Addr) error {
	_, address, err := a.parse()
	if err != nil || network == "unix" {
		return err
	}
	if _, port, err := net.SplitHostPort(address); err == nil && port == "0" {
		return nil
	}
	var c io.Closer
	if isPacket(network) {
		c, err = net.ListenPacket(network, address)
	} else {
		c, err = net.Listen(network, address)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return &AddrInUseError{Network: network, Address: address}
	}
	if err != nil {
		return nil // let the real bind report it
	}
	return c.Close()
}

// removeStaleUnixSocket removes a Unix socket file nobody listens on (left
// by a crash), so that bind succeeds; a live one is left for bind to refuse.
func removeStaleUnixSocket(path string) {
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return
	}
	os.Remove(path)
}

// grow makes the set serve addrs with n slots, opening what is missing and
// returning the sockets no longer wanted (the caller closes them once the
// workers using them are gone). Existing sockets are kept.
func (ss *socketSet) grow(addrs []Addr, n int) (retired []*socket, err error) {
	old := map[Addr][]*socket{}
	for j, a := range ss.addrs {
		for i := range ss.slots {
			old[a] = append(old[a], ss.slots[i][j])
		}
	}
	slots := make([][]*socket, n)
	for i := range slots {
		slots[i] = make([]*socket, len(addrs))
	}
	var opened []*socket
	fail := func(err error) ([]*socket, error) {
		for _, s := range opened {
			s.close()
		}
		return nil, err
	}
	for j, a := range addrs {
		network, _, err := a.parse()
		if err != nil {
			return fail(err)
		}
		have := old[a]
		bound := ""
		if len(have) > 0 {
			if have[0].ln != nil {
				bound = have[0].ln.Addr().String()
			} else {
				bound = have[0].pc.LocalAddr().String()
			}
		}
		if n > 1 && isPacket(network) && !reusePortBalances {
			return fail(fmt.Errorf("supervisor: %s with processes > 1 needs SO_REUSEPORT to keep each peer on one worker (Linux), not available on %s", a, runtime.GOOS))
		}
		shared := sharedSocket(network)
		for i := 0; i < n; i++ {
			switch {
			case i < len(have):
				slots[i][j] = have[i]
			case shared && len(have) > 0:
				slots[i][j] = have[0] // one shared socket
			case shared && i > 0:
				slots[i][j] = slots[0][j]
			default:
				if i == 0 && len(have) == 0 {
					// A new address: SO_REUSEPORT would let our bind
					// succeed next to another program's socket, and the
					// kernel would split the traffic between us.
					if err := checkUnclaimed(network, a); err != nil {
						return fail(err)
					}
				}
				s, b, err := listenOne(a, bound)
				if err != nil {
					return fail(err)
				}
				bound = b
				opened = append(opened, s)
				slots[i][j] = s
			}
		}
		delete(old, a)
		if len(have) > n && !shared {
			retired = append(retired, have[n:]...)
		}
	}
	for _, socks := range old {
		retired = append(retired, uniqueSockets(socks)...)
	}
	ss.addrs = append([]Addr(nil), addrs...)
	ss.slots = slots
	return retired, nil
}

func uniqueSockets(in []*socket) []*socket {
	seen := map[*socket]bool{}
	var out []*socket
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// closeAll closes every socket and removes Unix socket files.
func (ss *socketSet) closeAll() {
	var all []*socket
	for _, slot := range ss.slots {
		all = append(all, slot...)
	}
	closeSockets(uniqueSockets(all))
	ss.slots = nil
}

func closeSockets(ss []*socket) {
	for _, s := range ss {
		s.close()
		if network, address, err := s.addr.parse(); err == nil && network == "unix" {
			os.Remove(address)
		}
	}
}

// files returns duplicates of slot i's sockets, in address order, and the
// layout string that names them for the child.
func (ss *socketSet) files(i int) ([]*os.File, string, error) {
	var files []*os.File
	var names []string
	for j, s := range ss.slots[i] {
		f, err := s.file()
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, "", fmt.Errorf("supervisor: pass %s to a worker: %w", ss.addrs[j], err)
		}
		files = append(files, f)
		names = append(names, string(ss.addrs[j]))
	}
	return files, strings.Join(names, ","), nil
}

// allFiles returns every socket of every slot, for a new master (binary
// upgrade), with a layout of "slot|addr" entries.
func (ss *socketSet) allFiles() ([]*os.File, string, error) {
	var files []*os.File
	var names []string
	for i := range ss.slots {
		for j, s := range ss.slots[i] {
			f, err := s.file()
			if err != nil {
				for _, f := range files {
					f.Close()
				}
				return nil, "", err
			}
			files = append(files, f)
			names = append(names, strconv.Itoa(i)+"|"+string(ss.addrs[j]))
		}
	}
	return files, strings.Join(names, ","), nil
}

// inheritSockets rebuilds a socket set from descriptors passed by an old
// master, starting at fd first.
func inheritSockets(layout string, first int) (*socketSet, error) {
	ss := &socketSet{}
	if layout == "" {
		return ss, nil
	}
	idx := map[Addr]int{}
	byFd := map[string]*socket{}
	for k, entry := range strings.Split(layout, ",") {
		slotStr, addr, ok := strings.Cut(entry, "|")
		slot, err := strconv.Atoi(slotStr)
		if !ok || err != nil || slot < 0 {
			return nil, fmt.Errorf("supervisor: bad inherited socket layout entry %q", entry)
		}
		a := Addr(addr)
		j, ok := idx[a]
		if !ok {
			j = len(ss.addrs)
			idx[a] = j
			ss.addrs = append(ss.addrs, a)
		}
		for len(ss.slots) <= slot {
			ss.slots = append(ss.slots, nil)
		}
		for len(ss.slots[slot]) <= j {
			ss.slots[slot] = append(ss.slots[slot], nil)
		}
		s, err := socketFromFd(a, first+k)
		if err != nil {
			return nil, err
		}
		// A shared socket arrives once per slot: keep one.
		key := string(a)
		if network, _, _ := a.parse(); sharedSocket(network) {
			if prev, ok := byFd[key]; ok {
				s.close()
				s = prev
			}
			byFd[key] = s
		}
		ss.slots[slot][j] = s
	}
	return ss, nil
}

func socketFromFd(a Addr, fd int) (*socket, error) {
	network, _, err := a.parse()
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), string(a))
	if f == nil {
		return nil, fmt.Errorf("supervisor: inherited descriptor %d for %s is not open", fd, a)
	}
	defer f.Close()
	s := &socket{addr: a}
	if isPacket(network) {
		s.pc, err = net.FilePacketConn(f)
	} else {
		s.ln, err = net.FileListener(f)
		if ul, ok := s.ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("supervisor: inherited socket %s (fd %d): %w", a, fd, err)
	}
	return s, nil
}
