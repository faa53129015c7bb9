package jetstream

import (
	"encoding/base64"
	"strings"
)

// tok encodes s as a subject token: unpadded base64url, "-" for "" (no
// encoding of a non-empty string is one character long).
func tok(s string) string {
	if s == "" {
		return "-"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// inboxSubject is the subject of peer's inbox in app.
func (n names) inboxSubject(app, peer string) string {
	return n.inboxSubj + "." + tok(app) + "." + tok(peer)
}

// inboxPeer is the app and peer of an inbox subject.
func (n names) inboxPeer(subj string) (app, peer string) {
	rest := strings.TrimPrefix(subj, n.inboxSubj+".")
	a, p, _ := strings.Cut(rest, ".")
	return untok(a), untok(p)
}

// untok decodes a subject token (tok); "" for one that is not.
func untok(t string) string {
	if t == "-" {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return ""
	}
	return string(b)
}

// histSubject is the subject a message of app is recorded under.
func (n names) histSubject(app, conv, from string) string {
	return n.histSubj + "." + tok(app) + "." + tok(conv) + "." + tok(from)
}

// groupKey is the KV key of a group.
func groupKey(app, id string) string { return "g." + tok(app) + "." + tok(id) }

// groupSubject is the subject of a group's key in the bucket's stream;
// groupsFilter matches every group of app.
func (n names) groupSubject(app, id string) string {
	return "$KV." + n.groups + "." + groupKey(app, id)
}
func (n names) groupsFilter(app string) string { return "$KV." + n.groups + ".g." + tok(app) + ".*" }

// ackSubject is where acknowledgements of entries held by writer go
// ("all": every store).
func (n names) ackSubject(writer string) string { return n.ns + ".iack." + writer }

// newSubject is where a store announces inbox entries it published for
// another (recover.go).
func (n names) newSubject() string { return n.ns + ".inew" }

// flushSubject is where a store asks writer to publish the entries it
// holds for one inbox (lazy.go).
func (n names) flushSubject(writer string) string { return n.ns + ".iflush." + writer }
