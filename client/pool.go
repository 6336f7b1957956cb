package client

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// PoolConfig configures a Pool: the Config of each of its clients, how many
// connections, and where to.
type PoolConfig struct {
	Config // for every connection; set Reconnect for a pool that heals

	// Size is the number of connections, spread over Addrs in turn
	// (connection i goes to Addrs[i % len(Addrs)]). Default
	// max(4, len(Addrs)); a smaller non-zero Size is an error.
	Size int

	// Addrs are the servers, in Dial's address syntax. At least one.
	Addrs []string
}

// Pool holds several connections to one or more servers and spreads
// requests over them round-robin, skipping connections that are down (seed
// 000's pooled multiplexed client connections). Each connection pipelines
// its share of the requests, so a pool is for throughput and for spreading
// load over servers; a request and its reply always travel on one
// connection. Safe for concurrent use.
type Pool struct {
	clients []*Client // fixed after NewPool
	next    atomic.Uint64
}

// NewPool dials every connection of the pool (concurrently, each bounded by
// ctx and DialTimeout) and fails, closing those that succeeded, if any
// cannot be made.
func NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("client: PoolConfig.Addrs is empty")
	}
	if cfg.Size == 0 {
		cfg.Size = max(4, len(cfg.Addrs))
	}
	if cfg.Size < len(cfg.Addrs) {
		return nil, fmt.Errorf("client: PoolConfig.Size (%d) is below the number of Addrs (%d)", cfg.Size, len(cfg.Addrs))
	}
	if _, err := cfg.Config.withDefaults(); err != nil {
		return nil, err
	}
	p := &Pool{clients: make([]*Client, cfg.Size)}
	errs := make([]error, cfg.Size)
	done := make(chan struct{}, cfg.Size)
	for i := range cfg.Size {
		go func() {
			p.clients[i], errs[i] = Dial(ctx, cfg.Addrs[i%len(cfg.Addrs)], cfg.Config)
			done <- struct{}{}
		}()
	}
	for range cfg.Size {
		<-done
	}
	if err := errors.Join(errs...); err != nil {
		for _, c := range p.clients {
			if c != nil {
				c.Close()
			}
		}
		return nil, err
	}
	return p, nil
}

// Clients returns the pool's clients, in Addrs order (the slice is the
// caller's; the clients are shared).
func (p *Pool) Clients() []*Client { return append([]*Client(nil), p.clients...) }

// pick returns the next connected client in round-robin order, or, if none
// is connected, the next one anyway (its Request waits for a reconnection or
// reports why it cannot).
func (p *Pool) pick() *Client {
	n := uint64(len(p.clients))
	start := p.next.Add(1) - 1
	for i := range n {
		if c := p.clients[(start+i)%n]; c.Connected() {
			return c
		}
	}
	return p.clients[start%n]
}

// Request is Client.Request on the next connection.
func (p *Pool) Request(ctx context.Context, code uint16, body []byte) ([]byte, error) {
	return p.pick().AppendReply(ctx, nil, code, body)
}

// AppendReply is Client.AppendReply on the next connection.
func (p *Pool) AppendReply(ctx context.Context, dst []byte, code uint16, body []byte) ([]byte, error) {
	return p.pick().AppendReply(ctx, dst, code, body)
}

// RequestJSON is Client.RequestJSON on the next connection.
func (p *Pool) RequestJSON(ctx context.Context, code uint16, req, resp any) error {
	return requestJSON(ctx, p, code, req, resp)
}

// Send is Client.Send on the next connection.
func (p *Pool) Send(code uint16, body []byte) error { return p.pick().Send(code, body) }

// Stats sums the clients' counters.
func (p *Pool) Stats() Stats {
	var s Stats
	for _, c := range p.clients {
		s = s.add(c.Stats())
	}
	return s
}

// Close closes every connection and waits for their goroutines. It is
// idempotent and returns nil.
func (p *Pool) Close() error {
	for _, c := range p.clients {
		c.Close()
	}
	return nil
}
