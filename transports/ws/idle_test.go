package ws

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleWaitHooks checks that the pinned gorilla still exposes its read
// buffer where idle.go looks for it, and that the socket gives a RawConn:
// without them the idle reader's stack doubles (correct, only larger).
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
		got <- &conn{ws: ws, br: gorillaReader(ws), raw: rawConn(ws)}
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
	defer c.ws.Close()
	if c.br == nil {
		t.Fatal("gorillaReader: no *bufio.Reader field br in websocket.Conn")
	}
	if c.raw == nil {
		t.Fatal("rawConn: nil for a TCP conn")
	}
	// What conn.serve and idleRead do between frames.
	idleWait := func() {
		if c.br.Buffered() == 0 {
			c.raw.Read(peekReadable)
		}
	}
	// A frame sent before idleWait: it returns, and the frame reads whole.
	if err := cl.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	idleWait()
	_, b, err := c.ws.ReadMessage()
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q %v", b, err)
	}
	// Two frames in one write: after the first, the second sits in
	// gorilla's buffer and idleWait must not wait on the (empty) socket.
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
		if _, b, err := c.ws.ReadMessage(); err != nil || string(b) != want {
			t.Fatalf("read %q %v, want %q", b, err, want)
		}
	}
}
