package countsjson

import (
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	names := []string{"idle", "flood", "limit"}
	name := func(i int) string { return names[i] }
	b, err := Marshal([]uint64{3, 0, 7}, name)
	if err != nil || string(b) != `{"flood":0,"idle":3,"limit":7}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	got := []uint64{9, 9, 9}
	if err := Unmarshal([]byte(`{"idle":3,"limit":7,"brand_new":1}`), got, name); err != nil || !slices.Equal(got, []uint64{3, 0, 7}) {
		t.Fatalf("Unmarshal = %v, %v", got, err)
	}
	if err := Unmarshal([]byte(`[1,2]`), got, name); err == nil {
		t.Fatal("an array accepted")
	}
}
