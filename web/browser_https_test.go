package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"wharf/httpd"
	"wharf/internal/testkit"
	"wharf/internal/tlstest"
)

// TestBrowserHTTPS loads the app over HTTPS on httpd (package tlsconn) in
// headless Chromium, which trusts only our certificate's key: the page and
// its assets load without errors, a user registers and logs in, and the
// session cookie is Secure, because r.TLS is set and no proxy is needed;
// the page's live channel is the packet protocol over wss:// on the same
// listener.
func TestBrowserHTTPS(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed; install it with: apt-get update && apt-get install -y chromium")
	}
	e := newEnv(t, envOptions{withPackets: true, webSocket: true})
	spki := sha256.Sum256(tlstest.Cert().Leaf.RawSubjectPublicKeyInfo)

	srv, err := httpd.New(httpd.Config{
		Handler: e.h,
		TLS:     tlstest.ServerConfig(),
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := srv.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.h.Close() // ends the event streams
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(a.String())
	base := "https://localhost:" + port

	ctx, problemsOf := startChromium(t, chromium,
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))
	step := func(name string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var text, loc string
	step("open the page over HTTPS",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#register-form"),
		chromedp.WaitVisible("#conn-status[data-state=live]"), // the event stream, over TLS too
		chromedp.Location(&loc),
	)
	if loc != base+"/" {
		t.Fatalf("location %q", loc)
	}
	step("register",
		chromedp.SendKeys("#register-username", "alice"),
		chromedp.SendKeys("#register-password", "correct horse"),
		chromedp.Click("#register-form button[type=submit]"),
		chromedp.WaitVisible("#flash.flash-ok"),
	)
	step("log in",
		chromedp.SendKeys("#login-password", "correct horse"),
		chromedp.Click("#login-form button[type=submit]"),
		chromedp.WaitVisible("#say-text"),
		chromedp.Text("#who-name", &text),
	)
	if text != "alice" {
		t.Fatalf("signed in as %q", text)
	}
	var cookies []*network.Cookie
	step("read the cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base + "/"}).Do(ctx)
		return err
	}))
	if len(cookies) == 0 {
		t.Fatal("no cookie after logging in")
	}
	for _, c := range cookies {
		if !c.Secure || !c.HTTPOnly {
			t.Errorf("cookie %s: Secure %v, HttpOnly %v; want both over HTTPS", c.Name, c.Secure, c.HTTPOnly)
		}
	}
	testkit.Eventually(t, "the page's live channel upgrades to wss", func() bool { return e.ws.Stats().Upgrades > 0 })
	if st, _ := srv.TLSStats(); st.Handshakes == 0 || st.Failed.Total() != 0 {
		t.Errorf("TLSStats = %+v", st)
	}
	if problems := problemsOf(); len(problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(problems, "\n"))
	}
}
