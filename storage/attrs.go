package storage

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// NormalizeAttrs returns a deep copy of attrs holding the values that
// encoding/json would decode from them (float64 numbers, []any, nested
// map[string]any), so that stores return, and compare, attribute values the
// same way. Values that cannot be JSON-encoded yield ErrInvalid.
func NormalizeAttrs(attrs map[string]any) (map[string]any, error) {
	if len(attrs) == 0 {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("%w: attrs: %v", ErrInvalid, err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: attrs: %v", ErrInvalid, err)
	}
	return out, nil
}

// MergeAttrs applies patch to attrs in place: a nil value deletes the
// column, any other value sets it. Both maps must be normalized.
func MergeAttrs(attrs, patch map[string]any) {
	for k, v := range patch {
		if v == nil {
			delete(attrs, k)
		} else {
			attrs[k] = v
		}
	}
}

// AttrsMatch reports whether have holds every column of want with an equal
// value. Both maps must be normalized (NormalizeAttrs).
func AttrsMatch(have, want map[string]any) bool {
	for k, w := range want {
		h, ok := have[k]
		if !ok || !reflect.DeepEqual(h, w) {
			return false
		}
	}
	return true
}
