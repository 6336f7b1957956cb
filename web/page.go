package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"wharf/channels"
	"wharf/chat"
	"wharf/server"
)

// The page is rendered on the server, complete and usable without
// JavaScript: forms post and redirect, the chat shows the history, the
// dashboard shows a snapshot. static/app.js then takes the same markup
// over: forms go to the JSON API, messages and stats arrive live, and
// charts appear. No script is inline (the CSP forbids it) and nothing is
// fetched from elsewhere, so the page works offline.

//go:embed static templates
var files embed.FS

// asset is one embedded static file.
type asset struct {
	data  []byte
	ctype string
	hash  string // first 16 hex digits of SHA-256: the ?v= of its URL and its ETag
}

// assets are the files under static/, by name; read-only after init.
var assets = loadAssets()

func loadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "static/")] = asset{data: data, ctype: ctype, hash: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		panic("web: embedded files: " + err.Error()) // the build embeds them; cannot happen
	}
	return out
}

// assetURL is the URL of a static file, versioned by its content so that it
// can be cached for good.
func assetURL(name string) (string, error) {
	a, ok := assets[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return "/static/" + name + "?v=" + a.hash, nil
}

// serveStatic serves an embedded file. A URL with the file's current
// version is immutable; any other is revalidated (ETag) on each use.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := assets[strings.TrimPrefix(r.URL.Path, "/static/")]
	if !ok {
		http.Error(w, "404 not found", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

func parsePage() (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{"asset": assetURL}).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	return t, nil
}

// pageData is what templates/index.html shows.
type pageData struct {
	User     *userReply // nil when not logged in
	Lobby    string     // the chat room's channel
	WS       string     // the path of the packet protocol over WebSocket, "" without
	Flash    *flash
	Messages []messageView
	Admin    bool // the operations page (Handler.Admin): statistics, no chat
	HasStats bool
	Stats    []tile
	Kicks    []tile
	Cluster  *clusterView // nil unless wharfd runs as a cluster node
	StatsErr string
}

// clusterView is the dashboard's cluster section: its numbers and the
// nodes this node sees.
type clusterView struct {
	Tiles []tile
	Nodes []nodeRow
}

// nodeRow is one node in the dashboard's node table; app.js redraws the
// table from the stats' cluster.node_list with the same columns.
type nodeRow struct {
	Name, Incarnation     string
	Self, Synced          bool
	Connections, Presence string
	LastSeen              string // "0.4s ago"
}

type messageView struct {
	From, Text string
	TS         int64  // Unix milliseconds, as in chat.Message
	ISO, Clock string // the time, as RFC 3339 and as 15:04 UTC
	Mine       bool
}

// tile is one number on the dashboard.
type tile struct {
	Key, Label, Kind string // Key: the number's path in the stats JSON ("server.online"); Kind: "gauge", "counter", "rate" or "bytes"
	Value, Unit      string
}

// tileSpec is a tile and where its number comes from.
type tileSpec struct {
	tile
	value func(*Stats) float64
}

// tileSpecs are the dashboard's numbers, in order. Rates show their
// counter's total until the script has two samples to divide. The keys
// are the JSON paths app.js reads the live values from.
var tileSpecs = []tileSpec{
	{tile{Key: "server.online", Label: "Connections", Kind: "gauge"}, func(s *Stats) float64 { return f64(s.Server.Online) }},
	{tile{Key: "server.accepted", Label: "Accepted", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.Accepted) }},
	{tile{Key: "server.packets_in", Label: "Packets in", Kind: "rate", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.PacketsIn) }},
	{tile{Key: "server.packets_out", Label: "Packets out", Kind: "rate", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.PacketsOut) }},
	{tile{Key: "server.bytes_in", Label: "Received", Kind: "bytes", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.BytesIn) }},
	{tile{Key: "server.bytes_out", Label: "Sent", Kind: "bytes", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.BytesOut) }},
	{tile{Key: "server.handler_queue", Label: "Handler queue", Kind: "gauge"}, func(s *Stats) float64 { return f64(s.Server.HandlerQueue) }},
	{tile{Key: "server.send_queue", Label: "Send queue", Kind: "gauge"}, func(s *Stats) float64 { return f64(s.Server.SendQueue) }},
	{tile{Key: "server.dropped", Label: "Dropped packets", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.Dropped) }},
	{tile{Key: "server.overloaded", Label: "Overloaded", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.Overloaded) }},
	{tile{Key: "server.bad_crc", Label: "Bad checksums", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Server.BadPackets) }},
	{tile{Key: "channels.channels", Label: "Channels", Kind: "gauge"}, func(s *Stats) float64 { return channelStat(s, func(c *channels.Stats) int64 { return c.Channels }) }},
	{tile{Key: "channels.subscriptions", Label: "Subscriptions", Kind: "gauge"}, func(s *Stats) float64 {
		return channelStat(s, func(c *channels.Stats) int64 { return c.Subscriptions })
	}},
	{tile{Key: "channels.deliveries", Label: "Deliveries", Kind: "counter", Unit: "total"}, func(s *Stats) float64 {
		return channelStat(s, func(c *channels.Stats) int64 { return int64(c.Deliveries) })
	}},
	{tile{Key: "workers", Label: "Workers", Kind: "gauge"}, func(s *Stats) float64 { return f64(s.Workers) }},
}

// channelStat reads a number of the channels section, 0 without one.
func channelStat(s *Stats, v func(*channels.Stats) int64) float64 {
	if s.Channels == nil {
		return 0
	}
	return f64(v(s.Channels))
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	u, _, ok, err := h.user(w, r)
	if err != nil {
		h.appError(r, "authenticate", err) // logs
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	admin := isAdmin(r)
	d := pageData{Flash: h.takeFlash(w, r), Admin: admin, HasStats: admin && h.cfg.Stats != nil, Lobby: h.app.Lobby().String()}
	if h.cfg.WebSocket != nil {
		d.WS = "/ws"
	}
	if ok && !admin {
		d.User = &userReply{UserID: u.ID, Username: u.Username}
		msgs, err := h.app.LobbyHistory(r.Context())
		if err != nil {
			h.appError(r, "lobby history", err) // logs; the page shows no history
		}
		for _, m := range msgs {
			d.Messages = append(d.Messages, viewMessage(m, u.Username))
		}
	}
	if d.HasStats {
		st, err := h.stats(r.Context())
		if err != nil {
			d.StatsErr = err.(*apiError).text
		} else {
			d.Stats, d.Kicks = statTiles(&st)
			d.Cluster = viewCluster(st.Cluster, time.Now())
		}
	}
	var buf bytes.Buffer
	if err := h.page.ExecuteTemplate(&buf, "index.html", d); err != nil {
		h.cfg.Logger.Error("web: render page", "err", err)
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	h.page.ExecuteTemplate(w, "notfound.html", nil)
}

func viewMessage(m chat.Message, me string) messageView {
	t := time.UnixMilli(m.TS).UTC()
	return messageView{
		From: m.From, Text: m.Text, TS: m.TS,
		ISO: t.Format(time.RFC3339), Clock: t.Format("15:04") + " UTC",
		Mine: strings.EqualFold(m.From, me),
	}
}

// statTiles formats a stats snapshot for the page: the numbers, then the
// kicks by reason.
func statTiles(st *Stats) (tiles, kicks []tile) {
	for _, spec := range tileSpecs {
		t := spec.tile
		if v := spec.value(st); t.Kind == "bytes" {
			t.Value = formatBytes(v)
		} else {
			t.Value = formatCount(v)
		}
		tiles = append(tiles, t)
	}
	for k, n := range st.Server.Kicks {
		reason := server.Kick(k).String()
		kicks = append(kicks, tile{Key: reason, Label: kickLabel(reason), Kind: "counter", Value: formatCount(f64(n))})
	}
	return tiles, kicks
}

// clusterTiles are the cluster section's numbers; the keys are the JSON
// paths of Stats.Cluster.
var clusterTiles = []tileSpec{
	{tile{Key: "cluster.nodes", Label: "Nodes", Kind: "gauge"}, func(s *Stats) float64 { return f64(s.Cluster.Nodes) }},
	{tile{Key: "cluster.connected", Label: "Broker links", Kind: "gauge"}, func(s *Stats) float64 { return f64(s.Cluster.Connected) }},
	{tile{Key: "cluster.published", Label: "To other nodes", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Cluster.Published) }},
	{tile{Key: "cluster.received", Label: "From other nodes", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Cluster.Received) }},
	{tile{Key: "cluster.refused", Label: "Kept local", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Cluster.Refused) }},
	{tile{Key: "cluster.reconnects", Label: "Reconnects", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Cluster.Reconnects) }},
	{tile{Key: "cluster.nodes_lost", Label: "Nodes lost", Kind: "counter", Unit: "total"}, func(s *Stats) float64 { return f64(s.Cluster.NodesLost) }},
}

// viewCluster formats the cluster section, or returns nil without one.
func viewCluster(c *ClusterStats, now time.Time) *clusterView {
	if c == nil {
		return nil
	}
	v := &clusterView{}
	st := &Stats{Cluster: c}
	for _, spec := range clusterTiles {
		t := spec.tile
		t.Value = formatCount(spec.value(st))
		v.Tiles = append(v.Tiles, t)
	}
	for _, n := range c.NodeList {
		conns := "?"
		if n.Connections >= 0 {
			conns = formatCount(f64(n.Connections))
		}
		v.Nodes = append(v.Nodes, nodeRow{Name: n.Name, Incarnation: n.Incarnation, Self: n.Self, Synced: n.Synced,
			Connections: conns, Presence: formatCount(f64(n.Presence)),
			LastSeen: fmt.Sprintf("%.1fs ago", max(0, now.Sub(n.LastSeen).Seconds()))})
	}
	return v
}

// kickLabel names a kick reason for people: "slow_reader" is "Slow reader".
func kickLabel(reason string) string {
	if reason == "bad_crc" {
		return "Bad CRC"
	}
	s := strings.ReplaceAll(reason, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// formatCount writes a number with thousands separators: 1,234,567.
func formatCount(v float64) string {
	if v != float64(int64(v)) {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return humanize.Comma(int64(v))
}

// formatBytes writes a byte count in binary units: 1.5 MiB.
func formatBytes(v float64) string { return humanize.IBytes(uint64(max(v, 0))) }

// ErrorFor returns the flash error that belongs to form, if any.
func (d pageData) ErrorFor(form string) string {
	if f := d.Flash; f != nil && f.Kind == "error" && f.Form == form {
		return f.Text
	}
	return ""
}

// Notice returns the flash message shown at the top of the page: every
// success, and errors that belong to no form on the page.
func (d pageData) Notice() *flash {
	f := d.Flash
	if f == nil || (f.Kind == "error" && (f.Form == "login" || f.Form == "register" || f.Form == "say")) {
		return nil
	}
	return f
}

// Prefill returns the username to show again in form.
func (d pageData) Prefill(form string) string {
	if f := d.Flash; f != nil && f.Form == form {
		return f.Username
	}
	return ""
}

// Draft returns the refused chat message, to edit and send again.
func (d pageData) Draft() string {
	if f := d.Flash; f != nil && f.Form == "say" {
		return f.Draft
	}
	return ""
}
