package supervisor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
)

// The control channel between the master and one worker is a Unix
// socketpair carrying one JSON message per line. Lifecycle commands travel as
// signals (QUIT drain, TERM stop, USR1 reopen), like nginx; the channel
// carries what signals cannot: the configuration, readiness, stats, and
// cross-worker messages.
//
//	master -> worker: config{config}          the validated configuration
//	                  totals{id, data|err}    reply to a totals request: the summed Stats
//	                  publish{topic, data}    a message another worker published
//	worker -> master: ready | failed{err}     startup result
//	                  stats{data}             the worker's Stats, every second
//	                  totals{id}              request: the sum of all workers' Stats
//	                  publish{topic, data}    relay to every other worker
type message struct {
	Op     op              `json:"op"`
	ID     uint64          `json:"id,omitempty"`
	Topic  string          `json:"topic,omitempty"`
	Config string          `json:"config,omitempty"`
	Err    string          `json:"err,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// op is what a control message asks or reports. On the wire it is its
// name ("config", "ready", ...).
type op uint8

const (
	opUnknown op = iota // a name this program does not know (from another version): ignored
	opConfig            // master -> worker: the configuration
	opReady             // worker -> master: serving
	opFailed            // worker -> master: NewApp failed (Err)
	opStats             // worker -> master: its Stats (Data)
	opTotals            // worker -> master: a request (ID); master -> worker: the sum (ID, Data or Err)
	opPublish           // either way: a hub message (Topic, Data)
	numOps
)

var opNames = [numOps]string{"unknown", "config", "ready", "failed", "stats", "totals", "publish"}

func (o op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// parseOp reads an op's wire name; ok is false for a name it does not know.
func parseOp(name string) (o op, ok bool) {
	for i, n := range opNames {
		if i > int(opUnknown) && n == name {
			return op(i), true
		}
	}
	return opUnknown, false
}

// MarshalText writes the op's name.
func (o op) MarshalText() ([]byte, error) {
	if o == opUnknown || o >= numOps {
		return nil, fmt.Errorf("supervisor: cannot send control op %v", o)
	}
	return []byte(o.String()), nil
}

// UnmarshalText reads an op's name. An unknown name is opUnknown, not an
// error: the message is ignored, and the channel carries on.
func (o *op) UnmarshalText(b []byte) error {
	*o, _ = parseOp(string(b))
	return nil
}

// control is one end of a control channel. send is safe from any goroutine;
// recv is called by one reader goroutine.
type control struct {
	c  net.Conn
	r  *bufio.Reader
	mu sync.Mutex // serialises writes
}

// maxMessage bounds one control line (stats of a worker, a config file).
const maxMessage = 16 << 20

func newControl(c net.Conn) *control {
	return &control{c: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// controlFromFile wraps an inherited socketpair end.
func controlFromFile(f *os.File) (*control, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return newControl(c), nil
}

func (c *control) send(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.c.Write(b)
	return err
}

func (c *control) recv() (message, error) {
	var m message
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A long line: gather it, bounded.
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(buf) < maxMessage {
			line, err = c.r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(line, &m)
	return m, err
}

func (c *control) close() error { return c.c.Close() }
