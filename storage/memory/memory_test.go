package memory_test

import (
	"testing"

	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/memory"
	"github.com/rtgate/rtgate/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, o storagetest.Options) storage.Store {
		return memory.New(memory.Config{Limits: o.Limits, Now: o.Now})
	})
}
