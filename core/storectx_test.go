package core

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtgate/rtgate/storage/memory"
)

// TestStoreCtx: store calls get a deadline of StoreTimeout from the first
// call of a window, calls close together share one context, and a call
// after the window (StoreTimeout/10) gets a new one. Runs in a synctest
// bubble: the clock moves only when every goroutine waits.
func TestStoreCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := New(Config{Store: memory.New(memory.Config{}), StoreTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx1, cancel1 := h.storeCtx()
		cancel1()
		time.Sleep(199 * time.Millisecond) // still within the window
		ctx2, cancel2 := h.storeCtx()
		defer cancel2()
		if ctx1 != ctx2 {
			t.Fatal("two calls within the window got different contexts")
		}
		if ctx1.Err() != nil {
			t.Fatal("cancel ended a shared context")
		}
		d, ok := ctx2.Deadline()
		if !ok || !d.Equal(start.Add(2*time.Second)) {
			t.Fatalf("deadline %v after the first call, want 2s", d.Sub(start))
		}
		time.Sleep(time.Millisecond) // now past the window
		ctx3, cancel3 := h.storeCtx()
		defer cancel3()
		if ctx3 == ctx1 {
			t.Fatal("a call after the window reused the old context")
		}
		if d3, _ := ctx3.Deadline(); !d3.Equal(start.Add(2200 * time.Millisecond)) {
			t.Fatalf("new deadline %v after the first call, want 2.2s", d3.Sub(start))
		}
		time.Sleep(2 * time.Second) // the first context's own deadline ends it
		if ctx1.Err() == nil {
			t.Fatal("the shared context outlived its deadline")
		}
	})
}
