package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/rtgate/rtgate/client"
	"github.com/rtgate/rtgate/client/wire"
)

// inbox is a Handler that passes received messages to a channel; the other
// events are ignored (NopHandler).
type inbox struct {
	client.NopHandler
	ch chan *client.Message
}

func (h inbox) OnMessage(_ *client.Session, m *client.Message) { h.ch <- m }

// Two clients on an in-process server: bob receives what alice sends.
// The message is acknowledged for bob after OnMessage returns.
func Example() {
	url, stop := client.StartExampleServer()
	defer stop()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)

	got := inbox{ch: make(chan *client.Message, 1)}
	bob, err := client.New(client.Config{URL: url, AppID: "dev", Handler: got, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Open(ctx, "bob", "alice"); err != nil {
		log.Fatal(err)
	}

	alice, err := client.New(client.Config{URL: url, AppID: "dev", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	s, err := alice.Open(ctx, "alice", "bob") // watch bob: v1 delivers only to watched peers
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob online:", s.Online())
	sent, err := s.Send(ctx, []string{"bob"}, "hello", client.SendOptions{})
	if err != nil {
		log.Fatal(err)
	}
	m := <-got.ch
	fmt.Printf("%s -> %s: %s (same id: %v)\n", m.From, m.To, m.Text, m.ID == sent.ID)
	// Output:
	// bob online: [bob]
	// alice -> bob: hello (same id: true)
}

// A bot over raw QUIC against a dev server, pinning the certificate hash
// the server publishes at http://HOST:HTTPPORT/certinfo.
func Example_quic() {
	c, err := client.New(client.Config{
		URL:       "quic://127.0.0.1:4433",
		AppID:     "dev",
		Transport: &wire.Options{PinSHA256: "3f1c…(sha256 hex from /certinfo)"},
		Signer:    client.HMACSigner("master key of a trusted bot"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.Open(context.Background(), "bot")
	if err != nil {
		log.Fatal(err)
	}
	room, err := s.CreateGroup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	s.SendToGroup(context.Background(), room, "welcome", client.SendOptions{})
}

// The legacy v1 JSON dialect over WebSocket, as the 2014 clients spoke it.
func ExampleConfig_legacy() {
	c, err := client.New(client.Config{
		URL:       "ws://127.0.0.1:8080/",
		AppID:     "dev",
		Transport: &wire.Options{Codec: wire.CodecLegacy},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// Dialing with the low-level layer: one Conn, commands in and out.
func Example_wire() {
	ctx := context.Background()
	conn, err := wire.Dial(ctx, "https://127.0.0.1:4433/wt", &wire.Options{InsecureSkipVerify: true})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	// build and send protocol.Command values with conn.Send; read with conn.Recv.
}
