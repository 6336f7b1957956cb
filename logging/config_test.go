package logging

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" = valid
	}{
		{name: "zero is valid", cfg: Config{}},
		{name: "json", cfg: Config{Format: "JSON"}},
		{name: "bad format", cfg: Config{Format: "xml"}, field: "Format"},
		{name: "small buffer", cfg: Config{BufferSize: 100}, field: "BufferSize"},
		{name: "huge buffer", cfg: Config{BufferSize: 1 << 30}, field: "BufferSize"},
		{name: "one buffer", cfg: Config{Buffers: 1}, field: "Buffers"},
		{name: "negative interval", cfg: Config{FlushInterval: -time.Second}, field: "FlushInterval"},
		{name: "bad policy", cfg: Config{OnFull: 7}, field: "OnFull"},
		{name: "negative size", cfg: Config{File: "x.log", MaxSizeMB: -1}, field: "MaxSizeMB"},
		{name: "negative backups", cfg: Config{File: "x.log", MaxBackups: -1}, field: "MaxBackups"},
		{name: "negative age", cfg: Config{File: "x.log", MaxAgeDays: -1}, field: "MaxAgeDays"},
		{name: "rotation without file", cfg: Config{Daily: true}, field: "File"},
		{name: "file and writer", cfg: Config{File: "x.log", Writer: io.Discard}, field: "Writer"},
		{name: "rotation with a writer", cfg: Config{Writer: io.Discard, MaxSizeMB: 1}, field: "File"},
		{name: "spool is the log", cfg: Config{File: "x.log", SpoolFile: "x.log"}, field: "SpoolFile"},
		{name: "full async file", cfg: Config{File: "x.log", Async: true, BufferSize: 4096, Buffers: 2, OnFull: Drop, MaxSizeMB: 1, Daily: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("Validate() = %v, want a ConfigError for %s", err, tt.field)
			}
			if _, err := New(tt.cfg); !errors.As(err, &ce) {
				t.Fatalf("New() = %v, want the ConfigError", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	wantSpool := "" // spools need Linux
	if SpoolSupported {
		wantSpool = "/var/log/app.log.spool"
	}
	c := Config{File: "/var/log/app.log"}.withDefaults()
	if c.Format != FormatText || c.BufferSize != DefaultBufferSize || c.Buffers != DefaultBuffers ||
		c.FlushInterval != DefaultFlushInterval || c.OnFull != Block || c.SpoolFile != wantSpool {
		t.Fatalf("defaults = %+v", c)
	}
	if c := (Config{}).withDefaults(); c.SpoolFile != "" {
		t.Fatalf("stderr output got spool %q, want none", c.SpoolFile)
	}
}

func TestFullPolicyText(t *testing.T) {
	tests := []struct {
		in      string
		want    FullPolicy
		wantErr bool
	}{
		{in: "block", want: Block},
		{in: "Drop", want: Drop},
		{in: " drop ", want: Drop},
		{in: "discard", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		var p FullPolicy
		err := p.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr || (!tt.wantErr && p != tt.want) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, err %v", tt.in, p, err, tt.want, tt.wantErr)
		}
		if !tt.wantErr {
			out, err := p.MarshalText()
			if err != nil || string(out) != tt.want.String() {
				t.Errorf("MarshalText(%v) = %q, %v", p, out, err)
			}
		}
	}
	if _, err := FullPolicy(9).MarshalText(); err == nil {
		t.Error("MarshalText of an unknown policy succeeded")
	}
}
