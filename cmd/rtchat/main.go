// Command rtchat is a small terminal chat on the rtgate Go SDK.
//
//	go run ./cmd/rtchat --url ws://127.0.0.1:8080/ --app dev --peer alice --watch bob
//	go run ./cmd/rtchat --url quic://127.0.0.1:4433 --pin <sha256 hex> --peer bob --watch alice
//
// It reads lines from stdin:
//
//	/to bob[,carol]     send plain lines to these peers from now on
//	/watch bob          watch more peers      /query bob   who is online
//	/create             create a group and talk to it
//	/join <group>       join a group and talk to it
//	/invite <group> bob /kick <group> bob     /leave <group>
//	/group <id> text    send one line to a group
//	/quit
//	anything else       a message to the current target
//
// and prints every event of the session.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rtgate/rtgate/client"
	"github.com/rtgate/rtgate/client/wire"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/", "server: ws://, wss://, quic://host:port or https://host:port/wt")
	app := flag.String("app", "dev", "app id")
	peer := flag.String("peer", "", "your peer id (required)")
	watch := flag.String("watch", "", "comma-separated peers to watch (and talk to first)")
	codec := flag.String("codec", "msgpack", "WebSocket dialect: msgpack, json or legacy")
	pin := flag.String("pin", "", "SHA-256 hex of the server certificate (see /certinfo)")
	insecure := flag.Bool("insecure", false, "accept any server certificate (dev only)")
	masterKey := flag.String("master-key", "", "sign locally with the app's master key (trusted use only)")
	verbose := flag.Bool("v", false, "log the client's internals")
	flag.Parse()
	if *peer == "" {
		log.Fatal("rtchat: --peer is required")
	}
	cd, err := wire.ParseCodec(*codec)
	if err != nil {
		log.Fatal(err)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := client.Config{
		URL:       *url,
		AppID:     *app,
		Transport: &wire.Options{Codec: cd, PinSHA256: *pin, InsecureSkipVerify: *insecure},
		Handler:   printer{},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	if *masterKey != "" {
		cfg.Signer = client.HMACSigner(*masterKey)
	}
	c, err := client.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	peers := split(*watch)
	s, err := c.Open(ctx, *peer, peers...)
	if err != nil {
		log.Fatalf("rtchat: open %s: %v", *peer, err)
	}
	fmt.Printf("* %s open on %s; online: %v\n", *peer, c.Transport(), s.Online())

	ch := chat{s: s, to: peers}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := ch.line(ctx, strings.TrimSpace(in.Text())); err == errQuit {
			return
		} else if err != nil {
			fmt.Println("! " + err.Error())
		}
	}
}

var errQuit = fmt.Errorf("quit")

// chat holds the current target: peers or a group.
type chat struct {
	s     *client.Session
	to    []string
	group string
}

func (ch *chat) line(ctx context.Context, l string) error {
	if l == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s := ch.s
	cmd, rest, _ := strings.Cut(l, " ")
	arg, text, _ := strings.Cut(strings.TrimSpace(rest), " ")
	switch cmd {
	case "/quit":
		return errQuit
	case "/to":
		ch.to, ch.group = split(arg), ""
		return nil
	case "/watch":
		on, err := s.Watch(ctx, split(arg)...)
		if err == nil {
			fmt.Printf("* watching %s; online: %v\n", arg, on)
		}
		return err
	case "/query":
		on, err := s.Query(ctx, split(arg)...)
		if err == nil {
			fmt.Printf("* online: %v\n", on)
		}
		return err
	case "/create":
		id, err := s.CreateGroup(ctx)
		if err == nil {
			ch.group, ch.to = id, nil
			fmt.Printf("* created group %s\n", id)
		}
		return err
	case "/join":
		err := s.JoinGroup(ctx, arg)
		if err == nil {
			ch.group, ch.to = arg, nil
		}
		return err
	case "/invite":
		_, err := s.InviteToGroup(ctx, arg, split(text)...)
		return err
	case "/kick":
		_, err := s.KickFromGroup(ctx, arg, split(text)...)
		return err
	case "/leave":
		return s.LeaveGroup(ctx, arg)
	case "/group":
		_, err := s.SendToGroup(ctx, arg, text, client.SendOptions{})
		return err
	}
	if strings.HasPrefix(cmd, "/") {
		return fmt.Errorf("unknown command %s", cmd)
	}
	switch {
	case ch.group != "":
		_, err := s.SendToGroup(ctx, ch.group, l, client.SendOptions{})
		return err
	case len(ch.to) > 0:
		_, err := s.Send(ctx, ch.to, l, client.SendOptions{})
		return err
	}
	return fmt.Errorf("no target: use /to <peer> or /join <group>")
}

func split(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, p)
	}
	return out
}

// printer prints the session's events.
type printer struct{}

func (printer) OnMessage(_ *client.Session, m *client.Message) {
	where := m.From
	if m.RoomID != "" {
		where = m.From + "@" + m.RoomID
	}
	flag := ""
	if m.Offline {
		flag = " (offline)"
	}
	fmt.Printf("[%s] %s: %s%s\n", m.Time.Format("15:04:05"), where, m.Text, flag)
}
func (printer) OnSent(_ *client.Session, m *client.Sent) {
	fmt.Printf("  ✓ %s at %s\n", m.ID, m.Time.Format("15:04:05.000"))
}
func (printer) OnFailure(_ *client.Session, f *client.Failure) {
	fmt.Printf("! not sent %q: %v\n", f.Text, f.Err)
}
func (printer) OnOnline(_ *client.Session, p []string)  { fmt.Printf("* online: %v\n", p) }
func (printer) OnOffline(_ *client.Session, p []string) { fmt.Printf("* offline: %v\n", p) }
func (printer) OnPaused(s *client.Session)              { fmt.Printf("* %s paused (reconnecting)\n", s.PeerID()) }
func (printer) OnResumed(s *client.Session)             { fmt.Printf("* %s resumed\n", s.PeerID()) }
func (printer) OnGroupEvent(_ *client.Session, e *client.GroupEvent) {
	fmt.Printf("* group %s: %s %v by %s\n", e.RoomID, e.Kind, e.Peers, e.By)
}
func (printer) OnReceipt(_ *client.Session, r *client.Receipt) {
	fmt.Printf("  ✓✓ %s delivered\n", r.ID)
}
func (printer) OnError(_ *client.Session, err error) { fmt.Printf("! %v\n", err) }
