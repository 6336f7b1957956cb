package supervisor

import (
	"encoding/json"
)

// SumJSON adds JSON documents: numbers are summed, objects merged key by
// key, arrays summed element by element; for strings and booleans the first
// value wins. It is how the master totals the stats of its workers without
// knowing their shape.
func SumJSON(parts ...json.RawMessage) json.RawMessage {
	var acc any
	for _, p := range parts {
		var v any
		dec := json.NewDecoder(bytesReader(p))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			continue
		}
		acc = sumValue(acc, v)
	}
	out, err := json.Marshal(acc)
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

func sumValue(a, b any) any {
	if a == nil {
		return b
	}
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return a
		}
		if xi, err := x.Int64(); err == nil {
			if yi, err := y.Int64(); err == nil {
				return json.Number(itoa(xi + yi))
			}
		}
		xf, _ := x.Float64()
		yf, _ := y.Float64()
		return json.Number(ftoa(xf + yf))
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return a
		}
		for k, v := range y {
			x[k] = sumValue(x[k], v)
		}
		return x
	case []any:
		y, ok := b.([]any)
		if !ok {
			return a
		}
		for i, v := range y {
			if i < len(x) {
				x[i] = sumValue(x[i], v)
			} else {
				x = append(x, v)
			}
		}
		return x
	}
	return a
}
