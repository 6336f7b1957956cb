package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"wharf/endpoint"
)

// Parse reads a configuration from TOML data, fills every key the data
// does not set with its default, and validates the result. name is used in
// error messages (normally the file's path). Unlike Load, Parse ignores
// the environment. On error it returns the zero Config and every problem
// found, joined; see Error. Parse may be called from any goroutine.
func Parse(data []byte, name string) (Config, error) {
	l := newLoader(name)
	c := Default()
	l.decode(&c, data)
	return l.finish(&c)
}

// origin says where a key's value came from. The zero origin is the
// default.
type origin struct {
	off       int // byte offset of the key in the file, for ordering
	line, col int // 1-based; 0 when not from the file
	env       string
}

// loader carries one Load or Parse: the provenance of every key set, and
// the problems found. It is used by one goroutine.
type loader struct {
	file    string
	pos     map[string]origin // key paths (and "key[i]" list elements) seen in the file
	origins map[string]origin // keys set from the file or the environment
	failed  map[string]bool   // keys whose value could not be decoded
	single  map[string]bool   // list keys written as one value, not a list: problems name the key, not "key[0]"
	errs    []*Error
}

func newLoader(file string) *loader {
	return &loader{
		file:    file,
		pos:     map[string]origin{},
		origins: map[string]origin{},
		failed:  map[string]bool{},
		single:  map[string]bool{},
	}
}

// finish validates c and returns it, or the zero Config and every problem
// found in file order (problems without a position last, in check order).
func (l *loader) finish(c *Config) (Config, error) {
	l.errs = append(l.errs, c.check(l)...)
	if len(l.errs) == 0 {
		return *c, nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if (a.Line > 0) != (b.Line > 0) {
			return a.Line > 0
		}
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e
	}
	return Config{}, errors.Join(errs...)
}

// baseKey strips a list index: "server.listen[1]" -> "server.listen".
func baseKey(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		return key[:i]
	}
	return key
}

// fail records problem p about schema key key, located by where the key's
// value came from.
func (l *loader) fail(key string, p *problem) {
	l.errs = append(l.errs, l.locate(key, p))
}

// failAt records problem p about key at the key's position in the file,
// for keys that are not in the schema (unknown keys, misused tables).
func (l *loader) failAt(key string, p *problem) {
	o := l.pos[key]
	l.errs = append(l.errs, &Error{File: l.file, Line: o.line, Col: o.col, Key: key, Err: p})
}

// locate returns an *Error for problem p about key (a schema key, possibly
// with a list index), located by where the key's value came from. l may be
// nil (Validate), giving no location at all.
func (l *loader) locate(key string, p *problem) *Error {
	e := &Error{Key: key, Err: p}
	if l == nil {
		return e
	}
	o, set := l.origins[baseKey(key)]
	switch {
	case o.env != "":
		e.Env = o.env
	case set:
		if at, ok := l.pos[key]; ok {
			o = at
		}
		e.File, e.Line, e.Col = l.file, o.line, o.col
	default:
		e.File, e.Default = l.file, true
	}
	return e
}

// describe returns a parenthesised note on key's value and origin for a
// message about another key: "(300, line 9)", "(300, default)".
func (l *loader) describe(key, value string) string {
	if l == nil {
		return "(" + value + ")"
	}
	o, set := l.origins[key]
	switch {
	case o.env != "":
		return "(" + value + ", from " + o.env + ")"
	case set:
		return fmt.Sprintf("(%s, line %d)", value, o.line)
	}
	return "(" + value + ", default)"
}

// rank orders origins by how deliberately the value was chosen: a problem
// between two keys is reported on the more deliberate one, the one the
// user has to change. The environment overrides the file, so it ranks
// highest.
func (l *loader) rank(key string) int {
	if l == nil {
		return 0
	}
	o, set := l.origins[key]
	switch {
	case o.env != "":
		return 2
	case set:
		return 1
	}
	return 0
}

// decode sets c's fields from the TOML document data.
func (l *loader) decode(c *Config, data []byte) {
	// Editors on Windows like to start files with a byte order mark, which
	// TOML does not allow.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))

	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		l.syntax(err)
		return
	}
	// The document is valid TOML; walk it once more for the position of
	// every key, which the map does not keep.
	l.positions(data)

	for _, k := range l.sortedKeys("", doc) {
		v := doc[k]
		if f := schema.keys[k]; f != nil && f.table == "" {
			l.set(c, f, v)
			continue
		}
		t := schema.tabs[k]
		if t == nil {
			l.unknown(k, suggestTop(k))
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			l.failAt(k, typeProblem(fmt.Sprintf("expected a table ([%s]), got %s", k, describeValue(v))))
			continue
		}
		for _, name := range l.sortedKeys(k, m) {
			f := schema.keys[k+"."+name]
			if f == nil || f.name != name {
				l.unknown(k+"."+name, suggestIn(t, name))
				continue
			}
			l.set(c, f, m[name])
		}
	}
}

// syntax records a TOML syntax error.
func (l *loader) syntax(err error) {
	e := &Error{File: l.file, Err: &problem{class: ErrSyntax, msg: "syntax error: " + strings.TrimPrefix(err.Error(), "toml: "), cause: err}}
	// go-toml's DecodeError.Key is relative to the table being decoded,
	// so it is left out: the message names the key.
	var de *toml.DecodeError
	if errors.As(err, &de) {
		e.Line, e.Col = de.Position()
	}
	l.errs = append(l.errs, e)
}

// unknown records an unknown key (or table) at its position.
func (l *loader) unknown(key, hint string) {
	msg := fmt.Sprintf("unknown key %q", key)
	if hint != "" {
		msg += " (" + hint + ")"
	}
	l.failAt(key, &problem{class: ErrUnknownKey, msg: msg})
}

// suggestTop returns a hint for an unknown top-level name: a near miss
// among top-level keys and tables, or the tables that have a key of that
// name.
func suggestTop(name string) string {
	if s := suggest(name, schema.topNames()); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	var in []string
	for _, t := range schema.tables {
		if slices.Contains(t.names(), name) {
			in = append(in, fmt.Sprintf("%q", t.name+"."+name))
		}
	}
	if len(in) == 0 {
		return ""
	}
	return "did you mean " + orList(in) + "?"
}

// suggestIn returns a hint for an unknown key name in table t: a near miss
// in t, a top-level key written after a table header (the classic TOML
// slip: it then belongs to the table), or the same key in another table.
func suggestIn(t *table, name string) string {
	if s := suggest(name, t.names()); s != "" {
		return fmt.Sprintf("did you mean %q?", t.name+"."+s)
	}
	if f := schema.keys[name]; f != nil && f.table == "" {
		return fmt.Sprintf("%q is a top-level key: move it above the first [table]", name)
	}
	for _, o := range schema.tables {
		if o != t && slices.Contains(o.names(), name) {
			return fmt.Sprintf("did you mean %q?", o.name+"."+name)
		}
	}
	return ""
}

// orList joins items as "a", "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// sortedKeys returns m's keys in file order, so problems are reported as
// they appear. prefix is the dotted path of m.
func (l *loader) sortedKeys(prefix string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	path := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	slices.SortFunc(keys, func(a, b string) int {
		pa, oka := l.pos[path(a)]
		pb, okb := l.pos[path(b)]
		if oka != okb {
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(pa.off, pb.off), strings.Compare(a, b))
	})
	return keys
}

// set decodes v, a value from the go-toml document, into field f of c.
func (l *loader) set(c *Config, f *field, v any) {
	l.origins[f.key] = l.pos[f.key]
	switch f.kind {
	case kindAddrs:
		l.setAddrs(f, v, f.value(c))
		return
	case kindTables:
		l.setTables(f, v, f.value(c))
		return
	}
	if p := decodeTOML(f, v, f.value(c)); p != nil {
		l.failed[f.key] = true
		l.fail(f.key, p)
	}
}

// setAddrs decodes v, the TOML value of listen key f: one address or a
// list of them.
func (l *loader) setAddrs(f *field, v any, dst reflect.Value) {
	switch x := v.(type) {
	case string:
		l.single[f.key] = true
		l.storeAddrs(f, []string{x}, dst)
		return
	case []any:
		elems := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				l.failed[f.key] = true
				l.fail(f.key, typeProblem(fmt.Sprintf("element %d: expected a string, got %s", i, describeValue(e))))
				return
			}
			elems[i] = s
		}
		l.storeAddrs(f, elems, dst)
		return
	}
	l.failed[f.key] = true
	l.fail(f.key, typeProblem("expected an address or a list of addresses, got "+describeValue(v)))
}

// setTables decodes v, the TOML value of list key f: an array of tables
// ([[table.key]] blocks, or an array of inline tables). Each element
// starts from f.zero, the defaults of its keys; a problem is reported on
// "key[i].name", and the key keeps its default.
func (l *loader) setTables(f *field, v any, dst reflect.Value) {
	arr, ok := v.([]any)
	if !ok {
		l.failed[f.key] = true
		l.fail(f.key, typeProblem(fmt.Sprintf("expected tables ([[%s]]), got %s", f.key, describeValue(v))))
		return
	}
	out := reflect.MakeSlice(dst.Type(), 0, len(arr))
	bad := false
	for i, e := range arr {
		el := l.element(f.key, i)
		m, ok := e.(map[string]any)
		if !ok {
			l.fail(el, typeProblem("expected a table, got "+describeValue(e)))
			bad = true
			continue
		}
		ev := reflect.New(dst.Type().Elem()).Elem()
		ev.Set(f.zero)
		for _, name := range l.sortedKeys(el, m) {
			ef := f.elemField(name)
			if ef == nil {
				hint := ""
				if s := suggest(name, f.elemNames()); s != "" {
					hint = fmt.Sprintf("did you mean %q?", el+"."+s)
				}
				l.unknown(el+"."+name, hint)
				bad = true
				continue
			}
			if p := decodeTOML(ef, m[name], ev.FieldByIndex(ef.index)); p != nil {
				l.fail(el+"."+name, p)
				bad = true
			}
		}
		out = reflect.Append(out, ev)
	}
	if bad {
		l.failed[f.key] = true
		return
	}
	if out.Len() == 0 {
		out = reflect.Zero(dst.Type()) // nil when empty: see Config
	}
	dst.Set(out)
}

// storeAddrs parses elems, the addresses written for listen key f, with
// the key's schemes (the first implied) and stores them in dst. Each bad
// address is reported on its element, and the key is marked failed,
// keeping its default.
func (l *loader) storeAddrs(f *field, elems []string, dst reflect.Value) {
	var list []endpoint.Addr // nil when empty: see Config
	ok := true
	for i, s := range elems {
		a, err := f.schemes.Parse(s)
		if err != nil {
			l.fail(l.element(f.key, i), addrProblem(err))
			ok = false
			continue
		}
		list = append(list, a)
	}
	if !ok {
		l.failed[f.key] = true
		return
	}
	dst.Set(reflect.ValueOf(list))
}

// element names element i of list key key in a message: "key[i]", or
// the key alone when the value was written as one value, not a list. l
// may be nil (Validate).
func (l *loader) element(key string, i int) string {
	if l != nil && l.single[key] {
		return key
	}
	return fmt.Sprintf("%s[%d]", key, i)
}

// addrProblem is endpoint.Parse's error as a problem: the address as
// written, then what is wrong with it.
func addrProblem(err error) *problem {
	p := &problem{class: ErrValue, msg: err.Error(), cause: err}
	var e *endpoint.Error
	if errors.As(err, &e) {
		p.msg = quoteShort(e.Input) + ": " + e.Reason
	}
	return p
}

// decodeTOML stores TOML value v (as go-toml decodes into any) in dst.
func decodeTOML(f *field, v any, dst reflect.Value) *problem {
	switch f.kind {
	case kindBool:
		if b, ok := v.(bool); ok {
			dst.SetBool(b)
			return nil
		}
		return typeProblem("expected true or false, got " + describeValue(v))
	case kindInt:
		n, ok := v.(int64)
		if !ok {
			return typeProblem("expected an integer, got " + describeValue(v))
		}
		if n < math.MinInt || n > math.MaxInt {
			return valueProblem(fmt.Sprintf("%d is out of range", n))
		}
		dst.SetInt(n)
		return nil
	case kindString:
		if s, ok := v.(string); ok {
			dst.SetString(s)
			return nil
		}
		return typeProblem("expected a string, got " + describeValue(v))
	case kindStrings:
		arr, ok := v.([]any)
		if !ok {
			if s, isString := v.(string); isString {
				return typeProblem(fmt.Sprintf("expected a list of strings, got string %s (write [%s])", quoteShort(s), quoteShort(s)))
			}
			return typeProblem("expected a list of strings, got " + describeValue(v))
		}
		var list []string // nil when empty: see Config
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return typeProblem(fmt.Sprintf("element %d: expected a string, got %s", i, describeValue(e)))
			}
			list = append(list, s)
		}
		dst.Set(reflect.ValueOf(list))
		return nil
	case kindDuration:
		switch x := v.(type) {
		case string:
			d, p := parseDuration(x)
			if p != nil {
				return p
			}
			dst.SetInt(int64(d))
			return nil
		case int64:
			return typeProblem(fmt.Sprintf(`duration %d has no unit: write a string such as "%ds" or "%dms"`, x, x, x))
		}
		return typeProblem(`expected a duration such as "60s", got ` + describeValue(v))
	case kindSize:
		switch x := v.(type) {
		case string:
			s, p := parseSize(x)
			if p != nil {
				return p
			}
			dst.SetInt(int64(s))
			return nil
		case int64:
			if x < 0 {
				return valueProblem(fmt.Sprintf("%d must not be negative", x))
			}
			dst.SetInt(x)
			return nil
		}
		return typeProblem(`expected a size such as "16KiB" or a number of bytes, got ` + describeValue(v))
	case kindProcesses:
		switch x := v.(type) {
		case string:
			p, pr := parseProcesses(x)
			if pr != nil {
				return pr
			}
			dst.SetInt(int64(p))
			return nil
		case int64:
			if x < 0 || x > maxProcesses {
				return processesRange(x)
			}
			dst.SetInt(x)
			return nil
		}
		return typeProblem(`expected a number or "auto", got ` + describeValue(v))
	}
	panic("config: unhandled kind")
}

// describeValue names a decoded TOML value's type, with the value itself
// for scalars: `string "4"`, "integer 4", "an array".
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return "string " + quoteShort(x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		return "a date or time"
	}
	return fmt.Sprintf("%T", v)
}

// quoteShort quotes s, cut to a length that fits an error line.
func quoteShort(s string) string {
	const max = 60
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

// positions walks data, which go-toml has accepted, and records where each
// key path, table and list element first appears.
func (l *loader) positions(data []byte) {
	lines := []int{0} // offset of the start of each line
	for i, b := range data {
		if b == '\n' {
			lines = append(lines, i+1)
		}
	}
	at := func(off int) origin {
		i := sort.Search(len(lines), func(i int) bool { return lines[i] > off }) - 1
		return origin{off: off, line: i + 1, col: off - lines[i] + 1}
	}
	record := func(path string, off int) {
		if _, ok := l.pos[path]; !ok {
			l.pos[path] = at(off)
		}
	}
	// key records every prefix of prefix+key at the key's first part and
	// returns the full path.
	key := func(prefix string, it unstable.Iterator) string {
		path, off := prefix, -1
		for it.Next() {
			n := it.Node()
			if off < 0 {
				off = int(n.Raw.Offset)
			}
			if path != "" {
				path += "."
			}
			path += string(n.Data)
			record(path, off)
		}
		return path
	}
	var value func(path string, n *unstable.Node)
	value = func(path string, n *unstable.Node) {
		switch n.Kind {
		case unstable.InlineTable:
			for it := n.Children(); it.Next(); {
				kv := it.Node()
				if kv.Kind == unstable.KeyValue {
					value(key(path, kv.Key()), kv.Value())
				}
			}
		case unstable.Array:
			i := 0
			for it := n.Children(); it.Next(); {
				e := it.Node()
				if e.Kind == unstable.Comment {
					continue
				}
				el := fmt.Sprintf("%s[%d]", path, i)
				if e.Raw.Length > 0 {
					record(el, int(e.Raw.Offset))
				}
				if e.Kind == unstable.InlineTable {
					value(el, e) // an array of tables written inline
				}
				i++
			}
		}
	}

	var p unstable.Parser
	p.Reset(data)
	table := ""
	tables := map[string]int{} // [[path]] headers seen so far, by path
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			table = key("", e.Key())
		case unstable.ArrayTable:
			// The keys of the i-th [[path]] are path[i].key.
			it := e.Key()
			path := key("", it)
			i := tables[path]
			tables[path]++
			table = fmt.Sprintf("%s[%d]", path, i)
			if k := e.Key(); k.Next() {
				record(table, int(k.Node().Raw.Offset))
			}
		case unstable.KeyValue:
			value(key(table, e.Key()), e.Value())
		}
	}
}
