//go:build linux

package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wharf/web"
)

// genCert runs wharfd -gen-cert DIR and returns the files and a pool that
// trusts the certificate.
func genCert(t *testing.T, dir string) (cert, key string, roots *x509.CertPool) {
	t.Helper()
	out, err := exec.Command(wharfdBin, "-gen-cert", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("wharfd -gen-cert: %v\n%s", err, out)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	roots = x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(mustRead(t, cert))) {
		t.Fatalf("no certificate in %s:\n%s", cert, out)
	}
	return cert, key, roots
}

// tlsPing dials the packet protocol over TLS and pings once; it returns the
// serial number of the certificate the server presented.
func tlsPing(port int, roots *x509.CertPool) (serial string, err error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{RootCAs: roots})
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if err := pingOn(c); err != nil {
		return "", err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// TestTLSListeners: wharfd serves the packet protocol on tls:// next to
// tcp://, and the web app over HTTPS: r.TLS makes its session cookie
// Secure; plain HTTP to the HTTPS port gets a 400; the stats show the
// "tls" transport and the handshakes.
func TestTLSListeners(t *testing.T) {
	dir := t.TempDir()
	cert, key, roots := genCert(t, filepath.Join(dir, "tls"))
	port, tlsPort, httpsPort, adminPort := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "wharf.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, `pid_file = %q
drain_timeout = "2s"
[server]
listen = ["tcp://127.0.0.1:%d", "tls://127.0.0.1:%d"]
stats_interval = "0s"
[http]
listen = ["tls://127.0.0.1:%d"]
[admin]
listen = ["tcp://127.0.0.1:%d"]
[kcp]
listen = []
[tls]
cert = %q
key = %q
`, filepath.Join(dir, "wharfd.pid"), port, tlsPort, httpsPort, adminPort, cert, key), 0o644)
	if out, err := exec.Command(wharfdBin, "-t", "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("wharfd -t: %v\n%s", err, out)
	}
	d := startWharfd(t, dir, "-c", cfg)
	d.waitLog("kernel_tls_available=", 5*time.Second)

	if err := ping(port); err != nil {
		t.Fatalf("tcp: %v", err)
	}
	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, reply, err := request(c, 5, map[string]string{"username": "tls_user", "password": "correct horse"})
	if err != nil || code != 5 || reply["ok"] != true {
		t.Fatalf("register over TLS: %d %v %v", code, reply, err)
	}

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}}}}
	base := fmt.Sprintf("https://localhost:%d", httpsPort)
	resp, err := hc.Post(base+"/api/login", "application/json", strings.NewReader(`{"username":"tls_user","password":"correct horse"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("login over HTTPS: %d, TLS %+v", resp.StatusCode, resp.TLS)
	}
	secure := false
	for _, ck := range resp.Cookies() {
		secure = secure || ck.Secure
	}
	if len(resp.Cookies()) == 0 || !secure {
		t.Fatalf("session cookie over HTTPS not Secure: %v", resp.Header["Set-Cookie"])
	}

	plain, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", httpsPort))
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != 400 {
		t.Fatalf("plain HTTP to the HTTPS port: %d, want 400", plain.StatusCode)
	}

	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort) // the statistics are on the admin listener
	var st web.Stats
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(admin + "/api/stats")
		if err != nil {
			t.Fatal(err)
		}
		st = web.Stats{}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.TLS != nil && st.TLS.Handshakes >= 2 && st.TLS.Failed.NotTLS == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats: TLS %+v", st.TLS)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tr, ok := st.Server.Transports["tls"]; !ok || tr.Accepted == 0 {
		t.Errorf("no tls transport in the stats: %v", st.Server.Transports)
	}
	resp, err = http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"wharf_tls_handshakes_total", `wharf_tls_handshake_failures_total{reason="not_tls"} 1`, `wharf_engine_connections{transport="tls"}`} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	d.signal(syscall.SIGTERM)
	d.wait(15 * time.Second)
}

// TestTLSReloadUnderLoad: HUP with new certificate files while clients
// keep connecting over TLS: none fails, and new connections get the new
// certificate. A broken certificate at reload is rejected, and the old one
// keeps serving.
func TestTLSReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cert, key, roots := genCert(t, filepath.Join(dir, "tls"))
	_, _, roots2 := genCert(t, filepath.Join(dir, "tls2"))
	oldKey := mustRead(t, key)
	both := x509.NewCertPool() // trusts the certificate before and after the reload
	both.AppendCertsFromPEM([]byte(mustRead(t, cert)))
	both.AppendCertsFromPEM([]byte(mustRead(t, filepath.Join(dir, "tls2", "cert.pem"))))
	tlsPort := freePort(t)
	cfg := filepath.Join(dir, "wharf.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, `pid_file = %q
drain_timeout = "2s"
processes = 2
[server]
listen = ["tls://127.0.0.1:%d"]
stats_interval = "0s"
[http]
listen = []
[admin]
listen = []
[kcp]
listen = []
[tls]
cert = %q
key = %q
`, filepath.Join(dir, "wharfd.pid"), tlsPort, cert, key), 0o644)
	d := startWharfd(t, dir, "-c", cfg)
	d.waitWorkers(2, 10*time.Second)
	first, err := tlsPing(tlsPort, roots)
	if err != nil {
		t.Fatal(err)
	}

	// Clients that connect, handshake, ping and leave, in a loop.
	var (
		mu         sync.Mutex
		ok, failed int
		errs       []string
		serials    = map[string]int{}
		stop       = make(chan struct{})
		wg         sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				serial, err := tlsPing(tlsPort, both)
				mu.Lock()
				if err != nil {
					failed++
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
				} else {
					ok++
					serials[serial]++
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	// Renew: the new files replace the old ones under the same names.
	os.Rename(filepath.Join(dir, "tls2", "cert.pem"), cert)
	os.Rename(filepath.Join(dir, "tls2", "key.pem"), key)
	d.signal(syscall.SIGHUP)
	d.waitLog("supervisor: reloaded", 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed != 0 || ok == 0 {
		t.Fatalf("during the reload: %d handshakes and pings ok, %d failed (%v), want no failure", ok, failed, errs)
	}
	second, err := tlsPing(tlsPort, roots2)
	if err != nil {
		t.Fatalf("after the reload, with the new certificate only trusted: %v", err)
	}
	if second == first || serials[second] == 0 {
		t.Fatalf("certificate serials %v: want the old one (%s) and then the new one (%s)", serials, first, second)
	}
	t.Logf("%d TLS connect+ping exchanges during the reload, none failed; serials %v", ok, serials)

	// A key that does not match: the reload is rejected, the workers stay,
	// and the current certificate keeps serving.
	before := d.workers()
	os.WriteFile(key, []byte(oldKey), 0o600)
	d.signal(syscall.SIGHUP)
	d.waitLog("reload rejected", 10*time.Second)
	if !strings.Contains(d.log.String(), "tls.cert") {
		t.Errorf("the rejection does not name tls.cert:\n%s", d.log.String())
	}
	if after := d.workers(); len(after) != 2 || after[0] != before[0] && after[0] != before[1] {
		t.Fatalf("workers changed after a rejected reload: %v -> %v", before, after)
	}
	if serial, err := tlsPing(tlsPort, roots2); err != nil || serial != second {
		t.Fatalf("after a rejected reload: serial %s, %v; want %s still", serial, err, second)
	}
	d.signal(syscall.SIGTERM)
	d.wait(15 * time.Second)
}
