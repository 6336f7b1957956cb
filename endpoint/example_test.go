package endpoint_test

import (
	"fmt"
	"net"

	"wharf/endpoint"
)

func ExampleParse() {
	for _, s := range []string{"tcp://127.0.0.1:7000", "[::1]:7000", "unix:///run/wharf.sock", "wss://example.com"} {
		a, err := endpoint.Parse(s, "tcp")
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-24s %-5s %-18s secure=%-5v path=%q\n", a, a.Network(), a.Address(), a.Secure(), a.Path)
	}
	_, err := endpoint.Parse("tcp://:7000/x", "")
	fmt.Println(err)
	// Output:
	// tcp://127.0.0.1:7000     tcp   127.0.0.1:7000     secure=false path=""
	// tcp://[::1]:7000         tcp   [::1]:7000         secure=false path=""
	// unix:///run/wharf.sock   unix  /run/wharf.sock    secure=false path="/run/wharf.sock"
	// wss://example.com/ws     tcp   example.com:443    secure=true  path="/ws"
	// endpoint: "tcp://:7000/x": unexpected "/x" after the port
}

// A listener that takes TCP or Unix addresses, TCP when none is written.
func ExampleSchemes_Parse() {
	stream := endpoint.Schemes{"tcp", "tcp4", "tcp6", "unix"}
	a, err := stream.Parse("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen(a.Network(), a.Address())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	fmt.Println(a.Scheme, ln.Addr().Network())

	_, err = stream.Parse("udp://:7001")
	fmt.Println(err)
	// Output:
	// tcp tcp
	// endpoint: "udp://:7001": scheme must be tcp, tcp4, tcp6 or unix
}

func ExampleAddr_String() {
	a := endpoint.Addr{Scheme: "tcp6", Host: "::1", Port: 7000}
	fmt.Println(a)
	fmt.Println(endpoint.Addr{Scheme: "ws", Host: "example.com", Port: 80, Path: "/ws"})
	// Output:
	// tcp6://[::1]:7000
	// ws://example.com/ws
}
