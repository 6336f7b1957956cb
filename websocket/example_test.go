package websocket_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"wharf/engine"
	"wharf/httpd"
	"wharf/websocket"
)

// An echo endpoint on httpd's native API: the handshake is answered on the
// event loop and the connection's messages are echoed there, with no
// goroutine per connection.
func ExampleServer_ServeNative() {
	ws, err := websocket.NewServer(websocket.Config{}, websocket.HandlerFuncs{
		Message: func(c *websocket.Conn, typ websocket.MessageType, data []byte) {
			c.LoopWrite(typ, data) // on the loop: the reply joins this read's writes
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := httpd.New(httpd.Config{Native: httpd.NativeFunc(func(rc *httpd.RequestCtx) {
		if string(rc.Path()) == "/ws" {
			ws.ServeNative(rc)
			return
		}
		rc.SetStatusCode(http.StatusNotFound)
	})})
	if err != nil {
		log.Fatal(err)
	}
	addr, _ := srv.Listen("127.0.0.1:0")
	srv.Start()
	defer srv.Close()

	fmt.Println(say(addr.String(), nil, "hello"))
	// Output: hello (compressed: false)
}

// say sends text to ws://addr/ws and returns the answer.
func say(addr string, opts *websocket.DialOptions, text string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+addr+"/ws", opts)
	if err != nil {
		return err.Error()
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	c.WriteText(text)
	_, msg, err := c.ReadMessage()
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s (compressed: %v)", msg, c.Compressed())
}

// A WebSocket endpoint written as a standard net/http handler: served by
// httpd's adapter, Upgrade hands the connection back to the engine loop,
// where the Handler's callbacks run. Replies from other goroutines use
// WriteMessage, which queues them on the loop.
func ExampleServer_Upgrade() {
	ws, err := websocket.NewServer(websocket.Config{Compression: true}, websocket.HandlerFuncs{
		Message: func(c *websocket.Conn, typ websocket.MessageType, data []byte) {
			reply := append([]byte("echo: "), data...)
			go c.WriteMessage(typ, reply) // any goroutine
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if err := ws.Upgrade(w, r); err != nil {
			log.Print(err) // refused handshakes were answered with an HTTP error
		}
	})
	srv, err := httpd.New(httpd.Config{Handler: mux})
	if err != nil {
		log.Fatal(err)
	}
	addr, _ := srv.Listen("127.0.0.1:0")
	srv.Start()
	defer srv.Close()

	fmt.Println(say(addr.String(), &websocket.DialOptions{Compression: true}, "hi"))
	// Output: echo: hi (compressed: true)
}

// lineHandler is an engine.Handler for a byte stream of lines.
type lineHandler struct{ engine.BaseHandler }

func (lineHandler) OnData(c engine.Conn) error {
	p, _ := c.Next(-1)
	_, err := c.Write(append([]byte("got "), p...)) // one binary message
	return err
}

// A stream Server runs an engine.Handler written for byte streams over the
// binary messages of WebSocket connections (as engine.Layered
// connections): this is how wharf's message server serves the packet
// protocol at /ws.
func ExampleNewStreamServer() {
	ws, _ := websocket.NewStreamServer(websocket.Config{Subprotocols: []string{"lines.v1"}, RequireSubprotocol: true},
		lineHandler{})
	srv, _ := httpd.New(httpd.Config{Native: ws})
	addr, _ := srv.Listen("127.0.0.1:0")
	srv.Start()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+addr.String()+"/", &websocket.DialOptions{Subprotocols: []string{"lines.v1"}})
	if err != nil {
		log.Fatal(err)
	}
	stream := c.NetConn() // a net.Conn: each Write is one binary message
	stream.Write([]byte("a line\n"))
	buf := make([]byte, 64)
	n, _ := stream.Read(buf)
	fmt.Printf("%q\n", buf[:n])
	stream.Close()
	// Output: "got a line\n"
}

// Dial connects the client side, which runs on the caller's goroutines.
func ExampleDial() {
	srv, _ := httpd.New(httpd.Config{Native: mustServer(websocket.HandlerFuncs{
		Open: func(c *websocket.Conn) { c.WriteText("welcome") },
	})})
	addr, _ := srv.Listen("127.0.0.1:0")
	srv.Start()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+addr.String()+"/", &websocket.DialOptions{
		Header: http.Header{"Origin": {"http://" + addr.String()}}, // same origin: allowed
	})
	if err != nil {
		log.Fatal(err)
	}
	typ, msg, _ := c.ReadMessage()
	fmt.Println(typ, string(msg))
	c.Close(websocket.StatusNormalClosure, "bye")
	// Output: text welcome
}

func mustServer(h websocket.Handler) *websocket.Server {
	s, err := websocket.NewServer(websocket.Config{}, h)
	if err != nil {
		log.Fatal(err)
	}
	return s
}
