package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRestartKeepsURL: a client reconnects to the restarted server at the
// same URL, and messages flow again.
func TestRestartKeepsURL(t *testing.T) {
	s := Start(t)
	reconnected := make(chan struct{}, 1)
	nc, err := nats.Connect(s.URL(), nats.ReconnectWait(10*time.Millisecond), nats.MaxReconnects(-1),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if s.NumClients() != 1 {
		t.Fatalf("NumClients = %d", s.NumClients())
	}
	s.Restart()
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect to the restarted server")
	}
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	nc.Publish("x", []byte("hi"))
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("NextMsg = %v, %v", m, err)
	}
	s.Stop()
	s.Stop() // twice: nothing
	if s.NumClients() != 0 {
		t.Fatal("clients on a stopped server")
	}
}
