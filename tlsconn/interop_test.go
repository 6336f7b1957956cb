package tlsconn

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"wharf/engine"
)

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOpenSSLClient: openssl s_client completes a verified handshake with
// TLS 1.2 and 1.3, echoes through, sends a TLS 1.3 KeyUpdate asking for
// ours (the answer is sealed while the server reads: it must reach the
// client before the next echo, or that echo fails to decrypt), and closes
// with close_notify.
func TestOpenSSLClient(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := thePKI(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pemCert(p.caCert), 0o600)
	cert := p.issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, version := range []string{"-tls1_3", "-tls1_2"} {
			t.Run(version, func(t *testing.T) {
				inner := newTH()
				s := startServer(t, k, serverConfig(cert), engine.Config{}, inner)
				cmd := exec.Command(openssl, "s_client", "-connect", s.addr, "-CAfile", ca,
					"-servername", "localhost", "-verify_return_error", version)
				stdin, _ := cmd.StdinPipe()
				var out lockedBuffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer cmd.Process.Kill()
				wait := func(what string) {
					t.Helper()
					deadline := time.Now().Add(10 * time.Second)
					for !strings.Contains(out.String(), what) {
						if time.Now().After(deadline) {
							t.Fatalf("no %q from s_client; output:\n%s", what, out.String())
						}
						time.Sleep(5 * time.Millisecond)
					}
				}
				inner.waitOpen(t)
				io.WriteString(stdin, "hello-wharf\n")
				wait("hello-wharf") // the echo (stdin is a pipe: nothing else prints it)
				if version == "-tls1_3" {
					io.WriteString(stdin, "K\n")
					wait("KEYUPDATE")
				}
				io.WriteString(stdin, "after-update\n")
				wait("after-update")
				stdin.Close() // s_client sends close_notify and exits
				if err := cmd.Wait(); err != nil {
					t.Fatalf("s_client: %v\n%s", err, out.String())
				}
				if o := out.String(); !strings.Contains(o, "Verify return code: 0 (ok)") {
					t.Errorf("s_client did not verify the certificate:\n%s", o)
				}
				if ev := inner.waitClose(t); ev.err != nil && ev.err.Error() != "EOF" {
					t.Errorf("inner OnClose err = %v, want io.EOF", ev.err)
				}
				if st := s.h.Stats(); st.Handshakes != 1 || st.Failed.Total() != 0 {
					t.Errorf("Stats = %+v", st)
				}
			})
		}
	})
}
