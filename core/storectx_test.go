package core

import (
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage/memory"
)

// TestStoreCtx: store calls get a deadline between 0.9× and 1× of
// StoreTimeout from now, and calls close together share one context.
func TestStoreCtx(t *testing.T) {
	h, err := New(Config{Store: memory.New(memory.Config{}), StoreTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	ctx1, cancel1 := h.storeCtx()
	cancel1()
	ctx2, cancel2 := h.storeCtx()
	defer cancel2()
	if ctx1 != ctx2 {
		t.Fatal("two calls within the window got different contexts")
	}
	if ctx1.Err() != nil {
		t.Fatal("cancel ended a shared context")
	}
	d, ok := ctx2.Deadline()
	if !ok || d.Before(before.Add(1800*time.Millisecond)) || d.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("deadline %v from now, want 1.8–2 s", time.Until(d))
	}
	time.Sleep(250 * time.Millisecond) // past the window (StoreTimeout/10)
	ctx3, cancel3 := h.storeCtx()
	defer cancel3()
	if ctx3 == ctx1 {
		t.Fatal("a call after the window reused the old context")
	}
	if d3, _ := ctx3.Deadline(); !d3.After(d) {
		t.Fatalf("new deadline %v not after the old %v", d3, d)
	}
}
