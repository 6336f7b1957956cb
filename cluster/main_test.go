package cluster

import (
	"testing"

	"go.uber.org/goleak"

	"wharf/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Wrap(m)) }
