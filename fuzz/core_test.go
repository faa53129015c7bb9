package fuzz

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/storage/memory"
)

// A FuzzCore input is a mode byte, then frames of [conn byte][length
// byte][body]. Mode bit 0: connection A speaks a modern dialect; bit 1:
// connection B does; bit 2: the modern dialects use msgpack, else JSON;
// bit 3: the app "signed" requires signatures (else every app is dev).
// The low bit of the conn byte picks A or B.

// serverKinds are the kinds a server may write.
var serverKinds = map[protocol.Kind]bool{
	protocol.KindKeepalive: true, protocol.KindSessionOpened: true, protocol.KindSessionAdded: true,
	protocol.KindSessionRemoved: true, protocol.KindSessionQueryResult: true, protocol.KindSessionClosed: true,
	protocol.KindPresence: true, protocol.KindDirect: true, protocol.KindAck: true, protocol.KindAckReq: true,
	protocol.KindRcp: true, protocol.KindRoomJoined: true, protocol.KindRoomInvited: true,
	protocol.KindRoomKicked: true, protocol.KindRoomLeft: true, protocol.KindRoomMembersJoined: true,
	protocol.KindRoomMembersLeft: true, protocol.KindRoomReject: true, protocol.KindError: true,
}

// signedApps requires signatures from the app "signed"; any other id is a
// dev app.
type signedApps struct{}

func (signedApps) App(id string) (*core.App, bool) {
	if id == "signed" {
		return &core.App{ID: id, Key: "k", MasterKey: "master", Signatures: true}, true
	}
	return core.DevApps{}.App(id)
}

// coreSeeds are sessions a client might run, as command lists for A (even
// index) and B.
func coreSeeds() [][]*protocol.Command {
	open := func(peer string, watch ...string) *protocol.Command {
		return &protocol.Command{Kind: protocol.KindSessionOpen, AppID: "app", PeerID: peer, SessionPeerIDs: watch, I: 1}
	}
	return [][]*protocol.Command{
		{open("alice", "bob"), open("bob"),
			{Kind: protocol.KindDirect, PeerID: "alice", Msg: "hi", ToPeerIDs: []string{"bob"}, ID: "c1", I: 2},
			{Kind: protocol.KindAck, PeerID: "bob", HasIDs: true, IDs: []string{"x"}},
			{Kind: protocol.KindSessionQuery, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 3},
			{Kind: protocol.KindSessionClose, PeerID: "bob", I: 4}},
		{open("alice"), open("bob"),
			{Kind: protocol.KindRoomJoin, PeerID: "alice", I: 2},
			{Kind: protocol.KindRoomJoin, PeerID: "bob", RoomID: "g", I: 3},
			{Kind: protocol.KindDirect, PeerID: "alice", RoomID: "g", Msg: "to the group", Transient: true, I: 4},
			{Kind: protocol.KindRoomInvite, PeerID: "alice", RoomID: "g", RoomPeerIDs: []string{"bob"}, I: 5},
			{Kind: protocol.KindRoomKick, PeerID: "alice", RoomID: "g", RoomPeerIDs: []string{"bob"}, I: 6},
			{Kind: protocol.KindRoomLeave, PeerID: "bob", RoomID: "g", I: 7}},
		{open("alice", "bob", "carol"), {Kind: protocol.KindKeepalive},
			{Kind: protocol.KindSessionAdd, PeerID: "alice", SessionPeerIDs: []string{"dave"}, I: 2},
			{Kind: protocol.KindSessionRemove, PeerID: "alice", SessionPeerIDs: []string{"bob"}, I: 3},
			{Kind: protocol.KindDirect, PeerID: "alice", Msg: "r", ToPeerIDs: []string{"carol"}, Receipt: true, I: 4},
			{Kind: protocol.KindSessionOpen, AppID: "signed", PeerID: "eve", Sig: "00", SigTime: "1", Nonce: "n", I: 5}},
	}
}

func FuzzCore(f *testing.F) {
	for _, seed := range coreSeeds() {
		for mode := byte(0); mode < 16; mode += 5 { // legacy/modern, JSON/msgpack, signed or not
			var in []byte
			in = append(in, mode)
			for i, cmd := range seed {
				body := encode(cmd, mode&(1<<(i%2)) != 0 && mode&4 != 0)
				if len(body) > 255 {
					continue
				}
				in = append(in, byte(i%2), byte(len(body)))
				in = append(in, body...)
			}
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode := data[0]
		cfg := core.Config{Store: memory.New(memory.Config{}), Logger: slog.New(slog.DiscardHandler)}
		if mode&8 != 0 {
			cfg.Apps = signedApps{}
		}
		hub, err := core.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		msgpack := mode&4 != 0
		conns := [2]*recConn{dial(hub, mode&1 != 0, msgpack), dial(hub, mode&2 != 0, msgpack)}
		for rest := data[1:]; len(rest) >= 2; {
			c, n := conns[rest[0]&1], int(rest[1])
			rest = rest[2:]
			body := rest[:min(n, len(rest))]
			rest = rest[len(body):]
			if c.closed() != 0 {
				continue
			}
			c.feed(body)
		}
		for _, c := range conns {
			if c.closed() == 0 {
				c.Close(protocol.CloseNormal, "dropped")
				c.client.Disconnect()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Fatalf("hub shutdown after %x: %v", data, err)
		}
		for _, c := range conns {
			c.check(t, data)
		}
	})
}

// encode encodes cmd in the dialect of a connection.
func encode(cmd *protocol.Command, msgpack bool) []byte {
	if msgpack {
		return protocol.AppendMsgpack(nil, cmd)
	}
	return protocol.AppendJSON(nil, cmd)
}

// recConn is a core.Conn that encodes each frame the server writes in
// its dialect, as a transport does, and keeps the bytes.
type recConn struct {
	info    core.ConnInfo
	msgpack bool // modern and msgpack
	client  *core.Client

	mu     sync.Mutex
	frames [][]byte           // guarded by mu
	code   protocol.CloseCode // guarded by mu
}

func dial(hub *core.Hub, modern, msgpack bool) *recConn {
	c := &recConn{info: core.ConnInfo{Transport: "mem", Modern: modern, RemoteAddr: "127.0.0.1:5555"}, msgpack: modern && msgpack}
	c.client = hub.Connect(c)
	return c
}

func (c *recConn) Info() core.ConnInfo { return c.info }

func (c *recConn) Write(cmd *protocol.Command) error {
	b := encode(cmd, c.msgpack)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.code != 0 {
		return core.ErrConnClosed
	}
	if len(c.frames) >= 4096 {
		c.code = protocol.CloseSlowConsumer
		return core.ErrSlowConsumer
	}
	c.frames = append(c.frames, b)
	return nil
}

func (c *recConn) Close(code protocol.CloseCode, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.code == 0 {
		c.code = code
	}
}

func (c *recConn) closed() protocol.CloseCode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// feed hands one frame to the client as a transport's reader does:
// decode, then Handle or BadFrame; a close error closes the conn.
func (c *recConn) feed(body []byte) {
	var cmd protocol.Command
	var err error
	if c.msgpack {
		err = protocol.DecodeMsgpack(body, &cmd)
	} else {
		err = protocol.DecodeJSON(body, &cmd)
	}
	if err == nil {
		err = c.client.Handle(&cmd)
	} else {
		err = c.client.BadFrame(&cmd, err)
	}
	if ce, ok := errors.AsType[*protocol.CloseError](err); ok {
		c.Close(ce.Code, ce.Reason)
		c.client.Disconnect()
	}
}

// check decodes every frame c was written and checks each is a protocol
// answer of its dialect, and that a close has a known code.
func (c *recConn) check(t *testing.T, data []byte) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.frames {
		var f protocol.Command
		var err error
		if c.msgpack {
			err = protocol.DecodeMsgpack(b, &f)
		} else {
			err = protocol.DecodeJSON(b, &f)
		}
		if err != nil {
			t.Fatalf("input %x: the server wrote %q, which does not decode: %v", data, b, err)
		}
		if !serverKinds[f.Kind] {
			t.Fatalf("input %x: the server wrote a %v, not a server-to-client command: %q", data, f.Kind, b)
		}
		if f.Kind == protocol.KindError && !c.info.Modern {
			t.Fatalf("input %x: `error` written to a legacy connection: %q", data, b)
		}
	}
	if c.code != 0 && (c.code < 1000 || c.code > 4999) {
		t.Fatalf("input %x: closed with code %d", data, c.code)
	}
}
