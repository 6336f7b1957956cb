package logging

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// handler is the slog.Handler of a Logger. Handlers made by WithAttrs and
// WithGroup share the Logger (its level, output and ring) and differ only in
// the pre-formatted attributes and groups. A handler is immutable after it
// is made, so any goroutine may use it.
type handler struct {
	l         *Logger
	json      bool
	addSource bool
	pre       []byte   // attrs from WithAttrs, formatted once, each with its leading separator
	prefix    string   // text: "a.b." for the groups of WithGroup
	groups    []string // json: every group from WithGroup
	nOpen     int      // json: how many of groups pre has opened
}

var _ slog.Handler = (*handler)(nil)

// Enabled reports whether records at level are written.
func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.l.level.Level()
}

// Handle formats r and writes it (sync) or puts it in the ring (async).
// Safe for concurrent use.
func (h *handler) Handle(_ context.Context, r slog.Record) error {
	bp := bufferPool.Get().(*[]byte)
	b := h.appendRecord((*bp)[:0], &r)
	err := h.l.emit(b)
	if cap(b) <= maxPooledBuffer {
		*bp = b
		bufferPool.Put(bp)
	}
	return err
}

// Scratch buffers for encoding, one per concurrent Handle. Huge ones are
// left to the garbage collector so a rare giant record does not pin memory.
var bufferPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

const maxPooledBuffer = 64 << 10

// appendRecord appends r as one line, ending in '\n'.
func (h *handler) appendRecord(b []byte, r *slog.Record) []byte {
	if h.json {
		return h.appendJSON(b, r)
	}
	return h.appendText(b, r)
}

// appendText writes the seed's layout:
//
//	2023-05-13 17:57:49.440 [server/conn.go:891]-[debug]-readv len=22235 conn=7
func (h *handler) appendText(b []byte, r *slog.Record) []byte {
	if !r.Time.IsZero() {
		b = appendTextTime(b, r.Time)
		b = append(b, ' ')
	}
	if h.addSource {
		if loc := sourceOf(r.PC); loc != "" {
			b = append(b, '[')
			b = append(b, loc...)
			b = append(b, "]-"...)
		}
	}
	b = append(b, '[')
	b = append(b, textLevel(r.Level)...)
	b = append(b, "]-"...)
	b = appendTextMessage(b, r.Message)
	b = append(b, h.pre...)
	if r.NumAttrs() > 0 {
		s := encState{buf: b, prefix: h.prefix}
		r.Attrs(func(a slog.Attr) bool {
			s.appendAttr(a)
			return true
		})
		b = s.buf
	}
	return append(b, '\n')
}

// appendJSON writes the keys of log/slog's JSONHandler: time, level,
// source ("dir/file.go:42"), msg, then the attributes.
func (h *handler) appendJSON(b []byte, r *slog.Record) []byte {
	b = append(b, '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = appendJSONTime(b, r.Time)
		b = append(b, `",`...)
	}
	b = append(b, `"level":"`...)
	b = append(b, r.Level.String()...)
	b = append(b, '"')
	if h.addSource {
		if loc := sourceOf(r.PC); loc != "" {
			b = append(b, `,"source":`...)
			b = appendJSONString(b, loc)
		}
	}
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, r.Message)
	b = append(b, h.pre...)
	open := h.nOpen
	if r.NumAttrs() > 0 {
		s := encState{buf: b, json: true, comma: true}
		for _, g := range h.groups[h.nOpen:] {
			s.openGroup(g)
		}
		wrote := false
		r.Attrs(func(a slog.Attr) bool {
			if s.appendAttr(a) {
				wrote = true
			}
			return true
		})
		if wrote {
			b, open = s.buf, len(h.groups)
		}
		// else: b still ends before the groups opened above
	}
	for range open {
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

// textLevel names the level in lower case, as the seed's lines do.
func textLevel(l slog.Level) string {
	switch l {
	case slog.LevelDebug:
		return "debug"
	case slog.LevelInfo:
		return "info"
	case slog.LevelWarn:
		return "warn"
	case slog.LevelError:
		return "error"
	}
	return strings.ToLower(l.String()) // "info+2": rare, allocates
}

// WithAttrs returns a handler whose lines carry attrs; they are formatted
// here, once, not at every record.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	s := encState{buf: slices.Clip(h.pre), json: h.json, comma: true, prefix: h.prefix}
	if h.json {
		for _, g := range h.groups[h.nOpen:] {
			s.openGroup(g)
		}
	}
	wrote := false
	for _, a := range attrs {
		if s.appendAttr(a) {
			wrote = true
		}
	}
	if !wrote {
		return h
	}
	h2.pre = s.buf[:len(s.buf):len(s.buf)]
	h2.nOpen = len(h.groups)
	return &h2
}

// WithGroup returns a handler that puts later attributes in group name
// (JSON: a nested object; text: keys prefixed "name.").
func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), name)
	h2.prefix = h.prefix + name + "."
	return &h2
}
