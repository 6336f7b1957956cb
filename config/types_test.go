package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string // substring of the error; "" for success
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "16KiB", want: 16384},
		{in: "1MiB", want: 1 << 20},
		{in: "64KB", want: 64000},
		{in: "64kb", want: 64000},
		{in: "16 KiB", want: 16384},
		{in: " 2GiB ", want: 2 << 30},
		{in: "3TB", want: 3e12},
		{in: "1TiB", want: 1 << 40},
		{in: "100B", want: 100},
		{in: "1.5MiB", want: 1572864},
		{in: "1.1KB", want: 1100},
		{in: "0.5KiB", want: 512},
		{in: "8388607TiB", want: 8388607 << 40},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "9223372036854775808", wantErr: "too large"},
		{in: "8388608TiB", wantErr: "too large"},
		{in: "1.5B", wantErr: "not a whole number of bytes"},
		{in: "1.0001KB", wantErr: "not a whole number of bytes"},
		{in: "1..5KB", wantErr: "malformed number"},
		{in: "-1", wantErr: "sizes are not negative"},
		{in: "16K", wantErr: `unknown unit "K"`},
		{in: "16 bytes", wantErr: `unknown unit "bytes"`},
		{in: "", wantErr: "want bytes or a number with a unit"},
		{in: "KiB", wantErr: "want bytes or a number with a unit"},
		{in: "1e3", wantErr: `unknown unit "e3"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var s Size
			err := s.UnmarshalText([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("UnmarshalText(%q) = %v, %v; want error containing %q", tt.in, s, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "config: ") || !errors.Is(err, ErrValue) {
					t.Errorf("error %q: want the config: prefix and ErrValue", err)
				}
				return
			}
			if err != nil || s != tt.want {
				t.Fatalf("UnmarshalText(%q) = %d, %v; want %d", tt.in, s, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0"},
		{1, "1"},
		{512, "512"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{16384, "16KiB"},
		{64000, "64KB"},
		{1 << 20, "1MiB"},
		{100 << 20, "100MiB"},
		{1536, "1536"}, // 1.5KiB: no unit divides it
		{12345, "12345"},
		{1 << 40, "1TiB"},
		{2e12, "2TB"},
		{1024000, "1000KiB"},
		{-5, "-5"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		// The text form reads back to the same size.
		text, _ := tt.in.MarshalText()
		var back Size
		if err := back.UnmarshalText(text); err != nil || back != tt.in {
			t.Errorf("round trip of %d via %q = %d, %v", int64(tt.in), text, back, err)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		text    string // MarshalText of the result
		wantErr bool
	}{
		{in: "60s", want: time.Minute, text: "1m"},
		{in: "1m30s", want: 90 * time.Second, text: "1m30s"},
		{in: "100ms", want: 100 * time.Millisecond, text: "100ms"},
		{in: "168h", want: 168 * time.Hour, text: "168h"},
		{in: "1h0m1s", want: time.Hour + time.Second, text: "1h0m1s"},
		{in: "1.5h", want: 90 * time.Minute, text: "1h30m"},
		{in: "0", want: 0, text: "0s"},
		{in: "0s", want: 0, text: "0s"},
		{in: "1us", want: time.Microsecond, text: "1µs"},
		{in: "-2s", want: -2 * time.Second, text: "-2s"},
		{in: "6os", wantErr: true},
		{in: "60", wantErr: true},
		{in: "7d", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("UnmarshalText(%q) = %v, want an error", tt.in, d)
				}
				if !strings.HasPrefix(err.Error(), "config: invalid duration") || !errors.Is(err, ErrValue) {
					t.Errorf("error %q: want config: invalid duration, ErrValue", err)
				}
				return
			}
			if err != nil || time.Duration(d) != tt.want {
				t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", tt.in, time.Duration(d), err, tt.want)
			}
			text, _ := d.MarshalText()
			if string(text) != tt.text {
				t.Errorf("MarshalText = %q, want %q", text, tt.text)
			}
			var back Duration
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Errorf("round trip via %q = %v, %v", text, back, err)
			}
		})
	}
}

func TestProcesses(t *testing.T) {
	tests := []struct {
		in      string
		want    Processes
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "4", want: 4},
		{in: "1024", want: 1024},
		{in: "auto", want: ProcessesAuto},
		{in: "1025", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "Auto", wantErr: true},
		{in: "", wantErr: true},
		{in: "2.5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var p Processes
			err := p.UnmarshalText([]byte(tt.in))
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrValue) || !strings.HasPrefix(err.Error(), "config: ") {
					t.Fatalf("UnmarshalText(%q) = %v, %v; want a config: ErrValue", tt.in, p, err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", tt.in, p, err, tt.want)
			}
			if text, _ := p.MarshalText(); string(text) != tt.in {
				t.Errorf("MarshalText = %q, want %q", text, tt.in)
			}
		})
	}
}
