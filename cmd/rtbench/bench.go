package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtgate/rtgate/client/wire"
	"github.com/rtgate/rtgate/protocol"
)

// Transports rtbench drives.
const (
	tWSLegacy = "ws-legacy"
	tWSJSON   = "ws-json"
	tWSMP     = "ws-msgpack"
	tQUIC     = "quic"
	tWT       = "webtransport"
)

// Workloads.
const (
	wDirect = "direct"
	wFanout = "fanout"
	wIdle   = "idle"
	wDrain  = "drain"
)

// Options is one measurement. Zero values are filled by defaults().
type Options struct {
	Workload   string
	Transport  string
	Pairs      int           // direct: sender/receiver pairs
	Members    int           // fanout: group members
	Senders    int           // fanout: members that send
	Conns      int           // idle: connections
	Size       int           // message text bytes
	Rate       float64       // offered messages per second, all senders together
	Persistent bool          // persistent messages (server acks, receivers ack)
	Duration   time.Duration // measured window
	Warmup     time.Duration // sending before the window, not measured
	Prime      time.Duration // extra warmup of the first phase
	Drain      time.Duration // wait for stragglers after the window
	Settle     time.Duration // idle: wait before reading memory
	Workers    int           // sending goroutines
	Dial       int           // connections set up in parallel
	AppID      string
	FindMax    bool
	MaxP99     time.Duration // find-max pass limit
	StepFactor float64       // find-max rate multiplier
	// GenLimit is the generator's CPU, in percent of the cores it may use
	// (its GOMAXPROCS), from which a step is marked generator-limited: its
	// figures then say more about rtbench than about the server.
	GenLimit float64
	MaxSteps int // find-max bound
	Retries  int // find-max: re-runs of a failing step before it counts
	// QUICSocketPerConn dials every QUIC/WebTransport connection on its own
	// UDP socket (quic.DialAddr) instead of one shared quic.Transport.
	QUICSocketPerConn bool
	// NoDatagrams dials raw QUIC without datagrams (wire.Options), so
	// transient messages come on the stream.
	NoDatagrams bool
	// WTDatagrams asks the WebTransport server for datagrams
	// (/wt?datagrams=1): transient messages to an idle session then leave
	// as datagrams, as they do over raw QUIC.
	WTDatagrams bool
	// Placement spreads the peers over the nodes of a cluster (cross,
	// same or both; see nodeOf). "" means cross. No effect on one server.
	Placement string
	// Rounds (drain workload) is how many offline peers open and drain
	// their inbox, one after the other. Zero means 100.
	Rounds int
	// DrainMsgs (drain workload) is how many persistent messages each
	// round's peer has waiting (≤ 50, the inbox's default size). Zero
	// means 50.
	DrainMsgs int
	Progress  io.Writer // live line each second; nil for none
}

func (o *Options) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Pairs, 1000)
	def(&o.Members, 100)
	def(&o.Senders, 10)
	def(&o.Conns, 1000)
	def(&o.Size, 100)
	def(&o.Workers, 16)
	def(&o.MaxSteps, 12)
	def(&o.Rounds, 100)
	def(&o.DrainMsgs, 50)
	if o.Placement == "" {
		o.Placement = placeCross
	}
	if o.Dial <= 0 {
		o.Dial = 32
		if o.Transport == tQUIC || o.Transport == tWT {
			o.Dial = 8 // quic-go's accept queue holds 32
		}
	}
	if o.Rate <= 0 {
		o.Rate = 10000
		if o.Workload == wFanout {
			o.Rate = 100
		}
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	}
	if o.Prime < 0 {
		o.Prime = 0
	}
	if o.Drain <= 0 {
		o.Drain = 3 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	if o.AppID == "" {
		o.AppID = "rtbench"
	}
	if o.MaxP99 <= 0 {
		o.MaxP99 = 50 * time.Millisecond
	}
	if o.StepFactor <= 1 {
		o.StepFactor = 1.5
	}
	if o.Senders > o.Members {
		o.Senders = o.Members
	}
	if o.Size < headerLen {
		o.Size = headerLen
	}
}

// validate reports options rtbench refuses.
func (o *Options) validate() error {
	switch o.Transport {
	case tWSLegacy, tWSJSON, tWSMP, tQUIC, tWT:
	default:
		return fmt.Errorf("rtbench: unknown transport %q (ws-legacy, ws-json, ws-msgpack, quic, webtransport)", o.Transport)
	}
	switch o.Workload {
	case wDirect, wFanout, wIdle, wDrain:
	default:
		return fmt.Errorf("rtbench: unknown workload %q (direct, fanout, idle, drain)", o.Workload)
	}
	switch o.Placement {
	case placeCross, placeSame, placeBoth:
	default:
		return fmt.Errorf("rtbench: unknown placement %q (cross, same, both)", o.Placement)
	}
	if o.Rounds > 10000 || o.DrainMsgs > 50 {
		return errors.New("rtbench: --rounds ≤ 10000 and --drain-msgs ≤ 50 (the inbox keeps 50 per peer)")
	}
	if o.Workload == wDrain && o.FindMax {
		return errors.New("rtbench: --find-max does not apply to the drain workload")
	}
	if o.Size > protocol.MaxMessageBytes {
		return fmt.Errorf("rtbench: --size %d is over the protocol's %d bytes", o.Size, protocol.MaxMessageBytes)
	}
	if o.Pairs > 20000 || o.Conns > 50000 || o.Members > 1000 {
		return errors.New("rtbench: too many connections (pairs ≤ 20000, conns ≤ 50000, members ≤ 1000)")
	}
	if o.Retries > 5 || o.MaxSteps > 50 {
		return errors.New("rtbench: --retries ≤ 5 and --max-steps ≤ 50")
	}
	if o.Duration > time.Hour || o.Warmup > time.Hour || o.Prime > time.Hour {
		return errors.New("rtbench: duration and warmup are bounded by one hour")
	}
	return nil
}

// headerLen is the fixed header every message text starts with: "R", the
// phase (4 digits), the measured flag (1 digit) and the send time in ns
// since the bench's base (19 digits); padding follows.
const headerLen = 1 + 4 + 1 + 19

// bconn is one connection of the bench.
type bconn struct {
	c       wire.Conn
	peer    string                 // the peer id opened on it
	to      string                 // direct: the receiver this sender sends to
	replies chan *protocol.Command // opened/joined/added/removed/error, for setup
	dead    atomic.Bool
	quit    atomic.Bool // closed on purpose: its end is not an error
	// drain workload: the offline messages this conn waits for. want and
	// full are set before the session opens; recv counts offline
	// messages in got and, at the want-th, stores the time in fullAt and
	// closes full.
	want   int64
	got    atomic.Int64
	fullAt atomic.Int64 // ns since the bench's base
	full   chan struct{}
}

// bench drives one workload against one target.
type bench struct {
	o      *Options
	primed bool // the first phase ran (it warms up for o.Prime longer); runPhase only
	t      *target
	urls   []string // one per node of the target, node 0 first
	wopt   wire.Options
	qtr    *quic.Transport // shared by every QUIC/WT connection; nil for ws or --quic-socket-per-conn
	base   time.Time       // monotonic origin of message timestamps
	run    string          // random prefix of this run's peer ids
	room   string          // fanout: the group id

	conns   []*bconn
	senders []*bconn
	factor  int64 // deliveries expected per message

	cur      atomic.Pointer[phase]
	arrivals atomic.Int64 // deliveries of the current phase (any tag)
	acks     atomic.Int64 // server acks of persistent messages
	psent    atomic.Int64 // persistent messages sent
	errs     atomic.Int64 // error replies, undecodable frames, failed client acks
	connErrs atomic.Int64 // connections that ended unexpectedly
	lastErr  atomic.Pointer[string]
	closing  atomic.Bool
	recvWG   sync.WaitGroup // one per receive loop
}

// phase is one run at one rate.
type phase struct {
	id        int
	hist      Hist
	sent      atomic.Int64 // measured messages sent
	sendErrs  atomic.Int64
	delivered atomic.Int64 // measured messages delivered (counting each recipient)
	lag       Hist         // how late each send started after its scheduled time
	// second holds the latencies of the current progress interval (one
	// second): the progress line shows its p99 next to the running one,
	// so a stall shows in the second it happened. Swapped by runPhase.
	second atomic.Pointer[Hist]
}

func newBench(o *Options, t *target) (*bench, error) {
	var rnd [4]byte
	rand.Read(rnd[:])
	b := &bench{o: o, t: t, base: time.Now(), run: "rtb" + hex.EncodeToString(rnd[:])}
	b.wopt = wire.Options{InsecureSkipVerify: true, WriteTimeout: 10 * time.Second, NoDatagrams: o.NoDatagrams}
	for _, n := range t.nodes() {
		u, err := nodeURL(o, n)
		if err != nil {
			return nil, err
		}
		b.urls = append(b.urls, u)
	}
	switch o.Transport {
	case tWSLegacy, tWSJSON, tWSMP:
		b.wopt.Codec = map[string]wire.Codec{tWSLegacy: wire.CodecLegacy, tWSJSON: wire.CodecJSON, tWSMP: wire.CodecMsgpack}[o.Transport]
	case tQUIC, tWT:
		if !o.QUICSocketPerConn {
			// One UDP socket and one quic.Transport for all connections, as
			// a real gateway or a browser would have; closed by close.
			uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return nil, fmt.Errorf("rtbench: %w", err)
			}
			b.qtr = &quic.Transport{Conn: uc}
			b.wopt.QUICTransport = b.qtr
		}
	}
	return b, nil
}

// nodeURL is the URL rtbench dials on node t for o's transport.
func nodeURL(o *Options, t *target) (string, error) {
	switch o.Transport {
	case tQUIC, tWT:
		if t.quicAddr == "" {
			return "", fmt.Errorf("rtbench: %s has no QUIC address (--quic)", t.name)
		}
		if err := checkLoopback(t.quicAddr); err != nil {
			return "", err
		}
		if o.Transport == tQUIC {
			return "quic://" + t.quicAddr, nil
		}
		u := "https://" + t.quicAddr + "/wt"
		if o.WTDatagrams {
			u += "?datagrams=1"
		}
		return u, nil
	default:
		if err := checkLoopback(t.httpAddr); err != nil {
			return "", err
		}
		return "ws://" + t.httpAddr + "/", nil
	}
}

func (b *bench) fail(err error) {
	s := err.Error()
	b.lastErr.Store(&s)
}

// dial connects to node and starts the receive loop, retrying a refused
// QUIC handshake (quic-go's accept queue is small) with backoff.
// want > 0 makes the conn count offline messages up to want (drain).
func (b *bench) dial(ctx context.Context, peer string, node int, want int64) (*bconn, error) {
	var c wire.Conn
	var err error
	for try, wait := 0, 50*time.Millisecond; try < 6; try, wait = try+1, wait*2 {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err = wire.Dial(dctx, b.urls[node], &b.wopt)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	if err != nil {
		return nil, err
	}
	bc := &bconn{c: c, peer: peer, replies: make(chan *protocol.Command, 8)}
	if want > 0 {
		bc.want, bc.full = want, make(chan struct{})
	}
	b.recvWG.Add(1)
	go b.recv(bc) // owned by b.recvWG; ends when the conn closes
	return bc, nil
}

// await waits for a setup reply of kind k on bc.
func (b *bench) await(ctx context.Context, bc *bconn, k protocol.Kind) (*protocol.Command, error) {
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	for {
		select {
		case r := <-bc.replies:
			if r.Kind == k {
				return r, nil
			}
			if r.Kind == protocol.KindError || r.Kind == protocol.KindRoomReject {
				return nil, fmt.Errorf("rtbench: %s: %v %d %s", bc.peer, r.Kind, r.Code, r.Reason)
			}
		case <-timer.C:
			return nil, fmt.Errorf("rtbench: %s: no %v within 15 s", bc.peer, k)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// open dials peer on node and opens its session watching watch.
func (b *bench) open(ctx context.Context, peer string, watch []string, node int) (*bconn, error) {
	bc, err := b.dial(ctx, peer, node, 0)
	if err != nil {
		return nil, err
	}
	cmd := &protocol.Command{Kind: protocol.KindSessionOpen, AppID: b.o.AppID, PeerID: peer, SessionPeerIDs: watch, I: 1}
	if err := bc.c.Send(cmd); err != nil {
		bc.c.Close()
		return nil, err
	}
	if _, err := b.await(ctx, bc, protocol.KindSessionOpened); err != nil {
		bc.c.Close()
		return nil, err
	}
	return bc, nil
}

// parallel runs f(i) for i in [0,n) on b.o.Dial goroutines and returns the
// first error.
func (b *bench) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < min(b.o.Dial, n); w++ {
		wg.Add(1)
		go func() { // owned by parallel, which waits on wg
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// setup dials and opens every connection of the workload.
func (b *bench) setup(ctx context.Context) error {
	o := b.o
	switch o.Workload {
	case wDirect:
		recv := make([]*bconn, o.Pairs)
		send := make([]*bconn, o.Pairs)
		err := b.parallel(ctx, o.Pairs, func(ctx context.Context, i int) (err error) {
			recv[i], err = b.open(ctx, fmt.Sprintf("%s-r%d", b.run, i), nil, nodeOf(len(b.urls), 'r', i, o.Placement))
			return err
		})
		b.keep(recv)
		if err != nil {
			return fmt.Errorf("rtbench: opening receivers: %w", err)
		}
		err = b.parallel(ctx, o.Pairs, func(ctx context.Context, i int) (err error) {
			send[i], err = b.open(ctx, fmt.Sprintf("%s-s%d", b.run, i), []string{recv[i].peer}, nodeOf(len(b.urls), 's', i, o.Placement))
			if err == nil {
				send[i].to = recv[i].peer
			}
			return err
		})
		b.keep(send)
		if err != nil {
			return fmt.Errorf("rtbench: opening senders: %w", err)
		}
		b.senders, b.factor = send, 1
	case wFanout:
		mem := make([]*bconn, o.Members)
		err := b.parallel(ctx, o.Members, func(ctx context.Context, i int) (err error) {
			mem[i], err = b.open(ctx, fmt.Sprintf("%s-m%d", b.run, i), nil, nodeOf(len(b.urls), 'm', i, o.Placement))
			return err
		})
		b.keep(mem)
		if err != nil {
			return fmt.Errorf("rtbench: opening members: %w", err)
		}
		if err := mem[0].c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: mem[0].peer, I: 2}); err != nil {
			return err
		}
		r, err := b.await(ctx, mem[0], protocol.KindRoomJoined)
		if err != nil {
			return fmt.Errorf("rtbench: creating the group: %w", err)
		}
		b.room = r.RoomID
		err = b.parallel(ctx, o.Members-1, func(ctx context.Context, i int) error {
			m := mem[i+1]
			if err := m.c.Send(&protocol.Command{Kind: protocol.KindRoomJoin, PeerID: m.peer, RoomID: b.room, I: 2}); err != nil {
				return err
			}
			_, err := b.await(ctx, m, protocol.KindRoomJoined)
			return err
		})
		if err != nil {
			return fmt.Errorf("rtbench: joining the group: %w", err)
		}
		b.senders, b.factor = mem[:o.Senders], int64(o.Members-1)
	case wIdle:
		c := make([]*bconn, o.Conns)
		err := b.parallel(ctx, o.Conns, func(ctx context.Context, i int) (err error) {
			w := []string{fmt.Sprintf("%s-i%d", b.run, (i+1)%o.Conns), fmt.Sprintf("%s-i%d", b.run, (i+2)%o.Conns)}
			c[i], err = b.open(ctx, fmt.Sprintf("%s-i%d", b.run, i), w, nodeOf(len(b.urls), 'i', i, o.Placement))
			return err
		})
		b.keep(c)
		if err != nil {
			return fmt.Errorf("rtbench: opening idle sessions: %w", err)
		}
	case wDrain:
		// drainSenders senders on node 0; each round's peer dials when
		// its round comes (drain.go).
		snd := make([]*bconn, drainSenders)
		err := b.parallel(ctx, len(snd), func(ctx context.Context, i int) (err error) {
			snd[i], err = b.open(ctx, fmt.Sprintf("%s-ds%d", b.run, i), nil, 0)
			return err
		})
		b.keep(snd)
		if err != nil {
			return fmt.Errorf("rtbench: opening the drain senders: %w", err)
		}
		b.senders = snd
	}
	return nil
}

func (b *bench) keep(cs []*bconn) {
	for _, c := range cs {
		if c != nil {
			b.conns = append(b.conns, c)
		}
	}
}

// close ends every connection and waits for the receive loops (bounded).
func (b *bench) close() {
	b.closing.Store(true)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(256, len(b.conns)); w++ {
		wg.Add(1)
		go func() { // owned by close
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(b.conns) {
					return
				}
				b.conns[i].c.Close()
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { b.recvWG.Wait(); close(done) }() // ends once every loop has seen its close
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	if b.qtr != nil {
		b.qtr.Close() // also closes its UDP socket
	}
}

// recv is bc's receive loop.
func (b *bench) recv(bc *bconn) {
	defer b.recvWG.Done()
	for {
		cmd, err := bc.c.Recv()
		if err != nil {
			if errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrUnknownCommand) {
				b.errs.Add(1)
				b.fail(err)
				continue
			}
			bc.dead.Store(true)
			if !b.closing.Load() && !bc.quit.Load() {
				b.connErrs.Add(1)
				b.fail(fmt.Errorf("%s: %w", bc.peer, err))
			}
			return
		}
		switch cmd.Kind {
		case protocol.KindDirect:
			if bc.full != nil && cmd.Offline {
				if bc.got.Add(1) == bc.want {
					bc.fullAt.Store(int64(time.Since(b.base)))
					close(bc.full)
				}
			}
			b.delivered(bc, cmd)
		case protocol.KindAck:
			b.acks.Add(1)
		case protocol.KindSessionOpened, protocol.KindSessionAdded, protocol.KindSessionRemoved, protocol.KindRoomJoined, protocol.KindRoomReject, protocol.KindError:
			if cmd.Kind == protocol.KindError {
				b.errs.Add(1)
				b.fail(fmt.Errorf("%s: error %d %s", bc.peer, cmd.Code, cmd.Reason))
			}
			select {
			case bc.replies <- cmd:
			default:
			}
		}
	}
}

// delivered records one received message.
func (b *bench) delivered(bc *bconn, cmd *protocol.Command) {
	now := time.Since(b.base)
	m := cmd.Msg
	if len(m) >= headerLen && m[0] == 'R' {
		id, err1 := strconv.Atoi(m[1:5])
		sent, err2 := strconv.ParseInt(m[6:headerLen], 10, 64)
		if ph := b.cur.Load(); err1 == nil && err2 == nil && ph != nil && ph.id == id {
			b.arrivals.Add(1)
			if m[5] == '1' {
				ph.delivered.Add(1)
				ph.hist.Record(now - time.Duration(sent))
				if h := ph.second.Load(); h != nil {
					h.Record(now - time.Duration(sent))
				}
			}
		}
	}
	if !cmd.Transient && cmd.ID != "" {
		ack := &protocol.Command{Kind: protocol.KindAck, PeerID: cmd.PeerID, IDs: []string{cmd.ID}, HasIDs: true}
		if ack.PeerID == "" {
			ack.PeerID = bc.peer
		}
		if err := bc.c.Send(ack); err != nil && !b.closing.Load() {
			b.errs.Add(1)
			b.fail(err)
		}
	}
}
