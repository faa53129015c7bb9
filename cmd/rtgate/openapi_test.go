package main

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestServesOpenAPI: GET /1.1/openapi.json answers spec/openapi.json,
// without keys.
func TestServesOpenAPI(t *testing.T) {
	s := start(t, t.TempDir(), "--app", "app:key:master")
	status, hdr, body := httpGet(t, "http://"+s.addr+"/1.1/openapi.json")
	if status != 200 || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status %d, Content-Type %q: %s", status, hdr.Get("Content-Type"), body)
	}
	file, err := os.ReadFile("../../spec/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("served document: %v", err)
	}
	if err := json.Unmarshal(file, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("served document differs from spec/openapi.json")
	}
}
