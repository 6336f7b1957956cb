//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"wharf/client"
	"wharf/internal/natstest"
	"wharf/internal/pgtest"
	"wharf/internal/testkit"
)

// clusterNode is one wharfd of a test cluster.
type clusterNode struct {
	*daemon
	name              string
	port, admin, http int
}

// startClusterNode starts wharfd as cluster node name on the NATS server
// at broker and the PostgreSQL database at db, with fast heartbeats; top
// is more top-level keys.
func startClusterNode(t *testing.T, name, broker, db, top string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	n := &clusterNode{name: name, port: freePort(t), http: freePort(t), admin: freePort(t)}
	cfg := filepath.Join(dir, "wharf.toml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `%s
pid_file = %q
drain_timeout = "1s"
[server]
listen = "127.0.0.1:%d"
stats_interval = "0s"
[http]
listen = "127.0.0.1:%d"
[admin]
listen = "127.0.0.1:%d"
[kcp]
listen = []
[database]
url = %q
[cluster]
broker = %q
node_name = %q
heartbeat = "100ms"
dead_after = "300ms"
`, top, filepath.Join(dir, "wharfd.pid"), n.port, n.http, n.admin, db, broker, name), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.daemon = startWharfd(t, dir, "-c", cfg)
	n.waitLog("cluster: connected to the NATS server", 20*time.Second)
	return n
}

// get fetches path from the node's admin listener.
func (n *clusterNode) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", n.admin, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitMetrics waits until the node's /metrics has every line of wants.
func (n *clusterNode) waitMetrics(t *testing.T, wants ...string) {
	t.Helper()
	var metrics string
	deadline := time.Now().Add(testkit.Timeout)
	for {
		metrics = n.get(t, "/metrics")
		if !slices.ContainsFunc(wants, func(w string) bool { return !strings.Contains(metrics, w+"\n") }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's /metrics lacks some of %q:\n%s", n.name, wants, grepLines(metrics, "wharf_cluster"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// user is an account logged in on one node over the packet protocol.
type user struct {
	*subscriber
	id    string
	token string
}

func loginUser(t *testing.T, ctx context.Context, n *clusterNode, name string) *user {
	t.Helper()
	s := dialSubscriber(t, ctx, n.port)
	if _, err := s.Register(ctx, name, "correct horse"); err != nil {
		t.Fatalf("register %s on %s: %v", name, n.name, err)
	}
	id, token, err := s.Login(ctx, name, "correct horse")
	if err != nil {
		t.Fatalf("login %s on %s: %v", name, n.name, err)
	}
	return &user{subscriber: s, id: strconv.FormatInt(id, 10), token: token}
}

// publication waits for the next publication pushed to u.
func (u *user) publication(t *testing.T) client.Publication {
	t.Helper()
	var p client.Publication
	if err := client.DecodePush(u.next(t, client.CodePublication), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// presence renders ch's members, as u's node answers, as "3x1 5x1".
func (u *user) presence(t *testing.T, ctx context.Context, ch string) string {
	t.Helper()
	ms, _, err := u.Presence(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%sx%d", m.User, m.Conns))
	}
	return strings.Join(parts, " ")
}

func members(ids ...string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id + "x1"
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// TestThreeNodeCluster runs three wharfd nodes on one NATS server and one
// PostgreSQL: users on different nodes chat in a room with offsets from
// the shared history, a session token from one node logs in on another,
// direct messages and presence cross nodes; a node killed with -9 leaves
// presence within its dead_after and its user reconnects to another node
// and recovers what it missed; the NATS server restarts mid-run, delivery
// stays local meanwhile, heals after, and the gap is recovered from
// history; /metrics and the dashboard show the nodes.
func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three wharfd nodes, PostgreSQL and NATS")
	}
	db := pgtest.New(t)
	ns := natstest.Start(t)
	nodes := []*clusterNode{
		startClusterNode(t, "n0", ns.URL(), db, ""),
		startClusterNode(t, "n1", ns.URL(), db, ""),
		startClusterNode(t, "n2", ns.URL(), db, ""),
	}
	for _, n := range nodes {
		n.waitMetrics(t, "wharf_cluster_nodes 3")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const room = "room:ops"

	alice := loginUser(t, ctx, nodes[0], "alice")
	bob := loginUser(t, ctx, nodes[1], "bob")
	carol := loginUser(t, ctx, nodes[2], "carol")

	// A token from node 0 is valid on node 2: sessions are in PostgreSQL.
	alice2 := dialSubscriber(t, ctx, nodes[2].port)
	if s, err := alice2.LoginToken(ctx, alice.token); err != nil || s.User != alice.id {
		t.Fatalf("alice's token on n2 = %+v, %v", s, err)
	}

	// Presence is cluster-wide; alice hears each join once.
	if _, err := alice.Subscribe(ctx, room, client.SubscribeOptions{JoinLeave: true}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		if _, err := u.Subscribe(ctx, room, client.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	all := members(alice.id, bob.id, carol.id)
	testkit.Eventually(t, "presence of all three on every node", func() bool {
		return alice.presence(t, ctx, room) == all && bob.presence(t, ctx, room) == all && carol.presence(t, ctx, room) == all
	})
	joins := map[string]bool{}
	for len(joins) < 3 {
		var p client.Presence
		client.DecodePush(alice.next(t, client.CodeJoin), &p)
		if joins[p.User] {
			t.Fatalf("a second join of %s", p.User)
		}
		joins[p.User] = true
	}

	// Chat across nodes: one numbering of the room, whoever publishes.
	say := func(u *user, text string) uint64 {
		t.Helper()
		off, _, err := u.Publish(ctx, room, json.RawMessage(strconv.Quote(text)))
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	var last client.Publication
	for i, from := range []*user{bob, carol, alice} {
		text := fmt.Sprintf("hello %d", i)
		if off := say(from, text); off != uint64(i+1) {
			t.Fatalf("publication %d got offset %d", i, off)
		}
		for _, to := range []*user{alice, bob, carol} {
			p := to.publication(t)
			if p.Offset != uint64(i+1) || string(p.Data) != strconv.Quote(text) || p.From != from.id {
				t.Fatalf("publication %d: %+v", i, p)
			}
			if to == carol {
				last = p
			}
		}
	}

	// A direct message crosses nodes, to every connection of the user.
	if err := bob.SendDirect(ctx, alice.id, json.RawMessage(`"psst"`)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*subscriber{alice.subscriber, alice2} {
		var d client.Direct
		client.DecodePush(s.next(t, client.CodeDirect), &d)
		if d.From != bob.id || string(d.Data) != `"psst"` {
			t.Fatalf("direct %+v", d)
		}
	}

	// kill -9 n2: carol's node. The others drop her within dead_after
	// (300ms) plus a heartbeat; alice hears her leave.
	killed := time.Now()
	nodes[2].cmd.Process.Signal(syscall.SIGKILL)
	var p client.Presence
	client.DecodePush(alice.next(t, client.CodeLeave), &p)
	if p.User != carol.id {
		t.Fatalf("leave of %s, want carol %s", p.User, carol.id)
	}
	if took := time.Since(killed); took > 5*time.Second {
		t.Fatalf("carol left presence %v after the kill", took)
	}
	if got := alice.presence(t, ctx, room); got != members(alice.id, bob.id) {
		t.Fatalf("presence after the kill = %s", got)
	}
	// While carol is away, two more publications; she reconnects to n1
	// with her token and recovers them from the shared history.
	say(bob, "while you were out 1")
	say(alice, "while you were out 2")
	carolBack := dialSubscriber(t, ctx, nodes[1].port)
	if _, err := carolBack.LoginToken(ctx, carol.token); err != nil {
		t.Fatal(err)
	}
	res, err := carolBack.Subscribe(ctx, room, client.SubscribeOptions{Recover: true, Offset: last.Offset, Epoch: last.Epoch})
	if err != nil || !res.Recovered || res.Offset != 5 {
		t.Fatalf("carol's recovery on n1 = %+v, %v", res, err)
	}
	carol = &user{subscriber: carolBack, id: carol.id, token: carol.token}
	for off := uint64(4); off <= 5; off++ {
		if p := carol.publication(t); p.Offset != off {
			t.Fatalf("carol recovered offset %d, want %d", p.Offset, off)
		}
	}
	for _, u := range []*user{alice, bob} {
		u.publication(t)
		u.publication(t)
	}
	testkit.Eventually(t, "carol back in presence", func() bool { return alice.presence(t, ctx, room) == all })

	// The NATS server restarts. Meanwhile each node delivers locally; a
	// publication on n1 reaches bob and carol (both on n1), not alice on
	// n0, who finds the gap at the next one and recovers it.
	ns.Stop()
	for _, n := range nodes[:2] {
		n.waitLog("cluster: lost the NATS server", 10*time.Second)
	}
	if off := say(bob, "during the outage"); off != 6 {
		t.Fatalf("offset during the outage %d", off)
	}
	for _, u := range []*user{bob, carol} {
		if p := u.publication(t); p.Offset != 6 {
			t.Fatalf("local delivery during the outage: %+v", p)
		}
	}
	ns.Restart()
	for _, n := range nodes[:2] {
		n.waitLog("cluster: reconnected to the NATS server", 20*time.Second)
	}
	testkit.Eventually(t, "presence healed", func() bool { return alice.presence(t, ctx, room) == all })
	say(bob, "after the outage")
	p7 := alice.publication(t)
	if p7.Offset != 7 {
		t.Fatalf("alice got offset %d after the outage, want 7 (6 was lost with the broker)", p7.Offset)
	}
	alice.Unsubscribe(ctx, room)
	res, err = alice.Subscribe(ctx, room, client.SubscribeOptions{Recover: true, Offset: 5, Epoch: p7.Epoch})
	if err != nil || !res.Recovered {
		t.Fatalf("alice's recovery = %+v, %v", res, err)
	}
	if p := alice.publication(t); p.Offset != 6 || string(p.Data) != `"during the outage"` {
		t.Fatalf("alice recovered %+v", p)
	}

	// Each node's /metrics and dashboard show the cluster.
	nodes[1].waitMetrics(t, "wharf_cluster_connected 1", "wharf_cluster_nodes 2", "wharf_cluster_reconnects_total 1")
	if m := nodes[1].get(t, "/metrics"); !strings.Contains(m, `wharf_cluster_node_connections{incarnation=`) || !strings.Contains(m, `node="n0"} 1`) {
		t.Errorf("n1's /metrics lacks n0's connections:\n%s", grepLines(m, "wharf_cluster_node"))
	}
	page := nodes[0].get(t, "/")
	for _, want := range []string{`id="nodes"`, `n0 (here)`, `>n1</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("n0's dashboard lacks %q", want)
		}
	}
}

// TestClusterWorkers: with processes = 2, each worker is a node of its own
// (node_name-SLOT): the master's relay is not used, NATS carries the
// messages between the workers too, and /metrics sums the workers.
func TestClusterWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts wharfd with workers, PostgreSQL and NATS")
	}
	db := pgtest.New(t)
	ns := natstest.Start(t)
	n := startClusterNode(t, "w", ns.URL(), db, "processes = 2")
	workers := n.waitWorkers(2, 10*time.Second)
	n.waitMetrics(t, "wharf_cluster_connected 2", "wharf_cluster_nodes 2")
	if m := n.get(t, "/metrics"); !strings.Contains(m, `node="w-0"}`) || !strings.Contains(m, `node="w-1"}`) {
		t.Fatalf("/metrics lacks the workers' nodes:\n%s", grepLines(m, "wharf_cluster_node"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := loginUser(t, ctx, n, "ann")
	var b *user
	for i := 0; b == nil; i++ {
		u := dialSubscriber(t, ctx, n.port)
		if ownerOf(t, workers, n.port, u.port) != ownerOf(t, workers, n.port, a.port) {
			if _, err := u.LoginToken(ctx, a.token); err != nil {
				t.Fatal(err)
			}
			b = &user{subscriber: u, id: a.id}
		} else {
			u.Close()
		}
		if i == 50 {
			t.Fatal("50 connections all landed on one worker")
		}
	}
	if _, err := b.Subscribe(ctx, "room:w", client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "presence across the workers", func() bool { return a.presence(t, ctx, "room:w") == members(a.id) })
	if _, _, err := a.Publish(ctx, "room:w", json.RawMessage(`"across"`)); err != nil {
		t.Fatal(err)
	}
	if p := b.publication(t); string(p.Data) != `"across"` || p.Offset != 1 {
		t.Fatalf("publication across workers: %+v", p)
	}
}
