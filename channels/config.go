package channels

import (
	"log/slog"
	"strconv"
	"time"
)

// Subscriber is a connection as the Hub sees it. The server's connection
// types implement it (server.Conn through an adapter, a WebSocket
// connection, a web app's SSE stream).
type Subscriber interface {
	// ID identifies the connection in logs and presence records; unique
	// among the connections of one Hub.
	ID() uint64
	// UserID is the logged-in user, or "" for an anonymous connection. It
	// must not change while the Client exists: on login or logout, Close
	// the Client and Connect again. To own a personal channel ("user:42")
	// and receive direct messages, it must be made of the characters of a
	// channel name's local part (wharf's accounts: the decimal user ID).
	UserID() string
	// Deliver queues p, one or more encoded messages back to back, for
	// the connection, without blocking. p is immutable and shared by
	// every subscriber of the publication: never modify it. The Hub never
	// reuses p, so Deliver may keep it (queue it for an asynchronous
	// write) as long as it likes without copying. Deliver is called from
	// any goroutine, concurrently with other Deliver calls of the same
	// Subscriber; it must not call the Hub or its Client. It returns nil,
	// ErrSubscriberOverloaded when it drops p because its queue is full,
	// ErrSubscriberClosed once closed, or another error (each counted as
	// a drop by reason). The Hub does not unsubscribe a Subscriber whose
	// Deliver fails; closing the connection should Close its Client.
	Deliver(p []byte) error
}

// Encoder turns a Message into wire bytes. The Hub encodes each
// publication once per node and hands the same bytes to every subscriber,
// so the encoding must not depend on the subscriber.
type Encoder interface {
	// AppendMessage appends the encoding of m to dst and returns the
	// extended slice. The encoding must be self-delimiting (a packet, a
	// WebSocket frame): a recovery hands several back to back to one
	// Deliver. Called from any goroutine, concurrently.
	AppendMessage(dst []byte, m *Message) ([]byte, error)
}

// EncoderFunc adapts a function to the Encoder interface.
type EncoderFunc func(dst []byte, m *Message) ([]byte, error)

// AppendMessage calls f.
func (f EncoderFunc) AppendMessage(dst []byte, m *Message) ([]byte, error) { return f(dst, m) }

// Config configures a Hub. Zero fields take the defaults in the comments;
// NewHub validates it and names the bad field.
type Config struct {
	// Namespaces are the channel namespaces and their rules. Default
	// DefaultNamespaces(). A channel whose namespace is not listed is
	// refused with ErrUnknownNamespace; list one with Name "" to allow
	// names without a namespace.
	Namespaces []Namespace

	// Encoder encodes what the Hub delivers. Required.
	Encoder Encoder

	// History keeps channels' recent publications. Default a new
	// MemoryHistory (lost on restart; one process only).
	History HistoryStore

	// Broker carries messages to the other nodes (processes) serving the
	// same channels. Default none: this Hub is the only node.
	Broker Broker

	// Presence answers presence queries. Default this Hub's own table,
	// which knows this node's connections only.
	Presence Presence

	// DirectMessages says who may send a direct message with
	// Client.SendToUser: AccessUsers (the default), AccessAnyone or
	// AccessServer (only Hub.SendToUser).
	DirectMessages Access

	// MaxDataSize bounds the data of a publication or direct message, in
	// bytes. Default 8192; keep the encoded message under the transport's
	// limit (16384 bytes per packet by default).
	MaxDataSize int

	// MaxChannelsPerClient bounds one connection's subscriptions. Default
	// 128.
	MaxChannelsPerClient int

	// Clock tells the time of publications and history expiry. Default
	// time.Now.
	Clock func() time.Time

	// Logger logs broker outages and expiry failures. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultMaxDataSize          = 8192
	DefaultMaxChannelsPerClient = 128
)

// withDefaults validates cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, map[string]*Namespace, error) {
	if cfg.Encoder == nil {
		return cfg, nil, configError("Config.Encoder", "is nil")
	}
	switch {
	case cfg.DirectMessages == AccessOwner || cfg.DirectMessages > AccessServer:
		return cfg, nil, configError("Config.DirectMessages", "%v: want users, anyone or server", cfg.DirectMessages)
	case cfg.MaxDataSize < 0:
		return cfg, nil, configError("Config.MaxDataSize", "must not be negative, got %d", cfg.MaxDataSize)
	case cfg.MaxChannelsPerClient < 0:
		return cfg, nil, configError("Config.MaxChannelsPerClient", "must not be negative, got %d", cfg.MaxChannelsPerClient)
	}
	if cfg.Namespaces == nil {
		cfg.Namespaces = DefaultNamespaces()
	}
	nss := make(map[string]*Namespace, len(cfg.Namespaces))
	for i, ns := range cfg.Namespaces {
		field := "Config.Namespaces[" + strconv.Itoa(i) + "]"
		ns, err := ns.withDefaults(field)
		if err != nil {
			return cfg, nil, err
		}
		if _, dup := nss[ns.Name]; dup {
			return cfg, nil, configError(field+".Name", "%q listed twice", ns.Name)
		}
		nss[ns.Name] = &ns
	}
	if cfg.History == nil {
		cfg.History, _ = NewMemoryHistory(MemoryHistoryConfig{})
	}
	if cfg.MaxDataSize == 0 {
		cfg.MaxDataSize = DefaultMaxDataSize
	}
	if cfg.MaxChannelsPerClient == 0 {
		cfg.MaxChannelsPerClient = DefaultMaxChannelsPerClient
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nss, nil
}
