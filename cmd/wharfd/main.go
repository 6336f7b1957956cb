// Command wharfd is the wharf daemon: the packet server with its chat
// application, on embedded defaults or a TOML config file.
//
//	wharfd                      serve with the defaults (packets on tcp :7000)
//	wharfd -c wharf.toml        serve with a config file
//	wharfd -t -c wharf.toml     check the config file and exit
//	wharfd -print-config        print the effective config (defaults included)
//	wharfd -gen-cert DIR        write a self-signed certificate for localhost
//	                            to DIR/cert.pem and DIR/key.pem, and exit
//
// See the README's operations section for signals, reload and upgrade.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type options struct {
	configPath  string
	test        bool
	printConfig bool
	signal      string
	version     bool
	genCert     string
}

func main() {
	var o options
	flag.StringVar(&o.configPath, "c", "", "config file (TOML); default: embedded defaults")
	flag.BoolVar(&o.test, "t", false, "test the configuration and exit")
	flag.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration and exit")
	flag.StringVar(&o.signal, "s", "", "send a signal to the running master: reload, stop, quit, reopen")
	flag.BoolVar(&o.version, "v", false, "print the version and exit")
	flag.StringVar(&o.genCert, "gen-cert", "", "write a self-signed certificate for localhost, 127.0.0.1 and ::1 to `DIR`/cert.pem and DIR/key.pem (for local tests of tls:// listeners), and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "wharfd: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := run(o); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		fmt.Fprintln(os.Stderr, "wharfd:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a status after the message was printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
