package config

import (
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// problems returns the *Errors in err, which Load, Parse and Validate
// return alone or joined.
func problems(t *testing.T, err error) []*Error {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else if err != nil {
		list = []error{err}
	}
	out := make([]*Error, 0, len(list))
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q (%T) is not an *Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

// noEnv loads without looking at the process environment.
var noEnv = LoadOptions{Environ: []string{}}
