package logging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
	"unicode/utf8"
)

// fixedTime is a Local time with a known fraction, so lines can be compared.
var fixedTime = time.Date(2023, 5, 13, 17, 57, 49, 440123456, time.Local)

// handle formats one record through a Logger writing to a buffer.
func handle(t *testing.T, cfg Config, with func(slog.Handler) slog.Handler, r slog.Record) string {
	t.Helper()
	var buf syncBuffer
	cfg.Writer = &buf
	l := mustNew(t, cfg)
	defer l.Close()
	h := l.Handler()
	if with != nil {
		h = with(h)
	}
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func record(msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(fixedTime, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

type textMarsh struct{}

func (textMarsh) MarshalText() ([]byte, error) { return []byte("as text"), nil }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

func TestTextFormat(t *testing.T) {
	ts := "2023-05-13 17:57:49.440 "
	tests := []struct {
		name string
		with func(slog.Handler) slog.Handler
		r    slog.Record
		want string
	}{
		{name: "seed layout", r: record("readv len=[22235,239909], recv ret=0", slog.Int("conn", 7)),
			want: ts + "[info]-readv len=[22235,239909], recv ret=0 conn=7\n"},
		{name: "kinds", r: record("m", slog.String("s", "plain"), slog.Int64("i", -3), slog.Uint64("u", 4),
			slog.Float64("f", 1.5), slog.Bool("b", true), slog.Duration("d", 1500*time.Millisecond),
			slog.Any("err", errors.New("boom")), slog.Any("nil", nil)),
			want: ts + "[info]-m s=plain i=-3 u=4 f=1.5 b=true d=1.5s err=boom nil=<nil>\n"},
		{name: "quoting", r: record("m", slog.String("space", "a b"), slog.String("eq", "a=b"), slog.String("quote", `a"b`),
			slog.String("empty", ""), slog.String("nl", "a\nb"), slog.String("tab", "a\tb"), slog.String("utf8", "héllo"),
			slog.String("bad", "\xff"), slog.String("a key", "v")),
			want: ts + `[info]-m space="a b" eq="a=b" quote="a\"b" empty="" nl="a\nb" tab="a\tb" utf8=héllo bad="\xff" "a key"=v` + "\n"},
		{name: "message with newline is quoted", r: record("two\nlines"), want: ts + `[info]-"two\nlines"` + "\n"},
		{name: "message with spaces is not", r: record("client connected"), want: ts + "[info]-client connected\n"},
		{name: "marshalers and valuers", r: record("m", slog.Any("tm", textMarsh{}), slog.Any("v", valuer{}), slog.Any("bytes", []byte("x y"))),
			want: ts + `[info]-m tm="as text" v=resolved bytes="x y"` + "\n"},
		{name: "record group", r: record("m", slog.Group("req", slog.String("method", "GET"), slog.Group("empty"))),
			want: ts + "[info]-m req.method=GET\n"},
		{name: "inline group", r: record("m", slog.Group("", slog.Int("a", 1))), want: ts + "[info]-m a=1\n"},
		{name: "with attrs and group", with: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.Int("conn", 7)}).WithGroup("g").WithAttrs([]slog.Attr{slog.Int("a", 1)}).WithGroup("h")
		}, r: record("m", slog.Int("b", 2)), want: ts + "[info]-m conn=7 g.a=1 g.h.b=2\n"},
		{name: "zero time", r: slog.NewRecord(time.Time{}, slog.LevelWarn, "m", 0), want: "[warn]-m\n"},
		{name: "custom level", r: slog.NewRecord(fixedTime, slog.LevelInfo+2, "m", 0), want: ts + "[info+2]-m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handle(t, Config{}, tt.with, tt.r); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSource(t *testing.T) {
	var pcs [1]uintptr
	runtime.Callers(1, pcs[:])
	_, _, line, _ := runtime.Caller(0)
	r := slog.NewRecord(fixedTime, slog.LevelDebug, "m", pcs[0])
	want := fmt.Sprintf("[logging/format_test.go:%d]", line-1)
	for _, format := range []string{FormatText, FormatJSON} {
		got := handle(t, Config{Format: format, AddSource: true, Level: slog.LevelDebug}, nil, r)
		if !strings.Contains(got, strings.Trim(want, "[]")) {
			t.Errorf("%s: %q does not name %s", format, got, want)
		}
		if format == FormatText && !strings.HasPrefix(got, "2023-05-13 17:57:49.440 "+want+"-[debug]-m") {
			t.Errorf("text line %q", got)
		}
		// A second call hits the cache and must say the same.
		if again := handle(t, Config{Format: format, AddSource: true, Level: slog.LevelDebug}, nil, r); again != got {
			t.Errorf("cached source differs: %q vs %q", again, got)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	r := record("he said \"hi\"\n\t<&>",
		slog.String("s", "\x00\x1f\u2028\xff"), slog.Int("i", -1), slog.Uint64("u", math.MaxUint64),
		slog.Float64("f", 1e-7), slog.Float64("big", 1e21), slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(-1)),
		slog.Bool("b", false), slog.Duration("d", time.Millisecond), slog.Time("t", fixedTime),
		slog.Any("err", errors.New("x")), slog.Any("map", map[string]int{"a": 1}), slog.Any("nil", nil),
		slog.Group("g", slog.Int("a", 1), slog.Group("e")))
	got := handle(t, Config{Format: FormatJSON}, func(h slog.Handler) slog.Handler {
		return h.WithAttrs([]slog.Attr{slog.String("conn", "7")}).WithGroup("req")
	}, r)
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	want := map[string]any{
		"time": "2023-05-13T17:57:49.440123" + fixedTime.Format("Z07:00"), "level": "INFO",
		"msg": "he said \"hi\"\n\t<&>", "conn": "7",
		"req": map[string]any{
			"s": "\x00\x1f\u2028\ufffd", "i": -1.0, "u": float64(math.MaxUint64), "f": 1e-7, "big": 1e21,
			"nan": "NaN", "inf": "-Inf", "b": false, "d": 1e6, "t": fixedTime.Format(time.RFC3339Nano),
			"err": "x", "map": map[string]any{"a": 1.0}, "nil": nil, "g": map[string]any{"a": 1.0},
		},
	}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v\nline %s", m, want, got)
	}
	if !strings.Contains(got, `"f":1e-7,`) || !strings.Contains(got, `<&>`) {
		t.Errorf("number or HTML formatting differs from encoding/json without HTML escaping: %s", got)
	}
}

// TestGroupsWithoutAttrs checks slog's rule that a group with nothing in it
// is not written, in both formats.
func TestGroupsWithoutAttrs(t *testing.T) {
	tests := []struct {
		format, wantSuffix string
	}{
		{FormatText, "[info]-m\n"},
		{FormatJSON, `"level":"INFO","msg":"m"}` + "\n"},
	}
	for _, tt := range tests {
		got := handle(t, Config{Format: tt.format}, func(h slog.Handler) slog.Handler {
			return h.WithGroup("a").WithAttrs([]slog.Attr{slog.Group("empty")}).WithGroup("b")
		}, record("m"))
		if !strings.HasSuffix(got, tt.wantSuffix) {
			t.Errorf("%s: got %q, want it to end in %q", tt.format, got, tt.wantSuffix)
		}
	}
}

func TestSlogtest(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatText} {
		t.Run(format, func(t *testing.T) {
			var buf syncBuffer
			l := mustNew(t, Config{Format: format, Writer: &buf})
			defer l.Close()
			results := func() []map[string]any {
				var ms []map[string]any
				for _, line := range lines(t, buf.String()) {
					var m map[string]any
					if format == FormatJSON {
						if err := json.Unmarshal([]byte(line), &m); err != nil {
							t.Fatalf("%v: %s", err, line)
						}
					} else {
						m = parseTextLine(t, line)
					}
					ms = append(ms, m)
				}
				return ms
			}
			if err := slogtest.TestHandler(l.Handler(), results); err != nil {
				t.Fatal(err)
			}
		})
	}
}

var textHeader = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )?(\[[^\]]*\]-)?\[([a-z0-9+-]+)\]-`)

// parseTextLine reads a text line back into slogtest's map form: dotted
// keys become nested maps.
func parseTextLine(t *testing.T, line string) map[string]any {
	t.Helper()
	h := textHeader.FindStringSubmatch(line)
	if h == nil {
		t.Fatalf("bad header: %q", line)
	}
	m := map[string]any{slog.LevelKey: strings.ToUpper(h[3])}
	if h[1] != "" {
		m[slog.TimeKey] = h[1]
	}
	rest := line[len(h[0]):]
	// The message runs to the first " key=" token.
	msgEnd := len(rest)
	if i := regexp.MustCompile(` [^ =]+=`).FindStringIndex(rest); i != nil {
		msgEnd = i[0]
	}
	m[slog.MessageKey] = rest[:msgEnd]
	rest = rest[msgEnd:]
	for rest != "" {
		rest = strings.TrimPrefix(rest, " ")
		eq := strings.IndexByte(rest, '=')
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("bad quoted value in %q", line)
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		parts := strings.Split(key, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			sub, ok := cur[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				cur[p] = sub
			}
			cur = sub
		}
		cur[parts[len(parts)-1]] = val
	}
	return m
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\n\r\t\x1f", "\u2028\u2029", "\xff\xfe", "héllo, 世界"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}

func FuzzTextValue(f *testing.F) {
	for _, s := range []string{"", "plain", "a b", "a=b", `"q"`, "\n", "\xff", "héllo", "\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := string(appendTextString(nil, s))
		if strings.HasPrefix(b, `"`) {
			u, err := strconv.Unquote(b)
			if err != nil || u != s {
				t.Fatalf("%q quoted as %s which unquotes to %q, %v", s, b, u, err)
			}
			return
		}
		if b != s || strings.ContainsAny(b, " =\"\n\r\t") || !utf8.ValidString(b) {
			t.Fatalf("%q written unquoted as %q", s, b)
		}
		m := string(appendTextMessage(nil, s))
		if strings.ContainsAny(m, "\n\r") {
			t.Fatalf("message %q breaks the line: %q", s, m)
		}
	})
}
