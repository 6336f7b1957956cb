package httpd_test

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"net/http"

	"wharf/engine"
	"wharf/httpd"
)

// shout is a toy protocol spoken after "Upgrade: shout": it answers every
// read with "!". WebSocket (package websocket) plugs in the same way.
type shout struct{}

func (shout) OnUpgrade(engine.Conn) {}
func (shout) OnData(c engine.Conn) error {
	c.Discard(-1)
	_, err := c.Write([]byte("!"))
	return err
}
func (shout) OnClose(engine.Conn, error) {}
func (shout) OnShutdown(c engine.Conn)   { c.Close() }

// A native handler switches the connection to another protocol: the 101
// response goes out when the handler returns, then the Protocol gets the
// connection's bytes on its event loop.
func ExampleRequestCtx_Upgrade() {
	fmt.Println(shoutOnce(httpd.Config{Native: httpd.NativeFunc(func(c *httpd.RequestCtx) {
		c.Upgrade([]byte(switchingToShout), shout{})
	})}))
	// Output: 101 !
}

// A net/http handler on httpd's adapter switches protocols with Upgrade:
// the connection goes back to the engine loop.
func ExampleUpgrade() {
	fmt.Println(shoutOnce(httpd.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpd.Upgrade(w, []byte(switchingToShout), shout{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})}))
	// Output: 101 !
}

const switchingToShout = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n"

// shoutOnce serves cfg, switches a connection to shout and says something.
func shoutOnce(cfg httpd.Config) string {
	srv, err := httpd.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	a, _ := srv.Listen("127.0.0.1:0")
	srv.Start()
	defer srv.Close()
	addr := a.String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n"))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err.Error()
	}
	nc.Write([]byte("hey"))
	b, _ := br.ReadByte()
	return fmt.Sprintf("%d %c", resp.StatusCode, b)
}
