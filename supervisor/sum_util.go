package supervisor

import (
	"bytes"
	"io"
	"strconv"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
func itoa(v int64) string            { return strconv.FormatInt(v, 10) }
func ftoa(f float64) string          { return strconv.FormatFloat(f, 'g', -1, 64) }
