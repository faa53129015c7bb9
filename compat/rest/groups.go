package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// groupClass is the one storage class rtgate serves.
const groupClass = "AVOSRealtimeGroups"

// Reserved columns of AVOSRealtimeGroups: maintained by the server, never
// written through REST (tr only at creation).
const (
	colID      = "objectId"
	colMembers = "m"
	colOpen    = "tr"
	colCreated = "createdAt"
	colUpdated = "updatedAt"
)

const (
	maxColumnName = 64
	// maxTrScan bounds the groups a query filtering on tr reads.
	maxTrScan = 100 * storage.MaxHistoryLimit
)

// isoTime formats t as the storage API did: ISO-8601 UTC with ms.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// groupJSON renders a group as a class object: app columns plus objectId,
// m, tr, createdAt, updatedAt.
func groupJSON(g *storage.Group) map[string]any {
	o := make(map[string]any, len(g.Attrs)+5)
	for k, v := range g.Attrs {
		o[k] = v
	}
	o[colID] = g.ID
	o[colMembers] = nonNil(g.Members)
	o[colOpen] = g.Transient
	o[colCreated] = isoTime(g.CreatedAt)
	o[colUpdated] = isoTime(g.UpdatedAt)
	return o
}

// getGroup answers GET /1.1/classes/AVOSRealtimeGroups/<id>.
func (h *Handler) getGroup(ctx context.Context, rq *request) (int, any, error) {
	g, err := h.store.Group(ctx, rq.app.ID, rq.param)
	if err != nil {
		return 0, nil, storeError(err, "object")
	}
	return http.StatusOK, groupJSON(g), nil
}

// groupFilter is a parsed where.
type groupFilter struct {
	q      storage.GroupQuery
	id     string // objectId equality
	open   *bool  // tr equality
	limit  int
	noRows bool // limit=0
}

func (f *groupFilter) match(g *storage.Group) bool {
	if f.open != nil && g.Transient != *f.open {
		return false
	}
	if f.q.Member != "" && !contains(g.Members, f.q.Member) {
		return false
	}
	return storage.AttrsMatch(g.Attrs, f.q.Attrs)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// parseWhere reads where, limit and skip.
func parseWhere(rq *request) (*groupFilter, error) {
	f := &groupFilter{q: storage.GroupQuery{App: rq.app.ID}}
	if c := rq.query.Get("count"); c != "" && c != "0" {
		return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "count is not supported")
	}
	limit, hasLimit, err := intParam(rq, "limit")
	if err != nil {
		return nil, err
	}
	skip, _, err := intParam(rq, "skip")
	if err != nil {
		return nil, err
	}
	f.noRows = hasLimit && limit == 0
	f.q.Limit = int(min(limit, storage.MaxHistoryLimit))
	f.limit = f.q.EffectiveLimit()
	f.q.Skip = int(min(skip, 1<<30))
	w := rq.query.Get("where")
	if w == "" {
		return f, nil
	}
	var where map[string]any
	if err := json.Unmarshal([]byte(w), &where); err != nil || where == nil {
		return nil, errorf(http.StatusBadRequest, CodeInvalidJSON, "where must be a JSON object")
	}
	attrs := map[string]any{}
	for k, v := range where {
		if obj, ok := v.(map[string]any); ok {
			for op := range obj {
				if strings.HasPrefix(op, "$") {
					return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "operator %s on %q is not supported: only equality", op, k)
				}
			}
		}
		switch k {
		case colMembers:
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "m must be compared with a peer id string")
			}
			f.q.Member = s
		case colID:
			s, ok := v.(string)
			if !ok {
				return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "objectId must be a string")
			}
			f.id = s
		case colOpen:
			b, ok := v.(bool)
			if !ok {
				return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "tr must be a boolean")
			}
			f.open = &b
		case colCreated, colUpdated:
			return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "%s cannot be queried", k)
		default:
			if strings.HasPrefix(k, "$") {
				return nil, errorf(http.StatusBadRequest, CodeInvalidQuery, "operator %s is not supported", k)
			}
			attrs[k] = v
		}
	}
	f.q.Attrs = attrs
	return f, nil
}

// queryGroups answers GET /1.1/classes/AVOSRealtimeGroups?where=&limit=&skip=.
// Results are oldest first; order is ignored.
func (h *Handler) queryGroups(ctx context.Context, rq *request) (int, any, error) {
	f, err := parseWhere(rq)
	if err != nil {
		return 0, nil, err
	}
	var groups []*storage.Group
	switch {
	case f.noRows:
	case f.id != "":
		g, err := h.store.Group(ctx, rq.app.ID, f.id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return 0, nil, storeError(err, "groups")
		}
		if err == nil && f.match(g) && f.q.Skip == 0 {
			groups = append(groups, g)
		}
	case f.open != nil:
		// The store cannot filter on tr: scan pages and filter here.
		page := storage.GroupQuery{App: f.q.App, Member: f.q.Member, Attrs: f.q.Attrs, Limit: storage.MaxHistoryLimit}
		skip := f.q.Skip
		for scanned := 0; scanned < maxTrScan && len(groups) < f.limit; {
			gs, err := h.store.QueryGroups(ctx, page)
			if err != nil {
				return 0, nil, storeError(err, "groups")
			}
			for _, g := range gs {
				if !f.match(g) {
					continue
				}
				if skip > 0 {
					skip--
					continue
				}
				if len(groups) < f.limit {
					groups = append(groups, g)
				}
			}
			if len(gs) < page.Limit {
				break
			}
			scanned += len(gs)
			page.Skip += len(gs)
		}
	default:
		if groups, err = h.store.QueryGroups(ctx, f.q); err != nil {
			return 0, nil, storeError(err, "groups")
		}
	}
	results := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		results = append(results, groupJSON(g))
	}
	return http.StatusOK, map[string]any{"results": results}, nil
}

// decodeColumns decodes a class-object body and splits out tr. Writes to
// server-maintained columns are refused with 136; column names must be
// identifiers (105). {"__op":"Delete"} becomes nil (delete the column).
func decodeColumns(body []byte, allowOpen bool) (attrs map[string]any, open bool, err error) {
	var obj map[string]any
	if err := decodeObject(body, &obj); err != nil {
		return nil, false, err
	}
	attrs = make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case colMembers:
			return nil, false, errorf(http.StatusBadRequest, CodeImmutableField,
				"column m (members) is maintained by the realtime server: use room join, invite, kick and leave")
		case colID, colCreated, colUpdated:
			return nil, false, errorf(http.StatusBadRequest, CodeImmutableField, "column %s is maintained by the server", k)
		case colOpen:
			if !allowOpen {
				return nil, false, errorf(http.StatusBadRequest, CodeImmutableField, "column tr can only be set when the group is created")
			}
			b, ok := v.(bool)
			if !ok {
				return nil, false, errorf(http.StatusBadRequest, CodeIncorrectType, "tr must be a boolean")
			}
			open = b
			continue
		}
		if !validColumn(k) {
			return nil, false, errorf(http.StatusBadRequest, CodeInvalidKeyName, "invalid column name %q", k)
		}
		if o, ok := v.(map[string]any); ok {
			if op, ok := o["__op"]; ok {
				if op != "Delete" {
					return nil, false, errorf(http.StatusBadRequest, CodeIncorrectType, "__op %v on %q is not supported: only Delete", op, k)
				}
				v = nil
			}
		}
		attrs[k] = v
	}
	return attrs, open, nil
}

// validColumn reports whether name is [A-Za-z][A-Za-z0-9_]{0,63}.
func validColumn(name string) bool {
	if name == "" || len(name) > maxColumnName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// createGroup answers POST /1.1/classes/AVOSRealtimeGroups: a group with
// no members (tr may be set), answered 201 {"objectId","createdAt"}.
func (h *Handler) createGroup(ctx context.Context, rq *request) (int, any, error) {
	attrs, open, err := decodeColumns(rq.body, true)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range attrs {
		if v == nil {
			delete(attrs, k)
		}
	}
	now := h.cfg.Now().UTC()
	g := &storage.Group{App: rq.app.ID, Transient: open, Attrs: attrs, CreatedAt: now, UpdatedAt: now}
	for range 3 {
		g.ID = newGroupID()
		if err = h.store.CreateGroup(ctx, g); !errors.Is(err, storage.ErrExists) {
			break
		}
	}
	if err != nil {
		return 0, nil, storeError(err, "group")
	}
	rq.header().Set("Location", Prefix+"classes/"+groupClass+"/"+g.ID)
	return http.StatusCreated, map[string]string{colID: g.ID, colCreated: isoTime(g.CreatedAt)}, nil
}

// updateGroup answers PUT /1.1/classes/AVOSRealtimeGroups/<id>.
func (h *Handler) updateGroup(ctx context.Context, rq *request) (int, any, error) {
	attrs, _, err := decodeColumns(rq.body, false)
	if err != nil {
		return 0, nil, err
	}
	g, err := h.store.SetAttrs(ctx, rq.app.ID, rq.param, attrs)
	if err != nil {
		return 0, nil, storeError(err, "object")
	}
	return http.StatusOK, map[string]string{colUpdated: isoTime(g.UpdatedAt)}, nil
}

// newGroupID returns 24 random lowercase hex digits, like an objectId.
func newGroupID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
