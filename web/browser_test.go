package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"encoding/json"
	"fmt"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"wharf/channels"
	"wharf/client"
)

func mustChannel(t *testing.T, s string) channels.Name {
	t.Helper()
	n, err := channels.ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBrowser drives the real page in headless Chromium: register, log in,
// chat in the lobby with a TCP client of codes 7 and 8 both ways, see a
// channels client in the online list, join a room and get its history,
// exchange direct messages, receive a notification from the backend, and
// watch the dashboard count the connections. It fails on any step, on any
// script error and on any CSP violation. Screenshots (desktop and phone)
// go to testdata/out/.
//
// Chromium comes from Debian: apt-get install -y chromium.
func TestBrowser(t *testing.T) {
	t.Run("sse", func(t *testing.T) { testBrowser(t, false) })
	// The same page, whose live channel is the packet protocol over
	// WebSocket when the server serves /ws.
	t.Run("websocket", func(t *testing.T) { testBrowser(t, true) })
}

func testBrowser(t *testing.T, ws bool) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed; install it with: apt-get update && apt-get install -y chromium")
	}

	// The dashboard's numbers come from a real packet server, with a real
	// TCP client connected to it.
	e := newEnv(t, envOptions{withPackets: true, webSocket: ws, web: func(c *Config) { c.StatsInterval = 250 * time.Millisecond }})
	bob := e.tcpUser(t, "bob", "correct horse")

	// Serve the app the way a program would: a plain http.Server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.h, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(e.h.Close)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()

	ctx, problemsOf := startChromium(t, chromium)

	step := func(name string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var text, loc string

	step("open the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#register-form"),
		chromedp.WaitVisible("#conn-status[data-state=live]"),
	)
	shoot(t, ctx, "browser-welcome.png", 1280, 900)
	step("register",
		chromedp.SendKeys("#register-username", "alice"),
		chromedp.SendKeys("#register-password", "correct horse"),
		chromedp.Click("#register-form button[type=submit]"),
		chromedp.WaitVisible("#flash.flash-ok"),
		chromedp.Text("#flash", &text),
	)
	if !strings.Contains(text, "Account alice created") {
		t.Fatalf("after registering the page says %q", text)
	}
	step("log in",
		// The script filled in the username and moved to the password.
		chromedp.Value("#login-username", &text),
		chromedp.SendKeys("#login-password", "correct horse"),
		chromedp.Click("#login-form button[type=submit]"),
		chromedp.WaitVisible("#say-text"),
		chromedp.WaitNotVisible("#auth"),
		chromedp.Text("#who-name", &text),
		chromedp.Location(&loc),
	)
	if text != "alice" {
		t.Fatalf("signed in as %q", text)
	}
	if loc != base+"/" {
		t.Fatalf("location %q: the form was posted without the script", loc)
	}
	step("send a message",
		chromedp.SendKeys("#say-text", "hello from chromium"),
		chromedp.Click("#say-form button[type=submit]"),
		chromedp.WaitVisible(`//ol[@id="messages"]/li[contains(@class,"mine")][contains(., "hello from chromium")]`, chromedp.BySearch),
		chromedp.Value("#say-text", &text),
	)
	if text != "" {
		t.Errorf("message box not cleared: %q", text)
	}
	select {
	case m := <-bob.push:
		if m.From != "alice" || m.Text != "hello from chromium" {
			t.Fatalf("tcp client got %+v", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the browser's message did not reach the tcp client")
	}
	if err := bob.c.Say(ctx, "hello from tcp"); err != nil {
		t.Fatal(err)
	}
	step("see a message from tcp",
		chromedp.WaitVisible(`//ol[@id="messages"]/li[not(contains(@class,"mine"))][contains(., "hello from tcp")]`, chromedp.BySearch),
	)
	// carol speaks the channels protocol over TCP: she subscribes to the
	// lobby with presence, so the page lists her as online.
	carolPush := make(chan [2]any, 64)
	carol, err := client.Dial(ctx, e.pktAt, client.Config{OnPush: func(code uint16, body []byte) {
		carolPush <- [2]any{code, append([]byte(nil), body...)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close()
	if _, err := carol.Register(ctx, "carol", "correct horse"); err != nil {
		t.Fatal(err)
	}
	carolID, _, err := carol.Login(ctx, "carol", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Subscribe(ctx, "room:lobby", client.SubscribeOptions{JoinLeave: true}); err != nil {
		t.Fatal(err)
	}
	carolSel := fmt.Sprintf(`#online button[data-user="%d"]`, carolID)
	step("see carol online, by name",
		chromedp.WaitVisible(carolSel),
		chromedp.Poll(fmt.Sprintf(`document.querySelector('%s').textContent === 'carol'`, carolSel), nil,
			chromedp.WithPollingTimeout(20*time.Second)),
	)
	// Two messages in room:games before alice joins: she gets them as the
	// room's history when she does.
	for _, m := range []string{"games one", "games two"} {
		if _, _, err := carol.Publish(ctx, "room:games", json.RawMessage(`{"text":"`+m+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	step("join a room and see its history",
		chromedp.SendKeys("#join-name", "games"),
		chromedp.Click("#join-form button[type=submit]"),
		chromedp.WaitVisible(`//ol[@id="messages"]/li[contains(., "games two")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//ol[@id="messages"]/li[contains(., "games one")]`, chromedp.BySearch),
		chromedp.Text("#conv-title", &text),
	)
	if text != "# games" {
		t.Fatalf("conversation title %q", text)
	}
	if _, _, err := carol.Publish(ctx, "room:games", json.RawMessage(`{"text":"games live"}`)); err != nil {
		t.Fatal(err)
	}
	step("see a live publication in the room",
		chromedp.WaitVisible(`//ol[@id="messages"]/li[not(contains(@class,"mine"))][contains(., "games live")]`, chromedp.BySearch),
	)
	// A lobby message while alice is in games: the lobby gets a badge.
	if _, _, err := carol.Publish(ctx, "room:lobby", json.RawMessage(`{"text":"lobby while away"}`)); err != nil {
		t.Fatal(err)
	}
	step("unread badge on the lobby",
		chromedp.WaitVisible(`//button[@data-conv="room:lobby"]/span[@class="badge"][.="1"]`, chromedp.BySearch),
		chromedp.Click(`button[data-conv="room:lobby"]`),
		chromedp.WaitVisible(`//ol[@id="messages"]/li[contains(., "lobby while away")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`//button[@data-conv="room:lobby"]/span[@class="badge"]`, chromedp.BySearch),
	)
	step("write to carol directly",
		chromedp.Click(carolSel),
		chromedp.WaitVisible(fmt.Sprintf(`button[data-conv="@%d"]`, carolID)),
		chromedp.SendKeys("#say-text", "hi carol, privately"),
		chromedp.Click("#say-form button[type=submit]"),
		chromedp.WaitVisible(`//ol[@id="messages"]/li[contains(@class,"mine")][contains(., "hi carol, privately")]`, chromedp.BySearch),
	)
	for got := false; !got; {
		select {
		case p := <-carolPush:
			if p[0].(uint16) == client.CodeDirect {
				var d client.Direct
				if err := client.DecodePush(p[1].([]byte), &d); err != nil || !strings.Contains(string(d.Data), "hi carol, privately") {
					t.Fatalf("carol's direct message: %+v %v", d, err)
				}
				got = true
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the direct message did not reach carol")
		}
	}
	alice, err := e.acc.Store().UserByID(ctx, 2)
	if err != nil || alice.Username != "alice" {
		t.Fatalf("alice is user 2: %+v %v", alice, err)
	}
	if err := carol.SendDirect(ctx, "2", json.RawMessage(`{"text":"hello alice, just you"}`)); err != nil {
		t.Fatal(err)
	}
	step("see carol's direct message",
		chromedp.WaitVisible(`//ol[@id="messages"]/li[not(contains(@class,"mine"))][contains(., "hello alice, just you")]`, chromedp.BySearch),
	)
	// The application's backend notifies alice on her personal channel.
	if _, err := e.app.Publish(ctx, mustChannel(t, "user:2"), []byte(`{"text":"your order has shipped"}`)); err != nil {
		t.Fatal(err)
	}
	step("see a notification",
		chromedp.WaitVisible(`//button[@data-conv="user:2"]/span[@class="badge"]`, chromedp.BySearch),
		chromedp.Click(`button[data-conv="user:2"]`),
		chromedp.WaitVisible(`//ol[@id="messages"]/li[contains(., "your order has shipped")]`, chromedp.BySearch),
		chromedp.WaitNotVisible("#say-form"),
		chromedp.Click(`button[data-conv="room:lobby"]`),
		chromedp.WaitVisible("#say-form"),
	)
	if ws && e.ws.Stats().Upgrades == 0 {
		t.Fatal("the page's chat did not use the WebSocket")
	}
	shoot(t, ctx, "browser-chat.png", 1280, 1000)
	var gone bool
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 1000), chromedp.Evaluate(`document.getElementById('dashboard') === null`, &gone)); err != nil || !gone {
		t.Fatalf("the public page has a dashboard (err %v)", err)
	}
	shoot(t, ctx, "browser-chat-phone.png", 390, 844)
	// The dashboard is the operators', on the admin listener.
	step("dashboard counts the tcp connection",
		chromedp.Navigate(e.admin.URL+"/"),
		chromedp.WaitVisible("#chart-conn"),
		chromedp.Poll(`Number(document.querySelector('[data-stat="server.online"] .v').textContent.replace(/\D/g, '')) >= 1`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
		// Two samples: rates are shown per second.
		chromedp.Poll(`document.querySelector('[data-stat="server.packets_in"] .u').textContent === '/s'`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text(`[data-stat="server.online"] .v`, &text),
		// The connections chart has a series per transport of the server.
		chromedp.WaitVisible(`//figure[@id="chart-conn"]//li[contains(., "TCP")]`, chromedp.BySearch),
	)
	t.Logf("dashboard shows %s connection(s)", text)
	// The page left the chat for the dashboard, so its subscriptions
	// ended; carol's to the lobby is there.
	step("dashboard counts subscriptions",
		chromedp.Poll(`Number(document.querySelector('[data-stat="channels.subscriptions"] .v').textContent.replace(/\D/g, '')) >= 1`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
	)

	shoot(t, ctx, "browser-desktop.png", 1280, 1000)
	shoot(t, ctx, "browser-phone.png", 390, 844)

	step("log out",
		chromedp.EmulateViewport(1280, 1000),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#say-text"),
		chromedp.Click("#logout-form button[type=submit]"),
		chromedp.WaitVisible("#login-form"),
		chromedp.WaitNotVisible("#chat"),
	)

	if problems := problemsOf(); len(problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(problems, "\n"))
	}
}

// startChromium runs headless Chromium for a test (with extra flags) and
// returns its context, bounded to 60s, and a function listing the script
// errors and console errors (CSP violations among them) seen so far.
func startChromium(t *testing.T, chromium string, flags ...chromedp.ExecAllocatorOption) (context.Context, func() []string) {
	t.Helper()
	// Chromium's helper processes may still write to the profile after the
	// browser is gone, which makes t.TempDir's cleanup fail ("directory not
	// empty"): own the directory, and remove it after the browser with
	// retries.
	profile, err := os.MkdirTemp("", "wharf-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	}, flags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		for i := 0; ; i++ {
			err := os.RemoveAll(profile)
			if err == nil {
				break
			}
			if i == 50 {
				t.Logf("chromium profile %s not removed: %v", profile, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancelRun := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelRun)

	var (
		mu       sync.Mutex
		problems []string
	)
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(problems)
	}
}

// shoot saves a full-page screenshot at a viewport size to testdata/out/.
func shoot(t *testing.T, ctx context.Context, name string, width, height int64) {
	t.Helper()
	out, err := filepath.Abs(filepath.Join("testdata", "out"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var png []byte
	if err := chromedp.Run(ctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Sleep(300*time.Millisecond), // let the layout and the charts settle
		chromedp.FullScreenshot(&png, 100),
	); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(out, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
