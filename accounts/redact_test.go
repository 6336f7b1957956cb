package accounts

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"sqlite relative", "sqlite://data/wharf.db", "sqlite://data/wharf.db"},
		{"sqlite absolute", "sqlite:///var/lib/wharf.db", "sqlite:///var/lib/wharf.db"},
		{"sqlite memory", "sqlite://:memory:", "sqlite://:memory:"},
		{"postgres with password", "postgres://wharf:hunter2@db:5432/wharf?sslmode=disable",
			"postgres://wharf:xxxxx@db:5432/wharf?sslmode=disable"},
		{"postgresql scheme", "postgresql://u:p4ss@db/wharf", "postgresql://u:xxxxx@db/wharf"},
		{"no password", "postgres://wharf@db/wharf", "postgres://wharf@db/wharf"},
		{"no user", "postgres://db/wharf", "postgres://db/wharf"},
		{"empty password", "postgres://u:@db/wharf", "postgres://u:xxxxx@db/wharf"},
		{"escaped characters in password", "postgres://u:p%40ss%2Fw@db/wharf", "postgres://u:xxxxx@db/wharf"},
		{"@ in password", "postgres://u:p@ss@db/wharf", "postgres://u:xxxxx@db/wharf"},
		{"password parameter", "postgres://db/wharf?user=u&password=hunter2",
			"postgres://db/wharf?password=xxxxx&user=u"},
		{"sslpassword parameter", "postgres://db/wharf?sslpassword=hunter2", "postgres://db/wharf?sslpassword=xxxxx"},
		{"parameter in other case", "postgres://db/wharf?PassWord=hunter2", "postgres://db/wharf?PassWord=xxxxx"},
		{"keyword/value string", "host=db user=u password=hunter2", "<unparseable database URL>"},
		{"unparseable", "postgres://u:hunter2@db:port/x", "<unparseable database URL>"},
		{"opaque", "postgres:u:hunter2@db", "<unparseable database URL>"},
		{"empty", "", "<unparseable database URL>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Fatalf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzRedactURL builds a postgres URL around a fuzzed password and checks
// that RedactURL never returns the password.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"hunter2", "p@ss", "a:b", "%41bc", "x?password=y", "long-Passw0rd!"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, pw string, inUserInfo bool) {
		if len(pw) < 6 || strings.Contains("postgres://wharf:xxxxx@db:5432/wharf?sslmode=disable&password=xxxxx", pw) {
			return // too short to tell apart from the rest of the URL
		}
		var raw string
		if inUserInfo {
			raw = (&url.URL{Scheme: "postgres", User: url.UserPassword("wharf", pw), Host: "db:5432", Path: "/wharf"}).String()
		} else {
			raw = "postgres://wharf@db:5432/wharf?sslmode=disable&password=" + url.QueryEscape(pw)
		}
		got := RedactURL(raw)
		if strings.Contains(got, pw) || strings.Contains(got, url.QueryEscape(pw)) || strings.Contains(got, url.PathEscape(pw)) {
			t.Fatalf("RedactURL(%q) = %q contains the password", raw, got)
		}
	})
}
