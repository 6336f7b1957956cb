package config

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"wharf/endpoint"
)

// kind is how a key's value is read and written.
type kind int

const (
	kindBool kind = iota
	kindInt
	kindString
	kindStrings
	kindAddrs // []endpoint.Addr, with the schemes of the field's schemes tag
	kindDuration
	kindSize
	kindProcesses
	kindTables // a list of structs: [[table.key]] arrays of tables, whose fields are elem
)

// field describes one key. The schema is derived from Config's toml tags
// once, at package initialisation, so a new field needs only a tag (and a
// kind this file knows) to be decoded, overridden from the environment,
// printed and checked for typos.
type field struct {
	key   string // dotted path, "server.idle_timeout"
	table string // "server", or "" for a top-level key
	name  string // "idle_timeout"
	env   string // "WHARF_SERVER_IDLE_TIMEOUT"
	index []int  // reflect field index from Config
	kind  kind

	// schemes are the address schemes a kindAddrs key accepts, from its
	// schemes tag; the first is implied by a bare "HOST:PORT".
	schemes endpoint.Schemes

	// elem are the fields of a kindTables key's elements, with index and
	// key relative to the element ("name"), and zero is an element of
	// defaults (what a key left out takes).
	elem []*field
	zero reflect.Value
}

// table is a [table] of Config.
type table struct {
	name   string
	index  []int
	fields []*field
}

type schemaInfo struct {
	top    []*field          // top-level keys in struct order
	tables []*table          // tables in struct order
	keys   map[string]*field // by dotted key
	envs   map[string]*field // by environment variable
	tabs   map[string]*table // by table name
}

// schema is read-only after initialisation.
var schema = buildSchema()

var (
	typeDuration  = reflect.TypeFor[Duration]()
	typeSize      = reflect.TypeFor[Size]()
	typeProcesses = reflect.TypeFor[Processes]()
	typeAddrs     = reflect.TypeFor[[]endpoint.Addr]()
)

// schemesTag reads the schemes tag of key: a comma-separated list of
// schemes of package endpoint, the first implied.
func schemesTag(key, tag string) endpoint.Schemes {
	if tag == "" {
		panic("config: " + key + " has no schemes tag")
	}
	ss := endpoint.Schemes(strings.Split(tag, ","))
	for _, s := range ss {
		if !slices.Contains(endpoint.Known(), s) {
			panic("config: " + key + ": unknown scheme " + s)
		}
	}
	return ss
}

func buildSchema() *schemaInfo {
	s := &schemaInfo{
		keys: map[string]*field{},
		envs: map[string]*field{},
		tabs: map[string]*table{},
	}
	add := func(tab string, sf reflect.StructField, index []int) *field {
		name := sf.Tag.Get("toml")
		f := &field{table: tab, name: name, key: name, index: index, kind: kindOf(sf.Type)}
		if tab != "" {
			f.key = tab + "." + name
		}
		if f.kind == kindAddrs {
			f.schemes = schemesTag(f.key, sf.Tag.Get("schemes"))
		}
		if f.kind == kindTables {
			f.elem, f.zero = elemSchema(f.key, sf.Type.Elem())
		}
		f.env = "WHARF_" + strings.ToUpper(strings.ReplaceAll(f.key, ".", "_"))
		if s.keys[f.key] != nil || s.envs[f.env] != nil {
			panic("config: duplicate key " + f.key)
		}
		s.keys[f.key] = f
		s.envs[f.env] = f
		return f
	}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		sf := ct.Field(i)
		name := sf.Tag.Get("toml")
		if name == "" {
			panic("config: Config." + sf.Name + " has no toml tag")
		}
		if sf.Type.Kind() != reflect.Struct {
			s.top = append(s.top, add("", sf, []int{i}))
			continue
		}
		t := &table{name: name, index: []int{i}}
		for j := range sf.Type.NumField() {
			sub := sf.Type.Field(j)
			if sub.Tag.Get("toml") == "" {
				panic("config: " + sf.Name + "." + sub.Name + " has no toml tag")
			}
			t.fields = append(t.fields, add(name, sub, []int{i, j}))
		}
		s.tables = append(s.tables, t)
		s.tabs[name] = t
	}
	return s
}

// elemSchema describes the fields of the element struct et of list key
// key, and the element of defaults (a method Defaults on et, if any).
func elemSchema(key string, et reflect.Type) ([]*field, reflect.Value) {
	var out []*field
	for i := range et.NumField() {
		sf := et.Field(i)
		name := sf.Tag.Get("toml")
		if name == "" {
			panic("config: " + key + "." + sf.Name + " has no toml tag")
		}
		k := kindOf(sf.Type)
		if k == kindTables || k == kindAddrs {
			panic("config: " + key + "." + name + ": no nested lists of tables or addresses")
		}
		out = append(out, &field{key: name, name: name, index: []int{i}, kind: k})
	}
	zero := reflect.New(et).Elem()
	if d, ok := zero.Addr().Interface().(interface{ defaults() }); ok {
		d.defaults()
	}
	return out, zero
}

// elemField returns the element field of list key f named name, or nil.
func (f *field) elemField(name string) *field {
	for _, e := range f.elem {
		if e.name == name {
			return e
		}
	}
	return nil
}

// elemNames lists the keys of list key f's elements.
func (f *field) elemNames() []string {
	names := make([]string, len(f.elem))
	for i, e := range f.elem {
		names[i] = e.name
	}
	return names
}

func kindOf(t reflect.Type) kind {
	switch t {
	case typeDuration:
		return kindDuration
	case typeSize:
		return kindSize
	case typeProcesses:
		return kindProcesses
	case typeAddrs:
		return kindAddrs
	}
	switch t.Kind() {
	case reflect.Bool:
		return kindBool
	case reflect.Int:
		return kindInt
	case reflect.String:
		return kindString
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return kindStrings
		case reflect.Struct:
			return kindTables
		}
	}
	panic(fmt.Sprintf("config: no kind for type %v", t))
}

// value returns the addressable field f of *c.
func (f *field) value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index)
}

// suggest returns the candidate nearest to name within edit distance 2, or
// "" when none is that close. Ties go to the earliest candidate, so
// suggestions are deterministic.
func suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c, bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, or any value
// >= limit once it is known to reach limit (keys are short, but fuzzed
// input is not).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// topNames lists the names allowed at the top level: keys and tables.
func (s *schemaInfo) topNames() []string {
	var names []string
	for _, f := range s.top {
		names = append(names, f.name)
	}
	for _, t := range s.tables {
		names = append(names, t.name)
	}
	return names
}

// tableNames lists the keys of table t.
func (t *table) names() []string {
	names := make([]string, len(t.fields))
	for i, f := range t.fields {
		names[i] = f.name
	}
	return names
}

// envNames lists every environment variable, sorted.
func (s *schemaInfo) envNames() []string {
	names := make([]string, 0, len(s.envs))
	for n := range s.envs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
