package config

import (
	"os"
	"testing"
)

// BenchmarkParse parses the full example file: the cost of a reload's
// config step.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/wharf.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, "wharf.toml"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTOML prints the defaults, as wharfd -print-config does.
func BenchmarkTOML(b *testing.B) {
	c := Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.TOML(); err != nil {
			b.Fatal(err)
		}
	}
}
