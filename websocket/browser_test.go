package websocket

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"wharf/httpd"
)

// browserPage opens a WebSocket to /ws, echoes text and binary messages
// (one large enough to be compressed), and resolves window.result with
// what it saw; it closes with 4000 at the end.
const browserPage = `<!doctype html><meta charset="utf-8"><title>ws</title><script>
window.result = new Promise((resolve) => {
  const out = {};
  const ws = new WebSocket("ws://" + location.host + "/ws", ["wharf.packet.v1"]);
  ws.binaryType = "arraybuffer";
  const big = "κόσμε wharf ".repeat(5000);
  const steps = [
    () => ws.send("hello from chromium"),
    () => ws.send(new Uint8Array([0, 1, 2, 250, 255]).buffer),
    () => ws.send(big),
  ];
  let i = 0;
  ws.onopen = () => {
    out.protocol = ws.protocol;
    out.extensions = ws.extensions;
    steps[i++]();
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data === "string") {
      out["text" + i] = ev.data.length > 100 ? (ev.data === big ? "big ok" : "big corrupt") : ev.data;
    } else {
      out["binary" + i] = Array.from(new Uint8Array(ev.data)).join(",");
    }
    if (i < steps.length) { steps[i++](); } else { ws.close(4000, "done"); }
  };
  ws.onclose = (ev) => { out.closeCode = ev.code; out.wasClean = ev.wasClean; resolve(out); };
  ws.onerror = () => { out.error = true; };
});
</script>`

// TestChromium opens a WebSocket from a page in headless Chromium and
// echoes through both serving modes, with permessage-deflate.
func TestChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed; install it with: apt-get update && apt-get install -y chromium")
	}
	forEachMode(t, func(t *testing.T, m mode) {
		h := newEcho()
		cfg := Config{Compression: true, Subprotocols: []string{"wharf.packet.v1"}}
		var addr string
		switch m {
		case modeNative:
			ws, _ := NewServer(cfg, h)
			addr = startHTTPD(t, httpd.Config{Native: httpd.NativeFunc(func(rc *httpd.RequestCtx) {
				if string(rc.Path()) == "/ws" {
					ws.ServeNative(rc)
					return
				}
				rc.SetContentType("text/html; charset=utf-8")
				rc.WriteString(browserPage)
			})})
		case modeAdapter:
			ws, _ := NewServer(cfg, h)
			addr = startHTTPD(t, httpd.Config{Handler: pageAndSocket(ws)})
		case modeStdlib:
			ws, _ := NewServer(cfg, h)
			addr = newHTTPTestServer(t, pageAndSocket(ws))
		}

		profile, err := os.MkdirTemp("", "wharf-chromium-ws-")
		if err != nil {
			t.Fatal(err)
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromium),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.NoFirstRun,
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.UserDataDir(profile),
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(allocCtx)
		t.Cleanup(func() {
			cancelCtx()
			cancelAlloc()
			for i := 0; i < 50; i++ { // helper processes may still write to the profile
				if os.RemoveAll(profile) == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		var out map[string]any
		if err := chromedp.Run(ctx,
			chromedp.Navigate("http://"+addr+"/"),
			chromedp.Evaluate(`window.result`, &out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
				return p.WithAwaitPromise(true)
			}),
		); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"protocol": "wharf.packet.v1", "text1": "hello from chromium", "binary2": "0,1,2,250,255",
			"text3": "big ok", "closeCode": float64(4000), "wasClean": true,
		}
		for k, v := range want {
			if out[k] != v {
				t.Errorf("%s = %v, want %v (all: %v)", k, out[k], v, out)
			}
		}
		if ext, _ := out["extensions"].(string); !strings.HasPrefix(ext, "permessage-deflate") {
			t.Errorf("extensions %q, want permessage-deflate", ext)
		}
		if ce := h.waitClose(t); ce.Code != 4000 || !ce.Remote || ce.Reason != "done" {
			t.Errorf("server OnClose %+v", ce)
		}
	})
}
