// Command gopeer is the Go SDK peer of the browser suite (test/browser): a
// client.Client driven by the Node tests over JSON lines.
//
//	gopeer -url quic://127.0.0.1:4433 -pin HEX -app dev
//
// Each stdin line is a command {"seq":N,"op":..,...}; the reply is one
// stdout line {"seq":N,...} or {"seq":N,"error":".."}. Events from the
// Handler are stdout lines without seq: {"ev":"message",...},
// {"ev":"online"}, {"ev":"offline"}, {"ev":"group"}, {"ev":"receipt"},
// {"ev":"paused"}, {"ev":"resumed"}, {"ev":"error"}. It exits when stdin
// ends.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rtgate/rtgate/client"
	"github.com/rtgate/rtgate/client/wire"
)

type request struct {
	Seq       int64    `json:"seq"`
	Op        string   `json:"op"`
	Peer      string   `json:"peer"`
	Watch     []string `json:"watch"`
	To        []string `json:"to"`
	Room      string   `json:"room"`
	Text      string   `json:"text"`
	Transient bool     `json:"transient"`
	Receipt   bool     `json:"receipt"`
}

// out writes one JSON line at a time.
type out struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *out) line(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"ev":"error","error":%q}`, err.Error()))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Write(append(b, '\n'))
}

type handler struct{ o *out }

func peerOf(s *client.Session) string {
	if s == nil {
		return ""
	}
	return s.PeerID()
}

func (h handler) OnMessage(s *client.Session, m *client.Message) {
	h.o.line(map[string]any{"ev": "message", "peer": peerOf(s), "id": m.ID, "from": m.From, "to": m.To,
		"room": m.RoomID, "text": m.Text, "time": m.Time.UnixMilli(), "transient": m.Transient, "offline": m.Offline})
}
func (h handler) OnSent(s *client.Session, m *client.Sent) {
	h.o.line(map[string]any{"ev": "sent", "peer": peerOf(s), "id": m.ID, "text": m.Text})
}
func (h handler) OnFailure(s *client.Session, f *client.Failure) {
	h.o.line(map[string]any{"ev": "failure", "peer": peerOf(s), "text": f.Text, "error": f.Err.Error()})
}
func (h handler) OnOnline(s *client.Session, peers []string) {
	h.o.line(map[string]any{"ev": "online", "peer": peerOf(s), "peers": peers})
}
func (h handler) OnOffline(s *client.Session, peers []string) {
	h.o.line(map[string]any{"ev": "offline", "peer": peerOf(s), "peers": peers})
}
func (h handler) OnPaused(s *client.Session) {
	h.o.line(map[string]any{"ev": "paused", "peer": peerOf(s)})
}
func (h handler) OnResumed(s *client.Session) {
	h.o.line(map[string]any{"ev": "resumed", "peer": peerOf(s)})
}
func (h handler) OnGroupEvent(s *client.Session, e *client.GroupEvent) {
	h.o.line(map[string]any{"ev": "group", "peer": peerOf(s), "kind": e.Kind.String(), "room": e.RoomID,
		"peers": e.Peers, "by": e.By})
}
func (h handler) OnReceipt(s *client.Session, r *client.Receipt) {
	h.o.line(map[string]any{"ev": "receipt", "peer": peerOf(s), "id": r.ID, "time": r.Time.UnixMilli()})
}
func (h handler) OnError(s *client.Session, err error) {
	h.o.line(map[string]any{"ev": "error", "peer": peerOf(s), "error": err.Error()})
}

func main() {
	url := flag.String("url", "", "server URL: ws://, quic://, https://…/wt")
	pin := flag.String("pin", "", "hex SHA-256 of the server certificate")
	app := flag.String("app", "dev", "app id")
	flag.Parse()
	o := &out{w: os.Stdout}
	c, err := client.New(client.Config{
		URL: *url, AppID: *app, Handler: handler{o},
		Transport: &wire.Options{PinSHA256: *pin},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gopeer:", err)
		os.Exit(2)
	}
	sessions := map[string]*client.Session{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			o.line(map[string]any{"ev": "error", "error": "bad request: " + err.Error()})
			continue
		}
		reply, err := do(c, sessions, &r)
		if reply == nil {
			reply = map[string]any{}
		}
		reply["seq"] = r.Seq
		if err != nil {
			reply["error"] = err.Error()
		}
		o.line(reply)
	}
	c.Close()
}

func do(c *client.Client, sessions map[string]*client.Session, r *request) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r.Op == "hello" {
		return map[string]any{"ok": true}, nil
	}
	if r.Op == "open" {
		s, err := c.Open(ctx, r.Peer, r.Watch...)
		if err != nil {
			return nil, err
		}
		sessions[r.Peer] = s
		return map[string]any{"online": s.Online(), "transport": c.Transport()}, nil
	}
	s := sessions[r.Peer]
	if s == nil {
		return nil, errors.New("no session for peer " + r.Peer)
	}
	switch r.Op {
	case "watch":
		online, err := s.Watch(ctx, r.Watch...)
		return map[string]any{"online": online}, err
	case "query":
		online, err := s.Query(ctx, r.Watch...)
		return map[string]any{"online": online}, err
	case "send":
		sent, err := s.Send(ctx, r.To, r.Text, client.SendOptions{Transient: r.Transient, Receipt: r.Receipt})
		return map[string]any{"id": sent.ID, "time": sent.Time.UnixMilli()}, err
	case "sendGroup":
		sent, err := s.SendToGroup(ctx, r.Room, r.Text, client.SendOptions{Transient: r.Transient})
		return map[string]any{"id": sent.ID, "time": sent.Time.UnixMilli()}, err
	case "createGroup":
		room, err := s.CreateGroup(ctx)
		return map[string]any{"room": room}, err
	case "joinGroup":
		return nil, s.JoinGroup(ctx, r.Room)
	case "invite":
		added, err := s.InviteToGroup(ctx, r.Room, r.To...)
		return map[string]any{"peers": added}, err
	case "close":
		delete(sessions, r.Peer)
		return nil, s.Close(ctx)
	}
	return nil, errors.New("unknown op " + r.Op)
}
