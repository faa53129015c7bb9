package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// decodeFile reads the JSON config file b into c. Its errors point at the
// mistake in the file's own terms: a syntax error gives the line and
// column, a wrong type or a bad duration names the key
// ("limits.inboxTTL") and what it wants.
func decodeFile(b []byte, c *Config) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(c)
	if err == nil {
		if dec.More() {
			line, col := position(b, dec.InputOffset())
			return fmt.Errorf("line %d, column %d: trailing data after the JSON object", line, col)
		}
		// encoding/json matches keys case-insensitively ("inboxTTl" would
		// set inboxTTL); the file's keys must be spelt exactly.
		if key, kerr := locate(b, reflect.TypeFor[Config](), ""); key != "" {
			return fmt.Errorf("%q: %v", key, kerr)
		}
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(b, syn.Offset-1) // Offset counts the bad byte
		msg := strings.TrimPrefix(syn.Error(), "json: ")
		if i := int(syn.Offset) - 1; i >= 0 && i < len(b) && b[i] == '/' {
			msg += " (JSON has no comments)"
		}
		return fmt.Errorf("line %d, column %d: %s", line, col, msg)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := position(b, int64(len(b)))
		return fmt.Errorf("line %d, column %d: the JSON ends too early", line, col)
	}
	// A wrong type, an unknown key or an error of a value's own decoder
	// (a Duration): name the key, with its index in a list.
	key, kerr := locate(b, reflect.TypeFor[Config](), "")
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if key == "" {
			key = typ.Field
		}
		line, col := position(b, typ.Offset-1)
		return fmt.Errorf("line %d, column %d: %q wants %s, not %s", line, col, key, describe(typ.Type), article(typ.Value))
	}
	if key != "" {
		return fmt.Errorf("%q: %v", key, kerr)
	}
	return err
}

// position returns the 1-based line and column of the byte at off in b.
func position(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// locate decodes raw into a value of type t key by key and returns the
// dotted key ("limits.inboxTTL", "apps[1].push.url") of the first value
// that fails, with its error; "" when none does.
func locate(raw []byte, t reflect.Type, prefix string) (string, error) {
	switch t.Kind() {
	case reflect.Pointer:
		return locate(raw, t.Elem(), prefix)
	case reflect.Struct:
		if t == reflect.TypeFor[Duration]() {
			break
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			break
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			v, ok := fields[name]
			delete(fields, name)
			if !ok || name == "" || name == "-" {
				continue
			}
			if key, err := locate(v, f.Type, join(prefix, name)); key != "" {
				return key, err
			}
		}
		for name := range fields {
			for i := range t.NumField() {
				if want, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); strings.EqualFold(want, name) {
					return join(prefix, name), fmt.Errorf("unknown key: keys are case-sensitive, did you mean %q?", want)
				}
			}
			return join(prefix, name), errors.New("unknown key (rtgate.example.json shows every key)")
		}
		return "", nil
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			break
		}
		for i, v := range items {
			if key, err := locate(v, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i)); key != "" {
				return key, err
			}
		}
		return "", nil
	}
	if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
		return prefix, err
	}
	return "", nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// describe names a Go type of the schema in JSON's terms.
func describe(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[Duration]():
		return `a duration such as "90s" or a number of seconds`
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer:
		return "an object"
	}
	return t.String()
}

// article puts "a"/"an" before a JSON kind named by encoding/json
// ("string", "number", "array", "object", "bool").
func article(kind string) string {
	switch {
	case kind == "bool":
		return "true or false"
	case kind == "number":
		return "a number"
	case strings.HasPrefix(kind, "number "):
		return "a number (" + strings.TrimSpace(strings.TrimPrefix(kind, "number")) + ")"
	case strings.IndexAny(kind[:1], "aeiou") == 0:
		return "an " + kind
	}
	return "a " + kind
}

// parseDuration reads a Duration's string form and says what it wants.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want a number with a unit, such as \"90s\", \"10m\" or \"168h\" (units ns, us, ms, s, m, h), or a number of seconds", s)
	}
	return d, nil
}
