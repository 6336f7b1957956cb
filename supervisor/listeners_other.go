//go:build !linux

package supervisor

import "net"

// reusePortBalances: the BSDs and macOS accept SO_REUSEPORT but do not
// spread connections over the sockets (one of them takes all), and Windows
// has no such option, so worker slots share one TCP socket (sharedSocket)
// and a UDP address serves one worker.
const reusePortBalances = false

// reusePortConfig is the plain configuration: every address is bound once.
func reusePortConfig() net.ListenConfig { return net.ListenConfig{} }
