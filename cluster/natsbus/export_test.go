package natsbus

import "github.com/nats-io/nats.go"

// ConnForTest returns the bus's NATS connection.
func (b *Bus) ConnForTest() *nats.Conn { return b.nc }
