// Command rtchat is a small terminal chat on the rtgate Go SDK.
//
//	go run ./cmd/rtchat --url ws://127.0.0.1:8080/ --app dev --peer alice --watch bob
//	go run ./cmd/rtchat --url quic://127.0.0.1:4433 --pin <sha256 hex> --peer bob --watch alice
//
// It reads lines from stdin (the commands are listed by --help, at
// start-up and by /help; see commandHelp) and prints every event of the
// session. When the server cannot be reached it says so and exits 1 at
// once.
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

// commandHelp lists the slash commands.
const commandHelp = `Commands (anything else is a message to the current target):
  /to bob[,carol]        send plain lines to these peers from now on
  /watch bob[,carol]     watch more peers (their online/offline is printed)
  /query bob[,carol]     who of them is online
  /create                create a group and talk to it
  /join GROUP            join a group and talk to it
  /invite GROUP bob      invite peers to a group
  /kick GROUP bob        remove peers from a group
  /leave GROUP           leave a group
  /group GROUP text      send one line to a group
  /help                  this list
  /quit                  leave (or Ctrl-D)
`

// dialTimeout bounds the first connection, which tells a server that is
// down (or a wrong --url) at once.
const dialTimeout = 5 * time.Second

func main() {
	flag.CommandLine = flag.NewFlagSet("rtchat", flag.ExitOnError)
	flag.CommandLine.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprint(out, "Usage: rtchat --peer ME [--watch PEER,...] [--url URL] [flags]\n\n"+
			"A terminal chat on the rtgate Go SDK. From a checkout: go run ./cmd/rtchat --peer alice --watch bob\n\nFlags:\n")
		flag.PrintDefaults()
		fmt.Fprint(out, "\n"+commandHelp)
	}
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
	log.SetFlags(0)
	if *peer == "" {
		fmt.Fprintln(os.Stderr, "rtchat: --peer is required (your peer id, e.g. --peer alice)")
		flag.Usage()
		os.Exit(2)
	}
	cd, err := wire.ParseCodec(*codec)
	if err != nil {
		log.Fatal("rtchat: ", err)
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
	// One connection first: the client would retry a server that is down
	// until a request times out; this says why at once.
	dctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	probe, err := wire.Dial(dctx, *url, cfg.Transport)
	cancel()
	if err != nil {
		log.Fatalf("rtchat: cannot reach %s: %v\n(is rtgate running? start it with: go run ./cmd/rtgate; or pass --url)", *url, err)
	}
	probe.Close()
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
	// Who is online comes as an online event (printed by printer).
	fmt.Printf("* %s open on %s\n%s", *peer, c.Transport(), commandHelp)

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
	case "/help":
		fmt.Print(commandHelp)
		return nil
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
		return fmt.Errorf("unknown command %s (/help lists them)", cmd)
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
