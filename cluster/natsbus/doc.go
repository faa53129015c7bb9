// Package natsbus implements the cluster interfaces on NATS: core NATS for
// deliveries and node-to-node requests, a JetStream key-value bucket for
// presence (scaleout.md section 2.2) and open-group membership.
//
// Subjects (app and peer ids as unpadded base64url tokens, cluster.Token):
//
//	rt.n.<node>.d    deliveries to a node (one message per node per frame,
//	                 carrying that node's recipient list)
//	rt.n.<node>.lp   requests to a node (long-poll forwarding), request/reply
//
// <node> is the incarnation name-<boot id base32>: a node that restarts or
// fences itself comes back as a new node.
//
// Presence: bucket RT_PRESENCE (memory, History 1, per-message TTLs). Keys
// p.<app>.<peer>.<node> are Put on this node's first registration of a
// peer and Deleted on its last (serialised per peer); n.<node> is the
// node's lease, published with a TTL (Nats-TTL, LeaseTTL) and refreshed
// every LeaseRefresh. Every node runs one ordered watch of the whole
// bucket and applies it in stream order: a node is alive while its lease
// key is present, and when the lease expires (the server writes a marker
// into the same stream) its peers leave every node's map at that point.
// Every node thus computes the same on/off transitions. The lease value
// ({"t":time,"url":Config.URL}) advertises the node's public URL: Bus.URLs
// lists the live nodes' URLs for the routers (none while a node drains).
//
// Open groups: keys g.<app>.<group>.<peer>.<node> in the same bucket, put
// on this node's first session of the peer in the open group and deleted
// on its last, with the same counting, retries and lease. The same watch
// keeps every node's map of each open group's members and the nodes
// hosting them (cluster.OpenGroups): a message to the group goes as one
// delivery (Delivery.Group) to each node hosting members, and its online
// count is answered from memory. r.<app>.<peer> holds the open group a
// peer may rejoin (cluster.Rejoins), written with the rejoin window as
// its per-message TTL.
//
// Fencing: a node that cannot refresh its lease for LeaseTTL-2s calls
// Config.OnFence (the caller closes its sessions with a retryable code),
// refuses registrations, and once NATS answers again takes a new
// incarnation and re-puts the keys of the peers still registered.
//
// Concurrency: a Bus is safe for concurrent use. Its goroutines (the
// watch applier, the lease refresher, request handlers) are owned by the
// Bus and waited for by Close. Delivery handlers run on the NATS
// subscription's goroutine, one at a time; the presence handler runs on
// the applier goroutine, one transition at a time, with no lock held.
//
// Imports: cluster, nats.go and the standard library.
package natsbus
