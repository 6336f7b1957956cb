package engine

// writeEach is Writev for a connection whose Write takes one slice: each
// buffer in turn, stopping at the first error.
func writeEach(write func([]byte) (int, error), bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := write(b)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
