package config

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// envPrefix starts every variable that overrides a key.
const envPrefix = "WHARF_"

// envInternal lists prefixes of WHARF_ variables that are not configuration
// and that Load ignores: wharfd's supervisor passes listeners and state to
// the processes it starts through WHARF_SUPERVISOR_*, and tests may use
// WHARF_TEST_*. Every other WHARF_ variable must name a key, so a typo in a
// deployment's environment fails loudly instead of being ignored.
var envInternal = []string{"WHARF_SUPERVISOR_", "WHARF_TEST_"}

// LoadOptions adjusts Load. The zero LoadOptions is what Load uses.
type LoadOptions struct {
	// Environ is the environment, as "NAME=value" strings like os.Environ
	// returns them. nil means os.Environ(); an empty non-nil slice ignores
	// the environment.
	Environ []string
}

// Load reads the TOML file at path, fills every key the file does not set
// with its default, applies WHARF_* environment overrides, and validates
// the result. path "" means no file: defaults and the environment only.
//
// Each key can be overridden by WHARF_<TABLE>_<KEY> in upper case, e.g.
// WHARF_SERVER_IDLE_TIMEOUT=30s, or WHARF_<KEY> for top-level keys
// (WHARF_PROCESSES=auto). Values are written as on the command line: no
// quotes; lists are comma-separated (WHARF_SERVER_LISTEN=tcp://:7000,
// tcp://:7002; an empty value is an empty list); durations, sizes and
// processes take their string forms; booleans take true, false, 1 or 0.
// The environment wins over the file. A WHARF_ variable that names no key
// is an error, except WHARF_SUPERVISOR_* and WHARF_TEST_*, which wharfd
// uses internally.
//
// On error Load returns the zero Config and every problem found, joined
// (see Error); a file that cannot be read gives a plain error wrapping the
// *fs.PathError. Load may be called from any goroutine.
func Load(path string) (Config, error) {
	return LoadOptions{}.Load(path)
}

// Load is Load with options o.
func (o LoadOptions) Load(path string) (Config, error) {
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	l := newLoader(path)
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		l.decode(&c, data)
		if len(l.errs) == 1 && isSyntax(l.errs[0]) {
			// Nothing of the file was decoded: checking the
			// environment and the defaults would only add noise.
			return l.finish(&c)
		}
	}
	l.environ(&c, env)
	return l.finish(&c)
}

func isSyntax(e *Error) bool {
	p, ok := e.Err.(*problem)
	return ok && p.class == ErrSyntax
}

// environ applies the WHARF_* variables in env to c. When a variable is
// listed twice the first wins, as with os.Getenv.
func (l *loader) environ(c *Config, env []string) {
	vars := map[string]string{}
	var names []string
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if _, dup := vars[name]; dup {
			continue
		}
		if slices.ContainsFunc(envInternal, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		vars[name] = value
		names = append(names, name)
	}
	slices.Sort(names) // deterministic order of problems

	for _, name := range names {
		f := schema.envs[name]
		if f == nil {
			msg := "unknown environment variable " + name
			if s := suggest(name, schema.envNames()); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			l.errs = append(l.errs, &Error{Env: name, Err: &problem{class: ErrUnknownEnv, msg: msg}})
			continue
		}
		l.origins[f.key] = origin{env: name}
		delete(l.failed, f.key) // a bad value in the file is overridden
		delete(l.single, f.key)
		if f.kind == kindTables {
			l.failed[f.key] = true
			l.fail(f.key, valueProblem("a list of tables ([["+f.key+"]]) cannot be set from the environment: set it in the file"))
			continue
		}
		if f.kind == kindAddrs {
			elems, p := splitEnvList(vars[name])
			if p != nil {
				l.failed[f.key] = true
				l.fail(f.key, p)
			} else {
				l.storeAddrs(f, elems, f.value(c))
			}
			continue
		}
		if p := decodeEnv(f, vars[name], f.value(c)); p != nil {
			l.failed[f.key] = true
			l.fail(f.key, p)
		}
	}
}

// splitEnvList splits the value of a list variable at its commas, spaces
// around elements removed; "" is the empty (nil) list.
func splitEnvList(s string) ([]string, *problem) {
	var list []string // nil when empty: see Config
	if s == "" {
		return nil, nil
	}
	for i, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, valueProblem(fmt.Sprintf("element %d of %s is empty (separate list elements with single commas)", i, quoteShort(s)))
		}
		list = append(list, e)
	}
	return list, nil
}

// decodeEnv parses s, the value of an environment variable, into field f
// of c (dst).
func decodeEnv(f *field, s string, dst reflect.Value) *problem {
	switch f.kind {
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return &problem{class: ErrValue, msg: fmt.Sprintf("invalid boolean %s (want true or false)", quoteShort(s)), cause: err}
		}
		dst.SetBool(b)
	case kindInt:
		n, err := strconv.Atoi(s)
		if err != nil {
			return &problem{class: ErrValue, msg: fmt.Sprintf("invalid integer %s", quoteShort(s)), cause: err}
		}
		dst.SetInt(int64(n))
	case kindString:
		dst.SetString(s)
	case kindStrings:
		list, p := splitEnvList(s)
		if p != nil {
			return p
		}
		dst.Set(reflect.ValueOf(list))
	case kindDuration:
		d, p := parseDuration(s)
		if p != nil {
			return p
		}
		dst.SetInt(int64(d))
	case kindSize:
		n, p := parseSize(s)
		if p != nil {
			return p
		}
		dst.SetInt(int64(n))
	case kindProcesses:
		n, p := parseProcesses(s)
		if p != nil {
			return p
		}
		dst.SetInt(int64(n))
	}
	return nil
}
