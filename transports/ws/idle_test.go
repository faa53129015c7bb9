package ws

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleWaitHooks checks that an upgraded socket gives a RawConn (without
// it the idle reader's stack doubles: correct, only larger) and that the
// idle wait never waits on the socket while the frame reader holds a
// frame.
func TestIdleWaitHooks(t *testing.T) {
	got := make(chan *conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := websocket.Upgrader{ReadBufferSize: 256}
		ws, err := u.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		nc := ws.UnderlyingConn()
		got <- &conn{netConn: nc, raw: rawConn(nc), fr: frameReader{src: nc}}
	}))
	defer srv.Close()
	cl, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := <-got
	if c == nil {
		t.Fatal("no server conn")
	}
	defer c.netConn.Close()
	if c.raw == nil {
		t.Fatal("rawConn: nil for a TCP conn")
	}
	// What conn.serve and idleRead do between frames.
	idleWait := func() {
		if c.fr.buffered() == 0 {
			c.raw.Read(peekReadable)
		}
	}
	// A frame sent before idleWait: it returns, and the frame reads whole.
	if err := cl.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	read := func() (string, error) {
		var msg []byte
		_, _, err := c.fr.Next(&msg, 1<<10)
		return string(msg), err
	}
	idleWait()
	if b, err := read(); err != nil || b != "hello" {
		t.Fatalf("read %q %v", b, err)
	}
	// Two frames in one write: after the first, the second sits in
	// the frame reader's buffer and idleWait must not wait on the (empty)
	// socket.
	masked := func(p string) []byte { return append([]byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...) }
	if _, err := cl.UnderlyingConn().Write(append(masked("one"), masked("two")...)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two"} {
		done := make(chan struct{})
		go func() { idleWait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("idleWait blocked before %q", want)
		}
		if b, err := read(); err != nil || b != want {
			t.Fatalf("read %q %v, want %q", b, err, want)
		}
	}
}
