package countsjson_test

import (
	"fmt"

	"wharf/internal/countsjson"
)

func Example() {
	reasons := []string{"peer", "idle"}
	b, _ := countsjson.Marshal([]uint64{5, 2}, func(i int) string { return reasons[i] })
	fmt.Println(string(b))
	// Output: {"idle":2,"peer":5}
}
