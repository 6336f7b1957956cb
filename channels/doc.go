// Package channels is wharf's messaging core: named channels that
// connections subscribe to, publications fanned out to every subscriber,
// direct messages to every connection of a user, presence with join and
// leave events, and a history of recent publications from which a client
// that reconnects recovers what it missed. It knows no transport: the
// packet protocol, WebSocket and the web app plug their connections in as
// Subscribers and pass the Encoder of their wire format (packet/SPEC.md
// section 8 specifies the protocol; package chat serves it).
//
// # Using it
//
//	hub, err := channels.NewHub(channels.Config{Encoder: enc}) // the default namespaces, memory history
//	c := hub.Connect(conn)            // conn implements Subscriber; when it logs in (or opens)
//	defer c.Close()                   // when it closes: leaves every channel and the user index
//	ch, err := channels.ParseName("room:lobby")
//	res, err := c.Subscribe(ctx, ch, channels.SubscribeOptions{Recover: true, Since: pos})
//	res, err := c.Publish(ctx, ch, []byte(`{"text":"hi"}`))   // as the connection's user
//	res, err := hub.Publish(ctx, ch, data)                      // as the backend (push API)
//	n, err := hub.SendToUser("42", data)                        // every connection of user 42
//	members, err := c.Presence(ctx, ch)
//	msgs, pos, err := c.History(ctx, ch, channels.Query{Limit: 50, Newest: true})
//
// # Names and namespaces
//
// A channel name is "namespace:local" or, in the default namespace, just
// "local" (the grammar is on Name). ParseName checks it without allocating.
// Each namespace is configured by a Namespace: who may subscribe (and read
// presence and history) and who may publish (AccessAnyone, AccessUsers,
// AccessOwner: only the user whose ID is the local name, AccessServer: only
// the backend), whether it keeps presence and sends join/leave events, its
// history size and TTL, and a bound on subscribers. DefaultNamespaces has
// the default namespace and "room" open to logged-in users, and "user",
// where "user:42" is the private channel of user 42 that only the backend
// publishes to.
//
// # Who checks permissions
//
// The Hub does. Client methods act for the client's user and apply the
// namespace's rules, failing with ErrPermissionDenied. Hub methods act for
// the application's backend and apply none (the push API authenticates its
// callers itself). SubscribeOptions.Server subscribes a connection on the
// backend's authority. Callers without a Client, such as HTTP handlers,
// ask CanSubscribe and CanPublish.
//
// # Fan-out
//
// A publication is encoded once per node, by the Encoder, into a buffer
// that every subscriber's Deliver receives: the same bytes, with no
// allocation or copy per subscriber. A publication costs two allocations
// (the buffer and the Message) whatever the number of subscribers; tests
// hold that budget.
//
// Delivered bytes are immutable and never reused by the Hub: a Subscriber
// may keep them as long as it needs (queue them for an asynchronous write,
// engine.Conn.AsyncWrite with a nil done) without copying, and must never
// modify them. One Deliver call may carry several messages back to back (a
// recovery's batch), so encodings must be self-delimiting.
//
// A channel's subscribers are a copy-on-write roster (roster.go): the
// fan-out loads a snapshot with one atomic load and iterates it holding no
// lock, so publishers never wait for subscribers to come and go, nor for
// each other on different channels. Rosters are blocks of 128 pointers, so
// a subscription or removal in a channel of 10,000 copies at most two
// blocks and the block index (about 4 KiB), not the whole list. The channel
// and user indexes are sharded maps (64 shards each). There is no global
// lock on any path.
//
// # Goroutines
//
// Every method of Hub and Client is safe for concurrent use. The Hub runs
// no goroutine of its own (RunExpiry is one the caller runs and stops with
// its ctx). Deliver runs on the goroutine of whoever publishes: a handler
// goroutine, the push API's, or the broker's for messages from other nodes.
// It must not block and must not call the Hub or its Client. A Client's
// Subscribe, Unsubscribe and Close run one at a time. A publication already
// in flight may still be delivered just after Unsubscribe returns.
//
// Lock order, for maintainers: Client.opMu, then a channel's publish lock
// (Hub.pubLocks), then channel.mu, then a shard's mu and a Client's mu. The
// publish lock is held across a publication's history Append, fan-out and
// Broker.Publish; channel.mu across a subscription's history Read and
// insertion, and never while calling the Broker. Deliver may be called
// with either held (join and leave events, recoveries), which is why it
// must not call back.
//
// # Presence
//
// In a namespace with Presence, each channel counts its subscribed
// connections per user: a user with two tabs is one Member with Conns 2.
// Anonymous connections are not members. The first connection of a user
// to subscribe sends a join event, the last one to leave sends a leave
// event, to the subscribers that asked (SubscribeOptions.JoinLeave), the
// joining connection included. Presence is per node: Config.Presence is
// the seam for a cluster-wide answer. A Presence that is also a
// PresenceTracker (package cluster's Node) hears of every change on this
// node and keeps the cluster's view; join and leave events then mean the
// user's first connection in the cluster and its last, and the tracker,
// not the Broker, carries them between nodes.
//
// # History and recovery
//
// In a namespace with HistorySize > 0, each publication gets an offset
// from the HistoryStore: 1, 2, 3, ... within an epoch, a random string
// that names one continuous history of the channel. A client keeps the
// Position (offset, epoch) of the last publication it saw per channel and
// resubscribes with Recover and Since after a reconnect. If the history
// still holds everything after Since, in the same epoch, the Hub delivers
// those publications (in batches of up to 64 KiB per Deliver) before any
// live one and reports Recovered; otherwise the client must resync: reload
// its state (History, or the application) and carry on from the new
// Position. It must resync when the epoch changed (a restart with memory
// history, or a stream forgotten after its stream TTL), when Since is
// ahead of the stream, or when what it missed fell out of the window
// (more than HistorySize publications, or older than HistoryTTL).
//
// On one node, a subscriber sees a history channel's publications in
// offset order, without gaps or duplicates, across recoveries: a
// publication's history append and its local fan-out happen under the
// channel's publish lock, and so do a subscription's history read and its
// insertion into the roster. Across nodes, a client must drop publications
// whose offset is not above the last it saw (duplicates are possible where
// a recovery overlaps a message in transit), and on a gap (an offset
// above last+1: a broker dropped a message) resubscribe with Recover.
//
// Which history survives a restart:
//
//   - MemoryHistory (the default) is lost with the process: new epochs,
//     so every client resyncs. It is for one process only; wharfd's worker
//     processes or nodes numbering publications each on its own would
//     disagree.
//   - SQLHistory, in the accounts database (SQLite or PostgreSQL, through
//     accounts.DatabaseOf), survives restarts with its epochs, and
//     allocates offsets in the database (one transaction per publication,
//     incrementing the channel's counter row), so processes and nodes
//     sharing it agree. Each publication costs a database transaction.
//
// Call RunExpiry (or the store's Expire) periodically to reclaim expired
// entries and streams; reads already ignore them.
//
// # Several nodes
//
// A Broker carries publications, join and leave events and direct
// messages to the other nodes. The Hub delivers locally first, then hands
// the message to the Broker, whose other ends call Hub.Receive. Delivery
// across nodes is at most once; recovery from the shared SQLHistory fills
// what a broker loses. A broker failure degrades publishing to local
// delivery, counted (Stats.BrokerErrors) and logged once per outage.
// RelayBroker runs over supervisor.Hub's relay, for wharfd's workers;
// package cluster's Node is the NATS broker of several wharfd nodes.
//
// # Memory
//
// A connection in 10 channels costs the Hub about 580 bytes (the Client,
// its memberships, 8 bytes per subscription in rosters, its share of the
// channels and of the user index), or about 930 with presence in every
// channel (a map entry per channel and user); measured for 100,000
// connections by BenchmarkMemoryPerConnection, and held to a budget by
// TestMemoryPerConnection.
//
// # Performance
//
// Measured on the 2-core development machine (shared, so take the best of
// a few runs); the lead reruns them on a quiet one:
//
//	go test ./channels -run '^$' -bench 'Publish$' -benchtime 2s
//	go test ./channels -run '^$' -bench 'PublishParallel|Churn|ConnectionLifecycle' -benchtime 2s
//	go test ./channels -run '^$' -bench MemoryPerConnection -benchtime 1x
//
// What they show:
//
//   - BenchmarkPublish/plain/queue/subs=10000: a 100-byte publication to
//     10,000 subscribers whose Deliver locks and fills a queue: 13 ns per
//     delivery, 75M deliveries/s on one core, 2 allocations per
//     publication. With a Deliver that only counts, 4 ns (240M/s). The
//     Hub's share of the 1M deliveries/s per core is thus about
//     1%; the rest is the transport's write.
//   - With memory history (room:history): the same per delivery, plus
//     about 400 ns per publication for the append.
//   - BenchmarkPublishParallel: every core publishing to its own channel
//     scales with the cores (no shared lock).
//   - BenchmarkChurn/subs=10000: unsubscribing and resubscribing one of
//     10,000 subscribers costs 4 µs and 4.4 KiB of garbage.
//   - BenchmarkConnectionLifecycle: Connect, 10 subscriptions and Close,
//     about 6 µs.
package channels
