package wire_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rtgate/rtgate/client/wire"
)

func TestParseCodec(t *testing.T) {
	for _, c := range []wire.Codec{wire.CodecMsgpack, wire.CodecJSON, wire.CodecLegacy} {
		got, err := wire.ParseCodec(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := wire.ParseCodec("xml"); err == nil {
		t.Error("ParseCodec(xml) succeeded")
	}
}

func TestDialRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := wire.Dial(ctx, "ftp://127.0.0.1/", nil); !errors.Is(err, wire.ErrScheme) {
		t.Errorf("ftp: %v, want ErrScheme", err)
	}
	if _, err := wire.Dial(ctx, "quic://127.0.0.1:1", &wire.Options{PinSHA256: "zz"}); err == nil {
		t.Error("bad pin accepted")
	}
}
