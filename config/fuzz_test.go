package config

import (
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse. It must never panic; every
// problem must be an *Error; and a document Parse accepts must print, with
// TOML, as a document that parses back to the same Config.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("testdata/wharf.toml"); err == nil {
		f.Add(string(example))
	}
	for _, tt := range badFiles {
		f.Add(tt.in)
	}
	for _, s := range []string{
		"",
		"processes = \"auto\"\n",
		"server = { listen = [\"tcp://:1\"], max_packet = \"1.5KiB\" }\n",
		"[log]\nmax_size = 0x10\nmax_age = \"1h0m0.5s\"\n",
		"pid_file = \"\\u0000\\u007f\\\"\"\n",
		"[http]\nlisten = []\ntrusted_proxies = [\"::1\"]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse([]byte(in), "fuzz.toml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Fatalf("Parse returned a Config with its error")
			}
			return
		}
		data, err := c.TOML()
		if err != nil {
			t.Fatalf("TOML() of an accepted config: %v", err)
		}
		back, err := Parse(data, "printed.toml")
		if err != nil {
			t.Fatalf("Parse(TOML(c)): %v\ninput: %q\nprinted:\n%s", err, in, data)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the config\ninput: %q\nprinted:\n%s\ngot  %+v\nwant %+v", in, data, back, c)
		}
	})
}

// FuzzSize checks that any size UnmarshalText accepts prints back to the
// same value.
func FuzzSize(f *testing.F) {
	for _, s := range []string{"0", "16KiB", "1.5MiB", "64KB", "9223372036854775807", "0.001KB", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s Size
		if s.UnmarshalText([]byte(in)) != nil {
			return
		}
		if s < 0 {
			t.Fatalf("%q parsed as negative %d", in, s)
		}
		text, _ := s.MarshalText()
		var back Size
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Fatalf("%q = %d printed %q read back %d, %v", in, s, text, back, err)
		}
	})
}
