// Package relay is the floor rtbench measures rtgate against: a minimal
// server that speaks just enough of the protocol to run the rtbench
// workloads, and nothing else, over WebSocket (ServeHTTP), raw QUIC and
// WebTransport (ServeQUIC: ALPN rtgate/1, or h3 with a session at /wt; one
// bidirectional stream, frames of protocol.AppendFrame, exactly rtgate's
// framing on both).
//
// It answers `session open` with `opened` (an empty online list), forwards
// each `direct` to the connection of every `toPeerIds` peer (or to every
// member of `roomId`) with no checks and no storage, answers `ack` to
// non-transient directs, answers `room join` with `joined` (creating the
// group when `roomId` is empty) and `{}` with `{}`. Everything else is
// ignored. Dialects: v1 JSON (no subprotocol), rtgate.json.1 and
// rtgate.msgpack.1, with the protocol package's codecs.
//
// Concurrency: gorilla/websocket; the HTTP handler returns after the
// upgrade; each connection has one reader and one writer goroutine, owned by
// the Server (Close waits for them). The writer drains a bounded queue of
// encoded frames; a full queue closes the connection (slow consumer), so a
// reader never blocks on another connection's writer. The QUIC writer
// writes every frame queued at the time in one stream write, as rtgate's
// does. Peers and rooms are in mutex-guarded maps. ServeQUIC's accept loop
// runs in its caller's goroutine.
//
// Imports: protocol, gorilla/websocket, quic-go, webtransport-go and the
// standard library.
package relay

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	wtgo "github.com/quic-go/webtransport-go"

	"github.com/rtgate/rtgate/protocol"
)

// Config configures a Server. The zero value of every field is its
// documented default.
type Config struct {
	// QueueFrames bounds the frames queued for one connection; when full
	// the connection is closed with protocol.CloseSlowConsumer. Zero means
	// 256 (the channel's buffer is allocated up front: 24 bytes a slot).
	QueueFrames int
	// WriteTimeout bounds each socket write. Zero means 10 s.
	WriteTimeout time.Duration
	// MaxFrameBytes bounds one inbound frame. Zero means
	// protocol.DefaultMaxFrameBytes.
	MaxFrameBytes int
	// Logger receives connection errors at debug level. Nil means
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.QueueFrames <= 0 {
		c.QueueFrames = 256
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server is the relay. Create it with New; it is an http.Handler.
type Server struct {
	cfg Config // immutable
	up  websocket.Upgrader
	wt  *wtgo.Server   // WebTransport over ServeQUIC's h3 connections
	wg  sync.WaitGroup // one per connection goroutine
	ids atomic.Uint64  // message and room ids

	mu     sync.Mutex
	peers  map[string]*conn           // peer id -> last connection that opened it; guarded by mu
	rooms  map[string]map[string]bool // room id -> member peer ids; guarded by mu
	conns  map[*conn]struct{}         // live connections; guarded by mu
	closed bool                       // guarded by mu
}

// New returns a relay with cfg.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg: cfg,
		up: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			Subprotocols:    []string{"rtgate.msgpack.1", "rtgate.json.1"},
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		peers: map[string]*conn{},
		rooms: map[string]map[string]bool{},
		conns: map[*conn]struct{}{},
	}
	s.wt = s.newWebTransport()
	return s
}

// link is one connection's transport: WebSocket or a QUIC stream.
type link interface {
	// readFrame returns the next inbound command's bytes (valid until the
	// next call); only the reader calls it.
	readFrame() ([]byte, error)
	// encode returns cmd as one outbound frame of this link.
	encode(cmd *protocol.Command) []byte
	// writeLoop drains out until done is closed or a write fails; only
	// the writer calls it.
	writeLoop(out <-chan []byte, done <-chan struct{}) error
	// close ends the connection; safe from any goroutine, once.
	close()
}

// conn is one client connection.
type conn struct {
	s     *Server       // immutable
	l     link          // read by the reader, written by the writer
	out   chan []byte   // encoded frames for the writer
	done  chan struct{} // closed once by stop
	once  sync.Once
	peers []string // peer ids opened here; owned by the reader
}

// ServeHTTP upgrades the request and returns; the connection's reader and
// writer run until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(int64(s.cfg.MaxFrameBytes))
	s.start(&wsLink{ws: ws, msgpack: ws.Subprotocol() == "rtgate.msgpack.1", timeout: s.cfg.WriteTimeout})
}

// start runs l's reader and writer, owned by s.wg; it closes l at once
// when s is closed.
func (s *Server) start(l link) {
	c := &conn{s: s, l: l, out: make(chan []byte, s.cfg.QueueFrames), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	go c.read()  // owned by s.wg
	go c.write() // owned by s.wg
}

// Close closes every connection and waits for their goroutines. The
// caller closes its listeners first.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()
	s.wt.Close()
	s.wg.Wait()
}

// Metrics writes a few Prometheus-style gauges of the relay process
// (go_memstats_heap_inuse_bytes, go_goroutines), so rtbench reads rtgate
// and the relay alike.
func Metrics(w http.ResponseWriter, _ *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\ngo_goroutines %d\n",
		m.HeapInuse, m.StackInuse, runtime.NumGoroutine())
}

func (c *conn) stop() {
	c.once.Do(func() {
		close(c.done)
		c.l.close()
	})
}

// send queues cmd for c, or closes c when its queue is full.
func (c *conn) send(cmd *protocol.Command) {
	select {
	case c.out <- c.l.encode(cmd):
	case <-c.done:
	default:
		c.s.cfg.Logger.Debug("relay: slow consumer")
		c.stop()
	}
}

func (c *conn) write() {
	defer c.s.wg.Done()
	if err := c.l.writeLoop(c.out, c.done); err != nil {
		c.stop()
	}
}

func (c *conn) read() {
	s := c.s
	defer func() {
		c.stop()
		s.mu.Lock()
		delete(s.conns, c)
		for _, p := range c.peers {
			if s.peers[p] == c {
				delete(s.peers, p)
			}
		}
		s.mu.Unlock()
		s.wg.Done()
	}()
	for {
		b, err := c.l.readFrame()
		if err != nil {
			return
		}
		var cmd protocol.Command
		if err := c.decode(b, &cmd); err != nil {
			continue
		}
		c.handle(&cmd)
	}
}

func (c *conn) decode(b []byte, cmd *protocol.Command) error {
	if l, ok := c.l.(*wsLink); ok && !l.msgpack {
		return protocol.DecodeJSON(b, cmd)
	}
	return protocol.DecodeMsgpack(b, cmd)
}

// wsLink is a WebSocket connection (gorilla): v1 JSON, rtgate.json.1 or
// rtgate.msgpack.1.
type wsLink struct {
	ws      *websocket.Conn
	msgpack bool          // immutable: the dialect
	timeout time.Duration // per write
}

func (l *wsLink) readFrame() ([]byte, error) {
	_, b, err := l.ws.ReadMessage()
	return b, err
}

func (l *wsLink) encode(cmd *protocol.Command) []byte {
	if l.msgpack {
		return protocol.AppendMsgpack(nil, cmd)
	}
	return protocol.AppendJSON(nil, cmd)
}

func (l *wsLink) writeLoop(out <-chan []byte, done <-chan struct{}) error {
	mt := websocket.TextMessage
	if l.msgpack {
		mt = websocket.BinaryMessage
	}
	for {
		select {
		case b := <-out:
			l.ws.SetWriteDeadline(time.Now().Add(l.timeout))
			if err := l.ws.WriteMessage(mt, b); err != nil {
				return err
			}
		case <-done:
			return nil
		}
	}
}

func (l *wsLink) close() { l.ws.Close() }

func (c *conn) handle(cmd *protocol.Command) {
	s := c.s
	switch cmd.Kind {
	case protocol.KindKeepalive:
		c.send(&protocol.Command{Kind: protocol.KindKeepalive})
	case protocol.KindSessionOpen:
		s.mu.Lock()
		s.peers[cmd.PeerID] = c
		s.mu.Unlock()
		c.peers = append(c.peers, cmd.PeerID)
		c.send(&protocol.Command{Kind: protocol.KindSessionOpened, PeerID: cmd.PeerID, AppID: cmd.AppID,
			OnlineSessionPeerIDs: []string{}, I: cmd.I})
	case protocol.KindRoomJoin:
		room := cmd.RoomID
		s.mu.Lock()
		if room == "" {
			room = fmt.Sprintf("%024x", s.ids.Add(1))
		}
		m := s.rooms[room]
		if m == nil {
			m = map[string]bool{}
			s.rooms[room] = m
		}
		m[cmd.PeerID] = true
		s.mu.Unlock()
		c.send(&protocol.Command{Kind: protocol.KindRoomJoined, PeerID: cmd.PeerID, RoomID: room,
			ByPeerID: cmd.PeerID, I: cmd.I})
	case protocol.KindDirect:
		now := time.Now().UnixMilli()
		id := strconv.FormatUint(s.ids.Add(1), 36)
		out := protocol.Command{Kind: protocol.KindDirect, FromPeerID: cmd.PeerID, Msg: cmd.Msg, ID: id,
			Timestamp: now, RoomID: cmd.RoomID, Transient: cmd.Transient}
		var targets []*conn
		var names []string
		s.mu.Lock()
		if cmd.RoomID != "" {
			for p := range s.rooms[cmd.RoomID] {
				if t := s.peers[p]; t != nil && t != c {
					targets, names = append(targets, t), append(names, p)
				}
			}
		} else {
			for _, p := range cmd.ToPeerIDs {
				if t := s.peers[p]; t != nil {
					targets, names = append(targets, t), append(names, p)
				}
			}
		}
		s.mu.Unlock()
		for i, t := range targets {
			out.PeerID = names[i]
			t.send(&out)
		}
		if !cmd.Transient {
			c.send(&protocol.Command{Kind: protocol.KindAck, PeerID: cmd.PeerID, UID: id, Time: now, ID: cmd.ID, I: cmd.I})
		}
	}
}
