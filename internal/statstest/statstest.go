// Package statstest checks statistics structs by reflection, so a field
// added to one cannot be forgotten: Fill gives every number a distinct
// value, Leaves visits every number one by one, CheckAdd tests an Add
// method against every field and CheckJSON tests the JSON round trip.
//
// A "leaf" is a number reachable from the struct through fields, arrays,
// slices, map values and pointers: any integer or float kind, time.Duration
// included. Named integer types with a String method (enums such as
// engine.Kind) are leaves too, but Fill leaves them zero, since most of
// their values are invalid. Maps, slices and pointers are walked as they
// are: Fill adds one entry to an empty map and allocates nil pointers, but
// a slice is filled only as long as it already is.
package statstest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Leaf is one number inside a struct.
type Leaf struct {
	// Path names it: "Transports[tcp].ClosedBy[3]".
	Path string
	// Get returns its value as a float64.
	Get func() float64
	// Set stores n (converted to its type: 7 is 7ns for a Duration).
	Set func(n float64)

	enum bool // a named integer with a String method: Fill leaves it zero
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	stringerType = reflect.TypeFor[fmt.Stringer]()
)

// Leaves returns every leaf of the struct p points to, in field order (map
// entries by sorted key).
func Leaves(p any) []Leaf {
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("statstest: want a pointer to a struct, got %T", p))
	}
	var out []Leaf
	walk(v.Elem(), "", func(reflect.Value) {}, &out, false)
	return out
}

// Fill sets every leaf of the struct p points to, enums aside, to a
// distinct value, 1, 2, 3... in field order, so ascending slices (a
// histogram's bounds and cumulative counts) stay ascending. Empty maps get
// one entry (key "x" or the next number) and nil pointers a value.
func Fill(p any) {
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("statstest: want a pointer to a struct, got %T", p))
	}
	var out []Leaf
	walk(v.Elem(), "", func(reflect.Value) {}, &out, true)
	n := 0.0
	for _, l := range out {
		if !l.enum {
			n++
			l.Set(n)
		}
	}
}

// walk appends the leaves under v. store writes v back where v is a copy
// (a map value); grow makes empty maps and nil pointers hold a value.
func walk(v reflect.Value, path string, store func(reflect.Value), out *[]Leaf, grow bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		enum := v.Type() != durationType && v.Type().Implements(stringerType) && v.Kind() != reflect.Float32 && v.Kind() != reflect.Float64
		*out = append(*out, Leaf{Path: path, enum: enum, Get: func() float64 { return number(v) }, Set: func(n float64) {
			setNumber(v, n)
			store(v)
		}})
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			walk(v.Field(i), join(path, t.Field(i).Name), func(reflect.Value) { store(v) }, out, grow)
		}
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), func(reflect.Value) { store(v) }, out, grow)
		}
	case reflect.Pointer:
		if v.IsNil() {
			if !grow {
				return
			}
			v.Set(reflect.New(v.Type().Elem()))
			store(v)
		}
		walk(v.Elem(), path, func(reflect.Value) {}, out, grow)
	case reflect.Map:
		if v.Len() == 0 && grow {
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
				store(v)
			}
			k := reflect.New(v.Type().Key()).Elem()
			switch k.Kind() {
			case reflect.String:
				k.SetString("x")
			default:
				setNumber(k, 1)
			}
			v.SetMapIndex(k, reflect.New(v.Type().Elem()).Elem())
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			// Map values are not addressable: walk a copy, store it back.
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			walk(e, fmt.Sprintf("%s[%v]", path, k), func(reflect.Value) { v.SetMapIndex(k, e) }, out, grow)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func number(v reflect.Value) float64 {
	switch {
	case v.CanInt():
		return float64(v.Int())
	case v.CanUint():
		return float64(v.Uint())
	}
	return v.Float()
}

func setNumber(v reflect.Value, n float64) {
	switch {
	case v.CanInt():
		v.SetInt(int64(n))
	case v.CanUint():
		v.SetUint(uint64(n))
	default:
		v.SetFloat(n)
	}
}

// CheckAdd tests add, a type's Add method, against every leaf of T: adding
// a filled value (fill returns a new one each call) to the zero value must
// give the filled value, and adding it to itself must double every leaf
// except those under a field named in same (kept as they are: bucket
// bounds, a kind).
func CheckAdd[T any](t testing.TB, fill func() T, add func(s *T, o T), same ...string) {
	t.Helper()
	var zero T
	add(&zero, fill())
	if want := fill(); !reflect.DeepEqual(zero, want) {
		t.Errorf("zero.Add(x) = %+v\nwant x = %+v\n(a field that Add does not copy?)", zero, want)
	}
	sum, one := fill(), fill()
	add(&sum, fill())
	got, base := Leaves(&sum), Leaves(&one)
	if len(got) != len(base) {
		t.Fatalf("x.Add(x) has %d numbers, x has %d", len(got), len(base))
	}
	for i, l := range got {
		want := 2 * base[i].Get()
		if kept(l.Path, same) {
			want = base[i].Get()
		}
		if l.Path != base[i].Path || l.Get() != want {
			t.Errorf("x.Add(x): %s = %v, want %v", l.Path, l.Get(), want)
		}
	}
}

func kept(path string, same []string) bool {
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' }) {
		if slices.Contains(same, part) {
			return true
		}
	}
	return false
}

// CheckJSON tests that a filled value survives encoding/json unchanged.
func CheckJSON[T any](t testing.TB, fill func() T) {
	t.Helper()
	x := fill()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	var y T
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", b, err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("JSON round trip changed the value:\n got %+v\nwant %+v\nJSON %s", y, x, b)
	}
}
