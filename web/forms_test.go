package web

import (
	"context"
	"html"
	"regexp"
	"strings"
	"testing"
)

// TestFormsWithoutJavaScript walks the page as a browser without
// JavaScript does: forms post, the server answers 303 to the page, and the
// page shows the outcome once.
func TestFormsWithoutJavaScript(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	same := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL}
	steps := []struct {
		name         string
		path         string // "" for only a GET of the page
		fields       map[string]string
		wantLocation string
		wantPage     []string // fragments the page shows next
		notOnPage    []string
	}{
		{name: "anonymous page", wantPage: []string{`id="login-form"`, `action="/register"`, `id="chat" class="panel chat" aria-labelledby="chat-title" hidden`}},
		{name: "register", path: "/register", fields: map[string]string{"username": "alice", "password": "correct horse"},
			wantLocation: "/#login", wantPage: []string{"Account alice created. You can log in now.", `value="alice"`}},
		{name: "flash shown once", notOnPage: []string{"Account alice created"}},
		{name: "register taken", path: "/register", fields: map[string]string{"username": "alice", "password": "correct horse"},
			wantLocation: "/#register", wantPage: []string{`id="register-error" class="form-error" role="alert">username already taken`}},
		{name: "register invalid", path: "/register", fields: map[string]string{"username": "a b", "password": "correct horse"},
			wantLocation: "/#register", wantPage: []string{"invalid username: "}},
		{name: "login wrong", path: "/login", fields: map[string]string{"username": "alice", "password": "wrong horse"},
			wantLocation: "/#login", wantPage: []string{`role="alert">invalid username or password`}, notOnPage: []string{"wrong horse"}},
		{name: "login", path: "/login", fields: map[string]string{"username": "alice", "password": "correct horse"},
			wantLocation: "/#chat", wantPage: []string{`Signed in as <strong id="who-name">alice</strong>`, `id="say-form"`, `id="auth" class="panel" aria-labelledby="auth-title" hidden`}},
		{name: "say", path: "/say", fields: map[string]string{"text": "hello <b>world</b> & all"},
			wantLocation: "/#chat", wantPage: []string{`<p class="text">hello &lt;b&gt;world&lt;/b&gt; &amp; all</p>`, `<span class="from">alice</span>`}},
		{name: "say empty keeps nothing", path: "/say", fields: map[string]string{"text": "  "},
			wantLocation: "/#chat", wantPage: []string{`id="say-error" class="form-error" role="alert">empty message`}},
		{name: "say too long keeps the draft", path: "/say", fields: map[string]string{"text": strings.Repeat("y", 1001)},
			wantLocation: "/#chat", wantPage: []string{"message too long", ">" + strings.Repeat("y", 1001) + "</textarea>"}},
		{name: "logout", path: "/logout", fields: map[string]string{},
			wantLocation: "/#login", wantPage: []string{"You are logged out.", `id="login-form"`}, notOnPage: []string{"Signed in as <strong id=\"who-name\">alice"}},
		{name: "say after logout", path: "/say", fields: map[string]string{"text": "hi"},
			wantLocation: "/#login", wantPage: []string{"Your session has ended. Log in again."}},
	}
	for _, s := range steps {
		if s.path != "" {
			resp := b.form(s.path, s.fields, same)
			if resp.StatusCode != 303 || resp.Header.Get("Location") != s.wantLocation {
				t.Fatalf("%s: %d Location %q, want 303 %q", s.name, resp.StatusCode, resp.Header.Get("Location"), s.wantLocation)
			}
		}
		st, page := b.get("/")
		if st != 200 {
			t.Fatalf("%s: page %d", s.name, st)
		}
		for _, want := range s.wantPage {
			if !strings.Contains(page, want) {
				t.Errorf("%s: page lacks %q", s.name, want)
			}
		}
		for _, not := range s.notOnPage {
			if strings.Contains(page, not) {
				t.Errorf("%s: page shows %q", s.name, not)
			}
		}
	}
	// The message said through the form reached the chat like any other.
	h, _ := e.app.LobbyHistory(t.Context())
	if len(h) != 1 || h[0].Text != "hello <b>world</b> & all" || h[0].From != "alice" {
		t.Fatalf("history = %+v", h)
	}
	if _, _, err := e.store.UserByName(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
}

// TestPageIsAccessible checks properties of the markup that assistive
// technology and phones rely on.
func TestPageIsAccessible(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, page := e.browser().get("/")
	checks := []struct {
		name string
		re   string
	}{
		{"language", `<html lang="en">`},
		{"viewport for phones", `<meta name="viewport" content="width=device-width, initial-scale=1">`},
		{"skip link", `<a class="skip" href="#main">`},
		{"live chat log", `<ol id="messages" class="messages" role="log" aria-live="polite"`},
		{"live flash region", `id="flash" class="flash" role="status" aria-live="polite"`},
		{"form errors announced", `id="login-error" class="form-error" role="alert"`},
	}
	for _, c := range checks {
		if !strings.Contains(page, c.re) {
			t.Errorf("%s: page lacks %q", c.name, c.re)
		}
	}
	// Every input and textarea has a label.
	ids := regexp.MustCompile(`<(?:input|textarea)[^>]*\sid="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(ids) < 5 {
		t.Fatalf("found %d inputs", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(page, `<label for="`+m[1]+`"`) {
			t.Errorf("input %s has no label", m[1])
		}
	}
	// aria-describedby points at elements that exist.
	for _, m := range regexp.MustCompile(`aria-describedby="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("aria-describedby %q points nowhere", m[1])
		}
	}
}

// TestPageHTMLEscapes: user-controlled text cannot inject markup.
func TestPageHTMLEscapes(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	b.login("mallory", "correct horse")
	evil := `</p><script>alert(1)</script><img src=x onerror=alert(2)>`
	if st, _ := b.call("POST", "/api/say", sayRequest{evil}); st != 200 {
		t.Fatal(st)
	}
	_, page := b.get("/")
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Fatal("message text reached the page unescaped")
	}
	if !strings.Contains(page, html.EscapeString("<script>alert(1)</script>")) {
		t.Error("message text missing from the page")
	}
}
