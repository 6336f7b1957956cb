// Package iplimit bounds what one source may take from a server: how many
// connections it holds open (Conns) and how fast it may do something
// (Limiter, a keyed token bucket). TCP, KCP and HTTP servers share it, so
// a source is limited the same way whichever transport it uses.
//
// # Sources
//
// A Key names a source. An IPv4 address is its own key (an IPv4-mapped
// IPv6 address counts as the IPv4 address). An IPv6 address is keyed by
// its /64 prefix: a single host or customer is routinely given a whole
// /64, and an attacker with one can pick a new address per connection, so
// limiting single IPv6 addresses would limit nothing. KeyOf, KeyOfAddrPort
// and KeyOfNetAddr build keys without allocating; a net.Addr that is not
// an IP address (a Unix socket) has no key, and is not limited.
//
// # Connections
//
// Conns counts the open connections of each key. Acquire takes a slot
// when a connection opens and refuses when the key already holds Max;
// Release gives it back when the connection closes. A key with no open
// connection holds no memory, so memory is bounded by the connections
// open. Every Acquire that succeeded must be matched by exactly one
// Release.
//
// # Rates
//
// Limiter is a token bucket per key, for any comparable key (a Key for a
// per-source limit, a string for a per-user one): a key may do Burst
// things at once and Rate per second sustained. It stores one int64 per
// key, the bucket's "theoretical arrival time" (the GCRA form of a token
// bucket): a key whose bucket has refilled is indistinguishable from a
// key never seen, so its entry may be dropped at any time without changing
// any answer. That is how memory stays bounded: entries expire once their
// bucket is full again, and are swept incrementally. A hard cap, MaxKeys,
// bounds the entries even when every key is active (an attacker cycling
// through sources): a new key arriving while the cap is reached shares
// one overflow bucket, with the same Rate and Burst, with every other key
// that arrived over the cap. The keys already tracked are unaffected, and
// a flood of new keys gets together what one key would.
//
// The clock is injected (LimiterConfig.Clock), so tests run on fake time.
//
// # Concurrency and cost
//
// Conns and Limiter are safe for concurrent use. Both are sharded by a
// hash of the key, each shard under its own mutex, and neither allocates
// on the hot path: Acquire, Release and Allow for a key already tracked
// allocate nothing, and tracking a new key allocates only when a shard's
// map grows.
//
// iplimit imports nothing of wharf's and nothing outside the standard
// library.
package iplimit
