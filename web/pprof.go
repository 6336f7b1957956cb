package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The profiling endpoints are written here on runtime/pprof rather than
// taken from net/http/pprof, whose init registers them on
// http.DefaultServeMux: importing it would expose profiles from any
// server in the program that serves the default mux, whatever
// Config.Pprof says.

// maxProfileSeconds bounds ?seconds= of CPU profiles and traces.
const maxProfileSeconds = 300

var pprofIndex = template.Must(template.New("pprof").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>/debug/pprof/</title></head>
<body><h1>/debug/pprof/</h1>
<ul>
{{- range .}}
<li><a href="{{.}}?debug=1">{{.}}</a></li>
{{- end}}
<li><a href="profile?seconds=30">profile</a> (CPU, 30 s)</li>
<li><a href="trace?seconds=5">trace</a> (execution trace, 5 s)</li>
<li><a href="cmdline">cmdline</a></li>
</ul>
<p>go tool pprof http://HOST/debug/pprof/heap</p>
</body></html>
`))

// servePprof serves /debug/pprof/...
func servePprof(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
	switch name {
	case "":
		var names []string
		for _, p := range pprof.Profiles() {
			names = append(names, p.Name())
		}
		sort.Strings(names)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		pprofIndex.Execute(w, names)
	case "cmdline":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, strings.Join(os.Args, "\x00"))
	case "profile":
		timed(w, r, 30, func(buf *bytes.Buffer) error { return pprof.StartCPUProfile(buf) }, pprof.StopCPUProfile)
	case "trace":
		timed(w, r, 1, func(buf *bytes.Buffer) error { return trace.Start(buf) }, trace.Stop)
	default:
		p := pprof.Lookup(name)
		if p == nil {
			http.Error(w, "404 unknown profile", http.StatusNotFound)
			return
		}
		debug, _ := strconv.Atoi(r.FormValue("debug"))
		if name == "heap" && r.FormValue("gc") != "" {
			runtime.GC()
		}
		var buf bytes.Buffer
		if err := p.WriteTo(&buf, debug); err != nil {
			http.Error(w, "500 "+err.Error(), http.StatusInternalServerError)
			return
		}
		if debug != 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		}
		w.Write(buf.Bytes())
	}
}

// timed runs a profile for ?seconds= (default def), stopping early if the
// client leaves, and sends it. Only one CPU profile or trace runs at a
// time in a process; a second is answered 409.
func timed(w http.ResponseWriter, r *http.Request, def int, start func(*bytes.Buffer) error, stop func()) {
	sec := def
	if s := r.FormValue("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > maxProfileSeconds {
			http.Error(w, fmt.Sprintf("400 seconds must be 1 to %d", maxProfileSeconds), http.StatusBadRequest)
			return
		}
		sec = n
	}
	// The deadline a server may set for the whole response would cut a
	// long profile off; give it the profile's time and some.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(sec)*time.Second + 30*time.Second))
	var buf bytes.Buffer
	if err := start(&buf); err != nil {
		http.Error(w, "409 "+err.Error(), http.StatusConflict)
		return
	}
	t := time.NewTimer(time.Duration(sec) * time.Second)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	}
	stop()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	w.Write(buf.Bytes())
}
