package websocket

import "testing"

func TestSmoke(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		h := newEcho()
		s := startWS(t, m, Config{}, h)
		c := dialRaw(t, s.addr, "")
		c.text("hello")
		c.expect(1, []byte("hello"))
		c.binary([]byte{1, 2, 3})
		c.expect(2, []byte{1, 2, 3})
		c.ping([]byte("p"))
		c.expect(10, []byte("p"))
		c.closeFrame(1000, "bye")
		c.expectClose(1000)
		ce := h.waitClose(t)
		if ce.Code != 1000 || !ce.Remote || ce.Reason != "bye" {
			t.Fatalf("close: %+v", ce)
		}
	})
}
