package ws_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtgate/rtgate/protocol"
	"github.com/rtgate/rtgate/transports/ws"
)

// BenchmarkWSDirect measures transient direct messages A→B through the hub
// over two real loopback WebSocket clients, with up to 256 messages (at most
// 256 KiB) in flight, so B never falls a whole queue behind. Run:
//
//	go test -run '^$' -bench WSDirect -benchtime 200000x ./transports/ws/
func BenchmarkWSDirect(b *testing.B) {
	for _, d := range dialects {
		for _, size := range []int{100, 5000} {
			b.Run(fmt.Sprintf("%s/%dB", d.name, size), func(b *testing.B) {
				benchDirect(b, d.subprotocol, size)
			})
		}
	}
}

func benchDirect(b *testing.B, subprotocol string, size int) {
	window := min(256, (256<<10)/size) // in flight: well under the 1 MiB queue
	s := newServer(b, ws.Config{CommandsPerSecond: -1})
	recv := s.dial(b, subprotocol)
	send := s.dial(b, subprotocol)
	open := func(c *wsClient, peer string, watch ...string) {
		if watch == nil {
			watch = []string{}
		}
		if err := c.Send(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "bench", PeerID: peer, SessionPeerIDs: watch}); err != nil {
			b.Fatal(err)
		}
		if f, err := c.Recv(5 * time.Second); err != nil || f.Kind != protocol.KindSessionOpened {
			b.Fatalf("open %s: %v %v", peer, f, err)
		}
	}
	open(recv, "bob")
	open(send, "alice", "bob")
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	cmd := &protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: string(msg), Transient: true}

	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	var wg sync.WaitGroup
	var rerr error
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range b.N {
			f, err := recv.Recv(10 * time.Second)
			if err != nil || f.Kind != protocol.KindDirect {
				rerr = fmt.Errorf("receiver: %v %v", f, err)
				close(credits)
				return
			}
			credits <- struct{}{}
		}
	}()
	for range b.N {
		if _, ok := <-credits; !ok {
			break
		}
		if err := send.Send(cmd); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if rerr != nil {
		b.Fatal(rerr)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkWSServer is BenchmarkWSDirect with clients that cost (almost)
// nothing: after the session opens over gorilla, the sender writes one
// precomputed masked frame per message and the receiver only walks frame
// headers on the raw sockets, so allocs/op and a CPU profile are the
// server's: decode, core routing, metrics, encode, the outbound queue,
// the writer and the syscalls. Run:
//
//	go test -run '^$' -bench WSServer -benchmem -cpuprofile cpu.out ./transports/ws/
func BenchmarkWSServer(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name+"/100B", func(b *testing.B) { benchServer(b, d.subprotocol, 100) })
	}
}

func benchServer(b *testing.B, subprotocol string, size int) {
	const window = 256
	s := newServer(b, ws.Config{CommandsPerSecond: -1})
	codec := func(cmd *protocol.Command) []byte {
		if subprotocol == ws.SubprotocolMsgpack {
			return protocol.AppendMsgpack(nil, cmd)
		}
		return protocol.AppendJSON(nil, cmd)
	}
	open := func(peer string, watch ...string) net.Conn {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		if subprotocol != "" {
			d.Subprotocols = []string{subprotocol}
		}
		c, _, err := d.Dial(s.url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if watch == nil {
			watch = []string{}
		}
		mt := websocket.TextMessage
		if subprotocol == ws.SubprotocolMsgpack {
			mt = websocket.BinaryMessage
		}
		if err := c.WriteMessage(mt, codec(&protocol.Command{Kind: protocol.KindSessionOpen, AppID: "bench", PeerID: peer, SessionPeerIDs: watch})); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil { // opened; nothing else is due
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Time{})
		return c.NetConn()
	}
	recv := open("bob")
	send := open("alice", "bob")
	op := byte(0x1)
	if subprotocol == ws.SubprotocolMsgpack {
		op = 0x2
	}
	body := codec(&protocol.Command{Kind: protocol.KindDirect, PeerID: "alice", ToPeerIDs: []string{"bob"}, Msg: strings.Repeat("m", size), Transient: true})
	// A client frame: FIN+opcode, mask bit and length, a zero mask key
	// (valid: the payload XOR 0 is itself), the payload.
	frame := []byte{0x80 | op}
	switch {
	case len(body) < 126:
		frame = append(frame, 0x80|byte(len(body)))
	default:
		frame = append(frame, 0x80|126, byte(len(body)>>8), byte(len(body)))
	}
	frame = append(frame, 0, 0, 0, 0)
	frame = append(frame, body...)

	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	var rerr error
	done := make(chan struct{})
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	go func() { // owned by benchServer, which waits on done
		defer close(done)
		br := bufio.NewReaderSize(recv, 64<<10)
		var hdr [8]byte
		for range b.N {
			recv.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				rerr = err
				close(credits)
				return
			}
			n := int(hdr[1] & 0x7f)
			switch n {
			case 126:
				if _, err := io.ReadFull(br, hdr[:2]); err != nil {
					rerr = err
					close(credits)
					return
				}
				n = int(binary.BigEndian.Uint16(hdr[:2]))
			case 127:
				rerr = fmt.Errorf("unexpected 64-bit frame length")
				close(credits)
				return
			}
			if _, err := br.Discard(n); err != nil {
				rerr = err
				close(credits)
				return
			}
			credits <- struct{}{}
		}
	}()
	for range b.N {
		if _, ok := <-credits; !ok {
			break
		}
		if _, err := send.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	if rerr != nil {
		b.Fatal(rerr)
	}
}
