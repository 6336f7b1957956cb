package httpd

import (
	"net/url"
	"reflect"
	"testing"
)

// The fast path for origin-form targets must agree with net/url wherever it
// answers, so handlers see the same *url.URL as under net/http.
func FuzzOriginFormURL(f *testing.F) {
	for _, s := range []string{
		"/", "/plaintext", "/a/b?x=1&y=2", "/a?", "/a??", "/a?b?", "/a?#frag",
		"/a#frag", "/%41", "/a b", "/a?b c", "//host/path", "/~user/$x;y=z@q",
		"/a?\x7f", "/a\x00", "/é", "/a?é", "*", "http://h/p", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got, ok := originFormURL(target)
		if !ok {
			return // the general parser decides
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("originFormURL(%q) accepted what url.ParseRequestURI rejects: %v", target, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("originFormURL(%q) = %#v, url.ParseRequestURI = %#v", target, got, want)
		}
	})
}

func TestOriginFormURLTakesCommonTargets(t *testing.T) {
	for _, target := range []string{"/", "/plaintext", "/api/v1/users?id=7&x=y", "/a?"} {
		if _, ok := originFormURL(target); !ok {
			t.Errorf("originFormURL(%q): not taken, want the fast path", target)
		}
	}
	for _, target := range []string{"/%41", "/a b", "/é", "*", "http://h/p", ""} {
		if _, ok := originFormURL(target); ok {
			t.Errorf("originFormURL(%q): taken, want the general parser", target)
		}
	}
}
