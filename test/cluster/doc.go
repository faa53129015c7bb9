// Package cluster holds the acceptance tests of rtgate as a cluster on
// NATS (scaleout.md section 7): three nats-servers and three core hubs in
// the test process, each hub joined through its own connection by
// cluster/natsbus, driven over in-memory connections.
//
// It has no code besides its tests. Imports (tests): core, cluster,
// storage, internal/natsembed/natstest.
package cluster
