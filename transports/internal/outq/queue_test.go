package outq

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
)

// encode is a test encoder: the message text, or "P:watcher:peer:status"
// for presence, so sizes are exact.
func encode(dst []byte, c *protocol.Command) []byte {
	if c.Kind == protocol.KindPresence {
		return append(dst, "P:"+c.PeerID+":"+c.SessionPeerIDs[0]+":"+string(c.Status)+";"...)
	}
	return append(dst, c.Msg...)
}

func msg(n int) *protocol.Command {
	return &protocol.Command{Kind: protocol.KindDirect, Msg: strings.Repeat("m", n)}
}

func reply(n int) *protocol.Command {
	return &protocol.Command{Kind: protocol.KindSessionOpened, Msg: strings.Repeat("r", n)}
}

func pres(watcher, peer string, st protocol.Status) *protocol.Command {
	return &protocol.Command{Kind: protocol.KindPresence, PeerID: watcher, Status: st, SessionPeerIDs: []string{peer}}
}

type fixture struct {
	q     *Queue
	m     *Metrics
	wakes atomic.Int32
}

func newFixture(limit, maxFrames int) *fixture {
	f := &fixture{m: NewMetrics("test", "test")}
	f.q = New(Config{Limit: limit, MaxFrames: maxFrames, Encode: encode, Metrics: f.m, Wake: func() { f.wakes.Add(1) }})
	return f
}

func (f *fixture) push(t *testing.T, c *protocol.Command, want error) {
	t.Helper()
	if err := f.q.Push(c); !errors.Is(err, want) {
		t.Fatalf("Push(%v %d bytes) = %v, want %v", c.Kind, len(c.Msg), err, want)
	}
}

func (f *fixture) drops(reason string) float64 {
	return testutil.ToFloat64(f.m.Drops.WithLabelValues(reason))
}
func (f *fixture) slow(class string) float64 {
	return testutil.ToFloat64(f.m.SlowConsumers.WithLabelValues(class))
}

func TestBytesCountUntilDone(t *testing.T) {
	f := newFixture(100, 0)
	f.push(t, msg(60), nil)
	b := f.q.Take() // the writer is stuck writing these 60 bytes
	if b.N != 1 || len(b.Buf) != 60 || f.q.Queued() != 60 {
		t.Fatalf("took %d frames %d bytes, queued %d", b.N, len(b.Buf), f.q.Queued())
	}
	f.push(t, msg(30), nil)                  // 90: fits
	f.push(t, msg(30), core.ErrSlowConsumer) // 120 > 100, although only 60 are pending
	if st, code, _ := f.q.State(); st != Closing || code != protocol.CloseSlowConsumer {
		t.Fatalf("state %v code %d", st, code)
	}
	if f.slow("message") != 1 {
		t.Fatal("slow consumer not counted")
	}
	f.push(t, msg(1), core.ErrConnClosed)
	last := f.q.Take()
	if last.State != Closing || !last.Empty() {
		t.Fatalf("after a slow consumer: %+v, want closing with the queue dropped", last)
	}
}

func TestDoneMakesRoom(t *testing.T) {
	f := newFixture(100, 0)
	f.push(t, msg(60), nil)
	b := f.q.Take()
	f.q.Done(b.Bytes(), b.N)
	select {
	case <-f.q.Drained():
	default:
		t.Fatal("Done did not signal Drained")
	}
	f.push(t, msg(60), nil)
	f.push(t, msg(40), nil)
	if f.q.Queued() != 100 {
		t.Fatalf("queued %d", f.q.Queued())
	}
}

func TestOneFrameLargerThanLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		class *protocol.Command
	}{
		{"message", msg(500)},
		{"reply", reply(500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(100, 0)
			f.push(t, tc.class, nil) // alone: let through
			b := f.q.Take()
			if len(b.Buf) != 500 {
				t.Fatalf("took %d bytes", len(b.Buf))
			}
			f.push(t, msg(1), nil)                  // alone pending: on its way
			f.push(t, msg(1), core.ErrSlowConsumer) // behind it, before Done: over
		})
	}
	f := newFixture(100, 0)
	if err := f.q.PushControl(make([]byte, 300)); err != nil {
		t.Fatalf("a control frame alone: %v", err)
	}
	if err := f.q.PushControl(make([]byte, 10)); !errors.Is(err, core.ErrSlowConsumer) || f.slow("control") != 1 {
		t.Fatalf("a control frame over the limit: %v, counted %v", err, f.slow("control"))
	}
}

func TestPresenceOverflow(t *testing.T) {
	t.Run("superseded event is replaced", func(t *testing.T) {
		f := newFixture(55, 0)
		f.push(t, msg(30), nil)
		f.push(t, pres("w", "p", protocol.StatusOn), nil)  // 9 bytes
		f.push(t, pres("w", "q", protocol.StatusOn), nil)  // 9
		f.push(t, pres("w", "p", protocol.StatusOff), nil) // 10: 58 > 55, replaces p on
		b := f.q.Take()
		if got := string(b.Buf); got != strings.Repeat("m", 30)+"P:w:q:on;P:w:p:off;" {
			t.Fatalf("queue %q", got)
		}
		if f.drops("presence_superseded") != 1 || f.drops("presence_oldest") != 0 || b.State != Open {
			t.Fatalf("drops: superseded %v oldest %v, state %v", f.drops("presence_superseded"), f.drops("presence_oldest"), b.State)
		}
	})
	t.Run("oldest presence goes first", func(t *testing.T) {
		f := newFixture(50, 0)
		f.push(t, pres("w", "a", protocol.StatusOn), nil)
		f.push(t, msg(20), nil)
		f.push(t, pres("w", "b", protocol.StatusOn), nil)
		f.push(t, pres("w", "c", protocol.StatusOn), nil) // 50
		f.push(t, pres("w", "d", protocol.StatusOn), nil) // 60: a goes
		b := f.q.Take()
		if got := string(b.Buf); got != strings.Repeat("m", 20)+"P:w:b:on;P:w:c:on;P:w:d:on;" || b.N != 4 {
			t.Fatalf("queue %q (%d frames)", got, b.N)
		}
		if f.drops("presence_oldest") != 1 {
			t.Fatal("drop not counted")
		}
	})
	t.Run("no room among messages drops the event", func(t *testing.T) {
		f := newFixture(50, 0)
		f.push(t, msg(45), nil)
		f.push(t, pres("w", "a", protocol.StatusOn), nil)
		if f.q.Closed() || f.drops("presence_no_room") != 1 || f.q.Queued() != 45 {
			t.Fatalf("closed %v, no_room %v, queued %d", f.q.Closed(), f.drops("presence_no_room"), f.q.Queued())
		}
	})
	t.Run("a message takes the room of presence events", func(t *testing.T) {
		f := newFixture(50, 0)
		f.push(t, pres("w", "a", protocol.StatusOn), nil)
		f.push(t, pres("w", "b", protocol.StatusOn), nil)
		f.push(t, msg(30), nil) // 50
		f.push(t, reply(10), nil)
		b := f.q.Take()
		if got := string(b.Buf); got != "P:w:b:on;"+strings.Repeat("m", 30)+strings.Repeat("r", 10) {
			t.Fatalf("queue %q", got)
		}
		if f.drops("presence_oldest") != 1 || f.q.Closed() {
			t.Fatal("want one presence dropped and the queue open")
		}
	})
	t.Run("flood never disconnects", func(t *testing.T) {
		f := newFixture(200, 0)
		for i := range 1000 {
			st := protocol.StatusOn
			if i%2 == 1 {
				st = protocol.StatusOff
			}
			f.push(t, pres("w", string(rune('a'+i%7)), st), nil)
		}
		if f.q.Closed() || f.q.Queued() > 200 {
			t.Fatalf("closed %v queued %d", f.q.Closed(), f.q.Queued())
		}
		// The newest event of every peer is still queued.
		b := f.q.Take()
		for i := 993; i < 1000; i++ {
			st := "on"
			if i%2 == 1 {
				st = "off"
			}
			if want := "P:w:" + string(rune('a'+i%7)) + ":" + st + ";"; !strings.Contains(string(b.Buf), want) {
				t.Errorf("lost the newest event %q: %q", want, b.Buf)
			}
		}
	})
}

func TestMaxFrames(t *testing.T) {
	f := newFixture(1<<20, 2)
	f.push(t, msg(1), nil)
	f.push(t, pres("w", "a", protocol.StatusOn), nil)
	f.push(t, msg(1), nil) // 3 frames: the presence event goes
	if f.drops("presence_oldest") != 1 {
		t.Fatal("presence not dropped for the frame bound")
	}
	f.push(t, msg(1), core.ErrSlowConsumer)
}

func TestCloseStates(t *testing.T) {
	t.Run("close flushes what is pending", func(t *testing.T) {
		f := newFixture(100, 0)
		f.push(t, msg(5), nil)
		if !f.q.Close(protocol.CloseGoingAway, "bye") || f.q.Close(protocol.CloseNormal, "") {
			t.Fatal("Close must report only the first call")
		}
		f.push(t, msg(5), core.ErrConnClosed)
		b := f.q.Take()
		if b.State != Closing || b.Code != protocol.CloseGoingAway || b.Reason != "bye" || len(b.Buf) != 5 {
			t.Fatalf("batch %+v", b)
		}
	})
	t.Run("abort drops everything", func(t *testing.T) {
		f := newFixture(100, 0)
		f.push(t, msg(5), nil)
		f.q.Close(protocol.CloseGoingAway, "")
		if !f.q.Abort() || f.q.Abort() {
			t.Fatal("Abort must report only the first call")
		}
		if b := f.q.Take(); b.State != Aborted || !b.Empty() {
			t.Fatalf("batch %+v", b)
		}
	})
}

func TestWakeOncePerWriter(t *testing.T) {
	f := newFixture(1000, 0)
	f.push(t, msg(1), nil)
	f.push(t, msg(1), nil)
	if f.wakes.Load() != 1 {
		t.Fatalf("%d wakes for one writer", f.wakes.Load())
	}
	if b := f.q.Take(); b.N != 2 {
		t.Fatalf("took %d", b.N)
	}
	f.push(t, msg(1), nil) // the writer still runs (it has not seen an empty queue)
	if f.wakes.Load() != 1 {
		t.Fatal("woke a second writer")
	}
	f.q.Take()
	if b := f.q.Take(); !b.Empty() {
		t.Fatal("not empty")
	}
	f.push(t, msg(1), nil)
	if f.wakes.Load() != 2 {
		t.Fatal("no wake after the writer stopped")
	}
	f.q.Take()
	f.q.Close(protocol.CloseNormal, "") // the writer runs: no wake
	if b := f.q.Take(); b.State != Closing {
		t.Fatal("want closing")
	}
	f.q.Abort()
	if f.wakes.Load() != 2 {
		t.Fatal("woke after the writer finished")
	}
}

func TestPushSide(t *testing.T) {
	f := newFixture(100, 0)
	if ok, err := f.q.PushSide([]byte("dgram")); !ok || err != nil {
		t.Fatalf("empty queue: %v %v", ok, err)
	}
	if ok, _ := f.q.PushSide([]byte("dgram")); ok {
		t.Fatal("a second side frame behind the first was accepted")
	}
	b := f.q.Take()
	if len(b.Side) != 1 || b.Bytes() != 5 || f.q.Queued() != 5 {
		t.Fatalf("batch %+v, queued %d", b, f.q.Queued())
	}
	f.q.Done(b.Bytes(), 1)
	if f.q.Queued() != 0 {
		t.Fatal("not drained")
	}
}

func TestTakeEach(t *testing.T) {
	f := newFixture(100, 0)
	f.push(t, msg(2), nil)
	f.push(t, reply(3), nil)
	var got []string
	st, n, frames := f.q.TakeEach(func(b []byte) { got = append(got, string(b)) })
	if st != Open || n != 5 || frames != 2 || strings.Join(got, ",") != "mm,rrr" {
		t.Fatalf("%v %d %d %q", st, n, frames, got)
	}
	if f.q.Queued() != 5 {
		t.Fatal("frames taken must count until Done")
	}
}

func BenchmarkPushTake(b *testing.B) {
	q := New(Config{Limit: 1 << 20, Encode: encode, Pool: &Pool{}, Wake: func() {}})
	c := msg(100)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Push(c)
		if i%16 == 15 {
			bt := q.Take()
			q.Done(bt.Bytes(), bt.N)
			q.Recycle(bt.Buf)
		}
	}
}
