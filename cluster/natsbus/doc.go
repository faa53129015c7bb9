// Package natsbus implements the cluster interfaces on NATS: core NATS for
// deliveries and node-to-node requests, JetStream key-value buckets for
// presence (scaleout.md section 2.2) and open-group membership.
//
// Subjects (app and peer ids as unpadded base64url tokens, cluster.Token):
//
//	rt.n.<node>.d    deliveries to a node (one message per node per frame,
//	                 carrying that node's recipient list)
//	rt.n.<node>.lp   requests to a node (long-poll forwarding), request/reply
//	rt.n.<node>.ctl  the operator's requests to a node (kick, session close),
//	                 request/reply (control.go)
//	rt.n.<node>.seen "has your watch applied the peers stream up to this
//	                 sequence?", answered when it has (seen.go)
//
// <node> is the incarnation name-<boot id base32>: a node that restarts or
// fences itself comes back as a new node.
//
// Presence: two KV buckets, memory. RT_PRESENCE_PEERS (History 64, no
// TTLs) holds p.<app>.<peer>.<node>, Put on this node's first
// registration of a peer and Deleted on its last (serialised per peer),
// and x.<node>, a node incarnation's retire record. RT_PRESENCE_LEASES
// (History 1, per-message TTLs with expiry markers) holds n.<node>, the
// node's lease, published with a TTL (Nats-TTL, LeaseTTL) and refreshed
// every LeaseRefresh. Every node runs one ordered watch of the peers
// bucket and applies it in stream order: a peer key counts unless its
// node is retired, and a retire record drops its node's peers from every
// node's map at that point. A watch of the leases turns an expired or
// deleted lease into the retire record (created once, compare-and-swap).
// Every node thus computes the same on/off transitions, and History 64
// lets a lagging watcher still read every write. The server raises a
// message TTL to the marker TTL in a stream keeping more than one
// message per subject, hence the leases' own History 1 bucket.
// The lease value ({"t":time,"url":Config.URL}) advertises the node's
// public URL: Bus.URLs lists the live nodes' URLs for the routers (none
// while a node drains).
//
// Seen barrier: Register and EnterGroup return once every live node's
// watch applied the key's put (each is asked on rt.n.<node>.seen; rounds
// shared by concurrent registrations; bounded by SeenTimeout), so that an
// open answered on one node is known to all when the client learns of it.
//
// Open groups: keys g.<app>.<group>.<peer>.<node> in the peers bucket, put
// on this node's first session of the peer in the open group and deleted
// on its last, with the same counting, retries and lease. The same watch
// keeps every node's map of each open group's members and the nodes
// hosting them (cluster.OpenGroups): a message to the group goes as one
// delivery (Delivery.Group) to each node hosting members, and its online
// count is answered from memory. r.<app>.<peer>, in the leases bucket
// (exact TTLs), holds the open group a peer may rejoin (cluster.Rejoins),
// written with the rejoin window as its per-message TTL.
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
