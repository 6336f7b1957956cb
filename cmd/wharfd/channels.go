package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/chat"
	"wharf/cluster"
	"wharf/config"
	"wharf/jwtauth"
	"wharf/supervisor"
	"wharf/web"
)

// channelsTopic is the supervisor relay's topic of the workers' channel
// messages (channels.RelayBroker).
const channelsTopic = "channels"

// hubConfig maps [channels] onto the channels.Config of the chat
// application, without its history store and broker (which need the
// database and the workers' relay: appChannels adds them).
func hubConfig(cfg config.Config) (channels.Config, error) {
	c := cfg.Channels
	hc := channels.Config{
		MaxDataSize:          int(c.MaxDataSize),
		MaxChannelsPerClient: c.MaxChannelsPerConn,
		Namespaces:           []channels.Namespace{}, // none listed: every channel refused
	}
	if err := hc.DirectMessages.UnmarshalText([]byte(c.DirectMessages)); err != nil {
		return hc, fmt.Errorf("wharfd: channels.direct_messages: %w", err)
	}
	for i, ns := range c.Namespaces {
		n := channels.Namespace{
			Name:           ns.Name,
			Presence:       ns.Presence,
			JoinLeave:      ns.JoinLeave,
			HistorySize:    ns.HistorySize,
			HistoryTTL:     time.Duration(ns.HistoryTTL),
			MaxSubscribers: ns.MaxSubscribers,
		}
		if err := n.Subscribe.UnmarshalText([]byte(ns.Subscribe)); err != nil {
			return hc, fmt.Errorf("wharfd: channels.namespace[%d].subscribe: %w", i, err)
		}
		if err := n.Publish.UnmarshalText([]byte(ns.Publish)); err != nil {
			return hc, fmt.Errorf("wharfd: channels.namespace[%d].publish: %w", i, err)
		}
		hc.Namespaces = append(hc.Namespaces, n)
	}
	return hc, nil
}

// jwtVerifier returns the [jwt] verifier, or nil when no key is set. It
// reads public_key_file.
func jwtVerifier(c config.JWT) (*jwtauth.Verifier, error) {
	if c.HMACSecret == "" && c.PublicKeyFile == "" {
		return nil, nil
	}
	jc := jwtauth.Config{
		HMACSecret: []byte(c.HMACSecret),
		Issuer:     c.Issuer,
		Audience:   c.Audience,
		Leeway:     time.Duration(c.Leeway),
	}
	if c.PublicKeyFile != "" {
		pem, err := os.ReadFile(c.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("wharfd: jwt.public_key_file: %w", err)
		}
		jc.PublicKeyPEM = pem
	}
	v, err := jwtauth.New(jc)
	if err != nil {
		return nil, fmt.Errorf("wharfd: [jwt]: %w", err)
	}
	return v, nil
}

// appChannels is the chat application's channels configuration for one
// worker: the namespaces and bounds of [channels], the history store it
// names (memory, or the SQL history in the accounts database), and as the
// broker the cluster node (also the presence), or else the workers' relay.
func appChannels(ctx context.Context, cfg config.Config, store accounts.Store, hub *supervisor.Hub, node *cluster.Node) (channels.Config, error) {
	hc, err := hubConfig(cfg)
	if err != nil {
		return hc, err
	}
	ttl := time.Duration(cfg.Channels.StreamTTL)
	switch cfg.ResolvedHistory() {
	case "sql":
		db, ok := accounts.DatabaseOf(store)
		if !ok {
			return hc, fmt.Errorf(`wharfd: channels.history "sql": the accounts store has no SQL database`)
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		h, err := channels.OpenSQLHistory(ctx, channels.SQLDatabase{Dialect: db.Dialect, Writer: db.Writer, Reader: db.Reader},
			channels.SQLHistoryConfig{StreamTTL: ttl})
		if err != nil {
			return hc, fmt.Errorf("wharfd: channels.history: %w", err)
		}
		hc.History = h
	default:
		h, err := channels.NewMemoryHistory(channels.MemoryHistoryConfig{StreamTTL: ttl})
		if err != nil {
			return hc, fmt.Errorf("wharfd: channels.stream_ttl: %w", err)
		}
		hc.History = h
	}
	switch {
	case node != nil:
		hc.Broker, hc.Presence = node, node
	case hub != nil:
		hc.Broker = channels.NewRelayBroker(hub, channelsTopic)
	}
	return hc, nil
}

// checkChannels checks what config.Load cannot: the namespaces against
// package channels' rules, the lobby's name, and the JWT key file. wharfd
// -t runs it.
func checkChannels(cfg config.Config) error {
	hc, err := hubConfig(cfg)
	if err != nil {
		return err
	}
	hc.Encoder = chat.PacketEncoder
	if _, err := channels.NewHub(hc); err != nil {
		return fmt.Errorf("wharfd: [channels]: %w", err)
	}
	if _, err := channels.ParseName(cfg.Channels.Lobby); err != nil {
		return fmt.Errorf("wharfd: channels.lobby: %w", err)
	}
	_, err = jwtVerifier(cfg.JWT)
	return err
}

// pushAPI is the [push] API, or nil without keys.
func (in *instance) pushAPI() (*web.PushAPI, error) {
	p := in.cfg.Push
	if len(p.Keys) == 0 {
		return nil, nil
	}
	return web.NewPushAPI(web.PushConfig{
		App:         in.app,
		Keys:        p.Keys,
		MaxBody:     int64(p.MaxBody),
		MaxChannels: p.MaxChannels,
		Rate:        float64(p.Rate),
		Burst:       p.Burst,
		Logger:      in.log,
	})
}

// expireHistory reclaims expired channel history until the instance
// stops.
func (in *instance) expireHistory() {
	defer close(in.expired)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-in.stop
		cancel()
	}()
	in.app.Hub().RunExpiry(ctx, time.Minute)
}
