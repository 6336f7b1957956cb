package supervisor

import (
	"net"

	"wharf/internal/reuseport"
)

// reusePortBalances: Linux spreads the connections of a TCP address, and
// the peers of a UDP one (by hash, so each stays on one socket), over the
// sockets bound to it with SO_REUSEPORT, so every worker slot gets its own.
// Elsewhere worker slots share one TCP socket (sharedSocket) and a UDP
// address serves one worker.
const reusePortBalances = reuseport.Balances

// reusePortConfig sets SO_REUSEPORT on TCP and UDP sockets (on Linux).
func reusePortConfig() net.ListenConfig { return net.ListenConfig{Control: reuseport.Control} }
